// bpf-ts run OBJ --xdp IFACE: attach in the foreground, print the object's
// counters every interval, and detach on SIGINT/SIGTERM (or after
// --duration), leaving the interface as it was.

import { attachXdp, detachXdp, queryXdp } from '../../attach/xdp.js';
import { openObject } from '../../collection.js';
import { applyMaxEntries, MAX_ENTRIES_OPTION } from '../max-entries.js';
import { BpfError } from '../../errors.js';
import type { Command } from '../command.js';
import { table } from '../format.js';
import { readCounters } from '../counters.js';
import { eventHeaders, eventMapNames, streamEvents } from '../events.js';
import { parseMode, selectXdpProgram, xdpProgramNames } from '../xdp-select.js';

function positiveNumber(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new BpfError('USAGE', `${flag} must be a positive number of seconds, got ${String(v)}`);
  return n;
}

export const run: Command = {
  name: 'run',
  summary: 'attach in the foreground, print counters every interval and events live, detach on Ctrl-C',
  usage: 'bpf-ts run OBJ --xdp IFACE [--mode native|skb|hw|auto] [--program NAME] [--interval S] [--duration S] [--event-type [MAP=]STRUCT] [--netns NAME] [--max-entries MAP=N]… [--json]',
  options: {
    xdp: { type: 'string' },
    mode: { type: 'string' },
    program: { type: 'string' },
    interval: { type: 'string' },
    duration: { type: 'string' },
    netns: { type: 'string' },
    'event-type': { type: 'string' },
    ...MAX_ENTRIES_OPTION,
  },
  async run(positionals, values, ctx) {
    if (positionals.length !== 1) throw new BpfError('USAGE', `run takes exactly one object file (usage: ${this.usage})`);
    const iface = values.xdp as string | undefined;
    if (!iface) throw new BpfError('USAGE', 'run needs --xdp IFACE');
    const mode = parseMode(values.mode, 'native');
    const netns = values.netns as string | undefined;
    const interval = positiveNumber(values.interval, '--interval', 1);
    const duration = values.duration === undefined ? undefined : positiveNumber(values.duration, '--duration', 1);

    const spec = openObject(positionals[0]);
    applyMaxEntries(spec, values['max-entries']);
    const prog = selectXdpProgram(spec, values.program as string | undefined);
    using coll = spec.load({ programs: xdpProgramNames(spec), programType: 'xdp', ignorePinning: true });
    const headers = eventHeaders(spec.file.btf, eventMapNames(coll), values['event-type'] as string | undefined, spec.path);
    const att = attachXdp({ iface, progFd: coll.program(prog.name).fd.value, mode, netns });
    const started = Date.now();
    let prev = new Map<string, bigint>();
    let prevAt = started;

    const report = () => {
      const now = Date.now();
      const secs = (now - prevAt) / 1000 || 1;
      const rows = readCounters(coll).map((r) => {
        const id = `${r.map}/${r.key}`;
        const rate = Number(r.value - (prev.get(id) ?? 0n)) / secs;
        return { ...r, rate };
      });
      prev = new Map(rows.map((r) => [`${r.map}/${r.key}`, r.value]));
      prevAt = now;
      if (ctx.json) {
        ctx.print(JSON.stringify({ elapsed: (now - started) / 1000, counters: rows.map((r) => ({ map: r.map, key: r.key, value: r.value.toString(), perSecond: Math.round(r.rate * 10) / 10 })) }));
      } else {
        ctx.print(`--- ${((now - started) / 1000).toFixed(1)} s`);
        ctx.print(rows.length ? table(['MAP', 'KEY', 'VALUE', 'PER SECOND'], rows.map((r) => [r.map, r.key, r.value.toString(), r.rate.toFixed(1)])) : '(no counter maps)');
      }
    };

    if (!ctx.json) ctx.print(`attached ${prog.name} (id ${att.progId}) to ${att.ifname} in ${att.mode} mode; Ctrl-C detaches`);
    else ctx.print(JSON.stringify({ attached: { interface: att.ifname, ifindex: att.ifindex, program: prog.name, progId: att.progId, mode: att.mode } }));

    const stopEvents = streamEvents(coll, ctx, headers);
    const signal = await new Promise<string>((resolve) => {
      const timer = setInterval(report, interval * 1000);
      const stop = (why: string) => {
        clearInterval(timer);
        if (limit) clearTimeout(limit);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        resolve(why);
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      const limit = duration !== undefined ? setTimeout(() => stop('duration'), duration * 1000) : undefined;
    });

    stopEvents();
    report();
    // Detach only what we attached: another tool may have replaced it meanwhile.
    const now = queryXdp(att.ifindex, { netns });
    const ours = now.programs.find((p) => p.progId === att.progId);
    if (ours) detachXdp(att.ifindex, { mode: ours.mode, netns });
    if (ctx.json) ctx.print(JSON.stringify({ detached: Boolean(ours), reason: signal }));
    else ctx.print(ours ? `detached ${prog.name} from ${att.ifname} (${signal})` : `${prog.name} was no longer attached to ${att.ifname}; left the interface alone`);
    return 0;
  },
};
