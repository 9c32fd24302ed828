// `bpf-ts run OBJ --socket IFACE`: a socket filter on a packet socket of the
// interface, as samples/bpf's sockex programs run theirs: the filter sees
// every frame the interface receives and sends, counts what it likes in its
// maps, and its verdict decides what the socket queues. Counters print every
// interval; events and the frames the filter keeps print as they come. A socket filter lives as long as its socket, and
// the socket as long as this process: nothing is left behind on any exit.

import { openObject } from '../collection.js';
import { BpfError } from '../errors.js';
import { PacketSocket } from '../net/packet-socket.js';
import type { ProgramSpec } from '../object/types.js';
import { BPF_PROG_TYPE } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';
import { counterReporter } from './counters.js';
import { eventHeaders, eventMapNames, hexDump, printEach, streamEvents } from './events.js';
import { foreground, guard } from './lifecycle.js';
import { warnLoad } from './load-warnings.js';
import { applyMaxEntries } from './max-entries.js';
import { applySets } from './run-tracing.js';

export interface SocketRunOptions {
  iface: string;
  netns?: string;
  program?: string;
  set?: string[];
  maxEntries?: string[];
  interval: number;
  duration?: number;
  eventType?: string;
}

const isSocketFilter = (p: ProgramSpec) => p.type === BPF_PROG_TYPE.SOCKET_FILTER;

/** Run until --duration, a signal or a closed pipe (lifecycle.ts). Returns the exit code. */
export async function runSocket(path: string, opts: SocketRunOptions, ctx: CommandContext): Promise<number> {
  const spec = openObject(path);
  applySets(spec, opts.set);
  applyMaxEntries(spec, opts.maxEntries);
  const filters = spec.programs.filter(isSocketFilter);
  let prog: ProgramSpec;
  if (opts.program !== undefined) {
    prog = spec.program(opts.program);
    if (!isSocketFilter(prog)) throw new BpfError('USAGE', `${spec.path}: program ${prog.name} (section "${prog.section}") is not a socket filter: --socket takes one from a "socket" section`);
  } else if (filters.length === 1) {
    prog = filters[0]!;
  } else if (filters.length === 0) {
    throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no socket filter (a program in a "socket" section)`);
  } else {
    throw new BpfError('USAGE', `${spec.path} has ${filters.length} socket filters (${filters.map((p) => p.name).join(', ')}): choose one with --program`);
  }
  using coll = spec.load({ programs: [prog.name], ignorePinning: true });
  warnLoad(ctx, coll);
  const headers = eventHeaders(spec.file.btf, eventMapNames(coll), opts.eventType, spec.path);
  const report = counterReporter(coll, ctx);

  let sock: PacketSocket | undefined;
  let stopEvents: (() => void) | undefined;
  // One cleanup on every way out (duration, signal, closed pipe, error: lifecycle.ts).
  const cleanup = guard('run: close the packet socket', (reason) => {
    stopEvents?.();
    if (!sock) return;
    sock.close();
    if (reason !== 'error') report();
    if (ctx.json) ctx.print(JSON.stringify({ detached: true, reason }));
    else ctx.print(`closed the packet socket on ${sock.ifname}: ${prog.name} is gone with it (${reason})`);
  });
  // `await`: `coll` (using) must stay open until the run ends.
  return await foreground(cleanup, { interval: opts.interval, duration: opts.duration, tick: report }, () => {
    const s = (sock = PacketSocket.open(opts.iface, { netns: opts.netns, filter: coll.program(prog.name) }));
    const id = coll.program(prog.name).info().id;
    if (ctx.json) ctx.print(JSON.stringify({ attached: { interface: s.ifname, ifindex: s.ifindex, program: prog.name, progId: id, via: 'packet socket' } }));
    else ctx.print(`attached ${prog.name} (id ${id}) to a packet socket on ${s.ifname}: it sees every frame the interface receives and sends; Ctrl-C closes it`);
    stopEvents = streamEvents(coll, ctx, headers);
    // What the filter keeps (a non-zero verdict) is queued on the socket: print it as it arrives.
    printEach(
      s,
      (frame) => (ctx.json ? JSON.stringify({ socket: { interface: s.ifname }, data: frame.toString('hex') }) : `[socket ${s.ifname}] ${frame.length} bytes\n${hexDump(frame)}`),
      ctx,
      `frames from the packet socket on ${s.ifname}`,
    );
  });
}
