// Where `load` pins what must outlive the CLI process when the user names no
// path, so that `detach` can find those pins again and remove them. All live
// under <bpffs>/bpf-ts/.

import { basename, dirname, join, resolve } from 'node:path';
import type { TcDirection } from '../attach/tc.js';

export const pinDir = (bpffs: string): string => join(bpffs, 'bpf-ts');

/** An XDP link: one per interface (and namespace), so no link id in the name. */
export function defaultXdpLinkPin(bpffs: string, ifname: string, netns?: string): string {
  return join(pinDir(bpffs), `xdp_link_${netns ? netns + '_' : ''}${ifname}`);
}

/** A tcx link: several may share a hook, so the link id is part of the name. */
export function defaultTcxLinkPin(bpffs: string, ifname: string, direction: TcDirection, linkId: number, netns?: string): string {
  return join(pinDir(bpffs), `tcx_${netns ? netns + '_' : ''}${ifname}_${direction}_${linkId}`);
}

/** A netfilter link: several may share a hook, so the link id is part of the name. */
export function defaultNetfilterLinkPin(bpffs: string, family: string, hook: string, linkId: number, netns?: string): string {
  return join(pinDir(bpffs), `netfilter_${netns ? netns + '_' : ''}${family}_${hook}_${linkId}`);
}

/** A cgroup link, by cgroup id (the directory's inode), hook and link id. */
export function defaultCgroupLinkPin(bpffs: string, cgroupId: bigint | number, attachType: string, linkId: number): string {
  return join(pinDir(bpffs), `cgroup_${cgroupId}_${attachType}_${linkId}`);
}

/** A sockmap kept alive for its sk_msg program (the map drops its programs with its last fd or pin). */
export function defaultSkMsgMapPin(bpffs: string, mapName: string, mapId: number): string {
  return join(pinDir(bpffs), `sk_msg_${mapName}_${mapId}`);
}

/**
 * Whether `path` is a sockmap pin `load` made for map `mapId` (so detach may
 * remove it): bpf-ts/sk_msg_<name>_<id> on whichever bpffs it was given.
 */
export function isDefaultSkMsgMapPin(path: string, mapId: number): boolean {
  const abs = resolve(path);
  const name = basename(abs);
  return basename(dirname(abs)) === 'bpf-ts' && name.startsWith('sk_msg_') && name.endsWith(`_${mapId}`);
}
