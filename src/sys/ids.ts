// Walk the kernel's id spaces (every loaded program, map and link, not only
// ours) with *_GET_NEXT_ID, and describe each through a short-lived fd.
// Objects can vanish between "next id" and "open by id": those are skipped.

import { EAGAIN, EPERM } from './errno.js';
import * as ffi from './ffi.js';
import { BpfSyscallError } from './syscall-error.js';
import { GET_FD_BY_ID, GET_NEXT_ID, getFdById, getNextId, type BpfObjectKind } from './obj-attr.js';
import { linkInfo, mapInfo, progInfo, type LinkInfo, type MapInfo, type ProgInfo } from './info.js';

/** Ids of all objects of one kind, ascending. */
export function* ids(kind: BpfObjectKind): Generator<number> {
  let id = 0;
  for (;;) {
    const next = getNextId(GET_NEXT_ID[kind], id);
    if (next === null) return;
    yield next;
    id = next;
  }
}

export const mapIds = (): number[] => [...ids('map')];
export const progIds = (): number[] => [...ids('prog')];
export const linkIds = (): number[] => [...ids('link')];

/**
 * Open an object by id, run `fn` on the fd, close it. Null if the id is gone,
 * or not there yet: the kernel answers EAGAIN for a link whose id is taken
 * while another process is still creating it (bpf_link_by_id).
 */
export function withIdFd<T>(kind: BpfObjectKind, id: number, fn: (fd: number) => T): T | null {
  let fd: number | null;
  try {
    fd = getFdById(GET_FD_BY_ID[kind], id);
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errno === EAGAIN) return null;
    throw e;
  }
  if (fd === null) return null;
  try {
    return fn(fd);
  } finally {
    ffi.close(fd);
  }
}

/** `fn()`, or `denied` when the kernel says EPERM (ids open only with CAP_SYS_ADMIN). */
export function unlessDenied<T, D>(fn: () => T, denied: D): T | D {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errno === EPERM) return denied;
    throw e;
  }
}

function list<T>(kind: BpfObjectKind, describe: (fd: number) => T): T[] {
  const out: T[] = [];
  for (const id of ids(kind)) {
    const info = withIdFd(kind, id, describe);
    if (info !== null) out.push(info);
  }
  return out;
}

export function listMaps(): MapInfo[] {
  return list('map', (fd) => mapInfo(fd));
}

export function listPrograms(opts: { mapIds?: boolean } = {}): ProgInfo[] {
  return list('prog', (fd) => progInfo(fd, opts));
}

export function listLinks(): LinkInfo[] {
  return list('link', (fd) => linkInfo(fd));
}

/** bpf_map_info of a map id: null when no such map, 'denied' when this process may not open ids (CAP_SYS_ADMIN). */
export function mapInfoById(id: number): MapInfo | null | 'denied' {
  return unlessDenied(() => withIdFd('map', id, (fd) => mapInfo(fd, `map id ${id}`)), 'denied');
}

/** bpf_prog_info of a program id: null when no such program, 'denied' when this process may not open ids (CAP_SYS_ADMIN). */
export function progInfoById(id: number): ProgInfo | null | 'denied' {
  return unlessDenied(() => withIdFd('prog', id, (fd) => progInfo(fd, {}, `program id ${id}`)), 'denied');
}
