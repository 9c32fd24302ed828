// `bpf-ts run` for the hooks that take one program of one type and keep it
// only while something holds it: a socket filter on a packet socket
// (--socket IFACE, as samples/bpf's sockex programs run theirs) and a
// netfilter hook (--netfilter FAMILY:HOOK). The program is chosen (--program,
// or the only one of its type), loaded, attached; the counters print every
// interval, events live; what was attached is closed on every way out, and
// the kernel unhooks the program with it, even on SIGKILL.

import { openObject, type BpfCollection, type BpfObjectSpec } from '../collection.js';
import { BpfError } from '../errors.js';
import { attachNetfilter, NF_INET_HOOK, NFPROTO, type NetfilterFamily, type NetfilterHook } from '../link/netfilter.js';
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

export interface OneRunOptions {
  netns?: string;
  program?: string;
  set?: string[];
  maxEntries?: string[];
  interval: number;
  duration?: number;
  eventType?: string;
}

/** The programs a hook takes, for choosing one and for the messages. */
interface HookKind {
  /** "socket filter", "netfilter program" */
  kind: string;
  type: number;
  /** The section the programs come from. */
  section: string;
  option: string;
}

const SOCKET_FILTER: HookKind = { kind: 'socket filter', type: BPF_PROG_TYPE.SOCKET_FILTER, section: 'socket', option: '--socket' };
export const NETFILTER_PROGRAM: HookKind = { kind: 'netfilter program', type: BPF_PROG_TYPE.NETFILTER, section: 'netfilter', option: '--netfilter' };

/** How one kind of hook takes its program. */
interface Hook extends HookKind {
  /** Attach; returns what the attached/detached lines say, and the close that unhooks it. */
  attach(coll: BpfCollection, prog: string, progId: number): { where: string; json: Record<string, unknown>; close(): void; closed: string };
}

