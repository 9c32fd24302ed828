// bpf-ts prog list|show|dump: the programs in the kernel, like `bpftool prog
// list`; one program in detail, like `bpftool prog show` (plus the links
// holding it); and its instructions as the kernel runs them, like `bpftool
// prog dump xlated`.

import { BpfError } from '../../errors.js';
import type { XlatedProgram } from '../../programs/xlated.js';
import { listTc } from '../../attach/tc.js';
import { listTcx } from '../../attach/tcx.js';
import { listXdp } from '../../attach/xdp.js';
import { bootTimeToDate, bpfFdInfo } from '../../sys/fdinfo.js';
import { listLinks, listPrograms, mapInfoById, unlessDenied } from '../../sys/ids.js';
import { progInfo } from '../../sys/info.js';
import { linkTypeName } from '../../sys/link-type.js';
import { BPF_PROG_TYPE, mapTypeName, progTypeName } from '../../uapi/bpf.js';
import { type CommandContext, defineCommand } from '../command.js';
import { table } from '../format.js';
import { openProgTarget, pinAt, pinOfTarget } from '../target.js';
import { holdersOf, printHolders } from '../holders.js';
import { linkTarget } from '../link-target.js';

const USAGE = 'bpf-ts prog list [--json] | prog show PIN_PATH|id:N [--netns NAME] [--json] | prog dump PIN_PATH|id:N [--json] | prog pin PIN_PATH|id:N PATH [--json]';

function list(ctx: CommandContext): number {
  const progs = listPrograms({ mapIds: true });
  if (ctx.json) {
    ctx.printJson(progs.map((p) => ({ id: p.id, name: p.name, type: progTypeName(p.type), tag: p.tag, xlatedBytes: p.xlatedProgLen, jitedBytes: p.jitedProgLen, mapIds: p.mapIds, btfId: p.btfId })));
  } else {
    ctx.print(
      table(
        ['ID', 'NAME', 'TYPE', 'TAG', 'XLATED', 'MAPS'],
        progs.map((p) => [p.id, p.name, progTypeName(p.type), p.tag, p.xlatedProgLen, p.mapIds.join(',')]),
      ),
    );
  }
  return 0;
}

/** Where an XDP or TC program sits on an interface of this network namespace. */
interface InterfaceHook {
  interface: string;
  ifindex: number;
  /** "xdp skb", "tc ingress" (clsact cls_bpf), "tcx egress". */
  hook: string;
  /** The bpf_link holding it there, or null (netlink, clsact, BPF_PROG_ATTACH). */
  linkId: number | null;
}

/**
 * The interfaces of a network namespace (this one, or --netns) an XDP or TC program is attached
 * to — through netlink, clsact or tcx, link or not — as `bpf-ts show` finds
 * them; null for other program types, or when this process may not look
 * (then a warning names CAP_NET_ADMIN).
 */
function interfaceHooks(progId: number, type: number, netns: string | undefined, ctx: CommandContext): InterfaceHook[] | null {
  const T = BPF_PROG_TYPE;
  if (type !== T.XDP && type !== T.SCHED_CLS && type !== T.SCHED_ACT) return null;
  const hooks = unlessDenied(
    () =>
      type === T.XDP
        ? listXdp({ netns }).flatMap((s) => s.programs.filter((p) => p.progId === progId).map((p) => ({ interface: s.ifname, ifindex: s.ifindex, hook: `xdp ${p.mode}`, linkId: p.linkId ?? null })))
        : [
            ...listTc({ netns })
              .filter((f) => f.progId === progId)
              .map((f) => ({ interface: f.ifname, ifindex: f.ifindex, hook: `tc ${f.direction}`, linkId: null })),
            ...listTcx({ netns })
              .filter((t) => t.progId === progId)
              .map((t) => ({ interface: t.ifname, ifindex: t.ifindex, hook: `tcx ${t.direction}`, linkId: t.linkId || null })),
          ],
    null,
  );
  if (hooks === null) ctx.warn?.('the interfaces it is attached to are not shown: querying them needs CAP_NET_ADMIN');
  return hooks;
}

