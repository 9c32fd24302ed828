// union bpf_attr codecs for object commands: OBJ_PIN / OBJ_GET (bpffs paths),
// *_GET_NEXT_ID (walk the kernel's id space) and *_GET_FD_BY_ID.

import { BpfError } from '../errors.js';
import * as ffi from './ffi.js';
import * as cmd from './bpf-cmd.js';
import { ENOENT } from './errno.js';
import { readU32, writeU32, writeU64 } from './endian.js';
import { bpfRaw, bpfSyscall, syscallError } from './wrapper.js';

/** OBJ_GET file_flags / GET_FD_BY_ID open_flags: open read-only or write-only (the map_flags values, defined in uapi/bpf.ts). */
export { BPF_F_RDONLY, BPF_F_WRONLY } from '../uapi/bpf.js';

// struct { u64 pathname; u32 bpf_fd; u32 file_flags; } (path_fd, 6.5+, unused)
const OBJ_ATTR_SIZE = 16;

function encodeObj(path: string, fd: number, fileFlags: number): { attr: Buffer; pathMem: ffi.NativeBuffer } {
  // The kernel reads a C string: a NUL would silently cut the path short.
  if (path.includes('\0')) throw new BpfError('BAD_PATH', `pin path ${JSON.stringify(path)} contains a NUL byte; the kernel would cut it there`);
  const pathMem = ffi.nativeCopy(path);
  const attr = Buffer.alloc(OBJ_ATTR_SIZE);
  writeU64(attr, 0, pathMem.address);
  writeU32(attr, 8, fd);
  writeU32(attr, 12, fileFlags);
  return { attr, pathMem };
}

/** BPF_OBJ_PIN: pin the object behind `fd` at `path` (on a bpf filesystem). */
export function objPin(fd: number, path: string, context?: string): void {
  const { attr, pathMem } = encodeObj(path, fd, 0);
  bpfSyscall(cmd.BPF_OBJ_PIN, attr, OBJ_ATTR_SIZE, context ?? `path ${path}`, { path });
  keepAlive(pathMem);
}

/** BPF_OBJ_GET: open the pinned object at `path`; returns a new fd. */
export function objGet(path: string, fileFlags = 0, context?: string): number {
  const { attr, pathMem } = encodeObj(path, 0, fileFlags);
  const fd = bpfSyscall(cmd.BPF_OBJ_GET, attr, OBJ_ATTR_SIZE, context ?? `path ${path}`, { path });
  keepAlive(pathMem);
  return fd;
}

// The attr holds only the address of the path: the NativeBuffer owning it
// must stay reachable until the syscall has returned.
function keepAlive(_: unknown): void {}

// struct { u32 start_id / prog_id / map_id / link_id; u32 next_id; u32 open_flags; }
const ID_ATTR_SIZE = 12;

/**
 * BPF_{PROG,MAP,LINK,BTF}_GET_NEXT_ID: the smallest id greater than `startId`,
 * or null when there is none.
 */
export function getNextId(command: number, startId: number): number | null {
  const attr = Buffer.alloc(ID_ATTR_SIZE);
  writeU32(attr, 0, startId);
  const r = bpfRaw(command, attr, ID_ATTR_SIZE);
  if (r === -ENOENT) return null;
  if (r < 0) throw syscallError(command, r);
  return readU32(attr, 4);
}

/**
 * BPF_{PROG,MAP,LINK,BTF}_GET_FD_BY_ID: a new fd for the object with `id`.
 * Returns null when no object has that id (ENOENT), so id walks can skip
 * objects freed in between.
 */
export function getFdById(command: number, id: number, openFlags = 0): number | null {
  const attr = Buffer.alloc(ID_ATTR_SIZE);
  writeU32(attr, 0, id);
  writeU32(attr, 8, openFlags);
  const r = bpfRaw(command, attr, ID_ATTR_SIZE);
  if (r === -ENOENT) return null;
  if (r < 0) throw syscallError(command, r, `id ${id}`);
  return r;
}

export const GET_NEXT_ID = {
  prog: cmd.BPF_PROG_GET_NEXT_ID,
  map: cmd.BPF_MAP_GET_NEXT_ID,
  link: cmd.BPF_LINK_GET_NEXT_ID,
  btf: cmd.BPF_BTF_GET_NEXT_ID,
} as const;

export const GET_FD_BY_ID = {
  prog: cmd.BPF_PROG_GET_FD_BY_ID,
  map: cmd.BPF_MAP_GET_FD_BY_ID,
  link: cmd.BPF_LINK_GET_FD_BY_ID,
  btf: cmd.BPF_BTF_GET_FD_BY_ID,
} as const;

export type BpfObjectKind = keyof typeof GET_NEXT_ID;
