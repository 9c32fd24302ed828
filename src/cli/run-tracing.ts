// `bpf-ts run OBJ` with no --xdp/--tc/--cgroup: load the object's tracing
// programs, attach each where its section says (auto-attach), print the
// counters every interval and events live, and close every link on the way
// out. Links are unpinned: if the process dies, however it dies, the kernel
// detaches them with the last fd.

import { openObject, type BpfCollection, type BpfObjectSpec, type LoadOptions } from '../collection.js';
import { BpfError } from '../errors.js';
import { autoAttach, autoAttachPlan } from '../link/auto.js';
import { BpfLink, BpfLinkSet } from '../link/link.js';
import type { MapSpec, ProgramSpec } from '../object/types.js';
import { BPF_F_LINK } from '../object/maps-struct-ops.js';
import { linkInfo } from '../sys/info.js';
import type { CommandContext } from './command.js';
import { counterReporter } from './counters.js';
import { eventHeaders, eventMapNames, streamEvents } from './events.js';
import { foreground, guard } from './lifecycle.js';
import { parseSet } from './set-arg.js';

export interface TracingRunOptions {
  programs?: string[];
  /** NAME=VALUE assignments to globals (const volatile configuration) before load. */
  set?: string[];
  interval: number;
  duration?: number;
  eventType?: string;
}

/** Apply --set NAME=VALUE (decimal, 0x hex, true/false) to the spec's globals. */
export function applySets(spec: BpfObjectSpec, sets: string[] = []): void {
  for (const s of sets) {
    const { name, value } = parseSet(s);
    spec.setGlobal(name, value);
  }
}

/**
 * Programs run would attach, and the ones it leaves, with why; and, unless
 * `names` picks tracing programs, the struct_ops maps to register and the
 * programs they hold (loaded with them, not listed as skipped).
 */
export function tracingSelection(spec: BpfObjectSpec, names?: string[]): { attach: ProgramSpec[]; skipped: { name: string; reason: string }[]; structOps: MapSpec[]; members: Set<string> } {
  const pool = names?.length ? names.map((n) => spec.program(n)) : spec.programs;
  const attach: ProgramSpec[] = [];
  const all: { name: string; reason: string }[] = [];
  for (const p of pool) {
    const plan = autoAttachPlan(p);
    if (plan.kind === 'none') all.push({ name: p.name, reason: plan.reason });
    else if (plan.kind === 'iter') all.push({ name: p.name, reason: 'iterators run when read, not on an event: use bpf-ts iter' });
    else attach.push(p);
  }
  if (names?.length && all.length) throw new BpfError('USAGE', `${spec.path}: ${all.map((s) => `program ${s.name}: ${s.reason}`).join('; ')}`);
  const structOps = names?.length ? [] : spec.maps.filter((m) => m.style === 'struct_ops' && m.autocreate !== false);
  const members = new Set(structOps.flatMap((m) => m.structOps!.funcs.map((f) => f.program)));
  return { attach, skipped: all.filter((s) => !members.has(s.name)), structOps, members };
}

/**
 * Load `names`; a program the kernel cannot take (KERNEL_UNSUPPORTED: e.g.
 * no trampolines for fentry) is dropped and reported, the rest load.
 */
export function loadSkippingUnsupported(spec: BpfObjectSpec, names: string[], skipped: { name: string; reason: string }[], opts: LoadOptions = {}): BpfCollection {
  const left = [...names];
  for (;;) {
    if (left.length === 0) throw new BpfError('PROGRAM_INVALID', `${spec.path}: no program could be loaded (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`);
    try {
      return spec.load({ ...opts, programs: left, ignorePinning: true });
    } catch (e) {
      if (!(e instanceof BpfError) || e.code !== 'KERNEL_UNSUPPORTED') throw e;
      const msg = e.message;
      // "…: tracing program NAME refused by the kernel (EPERM): why"
      const bad = left.find((n) => new RegExp(`program ${n}\\b`).test(msg));
      if (!bad) throw e;
      const at = msg.indexOf(`program ${bad}`) + `program ${bad}`.length;
      skipped.push({ name: bad, reason: msg.slice(at).replace(/^[:\s]+/, '') });
      left.splice(left.indexOf(bad), 1);
    }
  }
}

