// `bpf-ts detach --tc IFACE`: remove bpf filters from the clsact hooks and
// programs from the tcx hooks of a device (one direction, or both). With
// --priority/--handle only that cls_bpf filter goes. The pins `load --link`
// made for tcx links are removed; the clsact qdisc stays unless
// --remove-qdisc (and then only when no filter is left on it).

import type { DetachValues } from './commands/detach.js';
import { detachTc, isTcDirection, removeClsact, type TcDetachment, type TcDirection } from '../attach/tc.js';
import { detachTcx, type TcxDetachment } from '../attach/tcx.js';
import { resolveInterface } from '../attach/iface.js';
import { BpfError } from '../errors.js';
import { withNetns } from '../netns.js';
import type { CommandContext } from './command.js';
import { defaultTcxLinkPin } from './default-pins.js';
import { findLinkPins, removeLinkPin } from './link-pins.js';
import { parseUint } from './tc-select.js';

type Values = DetachValues;

export function detachTcCli(values: Values & { tc: string }, ctx: CommandContext, bpffs: string): number {
  const iface = values.tc;
  const netns = values.netns;
  if (values.mode !== undefined) throw new BpfError('USAGE', '--mode is for --xdp');
  const d = values.direction;
  if (d !== undefined && !isTcDirection(d)) throw new BpfError('USAGE', `--direction must be ingress or egress, got ${String(d)}`);
  const direction = d as TcDirection | undefined;
  const priority = parseUint(values.priority, '--priority', 0xffff);
  const handle = parseUint(values.handle, '--handle', 0xffffffff);
  const onlyFilter = priority !== undefined || handle !== undefined;
  const { ifindex, ifname } = withNetns(netns, () => resolveInterface(iface, netns));

  let filters: TcDetachment['detached'] = [];
  try {
    filters = detachTc(ifindex, { direction, priority, handle, netns }).detached;
  } catch (e) {
    if (!(e instanceof BpfError && e.code === 'NOT_ATTACHED') || onlyFilter) throw e;
  }
  // Links load --link pinned are opened through their pins: no CAP_SYS_ADMIN needed to find them.
  const linkPin = (dir: TcDirection, linkId: number) => defaultTcxLinkPin(bpffs, ifname, dir, linkId, netns);
  const tcx: TcxDetachment['detached'] = onlyFilter ? [] : detachTcx(ifindex, { direction, netns, linkPin }).detached;
  if (filters.length === 0 && tcx.length === 0) {
    throw new BpfError('NOT_ATTACHED', `detach TC from ${ifname}: no bpf filter or tcx program on ${direction ?? 'ingress or egress'}`);
  }

  const removedPins: string[] = [];
  // Only pins that hold the links just detached, wherever on this bpffs (custom --pin-link too).
  const linkIds = tcx.flatMap((t) => (t.linkId ? [t.linkId] : []));
  if (linkIds.length > 0) {
    const likely = tcx.filter((t) => t.linkId).map((t) => defaultTcxLinkPin(bpffs, ifname, t.direction, t.linkId, netns));
    for (const held of findLinkPins(bpffs, linkIds, likely)) {
      removeLinkPin(held.path);
      removedPins.push(held.path);
    }
  }
  const removedQdisc = values['remove-qdisc'] ? removeClsact(ifindex, { netns }) : undefined;

  const detached = [
    ...filters.map((f) => ({ direction: f.direction, priority: f.priority, handle: f.handle, progId: f.progId ?? null, link: false })),
    ...tcx.map((t) => ({ direction: t.direction, progId: t.progId, link: true, ...(t.linkId ? { linkId: t.linkId } : {}) })),
  ];
  if (ctx.json) ctx.printJson({ interface: ifname, ifindex, detached, removedPins, ...(removedQdisc !== undefined ? { removedQdisc } : {}) });
  else {
    for (const f of filters) ctx.print(`detached ${f.direction} filter priority ${f.priority} handle ${f.handle}${f.progId !== undefined ? ` (program id ${f.progId})` : ''} from ${ifname}`);
    for (const t of tcx) ctx.print(`detached program id ${t.progId} (tcx ${t.direction}${t.linkId ? `, bpf_link ${t.linkId}` : ''}) from ${ifname}`);
    for (const p of removedPins) ctx.print(`removed link pin ${p}`);
    if (removedQdisc === true) ctx.print(`removed clsact qdisc of ${ifname}`);
    if (removedQdisc === false) ctx.print(`kept the clsact qdisc of ${ifname}: other filters are on it (or there is none)`);
  }
  return 0;
}