function show(target: string | undefined, netns: string | undefined, ctx: CommandContext): number {
  using prog = openProgTarget(target);
  const info = progInfo(prog.fd.value, { mapIds: true }, `program ${prog.name}`);
  const { memlock } = bpfFdInfo(prog.fd.value);
  const maps = info.mapIds.map((id) => {
    const m = mapInfoById(id);
    return m === null || m === 'denied' ? { id, name: null, type: null, shown: m !== 'denied' } : { id, name: m.name, type: mapTypeName(m.type), shown: true };
  });
  if (maps.some((m) => !m.shown)) ctx.warn?.('map names are not shown: opening a map by id needs CAP_SYS_ADMIN');
  // Where it runs: every bpf_link holding it (netlink XDP/TC and legacy cgroup attachments are not links: `bpf-ts show`).
  const links = unlessDenied(() => listLinks().filter((l) => l.progId === info.id), null);
  if (links === null) ctx.warn?.('the links holding it are not shown: walking link ids needs CAP_SYS_ADMIN');
  // A loaded program has instructions: a size of 0 is the kernel withholding it.
  const sizesShown = info.xlatedProgLen > 0;
  if (!sizesShown) ctx.warn?.('its sizes are not shown: the kernel reports them only to a caller with CAP_BPF');
  const row = {
    id: info.id,
    name: info.name,
    type: progTypeName(info.type),
    tag: info.tag,
    gplCompatible: info.gplCompatible,
    loadedAt: bootTimeToDate(info.loadTime).toISOString(),
    uid: info.createdByUid,
    xlatedBytes: sizesShown ? info.xlatedProgLen : null,
    jitedBytes: sizesShown ? info.jitedProgLen : null,
    memlock,
    verifiedInsns: info.verifiedInsns,
    btfId: info.btfId,
    maps: maps.map(({ id, name, type }) => ({ id, name, type })),
    runCount: Number(info.runCnt),
    runTimeNs: Number(info.runTimeNs),
    links: links?.map((l) => ({ id: l.id, type: linkTypeName(l.type), target: linkTarget(l) })) ?? null,
    interfaces: interfaceHooks(info.id, info.type, netns, ctx),
    ...holdersOf('prog', info.id, ctx, pinOfTarget(target)),
  };
  if (ctx.json) {
    ctx.printJson(row);
    return 0;
  }
  ctx.print(`program ${row.id}: ${row.name || '(no name)'} (${row.type})`);
  ctx.print(`  tag        ${row.tag}${row.gplCompatible ? ' (GPL)' : ''}`);
  ctx.print(`  loaded     ${row.loadedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} by uid ${row.uid}`);
  const sizes = [...(sizesShown ? [`${info.xlatedProgLen} bytes xlated`, `${info.jitedProgLen} bytes JITed`] : []), ...(memlock === null ? [] : [`${memlock} bytes memlock`])];
  ctx.print(`  size       ${[sizes.join(', '), `${row.verifiedInsns} instructions verified`].filter(Boolean).join('; ')}`);
  ctx.print(`  maps       ${maps.length === 0 ? '-' : maps.map((m) => (m.name === null ? `${m.id}` : `${m.id} ${m.name} (${m.type})`)).join(', ')}`);
  if (row.btfId) ctx.print(`  btf        id ${row.btfId}`);
  if (row.runCount > 0) ctx.print(`  runs       ${row.runCount} in ${row.runTimeNs} ns (counted while kernel.bpf_stats_enabled is 1)`);
  if (row.links !== null) ctx.print(`  links      ${row.links.length === 0 ? '-' : row.links.map((l) => `${l.id} (${l.type}${l.target ? `, ${l.target}` : ''})`).join(', ')}`);
  if (row.interfaces !== null)
    ctx.print(
      `  attached   ${row.interfaces.length === 0 ? `- (on no interface of ${netns ? `network namespace ${netns}` : 'this network namespace'})` : row.interfaces.map((h) => `${h.interface} ${h.hook} (${h.linkId === null ? 'no link' : `bpf_link ${h.linkId}`})`).join(', ')}`,
    );
  printHolders(ctx, row);
  return 0;
}