/** Run until --duration, a signal or a closed pipe (lifecycle.ts). Returns the exit code. */
export async function runTracing(path: string, opts: TracingRunOptions, ctx: CommandContext): Promise<number> {
  const spec = openObject(path);
  applySets(spec, opts.set);
  // struct_ops maps (not with --program, which names tracing programs) are registered while the run lasts.
  const { attach, skipped, structOps, members } = tracingSelection(spec, opts.programs);
  if (attach.length === 0 && structOps.length === 0) {
    throw new BpfError(
      'USAGE',
      `${spec.path}: no program names a tracing target to attach to${skipped.length ? ` (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}, and no struct_ops map is there to register; for XDP use --xdp IFACE, for TC load --tc`,
    );
  }
  // A .struct_ops map registered by its update stays registered until someone
  // deletes its key 0 — after a SIGKILL, no one would. Registered through a
  // bpf_link instead (BPF_F_LINK, as for .struct_ops.link), it ends with the process.
  for (const m of structOps) {
    m.flags |= BPF_F_LINK;
    m.structOps!.link = true;
  }
  const coll = loadSkippingUnsupported(spec, [...attach.map((p) => p.name), ...members], skipped, { registerStructOps: false });
  const links: (BpfLink | BpfLinkSet)[] = [];
  let registered = 0;
  let stopEvents: (() => void) | undefined;
  const report = counterReporter(coll, ctx);
  // One cleanup on every way out (duration, signal, closed pipe, error: lifecycle.ts).
  // The links, struct_ops links too, are unpinned, so even SIGKILL leaves nothing attached.
  const cleanup = guard('run: detach tracing links', (reason) => {
    stopEvents?.();
    const had = links.length > 0 || registered > 0;
    for (const l of links.splice(0)) l.close();
    try {
      if (had && reason !== 'error') report();
    } finally {
      coll.close();
    }
    if (!had) return;
    if (ctx.json) ctx.print(JSON.stringify({ detached: true, reason }));
    else ctx.print(`detached every program${registered ? ' and unregistered the struct_ops maps' : ''} (${reason})`);
  });
  return foreground(cleanup, { interval: opts.interval, duration: opts.duration, tick: report }, () => {
    const headers = eventHeaders(spec.file.btf, eventMapNames(coll), opts.eventType, spec.path);
    for (const m of structOps) {
      coll.registerStructOps(m.name);
      registered++;
      const mapId = coll.map(m.name).info().id;
      const linkId = linkInfo(coll.structOpsLinks.get(m.name)!.value).id;
      if (ctx.json) ctx.print(JSON.stringify({ registered: { map: m.name, struct: m.structOps!.typeName, mapId, linkId } }));
      else ctx.print(`registered struct_ops map ${m.name} (struct ${m.structOps!.typeName}, map ${mapId}, link ${linkId})`);
    }
    for (const p of attach) {
      if (!coll.programs.has(p.name)) continue;
      const plan = autoAttachPlan(p);
      let l: BpfLink | BpfLinkSet;
      try {
        l = autoAttach(coll.program(p.name), p);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'KERNEL_UNSUPPORTED') {
          skipped.push({ name: p.name, reason: e.message });
          continue;
        }
        throw e;
      }
      links.push(l);
      const ids = l instanceof BpfLinkSet ? l.links.map((x) => x.id) : [l.id];
      const where = plan.kind === 'tracepoint' ? `tracepoint ${plan.category}/${plan.name}` : p.section;
      if (ctx.json) ctx.print(JSON.stringify({ attached: { program: p.name, section: p.section, target: where, linkIds: ids } }));
      else ctx.print(`attached ${p.name} to ${where} (link ${ids.join(',')})`);
    }
    for (const s of skipped) {
      if (ctx.json) ctx.print(JSON.stringify({ skipped: s }));
      else ctx.print(`skipped ${s.name}: ${s.reason}`);
    }
    if (links.length === 0 && registered === 0) throw new BpfError('KERNEL_UNSUPPORTED', `${spec.path}: nothing could be attached on this kernel`);
    if (!ctx.json) ctx.print(`Ctrl-C ${links.length ? 'detaches' : 'unregisters'}`);
    stopEvents = streamEvents(coll, ctx, headers);
  });
}
