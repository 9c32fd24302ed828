// Pins of bpf_links that `load --link` leaves behind, and how `detach` finds
// them again. A pin can outlive its attachment: the interface is deleted, or
// a `detach` ran between LINK_CREATE and the pin. Such a "defunct" link
// (link info reports ifindex 0 / cgroup 0) holds nothing; its pin must not
// block the next `load --link` forever, nor be left behind by `detach`.
// bpf-ts only removes a pin after it has opened it and seen the link it
// expects there (or a defunct one), never by name alone.

import { unlinkSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { BpfError } from '../errors.js';
import { linkDetach } from '../sys/link-attr.js';
import { checkExistingPin, isBpffs, pinFd, removeCreatedDirs, removeEmptyDirs, walkBpffsDir, walkPins } from '../sys/bpffs.js';
import * as ffi from '../sys/ffi.js';
import { fdKind } from '../sys/fd.js';
import { linkInfo, type LinkInfo } from '../sys/info.js';
import { objGet } from '../sys/obj-attr.js';
import { pinDir } from './default-pins.js';

export interface PinnedLink {
  path: string;
  linkId: number;
  progId: number;
  /** The link no longer holds its program anywhere (device gone, or detached). */
  defunct: boolean;
  info: LinkInfo;
}

/** Whether a link's info says it is detached: XDP/tcx/netkit ifindex 0, cgroup id 0. */
export function linkIsDefunct(info: LinkInfo): boolean {
  const d = info.details;
  switch (d.kind) {
    case 'xdp':
    case 'tcx':
    case 'netkit':
      return d.ifindex === 0;
    case 'cgroup':
      return d.cgroupId === 0n;
    default:
      return false;
  }
}

/**
 * What the pin at `path` holds: a link (live or defunct), 'other' for a map
 * or program, or null when nothing is pinned there. The path is checked
 * first (no symlinks, trusted owners: PIN_UNSAFE).
 */
export function readLinkPin(path: string, purpose = `read link pin ${resolve(path)}`): PinnedLink | 'other' | null {
  if (!checkExistingPin(path, purpose)) return null;
  const fd = objGet(resolve(path), 0, `pin ${resolve(path)}`);
  try {
    if (fdKind(fd) !== 'link') return 'other';
    const info = linkInfo(fd, `link pinned at ${path}`);
    return { path: resolve(path), linkId: info.id, progId: info.progId, defunct: linkIsDefunct(info), info };
  } finally {
    ffi.close(fd);
  }
}

/**
 * Unlink a link pin, and <bpffs>/bpf-ts/ with it when that leaves it empty
 * (it is ours), and the empty directories bpf-ts made for a custom pin path
 * (marked 01700 when it made them: removeCreatedDirs).
 */
export function removeLinkPin(path: string): void {
  const abs = resolve(path);
  unlinkSync(abs);
  if (basename(dirname(abs)) === basename(pinDir('/'))) removeEmptyDirs([dirname(abs)]);
  removeCreatedDirs(dirname(abs));
}

/**
 * Make room for a link pin before attaching: nothing there is fine; a
 * defunct link's pin is removed (returned, for the report); anything else
 * is PIN_EXISTS naming what holds the path.
 */
export function clearDefunctLinkPin(path: string, label: string): string | undefined {
  const held = readLinkPin(path, `cannot pin ${label} at ${resolve(path)}`);
  if (held === null) return undefined;
  if (held === 'other') throw new BpfError('PIN_EXISTS', `cannot pin ${label}: ${resolve(path)} already exists and holds a map or program`);
  if (!held.defunct) {
    throw new BpfError(
      'PIN_EXISTS',
      `cannot pin ${label}: ${held.path} holds bpf_link ${held.linkId} (program ${held.progId}), which is still attached; detach it first (bpf-ts detach … or --pin-link PATH)`,
    );
  }
  unlinkSync(held.path);
  return held.path;
}

/**
 * Pin `linkFd` at `path` and then check the link is still attached (a
 * `detach` racing this load may have detached it before the pin existed);
 * `stillAttached` adds a hook-side check (e.g. the interface's XDP query).
 * On failure the pin and the directories made for it are removed again.
 */
export function pinLinkVerified(linkFd: number, path: string, label: string, stillAttached?: () => boolean): void {
  const created = pinFd(linkFd, path, { mkdir: true, label });
  const ok = (() => {
    try {
      return !linkIsDefunct(linkInfo(linkFd, label)) && (stillAttached?.() ?? true);
    } catch {
      return false;
    }
  })();
  if (!ok) {
    try {
      unlinkSync(resolve(path));
    } catch {
      // already gone
    }
    removeEmptyDirs(created);
    throw new BpfError('NOT_ATTACHED', `${label} was detached before load finished (a detach ran at the same time?); nothing is attached and nothing stays pinned`);
  }
}

/**
 * Pins of the links `linkIds` on the bpffs at `bpffs`: `likely` paths first,
 * then, for ids not found there, a walk of the whole bpffs (lstat only,
 * never into symlinks or directories another user controls, at most
 * `limit` entries), so that pins at custom --pin-link paths are found too.
 */
export function findLinkPins(bpffs: string, linkIds: number[], likely: string[] = [], limit = 20_000): PinnedLink[] {
  const want = new Set(linkIds.filter((id) => id > 0));
  const found: PinnedLink[] = [];
  const seen = new Set<string>();
  const consider = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    let held: PinnedLink | 'other' | null;
    try {
      held = readLinkPin(p);
    } catch {
      return; // unreadable, untrusted or not a BPF object: not ours to judge
    }
    if (held && held !== 'other' && want.has(held.linkId)) found.push(held);
  };
  for (const p of likely) consider(resolve(p));
  if (found.length >= want.size || want.size === 0) return found;
  const root = resolve(bpffs);
  if (!isBpffs(root)) return found;
  for (const { path } of walkPins(root, { trustedOnly: true, limit }).pins) consider(path);
  return found;
}

/**
 * `detach --pin-link PATH`: detach the link pinned at PATH (any kind) and
 * remove the pin. A defunct link's pin is only removed.
 */
export function detachPinnedLink(path: string): PinnedLink {
  const held = readLinkPin(path);
  if (held === null) throw new BpfError('NOT_ATTACHED', `nothing is pinned at ${resolve(path)}`);
  if (held === 'other') throw new BpfError('USAGE', `${resolve(path)} holds a map or program, not a bpf_link; remove it with rm ${resolve(path)} if you mean to`);
  if (!held.defunct) {
    const fd = objGet(held.path, 0, `link pinned at ${held.path}`);
    try {
      linkDetach(fd, `bpf_link ${held.linkId} pinned at ${held.path}`);
    } finally {
      ffi.close(fd);
    }
  }
  removeLinkPin(held.path);
  return held;
}

/**
 * An explicit --bpffs must be a bpf filesystem bpf-ts may trust (NOT_BPFFS,
 * PIN_UNSAFE), before anything is detached or removed there.
 */
export function checkBpffsOption(bpffs: string | undefined): void {
  if (bpffs !== undefined) walkBpffsDir(bpffs, { purpose: `use --bpffs ${bpffs}` });
}