function dump(target: string | undefined, ctx: CommandContext): number {
  let x: XlatedProgram;
  {
    using prog = openProgTarget(target);
    x = prog.xlated();
  }
  // What the kernel would not show this process, and what would show it.
  const unnamed = x.lines.some((l) => l.call && l.call.kind !== 'function' && l.call.name === undefined);
  if (unnamed && !x.addressesShown) {
    ctx.warn?.('helper and kfunc calls are shown as "call ?": the kernel hides their addresses from this process (needs CAP_SYSLOG, or kernel.kptr_restrict=0 and kernel.perf_event_paranoid<=1)');
  }
  if (!x.sourceShown) ctx.warn?.("no source lines or function names: the program's BTF opens by id only with CAP_SYS_ADMIN");
  if (!x.mapNamesShown) ctx.warn?.('maps are shown by id: they open by id only with CAP_SYS_ADMIN');
  if (ctx.json) {
    ctx.printJson({
      id: x.id,
      name: x.name,
      type: x.type,
      tag: x.tag,
      jited: x.jited,
      addressesShown: x.addressesShown,
      sourceShown: x.sourceShown,
      mapNamesShown: x.mapNamesShown,
      maps: x.maps,
      instructions: x.lines.map((l) => ({
        insn: l.slot,
        text: l.text,
        ...(l.function ? { function: l.function } : {}),
        ...(l.source ? { source: l.source } : {}),
        ...(l.map ? { map: l.map } : {}),
        ...(l.call ? { call: l.call } : {}),
      })),
    });
    return 0;
  }
  ctx.print(`${x.name || '(no name)'} (id ${x.id}, ${x.type}, tag ${x.tag}${x.jited ? ', JITed' : ''}), as the kernel runs it:`);
  if (x.maps.length > 0) ctx.print(`maps: ${x.maps.map((m) => (m.name !== undefined ? `${m.name} (id ${m.id}, ${m.type})` : `id ${m.id}`)).join(', ')}`);
  const w = String(x.lines.at(-1)?.slot ?? 0).length;
  for (const l of x.lines) {
    if (l.function) ctx.print(`${l.function.prototype}:`);
    if (l.source) ctx.print(`; ${l.source.text}  [${l.source.file}:${l.source.line}]`);
    ctx.print(`${String(l.slot).padStart(w + 2)}: ${l.text}`);
  }
  return 0;
}

export const prog = defineCommand({
  name: 'prog',
  summary: 'list the programs loaded in the kernel; show one (maps, links, load time, what holds it); dump its instructions as the kernel runs them; pin it',
  usage: USAGE,
  options: { netns: { type: 'string' } },
  run(positionals, values, ctx) {
    const [sub, target, ...more] = positionals;
    if (values.netns !== undefined && sub !== 'show') throw new BpfError('USAGE', `--netns goes with prog show (usage: ${USAGE})`);
    if (sub === 'list' && target === undefined) return list(ctx);
    if (sub === 'dump' && more.length === 0) return dump(target, ctx);
    if (sub === 'show' && more.length === 0) return show(target, values.netns, ctx);
    if (sub === 'pin' && more.length <= 1) return pinAt(() => openProgTarget(target), 'program', more[0], ctx);
    if (sub === 'list' || sub === 'dump' || sub === 'show' || sub === 'pin')
      throw new BpfError('USAGE', `prog ${sub}: unexpected argument ${sub === 'list' ? target : more[sub === 'pin' ? 1 : 0]} (usage: ${USAGE})`);
    throw new BpfError('USAGE', `prog needs a sub-command: list, show, dump or pin (usage: ${USAGE})`);
  },
});
