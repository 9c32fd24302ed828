// union bpf_attr codecs for the map commands: MAP_CREATE, the single-element
// commands (LOOKUP/UPDATE/DELETE/GET_NEXT_KEY/LOOKUP_AND_DELETE), the batch
// commands and MAP_FREEZE. Offsets are those of include/uapi/linux/bpf.h.

import * as ffi from './ffi.js';
import type { NativeBuffer } from './ffi.js';
import * as cmd from './bpf-cmd.js';
import { withMemlockRetry } from './memlock.js';
import { bpfRaw, bpfRawAt, bpfSyscall, syscallError } from './wrapper.js';
import { LITTLE_ENDIAN, readU32, writeU32, writeU64 } from './endian.js';

/** BPF_MAP_UPDATE_ELEM flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** BPF_MAP_CREATE map_flags: defined in uapi/bpf.ts (the object layer reads them too). */
export {
  BPF_F_NO_PREALLOC,
  BPF_F_NO_COMMON_LRU,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  BPF_F_STACK_BUILD_ID,
  BPF_F_ZERO_SEED,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY_PROG,
  BPF_F_CLONE,
  BPF_F_MMAPABLE,
  BPF_F_PRESERVE_ELEMS,
  BPF_F_INNER_MAP,
} from '../uapi/bpf.js';

export const BPF_OBJ_NAME_LEN = 16;

// ---------------------------------------------------------------- MAP_CREATE

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  /** At most 15 bytes; the caller sanitises (see BpfMap.create). */
  mapName?: string;
  mapIfindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
}

// Up to and including map_extra (Linux 5.16). Newer fields (token fd,
// exclusive prog hash) are not used; the kernel zero-fills what we omit.
export const MAP_CREATE_ATTR_SIZE = 72;

export function encodeMapCreate(a: MapCreateAttr): Buffer {
  const b = Buffer.alloc(MAP_CREATE_ATTR_SIZE);
  writeU32(b, 0, a.mapType);
  writeU32(b, 4, a.keySize);
  writeU32(b, 8, a.valueSize);
  writeU32(b, 12, a.maxEntries);
  writeU32(b, 16, a.mapFlags ?? 0);
  writeU32(b, 20, a.innerMapFd ?? 0);
  writeU32(b, 24, a.numaNode ?? 0);
  if (a.mapName) b.write(a.mapName, 28, BPF_OBJ_NAME_LEN - 1, 'latin1');
  writeU32(b, 44, a.mapIfindex ?? 0);
  writeU32(b, 48, a.btfFd ?? 0);
  writeU32(b, 52, a.btfKeyTypeId ?? 0);
  writeU32(b, 56, a.btfValueTypeId ?? 0);
  writeU32(b, 60, a.btfVmlinuxValueTypeId ?? 0);
  writeU64(b, 64, a.mapExtra ?? 0n);
  return b;
}

/** BPF_MAP_CREATE; returns the new map fd (raising RLIMIT_MEMLOCK if an old kernel needs it). */
export function mapCreate(a: MapCreateAttr, context?: string): number {
  const r = mapCreateRaw(a);
  if (r < 0) throw syscallError(cmd.BPF_MAP_CREATE, r, context, { mapType: a.mapType });
  return r;
}

/** mapCreate returning -errno instead of throwing (feature probes read the errno). */
export function mapCreateRaw(a: MapCreateAttr): number {
  const attr = encodeMapCreate(a);
  return withMemlockRetry(() => bpfRaw(cmd.BPF_MAP_CREATE, attr, attr.byteLength));
}

// ------------------------------------------------------- single-element ops

// struct { u32 map_fd; u64 key; union { u64 value; u64 next_key; }; u64 flags; }
const ELEM_FD = 0;
const ELEM_KEY = 8;
const ELEM_VALUE = 16;
const ELEM_FLAGS = 24;
const ELEM_ATTR_SIZE = 32;
// The kernel requires every byte after a command's last field to be zero, so
// each command passes only the prefix it uses.
const DELETE_ATTR_SIZE = 16; // ..key
const NEXT_KEY_ATTR_SIZE = 24; // ..next_key

const align8 = (n: number) => (n + 7) & ~7;

/**
 * Preallocated native memory for one map's single-element commands: three
 * attrs (lookup/update/delete, next-key-from-key, first-key) with their
 * pointers filled in once, plus key, next-key and value areas. A call copies
 * the key in, issues bpf(), and the caller copies the value out: no
 * allocation per call.
 */
export class MapElemOps {
  /** Write the key here before calling. */
  readonly key: Buffer;
  /** Input of update, output of lookup. */
  readonly value: Buffer;
  /** Output of nextKey(). */
  readonly nextKey: Buffer;
  /** `key` as one u32 (host order) when keySize is 4: a scalar key is one store. */
  readonly key32: Uint32Array | null;
  /** `value` as u32 words when its size is a multiple of 4: scalar values are one or two stores. */
  readonly value32: Uint32Array | null;
  readonly #mem: NativeBuffer;
  readonly #elem: Buffer;
  readonly #next: Buffer;
  readonly #first: Buffer;
  // The three attrs' addresses, for bpfRawAt (cheaper per call than Buffers).
  readonly #elemAt: number;
  readonly #nextAt: number;
  readonly #firstAt: number;
  /** The flags currently in #elem (the memory starts zeroed). */
  #flags = 0;

