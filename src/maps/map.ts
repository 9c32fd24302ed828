// A BPF map in the kernel, owned through its fd. Single-element operations
// reuse one preallocated native attr/key/value block per map (see
// MapElemOps), so get/set/delete allocate nothing but the returned value.

import { BpfError } from '../errors.js';
import * as cmd from '../sys/bpf-cmd.js';
import { checkPinPath, pinFd } from '../sys/bpffs.js';
import { possibleCpus } from '../sys/cpus.js';
import { availableMemory } from '../sys/meminfo.js';
import { EEXIST, EINVAL, ENOENT, ENOSPC, isNotSupported } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { Fd, fdKind } from '../sys/fd.js';
import { mapInfo, type MapInfo } from '../sys/info.js';
import { BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NUMA_NODE, BPF_F_RDONLY_PROG, BPF_NOEXIST, MapElemOps, mapBatch, mapCreate, mapFreeze } from '../sys/map-attr.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import { BPF_MAP_TYPE, isMapOfMapsType, isPerCpuMapType, mapTypeName } from '../sys/map-type.js';
import { MAP_TYPE_NAMES, type MapTypeName } from '../uapi/bpf.js';
import { BPF_F_RDONLY, BPF_F_WRONLY, GET_FD_BY_ID, getFdById, objGet } from '../sys/obj-attr.js';
import { syscallError } from '../sys/wrapper.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { copyOut } from '../bytes.js';
import { encodeInto, type MapBytes } from './codec.js';
import { MapMemory } from './memory.js';
import { MapView } from './view.js';

export type { MapBytes } from './codec.js';

/** What BpfMap.create needs; a full MapSpec from the object layer fits. */
/** A map type: BPF_MAP_TYPE.* or its name as bpftool prints it ('hash', 'percpu_array', 'ringbuf', …). */
export type MapTypeOption = Exclude<MapTypeName, 'unspec'> | number;

export interface MapCreateSpec {
  name: string;
  /** BPF_MAP_TYPE.* or its name ('hash', 'array', 'percpu_array', 'lru_hash', 'ringbuf', …). */
  type: MapTypeOption;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  numaNode?: number;
  mapExtra?: bigint;
  /** Template for array_of_maps / hash_of_maps, created temporarily when no innerMapFd is given. */
  innerMap?: MapCreateSpec;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Written at key 0 after creation (global data sections). */
  initialValue?: Uint8Array;
  /** Freeze after writing initialValue (.rodata). */
  freeze?: boolean;
}

export interface MapCreateOptions {
  /** BTF object the spec's btfKeyTypeId / btfValueTypeId refer to. */
  btfFd?: number;
  /** Inner map template for map-in-map types. */
  innerMapFd?: number;
  /** Offload to this netdev (map_ifindex). */
  ifindex?: number;
  /** Create the map even when its estimated memory exceeds what the system has available. */
  ignoreMemoryLimit?: boolean;
}

/** One BPF_MAP_LOOKUP_BATCH result: `count` keys and values, back to back. */
export interface BatchChunk {
  count: number;
  keys: Buffer;
  values: Buffer;
  keySize: number;
  /** Bytes per value: valueSize, or round_up(valueSize, 8) × CPUs for per-CPU maps. */
  valueStride: number;
}

/** One value, or one per possible CPU for per-CPU maps. */
export type MapValue = Buffer | Buffer[];

/**
 * How an update treats the key: 'any' (create or replace), 'noexist' (create
 * only), 'exist' (replace only); 'lock' (BPF_F_LOCK) takes the value's
 * bpf_spin_lock while copying, and combines with the others: ['exist', 'lock'].
 */
export type UpdateFlag = 'any' | 'noexist' | 'exist' | 'lock';
export type UpdateFlags = UpdateFlag | readonly UpdateFlag[];

const UPDATE_FLAGS: Record<UpdateFlag, number> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST, lock: BPF_F_LOCK };

/** The BPF_* flags word for `flags`; BpfError 'USAGE' for an unknown name or a contradiction. */
export function updateFlags(flags: UpdateFlags, mapName = ''): number {
  const list: readonly unknown[] = Array.isArray(flags) ? flags : [flags];
  const where = mapName ? `map "${mapName}": ` : '';
  let out = 0;
  for (const f of list) {
    if (typeof f !== 'string' || !Object.hasOwn(UPDATE_FLAGS, f)) {
      throw new BpfError('INVALID_ARGUMENT', `${where}unknown update flag ${JSON.stringify(f)} (one of: ${Object.keys(UPDATE_FLAGS).join(', ')})`);
    }
    out |= UPDATE_FLAGS[f as UpdateFlag];
  }
  if ((out & (BPF_NOEXIST | BPF_EXIST)) === (BPF_NOEXIST | BPF_EXIST)) throw new BpfError('INVALID_ARGUMENT', `${where}update flags 'noexist' and 'exist' exclude each other`);
  return out;
}

/** The flags word for a flag name or list (see updateFlags); anything else (a typo like 'noExist') is an error, never BPF_ANY. */
export function updateFlagValue(flags: unknown, where: string): number {
  try {
    return updateFlags(flags as UpdateFlags);
  } catch (e) {
    throw new BpfError('INVALID_ARGUMENT', `${where}: ${(e as Error).message}`, { cause: e });
  }
}

/** An integer the kernel takes as __u32: 0 ≤ n ≤ 2^32-1 (min given), else BpfError naming it. */
export function checkU32(value: unknown, name: string, where: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 0xffff_ffff) {
    throw new BpfError('INVALID_ARGUMENT', `${where}: ${name} must be an integer from ${min} to 4294967295, got ${String(value)}`);
  }
  return value;
}

