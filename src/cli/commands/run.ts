// bpf-ts run OBJ --xdp IFACE: attach in the foreground, print the object's
// counters every interval, its events and, when it has an XSKMAP, the frames
// it redirects to AF_XDP sockets, and detach on every way out — --duration, Ctrl-C,
// SIGTERM, SIGHUP, SIGQUIT, a closed stdout, an error — leaving the interface
// as it was. It attaches through an unpinned bpf_link, so even SIGKILL
// leaves nothing behind (see ../foreground-xdp.ts).

import { warnLoad } from '../load-warnings.js';
import { openObject } from '../../collection.js';
import { applyMaxEntries, MAX_ENTRIES_OPTION } from '../max-entries.js';
import { BpfError } from '../../errors.js';
import { defineCommand } from '../command.js';
import { counterReporter } from '../counters.js';
import { eventHeaders, eventMapNames, streamEvents } from '../events.js';
import { attachForeground, type ForegroundXdp } from '../foreground-xdp.js';
import { foreground, guard, writeStderr } from '../lifecycle.js';
import { parseMode, selectXdpProgram, xdpProgramNames } from '../xdp-select.js';
import { runTracing } from '../run-tracing.js';
import { parsePriority, runNetfilter, runSocket } from '../run-one.js';
import { streamXskFrames, type XskStream } from '../xsk-frames.js';

function positiveNumber(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new BpfError('USAGE', `${flag} must be a positive number of seconds, got ${String(v)}`);
  return n;
}

export const run = defineCommand({
  name: 'run',
  summary: 'attach in the foreground (XDP, a socket filter on a packet socket, a netfilter hook, tracing, struct_ops), print counters every interval and events and frames live, detach on Ctrl-C',
  usage:
    'bpf-ts run OBJ [--xdp IFACE [--mode native|skb|hw|auto] [--netlink] | --socket IFACE | --netfilter FAMILY:HOOK [--priority N]] [--netns NAME] [--program NAME] [--set NAME=VALUE]… [--max-entries MAP=N]… [--interval S] [--duration S] [--event-type [MAP=]STRUCT] [--json]',
  options: {
    xdp: { type: 'string' },
    socket: { type: 'string' },
    netfilter: { type: 'string' },
    priority: { type: 'string' },
    mode: { type: 'string' },
    program: { type: 'string' },
    interval: { type: 'string' },
    duration: { type: 'string' },
    netns: { type: 'string' },
    'event-type': { type: 'string' },
    set: { type: 'string', multiple: true },
    netlink: { type: 'boolean' },
    ...MAX_ENTRIES_OPTION,
  },
  async run(positionals, values, ctx) {
    const [file, ...more] = positionals;
    if (file === undefined || more.length > 0) throw new BpfError('USAGE', `run takes exactly one object file (usage: ${this.usage})`);
    const iface = values.xdp;
    const interval = positiveNumber(values.interval, '--interval', 1);
    const duration = values.duration === undefined ? undefined : positiveNumber(values.duration, '--duration', 1);
    const hooks = [iface, values.socket, values.netfilter].filter((h) => h !== undefined).length;
    if (hooks > 1) throw new BpfError('USAGE', 'run takes one of --xdp, --socket and --netfilter');
    const one = { netns: values.netns, program: values.program, set: values.set, maxEntries: values['max-entries'], interval, duration, eventType: values['event-type'] };
    if (values.socket !== undefined) return runSocket(file, values.socket, one, ctx);
    if (values.netfilter !== undefined) return runNetfilter(file, values.netfilter, parsePriority(values.priority), one, ctx);
    if (values.priority !== undefined) throw new BpfError('USAGE', '--priority goes with --netfilter');
    if (!iface) {
      // No hook given: attach every tracing program where its section says.
      const program = values.program;
      return runTracing(file, { interval, duration, programs: program ? [program] : undefined, set: values.set, eventType: values['event-type'] }, ctx);
    }
    const mode = parseMode(values.mode, 'native');
    const netns = values.netns;

    const spec = openObject(file);
    applyMaxEntries(spec, values['max-entries']);
    const prog = selectXdpProgram(spec, values.program);
    using coll = spec.load({ programs: xdpProgramNames(spec, prog.name), programType: 'xdp', ignorePinning: true });
    warnLoad(ctx, coll);
    const headers = eventHeaders(spec.file.btf, eventMapNames(coll), values['event-type'], spec.path);
    const report = counterReporter(coll, ctx);

    // Everything below is undone by this one cleanup, on every way out:
    // --duration, a signal, a closed pipe, an error (lifecycle.ts).
    let att: ForegroundXdp | undefined;
    let stopEvents: (() => void) | undefined;
    let xsk: XskStream | null = null;
    const cleanup = guard('run: detach', (reason) => {
      stopEvents?.();
      xsk?.stop();
      if (!att) return;
      // Detach first: printing the last counters must not stand between a failure and the cleanup.
      const detached = att.detach();
      if (reason !== 'error') report();
      if (ctx.json) ctx.print(JSON.stringify({ detached, reason }));
      else ctx.print(detached ? `detached ${prog.name} from ${att.ifname} (${reason})` : `${prog.name} was no longer attached to ${att.ifname}; left the interface alone`);
    });
    // `await`: `coll` (using) must stay open until the run ends.
    return await foreground(cleanup, { interval, duration, tick: report }, () => {
      // An XSKMAP's program needs sockets to redirect to: one per receive queue, there before it runs.
      xsk = streamXskFrames(coll, ctx, { ifname: iface, ...(netns ? { netns } : {}) });
      const a = (att = attachForeground({ iface, progFd: coll.program(prog.name).fd.value, mode, netns, netlink: values.netlink === true, warn: (l) => writeStderr(l + '\n') }));
      if (!ctx.json) ctx.print(`attached ${prog.name} (id ${a.progId}) to ${a.ifname} in ${a.mode} mode${a.via === 'link' ? ` through bpf_link ${a.linkId}` : ' through netlink'}; Ctrl-C detaches`);
      else
        ctx.print(
          JSON.stringify({
            attached: {
              interface: a.ifname,
              ifindex: a.ifindex,
              program: prog.name,
              progId: a.progId,
              mode: a.mode,
              via: a.via,
              ...(a.linkId !== undefined ? { linkId: a.linkId } : {}),
            },
          }),
        );

      stopEvents = streamEvents(coll, ctx, headers);
      if (xsk) {
        const queues = xsk.queues.length === 1 ? `queue ${xsk.queues[0]}` : `queues 0-${xsk.queues.length - 1}`;
        if (ctx.json) ctx.print(JSON.stringify({ xsk: { interface: a.ifname, queues: xsk.queues, maps: xsk.maps } }));
        else ctx.print(`AF_XDP: a socket on ${a.ifname} ${queues}, registered in ${xsk.maps.join(', ')}; frames print as they arrive`);
      }
    });
  },
});