  /** @param valueBytes the user-space value size (padded × CPUs for per-CPU maps). */
  constructor(fd: number, keySize: number, valueBytes: number) {
    const keyOff = 3 * ELEM_ATTR_SIZE;
    const nextOff = keyOff + align8(keySize);
    const valueOff = nextOff + align8(keySize);
    this.#mem = ffi.allocNative(valueOff + align8(valueBytes));
    const m = this.#mem.bytes;
    const base = this.#mem.address;
    this.#elemAt = Number(base);
    this.#nextAt = this.#elemAt + ELEM_ATTR_SIZE;
    this.#firstAt = this.#elemAt + 2 * ELEM_ATTR_SIZE;
    this.#elem = m.subarray(0, ELEM_ATTR_SIZE);
    this.#next = m.subarray(ELEM_ATTR_SIZE, 2 * ELEM_ATTR_SIZE);
    this.#first = m.subarray(2 * ELEM_ATTR_SIZE, 3 * ELEM_ATTR_SIZE);
    this.key = m.subarray(keyOff, keyOff + keySize);
    this.nextKey = m.subarray(nextOff, nextOff + keySize);
    this.value = m.subarray(valueOff, valueOff + valueBytes);
    // keyOff and valueOff are multiples of 8 from an 8-aligned allocation.
    this.key32 = keySize === 4 ? new Uint32Array(m.buffer, m.byteOffset + keyOff, 1) : null;
    this.value32 = valueBytes > 0 && valueBytes % 4 === 0 ? new Uint32Array(m.buffer, m.byteOffset + valueOff, valueBytes / 4) : null;
    for (const a of [this.#elem, this.#next, this.#first]) writeU32(a, ELEM_FD, fd);
    // Keyless maps (queue, stack) require a NULL key pointer.
    if (keySize > 0) writeU64(this.#elem, ELEM_KEY, base + BigInt(keyOff));
    writeU64(this.#elem, ELEM_VALUE, base + BigInt(valueOff));
    writeU64(this.#next, ELEM_KEY, base + BigInt(keyOff));
    writeU64(this.#next, ELEM_VALUE, base + BigInt(nextOff));
    // #first keeps key = NULL: "give me the first key".
    writeU64(this.#first, ELEM_VALUE, base + BigInt(nextOff));
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into `value`; 0 or -errno. */
  lookup(flags = 0): number {
    this.#setFlags(flags);
    return bpfRawAt(cmd.BPF_MAP_LOOKUP_ELEM, this.#elemAt, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_UPDATE_ELEM of `key` to `value`; 0 or -errno. */
  update(flags = BPF_ANY): number {
    this.#setFlags(flags);
    return bpfRawAt(cmd.BPF_MAP_UPDATE_ELEM, this.#elemAt, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; 0 or -errno. */
  delete(): number {
    return bpfRawAt(cmd.BPF_MAP_DELETE_ELEM, this.#elemAt, DELETE_ATTR_SIZE);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM of `key` into `value` (queue/stack: no key); 0 or -errno. */
  lookupAndDelete(flags = 0): number {
    this.#setFlags(flags);
    return bpfRawAt(cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, this.#elemAt, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_GET_NEXT_KEY into `nextKey`: after `key`, or the first key when `first`. */
  getNextKey(first: boolean): number {
    return bpfRawAt(cmd.BPF_MAP_GET_NEXT_KEY, first ? this.#firstAt : this.#nextAt, NEXT_KEY_ATTR_SIZE);
  }

  // Flags are a u64 but every defined flag fits the low word.
  #setFlags(flags: number): void {
    if (flags === this.#flags) return;
    this.#flags = flags;
    writeU32(this.#elem, LITTLE_ENDIAN ? ELEM_FLAGS : ELEM_FLAGS + 4, flags);
  }
}

// ------------------------------------------------------------- batch ops

// struct { u64 in_batch; u64 out_batch; u64 keys; u64 values; u32 count;
//          u32 map_fd; u64 elem_flags; u64 flags; } batch
const BATCH_ATTR_SIZE = 56;

export interface BatchArgs {
  fd: number;
  /** NULL (start from the beginning) when absent. LOOKUP batches only. */
  inBatch?: NativeBuffer | null;
  outBatch?: NativeBuffer | null;
  keys: NativeBuffer;
  values?: NativeBuffer | null;
  count: number;
  elemFlags?: number;
}

/**
 * One BPF_MAP_*_BATCH call. Returns the raw result (0 or -errno) and the
 * element count the kernel reports back, which is meaningful on success and
 * also on ENOENT (end of map reached, with `count` elements still filled).
 */
export function mapBatch(command: number, a: BatchArgs): { result: number; count: number } {
  const mem = ffi.allocNative(BATCH_ATTR_SIZE);
  const attr = mem.bytes;
  writeU64(attr, 0, a.inBatch ? a.inBatch.address : 0n);
  writeU64(attr, 8, a.outBatch ? a.outBatch.address : 0n);
  writeU64(attr, 16, a.keys.address);
  writeU64(attr, 24, a.values ? a.values.address : 0n);
  writeU32(attr, 32, a.count);
  writeU32(attr, 36, a.fd);
  writeU64(attr, 40, BigInt(a.elemFlags ?? 0));
  const result = bpfRaw(command, attr, BATCH_ATTR_SIZE);
  return { result, count: readU32(attr, 32) };
}

// ------------------------------------------------------------- MAP_FREEZE

export function mapFreeze(fd: number, context?: string): void {
  const attr = Buffer.alloc(4);
  writeU32(attr, 0, fd);
  bpfSyscall(cmd.BPF_MAP_FREEZE, attr, 4, context);
}