/** The program for a hook: --program (of the right type), or the object's only one of that type. */
function chooseProgram(spec: BpfObjectSpec, hook: HookKind, name: string | undefined): ProgramSpec {
  // SEC("?…") programs only by name: libbpf loads them only when asked.
  const fits = spec.programs.filter((p) => p.type === hook.type && p.autoload !== false);
  if (name !== undefined) {
    const p = spec.program(name);
    if (p.type !== hook.type) throw new BpfError('USAGE', `${spec.path}: program ${p.name} (section "${p.section}") is not a ${hook.kind}: ${hook.option} takes one from a "${hook.section}" section`);
    return p;
  }
  if (fits.length === 1) return fits[0]!;
  if (fits.length === 0) throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no ${hook.kind} (a program in a "${hook.section}" section)`);
  throw new BpfError('USAGE', `${spec.path} has ${fits.length} ${hook.kind}s (${fits.map((p) => p.name).join(', ')}): choose one with --program`);
}

/**
 * The object at `path` with --set and --max-entries applied, and the one
 * program for `hook` loaded (with the maps it uses); the caller owns `coll`.
 */
export function loadForHook(
  path: string,
  hook: HookKind,
  opts: { program?: string; set?: string[]; maxEntries?: string[]; ignoreMemoryLimit?: boolean },
  ctx: CommandContext,
): { spec: BpfObjectSpec; prog: ProgramSpec; coll: BpfCollection } {
  const spec = openObject(path);
  applySets(spec, opts.set);
  applyMaxEntries(spec, opts.maxEntries);
  const prog = chooseProgram(spec, hook, opts.program);
  const coll = spec.load({ programs: [prog.name], ignorePinning: true, ...(opts.ignoreMemoryLimit ? { ignoreMemoryLimit: true } : {}) });
  warnLoad(ctx, coll);
  return { spec, prog, coll };
}

/** Run until --duration, a signal or a closed pipe (lifecycle.ts). Returns the exit code. */
async function runOne(path: string, hook: Hook, opts: OneRunOptions, ctx: CommandContext): Promise<number> {
  const loaded = loadForHook(path, hook, opts, ctx);
  const { spec, prog } = loaded;
  using coll = loaded.coll;
  const headers = eventHeaders(spec.file.btf, eventMapNames(coll), opts.eventType, spec.path);
  const report = counterReporter(coll, ctx);
  let held: ReturnType<Hook['attach']> | undefined;
  let stopEvents: (() => void) | undefined;
  // One cleanup on every way out (duration, signal, closed pipe, error: lifecycle.ts).
  const cleanup = guard(`run: unhook the ${hook.kind}`, (reason) => {
    stopEvents?.();
    if (!held) return;
    held.close();
    if (reason !== 'error') report();
    if (ctx.json) ctx.print(JSON.stringify({ detached: true, reason }));
    else ctx.print(`${held.closed} (${reason})`);
  });
  // `await`: `coll` (using) must stay open until the run ends.
  return await foreground(cleanup, { interval: opts.interval, duration: opts.duration, tick: report }, () => {
    const id = coll.program(prog.name).info().id;
    held = hook.attach(coll, prog.name, id);
    if (ctx.json) ctx.print(JSON.stringify({ attached: { program: prog.name, progId: id, ...held.json } }));
    else ctx.print(`attached ${prog.name} (id ${id}) ${held.where}; Ctrl-C unhooks it`);
    stopEvents = streamEvents(coll, ctx, headers);
  });
}

/** `run OBJ --socket IFACE`: the socket filter on a packet socket; the frames it keeps print as they arrive. */
export function runSocket(path: string, iface: string, opts: OneRunOptions, ctx: CommandContext): Promise<number> {
  return runOne(
    path,
    {
      ...SOCKET_FILTER,
      attach(coll, prog) {
        const s = PacketSocket.open(iface, { netns: opts.netns, filter: coll.program(prog) });
        // What the filter keeps (a non-zero verdict) is queued on the socket.
        printEach(
          s,
          (frame) => (ctx.json ? JSON.stringify({ socket: { interface: s.ifname }, data: frame.toString('hex') }) : `[socket ${s.ifname}] ${frame.length} bytes\n${hexDump(frame)}`),
          ctx,
          `frames from the packet socket on ${s.ifname}`,
        );
        return {
          where: `to a packet socket on ${s.ifname}: it sees every frame the interface receives and sends`,
          json: { interface: s.ifname, ifindex: s.ifindex, via: 'packet socket' },
          close: () => s.close(),
          closed: `closed the packet socket on ${s.ifname}: ${prog} is gone with it`,
        };
      },
    },
    opts,
    ctx,
  );
}

/** A netfilter priority: an integer; netfilter keeps the two extremes of the s32 range. */
export function parsePriority(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || n <= -(2 ** 31) || n >= 2 ** 31 - 1) throw new BpfError('USAGE', `--priority must be an integer between -2147483647 and 2147483646, got ${v}`);
  return n;
}

/** "ipv4:prerouting" → its family and hook. */
export function parseNetfilterHook(text: string): { family: NetfilterFamily; hook: NetfilterHook } {
  const [family, hook, ...more] = text.split(':');
  if (more.length === 0 && family! in NFPROTO && hook !== undefined && hook in NF_INET_HOOK) return { family: family as NetfilterFamily, hook: hook as NetfilterHook };
  throw new BpfError(
    'USAGE',
    `--netfilter wants FAMILY:HOOK, FAMILY one of ${Object.keys(NFPROTO).join(', ')} and HOOK one of ${Object.keys(NF_INET_HOOK).join(', ')} (e.g. ipv4:prerouting), got ${JSON.stringify(text)}`,
  );
}

/** `run OBJ --netfilter FAMILY:HOOK [--priority N]`: the netfilter program on that hook of the namespace. */
export function runNetfilter(path: string, at: string, priority: number, opts: OneRunOptions, ctx: CommandContext): Promise<number> {
  const { family, hook } = parseNetfilterHook(at);
  return runOne(
    path,
    {
      ...NETFILTER_PROGRAM,
      attach(coll, prog) {
        const link = attachNetfilter(coll.program(prog), { family, hook, priority, netns: opts.netns });
        const ns = opts.netns ? ` of netns ${opts.netns}` : '';
        return {
          where: `to netfilter ${family} ${hook}${ns}, priority ${priority}, through bpf_link ${link.id}`,
          json: { netfilter: { family, hook, priority }, ...(opts.netns ? { netns: opts.netns } : {}), linkId: link.id },
          close: () => link.close(),
          closed: `unhooked ${prog} from netfilter ${family} ${hook}${ns}`,
        };
      },
    },
    opts,
    ctx,
  );
}