/** BpfError for a pin or fd that holds something other than a map, pointing to what opens it. */
function notAMap(what: string, kind: string): BpfError {
  return new BpfError('MAP_INVALID', `${what} is a BPF ${kind}, not a map${kind === 'link' ? ' (see bpf-ts link, or BpfLink.fromPin)' : kind === 'prog' ? ' (see bpf-ts prog)' : ''}`);
}

/** Kernel object names: 15 bytes plus NUL, and only these characters. */
export function sanitizeMapName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

/**
 * A ring buffer's size as the kernel takes it: a power-of-two number of
 * pages. Like libbpf, a size that is not one becomes the smallest such size
 * above it (1000 -> 4096), so objects written for libbpf load the same; 0
 * stays 0 (for the kernel to refuse, naming no size at all).
 */
export function ringbufSize(bytes: number): number {
  if (bytes === 0) return 0;
  const page = ffi.pageSize();
  if (bytes % page === 0 && Number.isInteger(Math.log2(bytes / page))) return bytes;
  for (let size = page; size <= 0xffffffff; size *= 2) if (size > bytes) return size;
  return bytes;
}

/** A definition whose type is a number (BPF_MAP_TYPE.*), as normalizeMapSpec() returns it. */
type Resolved<T extends MapCreateSpec = MapCreateSpec> = Omit<T, 'type'> & { type: number };

/** A map type by name or number as enum bpf_map_type; BpfError 'USAGE' listing the names for an unknown one. */
export function mapTypeNumber(t: MapTypeOption, context: string): number {
  if (typeof t === 'number') return t;
  const i = (MAP_TYPE_NAMES as readonly string[]).indexOf(t);
  if (i <= 0) throw new BpfError('USAGE', `${context}: unknown map type "${String(t)}" (known: ${MAP_TYPE_NAMES.slice(1).join(', ')}; or a BPF_MAP_TYPE number)`);
  return i;
}

/**
 * The definition as the kernel will report it: perf_event_array with
 * max_entries 0 means one slot per possible CPU, ring buffers have no key or
 * value, fd-valued maps default to 4-byte keys and values.
 */
export function normalizeMapSpec<T extends MapCreateSpec>(spec: T): Resolved<T> {
  const s = { ...spec, type: mapTypeNumber(spec.type, `map "${spec.name}"`) };
  switch (s.type) {
    case BPF_MAP_TYPE.PERF_EVENT_ARRAY: {
      // As cilium/ebpf: one slot per possible CPU (more are never used), u32 keys and fd values,
      // whatever the object declared (a struct value type is a common mistake the kernel refuses).
      const cpus = possibleCpus();
      if (s.maxEntries === 0 || s.maxEntries > cpus) s.maxEntries = cpus;
      if (s.keySize !== 4 || s.valueSize !== 4) {
        s.keySize = 4;
        s.valueSize = 4;
        s.btfKeyTypeId = 0;
        s.btfValueTypeId = 0;
      }
      break;
    }
    case BPF_MAP_TYPE.RINGBUF:
    case BPF_MAP_TYPE.USER_RINGBUF:
      s.keySize = 0;
      s.valueSize = 0;
      s.maxEntries = ringbufSize(s.maxEntries);
      break;
    case BPF_MAP_TYPE.ARRAY_OF_MAPS:
    case BPF_MAP_TYPE.HASH_OF_MAPS:
      if (s.valueSize === 0) s.valueSize = 4;
      break;
  }
  return s;
}

/**
 * map_flags as bpf_map_info will report them: the kernel adds
 * BPF_F_RDONLY_PROG to devmaps (programs may only read them) by itself.
 */
