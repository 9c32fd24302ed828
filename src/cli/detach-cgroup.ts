// `bpf-ts detach --cgroup PATH` and `bpf-ts detach --sk-msg MAP`: take
// programs off a cgroup's hooks (all, one hook, or one program), or the
// sk_msg program off a sockmap named by pin path or id:N. Pins that `load`
// made for them under <bpffs>/bpf-ts/ (cgroup links, the sockmap) go too.

import type { DetachValues } from './commands/detach.js';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cgroupAttachType, cgroupId, detachCgroup } from '../attach/cgroup.js';
import { resolveCgroup } from '../attach/cgroup-mount.js';
import { detachSkMsg } from '../attach/sk-msg.js';
import { openPinnedMap, removeEmptyDirs, unpin } from '../maps/pin.js';
import type { CommandContext } from './command.js';
import { defaultCgroupLinkPin, isDefaultSkMsgMapPin, pinDir } from './default-pins.js';
import { findLinkPins, removeLinkPin } from './link-pins.js';
import { openMapTarget } from './target.js';
import { parseUint } from './tc-select.js';

type Values = DetachValues;

function cgroupLinkPins(bpffs: string, cgroup: string): string[] {
  const dir = pinDir(bpffs);
  let prefix: string;
  try {
    prefix = `cgroup_${cgroupId(resolveCgroup(cgroup))}_`;
    return readdirSync(dir)
      .filter((n) => n.startsWith(prefix))
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

export function detachCgroupCli(values: Values & { cgroup: string }, ctx: CommandContext, bpffs: string): number {
  const progId = parseUint(values['program-id'], '--program-id', 0xffffffff);
  const attachType = values['attach-type'];
  // The link pins load --link made for this cgroup: detaching through them needs no CAP_SYS_ADMIN.
  const r = detachCgroup(values.cgroup, { progId, ...(attachType !== undefined ? { attachType: cgroupAttachType(attachType) } : {}), linkPins: cgroupLinkPins(bpffs, values.cgroup) });
  const removedPins: string[] = [];
  const withLink = r.detached.filter((d) => d.linkId !== undefined);
  if (withLink.length > 0) {
    const likely = withLink.map((d) => defaultCgroupLinkPin(bpffs, cgroupId(r.cgroup), d.attachTypeName, d.linkId!));
    for (const held of findLinkPins(
      bpffs,
      withLink.map((d) => d.linkId!),
      likely,
    )) {
      removeLinkPin(held.path);
      removedPins.push(held.path);
    }
  }
  const detached = r.detached.map((d) => ({ attachType: d.attachTypeName, progId: d.progId, ...(d.linkId !== undefined ? { linkId: d.linkId } : {}) }));
  if (ctx.json) ctx.printJson({ cgroup: r.cgroup, detached, removedPins });
  else {
    for (const d of detached) ctx.print(`detached program id ${d.progId} (${d.attachType}${d.linkId !== undefined ? `, bpf_link ${d.linkId}` : ''}) from cgroup ${r.cgroup}`);
    for (const p of removedPins) ctx.print(`removed link pin ${p}`);
  }
  return 0;
}

export function detachSkMsgCli(values: Values & { 'sk-msg': string }, ctx: CommandContext, bpffs: string): number {
  const target = values['sk-msg'];
  const progId = parseUint(values['program-id'], '--program-id', 0xffffffff);
  let r;
  {
    using map = openMapTarget(target);
    r = detachSkMsg(map.fd.value, { progId });
  }
  // The sockmap pin load made only to keep the attachment alive has no job left.
  const removedPins: string[] = [];
  const candidates = /^id:\d+$/.test(target) ? (existsSync(pinDir(bpffs)) ? readdirSync(pinDir(bpffs)).map((n) => join(pinDir(bpffs), n)) : []) : [target];
  for (const p of candidates) {
    if (!isDefaultSkMsgMapPin(p, r.mapId) || !holdsMap(p, r.mapId)) continue;
    if (unpin(p)) removedPins.push(p);
    removeEmptyDirs([dirname(resolve(p))]); // <bpffs>/bpf-ts/, once empty
  }
  const detached = r.detached.map((d) => ({ progId: d.progId, attachType: d.attachTypeName }));
  if (ctx.json) ctx.printJson({ map: r.mapName, mapId: r.mapId, detached, removedPins });
  else {
    for (const d of detached) ctx.print(`detached ${d.attachType} program id ${d.progId} from map ${r.mapName} (id ${r.mapId})`);
    for (const p of removedPins) ctx.print(`removed map pin ${p}`);
  }
  return 0;
}

/** Whether the pin at `path` (checked: no symlinks, trusted owner) holds map `mapId`: only then is it ours to remove. */
function holdsMap(path: string, mapId: number): boolean {
  try {
    using m = openPinnedMap(path);
    return m.id === mapId;
  } catch {
    return false;
  }
}