export function expectedMapFlags(spec: MapCreateSpec): number {
  const flags = spec.flags ?? 0;
  const type = mapTypeNumber(spec.type, `map "${spec.name}"`);
  if (type === BPF_MAP_TYPE.DEVMAP || type === BPF_MAP_TYPE.DEVMAP_HASH) return (flags | BPF_F_RDONLY_PROG) >>> 0;
  return flags >>> 0;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Every number of a definition is a __u32 the kernel would silently wrap or truncate: check them first. */
function validateMapSpec(s: Resolved, context: string): void {
  checkU32(s.type, 'type', context);
  checkU32(s.keySize, 'keySize', context);
  checkU32(s.valueSize, 'valueSize', context);
  checkU32(s.maxEntries, 'maxEntries', context);
  if (s.flags !== undefined) checkU32(s.flags, 'flags', context);
  if (s.numaNode !== undefined) checkU32(s.numaNode, 'numaNode', context);
  if (s.btfKeyTypeId !== undefined) checkU32(s.btfKeyTypeId, 'btfKeyTypeId', context);
  if (s.btfValueTypeId !== undefined) checkU32(s.btfValueTypeId, 'btfValueTypeId', context);
}

/**
 * Bytes a map will take, roughly: entries × (key + value), × possible CPUs
 * for per-CPU maps (each CPU has its own value), whether preallocated or
 * not, since a full map costs that much either way. Ring buffers: their size.
 */
export function estimateMapBytes(spec: Pick<MapCreateSpec, 'type' | 'keySize' | 'valueSize' | 'maxEntries'>, cpus?: number): number {
  const type = mapTypeNumber(spec.type, 'estimateMapBytes');
  if (type === BPF_MAP_TYPE.RINGBUF || type === BPF_MAP_TYPE.USER_RINGBUF) return spec.maxEntries;
  // sysfs is read only for per-CPU maps.
  const perCpu = isPerCpuMapType(type) ? (cpus ?? possibleCpus()) : 1;
  return spec.maxEntries * (spec.keySize + spec.valueSize) * perCpu;
}

const MiB = (n: number) => `${(n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0)} MiB`;

/** Refuse a map whose estimated size exceeds available memory (the kernel would OOM-kill us instead). */
function checkMapMemory(s: Resolved, context: string): void {
  const need = estimateMapBytes(s);
  if (need < 64 * 1048576) return; // small maps: not worth reading /proc
  const avail = availableMemory();
  if (avail === null || need <= avail.bytes) return;
  const per = isPerCpuMapType(s.type) ? ` × ${possibleCpus()} possible CPUs` : '';
  throw new BpfError(
    'MEMORY_LIMIT',
    `${context}: needs about ${MiB(need)} (${s.maxEntries} entries × (${s.keySize} + ${s.valueSize}) bytes${per}), more than the ${MiB(avail.bytes)} available (${avail.source}); lower max_entries, or pass ignoreMemoryLimit (CLI: --ignore-memory-limit) to create it anyway`,
  );
}

export class BpfMap implements Disposable {
  readonly fd: Fd;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;
  /** Values are per possible CPU. */
  readonly perCpu: boolean;
  /** Number of values get() returns for per-CPU maps (possible CPUs), else 1. */
  readonly cpus: number;
  /** Bytes of one value as user space exchanges it (all CPUs for per-CPU maps). */
  readonly #valueBytes: number;
  readonly #slot: number;
  #ops: MapElemOps | undefined;
  readonly #closeHooks = new Set<() => void>();
  #memory: MapMemory | undefined;
  /** An arena's user mapping (#mapArena). */
  #arena: ffi.Mapping | undefined;
  #frozen = false;
  // lookupInto's last destination and views of it, kept while the caller
  // reuses it: copying a value is then a word or two, with no view per call.
  #out: Uint8Array | null = null;
  #outBytes: Uint8Array | null = null;
  #outWords: Uint32Array | null = null;

  private constructor(fd: Fd, info: MapInfo) {
    this.fd = fd;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.id = info.id;
    this.perCpu = isPerCpuMapType(info.type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    this.#slot = this.perCpu ? align8(info.valueSize) : info.valueSize;
    this.#valueBytes = this.#slot * this.cpus;
  }

  // ------------------------------------------------------------ creation

  /** BPF_MAP_CREATE from a definition; writes initialValue and freezes when the spec says so. */
  static create(spec: MapCreateSpec, opts: MapCreateOptions = {}): BpfMap {
    const s = normalizeMapSpec(spec);
    const name = sanitizeMapName(s.name);
    const context = `map "${s.name}" (${mapTypeName(s.type)})`;
    validateMapSpec(s, context);
    if (!opts.ignoreMemoryLimit) checkMapMemory(s, context);
    let innerFd = opts.innerMapFd;
    let tempInner: BpfMap | undefined;
    if (isMapOfMapsType(s.type) && innerFd === undefined) {
      if (!s.innerMap) throw new BpfError('MAP_INVALID', `${context}: map-in-map needs an inner map template`);
      tempInner = BpfMap.create({ ...s.innerMap, initialValue: undefined, freeze: false }, { btfFd: opts.btfFd });
      innerFd = tempInner.fd.value;
    }
    const flags = s.flags ?? 0;
    // Map-in-map outer maps take no key/value BTF (the kernel refuses it), as libbpf sends them;
    // their inner template above keeps it (a bpf_spin_lock in the inner value needs it).
    const withBtf = opts.btfFd !== undefined && !isMapOfMapsType(s.type) && ((s.btfKeyTypeId ?? 0) !== 0 || (s.btfValueTypeId ?? 0) !== 0);
    let raw: number;
    try {
      raw = mapCreate(
        {
          mapType: s.type,
          keySize: s.keySize,
          valueSize: s.valueSize,
          maxEntries: s.maxEntries,
          mapFlags: flags,
          innerMapFd: innerFd,
          numaNode: flags & BPF_F_NUMA_NODE ? s.numaNode : 0,
          mapName: name,
          mapIfindex: opts.ifindex,
          btfFd: withBtf ? opts.btfFd : 0,
          btfKeyTypeId: withBtf ? s.btfKeyTypeId : 0,
          btfValueTypeId: withBtf ? s.btfValueTypeId : 0,
          mapExtra: s.mapExtra,
        },
        context,
      );
    } finally {
      tempInner?.close();
    }
    const fd = new Fd(raw, `map ${s.name}`);
    try {
      const map = new BpfMap(fd, mapInfo(raw, context));
      if (s.type === BPF_MAP_TYPE.ARENA && !s.mapExtra) map.#mapArena(context);
      if (s.initialValue) map.set(0, s.initialValue);
      if (s.freeze) map.freeze();
      return map;
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /** Wrap an fd that refers to a map; the BpfMap takes ownership of it. */
  static fromFd(fd: number | Fd, what?: string): BpfMap {
    const owned = typeof fd === 'number' ? new Fd(fd, 'map') : fd;
    try {
      const kind = fdKind(owned.value);
      if (kind !== 'map') throw notAMap(what ?? `fd ${owned.value}`, kind);
      return new BpfMap(owned, mapInfo(owned.value));
    } catch (e) {
      owned.close();
      throw e;
    }
  }

  /** Open the map with kernel id `id` (needs CAP_SYS_ADMIN). */
  static fromId(id: number, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    checkU32(id, 'id', 'BpfMap.fromId', 1);
    const raw = getFdById(GET_FD_BY_ID.map, id, openFlags(opts));
    if (raw === null) throw new BpfError('MAP_NOT_FOUND', `no map with id ${id}`);
    return BpfMap.fromFd(new Fd(raw, `map id ${id}`), `id ${id}`);
  }

  /**
   * Open a map pinned on bpffs (the one way to do it). A path that is not a
   * pin, or a pin of something else (a program, a link), is a BpfError
   * saying what it is.
   */
  static fromPin(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    checkPinPath(path, 'map');
    let raw: number;
    try {
      raw = objGet(path, openFlags(opts), `map pinned at ${path}`);
    } catch (e) {
      // A pinned link or program refuses read-only/write-only opens (EINVAL): say what it is instead.
      if (!(e instanceof BpfSyscallError && e.errno === EINVAL && openFlags(opts) !== 0)) throw e;
      const probe = new Fd(objGet(path, 0, `pin ${path}`), `pin ${path}`);
      const kind = fdKind(probe.value);
      probe.close();
      if (kind === 'map') throw e;
      throw notAMap(path, kind);
    }
    return BpfMap.fromFd(new Fd(raw, `map ${path}`), path);
  }

  /** Fresh kernel view of the map (bpf_map_info). */
  info(): MapInfo {
    return mapInfo(this.fd.value, this.#context());
  }

  // --------------------------------------------------- single elements

  /**
   * The value at `key`, or undefined when absent. Per-CPU maps hold one value
   * per CPU: read them with getPerCpu() (get() refuses them with a BpfError).
   * `lock`: copy the value under its bpf_spin_lock (BPF_F_LOCK), for values
   * that hold one; the kernel refuses it on other maps.
   */
  get(key: MapBytes, opts?: { lock?: boolean }): Buffer | undefined {
    if (this.perCpu) this.#refusePerCpu('get', 'getPerCpu');
    const value = this.#lookupRaw(key, opts?.lock ? BPF_F_LOCK : 0);
    // The one allocation get() cannot avoid (~100 ns, the rest of its cost over lookupInto).
    return value && copyOut(value, 0, this.valueSize);
  }

  #lookup(key: MapBytes): MapValue | undefined {
    const value = this.#lookupRaw(key, 0);
    return value && this.#decodeValue(value, 0);
  }

  /** BPF_MAP_LOOKUP_ELEM into the map's value block (valid until the next call), or undefined when absent. */
  #lookupRaw(key: MapBytes, flags: number): Buffer | undefined {
    const ops = this.#elemOps();
    this.#putKey(ops, key);
    const r = ops.lookup(flags);
    return r < 0 ? this.#lookupFailed(r, flags) : ops.value;
  }

  /** A failed BPF_MAP_LOOKUP_ELEM: undefined when the key is absent (ENOENT), else the error. */
  #lookupFailed(r: number, flags: number): undefined {
    if (r === -ENOENT) return undefined;
    throw syscallError(cmd.BPF_MAP_LOOKUP_ELEM, r, this.#context(), flags ? { elemFlags: flags } : undefined);
  }

  #outSizeError(out: Uint8Array): BpfError {
    return new BpfError('VALUE_SIZE', `map "${this.name}": lookupInto needs a ${this.#valueBytes}-byte buffer, got ${out.byteLength} bytes`);
  }

  /**
   * get() without allocating: copies the value at `key` into `out` (the
   * bytes get() would return: valueSize, or one 8-byte-aligned slot per
   * possible CPU for per-CPU maps) and returns true; returns false, leaving
   * `out` untouched, when the key is absent.
   */
  lookupInto(key: MapBytes, out: Uint8Array): boolean {
    // `length` first: for a Uint8Array it is the byte length, and V8 (Node 20)
    // inlines it where `byteLength` costs ~40 ns a call, 3% of a lookup.
    // Slow paths (errors) live in helpers: a small body lets V8 inline lookupInto into the caller's loop.
    if ((out.length !== this.#valueBytes || out.BYTES_PER_ELEMENT !== 1) && out.byteLength !== this.#valueBytes) throw this.#outSizeError(out);
    const ops = this.#elemOps();
    this.#putKey(ops, key);
    const r = ops.lookup();
    if (r < 0) {
      this.#lookupFailed(r, 0); // throws unless the key is absent
      return false;
    }
    if (out !== this.#out) this.#adoptOut(out);
    const w = this.#outWords;
    const v = ops.value32;
    if (w !== null && v !== null) for (let i = 0; i < w.length; i++) w[i] = v[i]!;
    else this.#outBytes!.set(ops.value);
    return true;
  }

  /** Per-CPU values at `key` (one per possible CPU), or undefined. Per-CPU maps only. */
  getPerCpu(key: MapBytes): Buffer[] | undefined {
    this.#requirePerCpu('getPerCpu');
    return this.#lookup(key) as Buffer[] | undefined;
  }

  /**
   * Write `value` at `key`. For per-CPU maps pass one value per possible
   * CPU, or a single value to store on every CPU.
   */
  set(key: MapBytes, value: MapBytes | MapBytes[], flags: UpdateFlags = 'any'): void {
    const ops = this.#elemOps();
    this.#putKey(ops, key);
    this.#putValue(ops, value);
    // 'any' costs no lookup on the hot path; anything else is checked (a misspelt flag is an error).
    const elemFlags = flags === 'any' ? BPF_ANY : updateFlags(flags, this.name);
    const r = ops.update(elemFlags);
    if (r < 0) throw syscallError(cmd.BPF_MAP_UPDATE_ELEM, r, this.#context(), { elemFlags });
  }

  /** Per-CPU maps: one value per possible CPU. */
  setPerCpu(key: MapBytes, values: MapBytes[], flags: UpdateFlags = 'any'): void {
    this.#requirePerCpu('setPerCpu');
    if (values.length !== this.cpus) throw this.#cpuCountError(values.length);
    this.set(key, values, flags);
  }

  /** Delete `key`; true when it existed. */
  delete(key: MapBytes): boolean {
    if (this.type === BPF_MAP_TYPE.ARRAY || this.type === BPF_MAP_TYPE.PERCPU_ARRAY) {
      // The kernel says EINVAL; say why.
      throw new BpfError('MAP_INVALID', `map "${this.name}" is ${mapTypeName(this.type)}: every index of an array always exists and cannot be deleted; write zeros to clear it`);
    }
    const ops = this.#elemOps();
    encodeInto(ops.key, key, 'key', this.name);
    const r = ops.delete();
    if (r === -ENOENT) return false;
    if (r < 0) throw syscallError(cmd.BPF_MAP_DELETE_ELEM, r, this.#context());
    return true;
  }

  has(key: MapBytes): boolean {
    const ops = this.#elemOps();
    encodeInto(ops.key, key, 'key', this.name);
    const r = ops.lookup();
    if (r === -ENOENT) return false;
    if (r < 0) throw syscallError(cmd.BPF_MAP_LOOKUP_ELEM, r, this.#context());
    return true;
  }

  /**
   * Remove and return the value at `key` (BPF_MAP_LOOKUP_AND_DELETE_ELEM);
   * queues and stacks take no key and pop their next element. Per-CPU maps:
   * lookupAndDeletePerCpu().
   */
  lookupAndDelete(key?: MapBytes): Buffer | undefined {
    this.#refusePerCpu('lookupAndDelete', 'lookupAndDeletePerCpu');
    return this.#lookupAndDelete(key) as Buffer | undefined;
  }

  /** lookupAndDelete() of a per-CPU map: one Buffer per possible CPU. */
  lookupAndDeletePerCpu(key: MapBytes): Buffer[] | undefined {
    this.#requirePerCpu('lookupAndDeletePerCpu');
    return this.#lookupAndDelete(key) as Buffer[] | undefined;
  }

  #lookupAndDelete(key?: MapBytes): MapValue | undefined {
    const ops = this.#elemOps();
    if (this.keySize > 0) {
      if (key === undefined) throw new BpfError('KEY_SIZE', `map "${this.name}": lookupAndDelete needs a key`);
      encodeInto(ops.key, key, 'key', this.name);
    }
    const r = ops.lookupAndDelete();
    if (r === -ENOENT) return undefined;
    if (r < 0) throw syscallError(cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, r, this.#context());
    return this.#decodeValue(ops.value, 0);
  }

  // ------------------------------------------------------------ iteration

  /** All keys, walking BPF_MAP_GET_NEXT_KEY from the start (order is the map's). */
  *keys(): Generator<Buffer> {
    // A private scratch block: the caller may use get()/set() between steps.
    const ops = new MapElemOps(this.fd.value, this.keySize, 0);
    let first = true;
    for (;;) {
      const r = ops.getNextKey(first);
      if (r === -ENOENT) return;
      if (r < 0) throw syscallError(cmd.BPF_MAP_GET_NEXT_KEY, r, this.#context());
      ops.key.set(ops.nextKey);
      first = false;
      yield Buffer.from(ops.nextKey);
    }
  }

  /**
   * [key, value] pairs via keys() + get(); entries deleted meanwhile are
   * skipped. Per-CPU maps: entriesPerCpu() (entries() refuses them, as get() does).
   */
  entries(): Generator<[Buffer, Buffer]> {
    this.#refusePerCpu('entries', 'entriesPerCpu');
    return this.#walk() as Generator<[Buffer, Buffer]>;
  }

  /** entries() of a per-CPU map: one Buffer per possible CPU for each key. */
  entriesPerCpu(): Generator<[Buffer, Buffer[]]> {
    this.#requirePerCpu('entriesPerCpu');
    return this.#walk() as Generator<[Buffer, Buffer[]]>;
  }

  *#walk(): Generator<[Buffer, MapValue]> {
    for (const k of this.keys()) {
      const v = this.#lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /** `for (const [k, v] of map)`: entries(). */
  [Symbol.iterator](): Generator<[Buffer, Buffer]> {
    return this.entries();
  }

  // --------------------------------------------------------------- batches

  /**
   * All entries through BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH with
   * `andDelete`), `batchSize` elements per syscall. Map types without batch
   * support fall back to the key walk.
   */
  /**
   * The map in raw chunks, one per BPF_MAP_LOOKUP_BATCH call: `count` keys
   * back to back (keySize each) and their values (valueStride each: per-CPU
   * values are one padded slot per CPU). No per-entry allocation; the
   * buffers are reused, so a chunk is only valid until the next one. Yields
   * nothing and returns false when the map type has no batch support.
   */
  *batchChunks(opts: { batchSize?: number; andDelete?: boolean } = {}): Generator<BatchChunk, boolean> {
    const command = opts.andDelete ? cmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH : cmd.BPF_MAP_LOOKUP_BATCH;
    let size = Math.max(1, Math.min(opts.batchSize ?? 4096, this.maxEntries || 1));
    // in/out_batch are opaque kernel cursors; key_size bytes (at least 8) is enough for every map type.
    const tokenBytes = Math.max(8, this.keySize);
    const inBatch = ffi.allocNative(tokenBytes);
    const outBatch = ffi.allocNative(tokenBytes);
    let keys = ffi.allocNative(size * this.keySize);
    let values = ffi.allocNative(size * this.#valueBytes);
    let first = true;
    for (;;) {
      const { result, count } = mapBatch(command, {
        fd: this.fd.value,
        inBatch: first ? null : inBatch,
        outBatch,
        keys,
        values,
        count: size,
      });
      if (result < 0 && result !== -ENOENT) {
        if (first && (result === -EINVAL || isNotSupported(-result))) return false;
        if (result === -ENOSPC && size < 1 << 20) {
          // A hash bucket holds more elements than fit: grow and retry from the same cursor.
          size *= 4;
          keys = ffi.allocNative(size * this.keySize);
          values = ffi.allocNative(size * this.#valueBytes);
          continue;
        }
        throw syscallError(command, result, this.#context());
      }
      if (count > 0) yield { count, keys: keys.bytes, values: values.bytes, keySize: this.keySize, valueStride: this.#valueBytes };
      if (result === -ENOENT) return true;
      inBatch.bytes.set(outBatch.bytes);
      first = false;
    }
  }

  /**
   * Every entry, read with BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH),
   * falling back to a GET_NEXT_KEY walk for map types without batch support.
   */
  entriesBatch(opts: { batchSize?: number; andDelete?: boolean } = {}): Generator<[Buffer, Buffer]> {
    this.#refusePerCpu('entriesBatch', 'entriesBatchPerCpu');
    return this.#batchWalk(opts) as Generator<[Buffer, Buffer]>;
  }

  /** entriesBatch() of a per-CPU map: one Buffer per possible CPU for each key. */
  entriesBatchPerCpu(opts: { batchSize?: number; andDelete?: boolean } = {}): Generator<[Buffer, Buffer[]]> {
    this.#requirePerCpu('entriesBatchPerCpu');
    return this.#batchWalk(opts) as Generator<[Buffer, Buffer[]]>;
  }

  *#batchWalk(opts: { batchSize?: number; andDelete?: boolean }): Generator<[Buffer, MapValue]> {
    const chunks = this.batchChunks(opts);
    for (;;) {
      const next = chunks.next();
      if (next.done) {
        if (!next.value) yield* this.#entriesFallback(opts.andDelete ?? false);
        return;
      }
      const c = next.value;
      for (let i = 0; i < c.count; i++) {
        yield [copyOut(c.keys, i * c.keySize, c.keySize), this.#decodeValue(c.values, i * c.valueStride)];
      }
    }
  }

  /** entriesBatch() collected into an array. Per-CPU maps: getBatchPerCpu(). */
  getBatch(opts: { batchSize?: number } = {}): [Buffer, Buffer][] {
    this.#refusePerCpu('getBatch', 'getBatchPerCpu');
    return [...this.entriesBatch(opts)];
  }

  /** entriesBatchPerCpu() collected into an array. */
  getBatchPerCpu(opts: { batchSize?: number } = {}): [Buffer, Buffer[]][] {
    this.#requirePerCpu('getBatchPerCpu');
    return [...this.entriesBatchPerCpu(opts)];
  }

  /**
   * Write many entries with BPF_MAP_UPDATE_BATCH (one syscall), or one by
   * one where the map type has no batch support. Returns the count written.
   */
  setBatch(entries: Iterable<[MapBytes, MapBytes | MapBytes[]]>, flags: UpdateFlags = 'any'): number {
    const elemFlags = updateFlags(flags, this.name);
    const list = [...entries];
    if (list.length === 0) return 0;
    const keys = ffi.allocNative(list.length * this.keySize);
    const values = ffi.allocNative(list.length * this.#valueBytes);
    list.forEach(([k, v], i) => {
      encodeInto(keys.bytes.subarray(i * this.keySize, (i + 1) * this.keySize), k, 'key', this.name);
      this.#encodeValue(values.bytes, i * this.#valueBytes, v);
    });
    const { result, count } = mapBatch(cmd.BPF_MAP_UPDATE_BATCH, {
      fd: this.fd.value,
      keys,
      values,
      count: list.length,
      elemFlags,
    });
    if (result >= 0) return list.length;
    if (count === 0 && (result === -EINVAL || isNotSupported(-result))) {
      for (const [k, v] of list) this.set(k, v, flags);
      return list.length;
    }
    throw syscallError(cmd.BPF_MAP_UPDATE_BATCH, result, `${this.#context()}, after ${count} of ${list.length}`);
  }

  /**
   * Delete many keys with BPF_MAP_DELETE_BATCH; keys that do not exist are
   * skipped. Returns the count deleted.
   */
  deleteBatch(keyList: Iterable<MapBytes>): number {
    const list = [...keyList];
    let deleted = 0;
    let start = 0;
    while (start < list.length) {
      const n = list.length - start;
      const keys = ffi.allocNative(n * this.keySize);
      for (let i = 0; i < n; i++) encodeInto(keys.bytes.subarray(i * this.keySize, (i + 1) * this.keySize), list[start + i]!, 'key', this.name);
      const { result, count } = mapBatch(cmd.BPF_MAP_DELETE_BATCH, { fd: this.fd.value, keys, count: n });
      if (result >= 0) return deleted + n;
      if (result === -ENOENT) {
        // The kernel stops at the first missing key: count them, skip it, go on.
        deleted += count;
        start += count + 1;
        continue;
      }
      if (deleted === 0 && count === 0 && start === 0 && (result === -EINVAL || isNotSupported(-result))) {
        for (const k of list) if (this.delete(k)) deleted++;
        return deleted;
      }
      throw syscallError(cmd.BPF_MAP_DELETE_BATCH, result, this.#context());
    }
    return deleted;
  }

  // ---------------------------------------------------------------- misc

  /** BPF_MAP_FREEZE: user space can no longer write (programs still can, unless BPF_F_RDONLY_PROG). */
  freeze(): void {
    mapFreeze(this.fd.value, this.#context());
    this.#frozen = true;
  }

  // ------------------------------------------------------ mmap'd values

  /**
   * The values of an array map created with BPF_F_MMAPABLE, read and written
   * in place through mmap (no syscall per access). Read-only when the map is
   * frozen. Every view is invalidated by close(): accesses then throw CLOSED.
   */
  view(): MapView {
    return new MapView(this.memory(), this.name, this.valueSize, this.maxEntries);
  }

  /** @internal The map's mmap (made on first use, kept until close); global data accessors build on it. */
  memory(): MapMemory {
    if (this.#memory) return this.#memory;
    const fd = this.fd.value;
    if (this.type !== BPF_MAP_TYPE.ARRAY || !(this.flags & BPF_F_MMAPABLE))
      throw new BpfError(
        'NOT_MMAPABLE',
        `map "${this.name}" (${mapTypeName(this.type)}) cannot be mapped: only array maps created with BPF_F_MMAPABLE can (declare __uint(map_flags, BPF_F_MMAPABLE))`,
      );
    this.#memory = MapMemory.map(fd, this.valueSize, this.maxEntries, `map "${this.name}"`, this.#frozen);
    return this.#memory;
  }

  /** Pin at `path` on bpffs; refuses to replace an existing pin. Returns the directories it created (0700). */
  pin(path: string, opts: { mkdir?: boolean } = {}): string[] {
    return pinFd(this.fd.value, path, { ...opts, label: `map "${this.name}"` });
  }

  /**
   * Run `fn` once when this map is closed, just before its fd goes (event
   * readers end then); returns a function that cancels it.
   */
  onClose(fn: () => void): () => void {
    this.#closeHooks.add(fn);
    return () => this.#closeHooks.delete(fn);
  }

  /**
   * An arena without map_extra gets its user address from its first mmap, and
   * programs that use it are refused until it has one ("arena's user address
   * must be set via map_extra or mmap()"): map it now, as libbpf does, for the
   * map's lifetime. bpf-ts hands out no view of it, so close() may unmap it.
   */
  #mapArena(context: string): void {
    const m = ffi.mmap(this.maxEntries * ffi.pageSize(), ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED, this.fd.value, 0);
    if (typeof m === 'number') throw new BpfSyscallError(cmd.BPF_MAP_CREATE, -m, `${context}: mmap of the arena`);
    this.#arena = m;
  }

  /**
   * An arena with map_extra lives at that user address in every process that
   * maps it, and the kernel takes no other: map it there, never over memory
   * this process already uses (MAP_FIXED_NOREPLACE, where libbpf uses
   * MAP_FIXED), to write its globals.
   */
  #mapArenaAt(address: bigint): void {
    const m = ffi.mmap(this.maxEntries * ffi.pageSize(), ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED | ffi.MAP_FIXED_NOREPLACE, this.fd.value, 0, address);
    if (typeof m === 'number') {
      const e = new BpfSyscallError(cmd.BPF_MAP_CREATE, -m, `map "${this.name}": mmap of the arena at its map_extra 0x${address.toString(16)}`);
      if (e.errno !== EEXIST) throw e;
      throw new BpfError(
        'MAP_INVALID',
        `map "${this.name}": its map_extra puts the arena at 0x${address.toString(16)}, where this process already has memory (another arena with that map_extra, still open?): close that one first, or give the object another address (__ulong(map_extra, …)) or none`,
        { cause: e },
      );
    }
    if (m.address !== address) {
      ffi.munmap(m);
      throw new BpfError('MAP_INVALID', `map "${this.name}": the kernel mapped the arena at 0x${m.address.toString(16)}, not at its map_extra 0x${address.toString(16)}`);
    }
    this.#arena = m;
  }

  /**
   * @internal Put an object's arena globals (`initial`, the .addr_space.1 bytes) at
   * the end of this arena, where libbpf puts them; returns their offset in it.
   * An arena with map_extra is mapped at that address first.
   */
  placeArenaGlobals(initial: Uint8Array, mapExtra?: bigint): number {
    const page = ffi.pageSize();
    const size = this.maxEntries * page;
    const need = Math.ceil(initial.byteLength / page) * page;
    if (!this.#arena && mapExtra) this.#mapArenaAt(mapExtra);
    if (!this.#arena) throw new BpfError('MAP_INVALID', `map "${this.name}": the arena is not mapped, so its globals have nowhere to go`);
    if (need > size) throw new BpfError('MAP_SIZE', `map "${this.name}": the arena's ${this.maxEntries} pages cannot hold its ${initial.byteLength} bytes of globals: raise max_entries`);
    const offset = size - need;
    new Uint8Array(this.#arena.buffer, offset, initial.byteLength).set(initial);
    return offset;
  }

  close(): void {
    if (this.#arena) ffi.munmap(this.#arena);
    this.#arena = undefined;
    // Views first: they must never reach the map's pages once it is closed.
    this.#memory?.invalidate();
    if (!this.fd.closed) {
      for (const fn of [...this.#closeHooks]) {
        try {
          fn();
        } catch {
          // a hook must not keep the map open
        }
      }
    }
    this.#closeHooks.clear();
    this.fd.close();
    this.#ops = undefined;
  }

  get closed(): boolean {
    return this.fd.closed;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `BpfMap(${mapTypeName(this.type)} "${this.name}" id=${this.id})`;
  }

  // ------------------------------------------------------------ internals

  #adoptOut(out: Uint8Array): void {
    const { buffer, byteOffset, byteLength } = out;
    this.#outBytes = new Uint8Array(buffer, byteOffset, byteLength);
    this.#outWords = (byteOffset & 3) === 0 && (byteLength & 3) === 0 ? new Uint32Array(buffer, byteOffset, byteLength >>> 2) : null;
    this.#out = out;
  }

  #elemOps(): MapElemOps {
    // Created on first use; fd.value throws CLOSED once the map is closed.
    const fd = this.fd.value;
    return (this.#ops ??= new MapElemOps(fd, this.keySize, this.#valueBytes));
  }

  // The hot path's key/value stores. A u32 key given as a number in the
  // range of an i32 or u32 is one typed-array store (ToUint32 wraps -1 to
  // 0xffffffff, as encodeInto does); everything else goes through encodeInto.
  #putKey(ops: MapElemOps, key: MapBytes): void {
    const k32 = ops.key32;
    if (k32 !== null && typeof key === 'number' && (key === (key | 0) || key === key >>> 0)) k32[0] = key;
    else if (key instanceof Uint8Array && key.length === this.keySize && key.length <= 16) {
      // Bytes of the right size: a few stores (TypedArray#set costs more than the copy).
      const dest = ops.key;
      for (let i = 0; i < key.length; i++) dest[i] = key[i]!;
    } else encodeInto(ops.key, key, 'key', this.name);
  }

  #putValue(ops: MapElemOps, value: MapBytes | MapBytes[]): void {
    const v32 = ops.value32;
    if (v32 !== null && typeof value === 'number' && !this.perCpu) {
      if (this.valueSize === 4 && (value === (value | 0) || value === value >>> 0)) {
        v32[0] = value;
        return;
      }
      // A u64 below 2^32: two stores, no division.
      if (this.valueSize === 8 && value === value >>> 0) {
        v32[LITTLE_ENDIAN ? 0 : 1] = value;
        v32[LITTLE_ENDIAN ? 1 : 0] = 0;
        return;
      }
      if (this.valueSize === 8 && value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value)) {
        const lo = value % 0x1_0000_0000;
        const hi = (value - lo) / 0x1_0000_0000;
        v32[LITTLE_ENDIAN ? 0 : 1] = lo;
        v32[LITTLE_ENDIAN ? 1 : 0] = hi;
        return;
      }
    }
    this.#encodeValue(ops.value, 0, value);
  }

  #context(): string {
    return `map "${this.name}"`;
  }

  #decodeValue(src: Buffer, off: number): MapValue {
    if (!this.perCpu) return copyOut(src, off, this.valueSize);
    const out: Buffer[] = new Array(this.cpus);
    for (let c = 0; c < this.cpus; c++) out[c] = copyOut(src, off + c * this.#slot, this.valueSize);
    return out;
  }

  #encodeValue(dest: Buffer, off: number, value: MapBytes | MapBytes[]): void {
    if (!this.perCpu) {
      if (Array.isArray(value)) throw new BpfError('VALUE_SIZE', `map "${this.name}": one value expected, got an array (not a per-CPU map)`);
      encodeInto(off === 0 && dest.byteLength === this.valueSize ? dest : dest.subarray(off, off + this.valueSize), value, 'value', this.name);
      return;
    }
    if (Array.isArray(value) && value.length !== this.cpus) throw this.#cpuCountError(value.length);
    for (let c = 0; c < this.cpus; c++) {
      const at = off + c * this.#slot;
      const v = Array.isArray(value) ? value[c]! : value;
      encodeInto(dest.subarray(at, at + this.valueSize), v, 'value', this.name);
    }
  }

  #refusePerCpu(what: string, instead: string): void {
    if (this.perCpu) throw new BpfError('MAP_INVALID', `map "${this.name}" is ${mapTypeName(this.type)}, which holds one value per CPU: use ${instead}() instead of ${what}()`);
  }

  #requirePerCpu(what: string): void {
    if (!this.perCpu) throw new BpfError('MAP_INVALID', `map "${this.name}": ${what} needs a per-CPU map, this is ${mapTypeName(this.type)}`);
  }

  #cpuCountError(n: number): BpfError {
    return new BpfError('VALUE_SIZE', `map "${this.name}": ${n} per-CPU values given, but there are ${this.cpus} possible CPUs`);
  }

  *#entriesFallback(andDelete: boolean): Generator<[Buffer, MapValue]> {
    if (!andDelete) {
      yield* this.#walk();
      return;
    }
    // Collect first: deleting while walking GET_NEXT_KEY restarts the walk.
    for (const k of [...this.keys()]) {
      const v = this.#lookupAndDelete(k);
      if (v !== undefined) yield [k, v];
    }
  }
}

function openFlags(opts: { readOnly?: boolean; writeOnly?: boolean }): number {
  return (opts.readOnly ? BPF_F_RDONLY : 0) | (opts.writeOnly ? BPF_F_WRONLY : 0);
}
