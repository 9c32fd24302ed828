// Maps emulated in JavaScript with the kernel's semantics, for programs run
// by the emulator. Values live in memory regions, so the pointer a program
// gets from bpf_map_lookup_elem is a real, bounds-checked address. The user
// side mirrors BpfMap (get/set/delete/has/keys/entries, per-CPU values as
// arrays), so a test can run the same code against the kernel or here.

import { BpfError, at } from '../errors.js';
import { BPF_MAP_TYPE, mapTypeName } from '../uapi/bpf.js';
import { Memory, type Region } from './memory.js';
import { EmulatedSocket } from './socket.js';

export type UpdateFlag = 'any' | 'noexist' | 'exist' | 'lock';
/** One flag or several, as BpfMap takes them ('lock' is BPF_F_LOCK: a no-op here, where updates are not concurrent). */
export type UpdateFlags = UpdateFlag | readonly UpdateFlag[];

/** BPF_NOEXIST / BPF_EXIST / BPF_ANY from update flags; an unknown or contradictory flag is an error, as in BpfMap. */
function existFlag(flags: UpdateFlags): number {
  const list: readonly unknown[] = typeof flags === 'string' ? [flags] : flags;
  for (const f of list)
    if (f !== 'any' && f !== 'noexist' && f !== 'exist' && f !== 'lock') throw new BpfError('INVALID_ARGUMENT', `unknown update flag ${JSON.stringify(f)} (use any, noexist, exist or lock)`);
  if (list.includes('noexist') && list.includes('exist')) throw new BpfError('INVALID_ARGUMENT', 'update flags noexist and exist contradict each other');
  return list.includes('noexist') ? BPF_NOEXIST : list.includes('exist') ? BPF_EXIST : BPF_ANY;
}
const BPF_ANY = 0;
const BPF_NOEXIST = 1;
const BPF_EXIST = 2;
/** From a program: the kernel refuses it on values without a bpf_spin_lock. */
const BPF_F_LOCK = 4;

// errno values the helpers return (negated).
export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EOPNOTSUPP = 95;

export interface EmulatedMapSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** Initial bytes of a global-data map (.data/.rodata/.bss). */
  initialValue?: Uint8Array;
  /** .rodata: the program cannot write it. */
  freeze?: boolean;
}

/** One event from perf_event_output or the ring buffer. */
export interface MapEvent {
  cpu: number;
  data: Buffer;
}

/** A key or value as the user side takes it: bytes, or a number/bigint for 1-, 2-, 4- and 8-byte scalars. */
export type MapKey = Uint8Array | number | bigint;

/**
 * The calls a test makes on a map, answered alike by the kernel's BpfMap and
 * the emulator's EmulatedMap, batches included (keys and values as bytes or
 * scalars; per-CPU values as one Buffer per CPU). Code written against
 * MapLike runs unchanged on either.
 */
export interface MapLike {
  /** One value per CPU (use the *PerCpu calls), or one value. */
  readonly perCpu: boolean;
  get(key: MapKey): Buffer | Buffer[] | undefined;
  set(key: MapKey, value: MapKey | MapKey[], flags?: UpdateFlags): void;
  delete(key: MapKey): boolean;
  has(key: MapKey): boolean;
  keys(): Iterable<Buffer>;
  /** [key, value] pairs; per-CPU maps refuse it (entriesPerCpu). */
  entries(): Iterable<[Buffer, Buffer]>;
  /** A per-CPU map's pairs: one Buffer per CPU for each key. */
  entriesPerCpu(): Iterable<[Buffer, Buffer[]]>;
  /** Every entry at once (BpfMap: BPF_MAP_LOOKUP_BATCH); per-CPU maps refuse it (getBatchPerCpu). */
  getBatch(opts?: { batchSize?: number }): [Buffer, Buffer][];
  /** getBatch() of a per-CPU map. */
  getBatchPerCpu(opts?: { batchSize?: number }): [Buffer, Buffer[]][];
  /** Write many entries (BpfMap: BPF_MAP_UPDATE_BATCH); the count written. */
  setBatch(entries: Iterable<[MapKey, MapKey | MapKey[]]>, flags?: UpdateFlags): number;
  /** Delete many keys, skipping absent ones (BpfMap: BPF_MAP_DELETE_BATCH); the count deleted. */
  deleteBatch(keys: Iterable<MapKey>): number;
}

/** `v` as `size` little-endian bytes (signed or unsigned, but it must fit), as BpfMap encodes scalars. */
function scalarBytes(v: number | bigint, size: number, what: 'key' | 'value', map: string): Buffer {
  const code = what === 'key' ? 'KEY_SIZE' : 'VALUE_SIZE';
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new BpfError(code, `emulated map ${map}: a number ${what} needs 1-, 2-, 4- or 8-byte ${what}s (${what}s are ${size} bytes)`);
  if (typeof v === 'number' && !Number.isInteger(v)) throw new BpfError(code, `emulated map ${map}: ${what} ${v} is not an integer`);
  const b = BigInt(v);
  const bits = BigInt(size * 8);
  if (b < -(1n << (bits - 1n)) || b >= 1n << bits) throw new BpfError(code, `emulated map ${map}: ${what} ${v} does not fit ${size} bytes`);
  const out = Buffer.alloc(size);
  let u = BigInt.asUintN(size * 8, b);
  for (let i = 0; i < size; i++, u >>= 8n) out[i] = Number(u & 0xffn);
  return out;
}

const hexKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

interface Entry {
  key: Buffer;
  /** One region per CPU for per-CPU maps, else one. */
  regions: Region[];
  /** Array/hash of maps: the inner map. */
  inner?: EmulatedMap;
  /** SOCKMAP/SOCKHASH: the socket. */
  socket?: EmulatedSocket;
  /** Queue/stack elements and devmap targets are plain bytes. */
}

/** Maps kept as key -> entry. Redirect maps keep their (sparse) slots like a hash; the slot number must be below max_entries. */
/** The hash maps bpf_for_each_map_elem walks (with the two array types). */
const FOR_EACH_HASH: ReadonlySet<number> = new Set([BPF_MAP_TYPE.HASH, BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]);

const HASH_LIKE: ReadonlySet<number> = new Set([
  BPF_MAP_TYPE.HASH,
  BPF_MAP_TYPE.PERCPU_HASH,
  BPF_MAP_TYPE.LRU_HASH,
  BPF_MAP_TYPE.LRU_PERCPU_HASH,
  BPF_MAP_TYPE.HASH_OF_MAPS,
  BPF_MAP_TYPE.LPM_TRIE,
  BPF_MAP_TYPE.DEVMAP_HASH,
  BPF_MAP_TYPE.DEVMAP,
  BPF_MAP_TYPE.CPUMAP,
  BPF_MAP_TYPE.XSKMAP,
]);

export class EmulatedMap implements MapLike {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  readonly cpus: number;
  /** The region whose address stands for this map in a program (ld_imm64 of a map). */
  readonly handle: Region;
  /** perf_event_array and ringbuf: what the program emitted, in order. */
  readonly events: MapEvent[] = [];
  /** Array maps: the value regions, one per CPU. */
  private readonly arrays: Region[] = [];
  private readonly entries_ = new Map<string, Entry>();
  /** Queue/stack contents. */
  private readonly queue: Buffer[] = [];
  /** Prog array: slot -> program name. */
  readonly programs = new Map<number, string>();

  constructor(
    readonly memory: Memory,
    spec: EmulatedMapSpec,
    opts: { cpus?: number } = {},
  ) {
    this.name = spec.name;
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.flags = spec.flags;
    this.perCpu = [BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH, BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE].includes(spec.type as never);
    this.cpus = opts.cpus ?? 1;
    this.handle = memory.add(`map ${spec.name}`, new Uint8Array(0), { kind: 'memory', writable: false });
    if (this.isArray()) {
      const n = this.perCpu ? this.cpus : 1;
      for (let c = 0; c < n; c++) {
        const bytes = new Uint8Array(spec.valueSize * spec.maxEntries);
        if (spec.initialValue) bytes.set(spec.initialValue.subarray(0, bytes.length));
        this.arrays.push(memory.add(`${spec.name}${this.perCpu ? `[cpu ${c}]` : ''}`, bytes, { kind: 'map_value', writable: !spec.freeze }));
      }
    }
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  private isArray(): boolean {
    return this.type === BPF_MAP_TYPE.ARRAY || this.type === BPF_MAP_TYPE.PERCPU_ARRAY;
  }

  private isHash(): boolean {
    return HASH_LIKE.has(this.type);
  }

  /** SOCKMAP and SOCKHASH hold sockets: a program's lookup points to one's struct bpf_sock, the user's reads its cookie. */
  /** @internal */
  isSockMap(): boolean {
    return this.type === BPF_MAP_TYPE.SOCKMAP || this.type === BPF_MAP_TYPE.SOCKHASH;
  }

  /** Socket local storage (SK_STORAGE): one value per socket, which bpf_sk_storage_get reaches; user space keys it by socket (the kernel's, by socket fd). */
  get isSkStorage(): boolean {
    return this.type === BPF_MAP_TYPE.SK_STORAGE;
  }

  readonly #skStorage = new Map<EmulatedSocket, Region>();

  /** @internal A socket's storage region, or undefined. */
  skStorageOf(sock: EmulatedSocket): Region | undefined {
    return this.#skStorage.get(sock);
  }

  /** @internal A socket's new storage: `init`'s bytes, or zeros. */
  newSkStorage(sock: EmulatedSocket, init?: Uint8Array): Region {
    const r = this.memory.add(`${this.name}[socket ${sock.cookie}]`, new Uint8Array(this.valueSize), { kind: 'map_value' });
    if (init) r.bytes.set(init.subarray(0, this.valueSize));
    this.#skStorage.set(sock, r);
    return r;
  }

  /** @internal Drop a socket's storage: whether it had one. */
  deleteSkStorage(sock: EmulatedSocket): boolean {
    const r = this.#skStorage.get(sock);
    if (!r) return false;
    this.#skStorage.delete(sock);
    this.memory.remove(r);
    return true;
  }

  /** A socket as the key of an SK_STORAGE map (the only key those take), else a USAGE error. */
  #socketKey(k: MapKey | EmulatedSocket, what: string): EmulatedSocket | undefined {
    if (k instanceof EmulatedSocket) {
      if (!this.isSkStorage) throw new BpfError('USAGE', `emulated map ${this.name}: ${what}: a socket is the key of an sk_storage map only; this one is a ${this.typeName}`);
      if (k.memory !== this.memory) this.fail(what, EINVAL, `EINVAL: socket cookie ${k.cookie} belongs to another emulation`);
      return k;
    }
    if (this.isSkStorage) throw new BpfError('USAGE', `emulated map ${this.name}: ${what}: an sk_storage map is keyed by socket: pass an EmulatedSocket (the kernel's takes a socket fd)`);
    return undefined;
  }

  /** Cgroup local storage: one value per cgroup (and attach type, for 16-byte keys), which bpf_get_local_storage reaches. */
  get isCgroupStorage(): boolean {
    return this.type === BPF_MAP_TYPE.CGROUP_STORAGE || this.type === BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE;
  }

  /**
   * bpf_get_local_storage for a program attached to cgroup `cgroupId` with
   * `attachType`: its value's address on `cpu`. The kernel makes the value
   * (zeroed) when the program is attached; the emulator at its first run.
   * The key is the cgroup id (8-byte keys: one value for every attach type)
   * or struct bpf_cgroup_storage_key { cgroup_inode_id, attach_type }.
   */
  storageAddress(cgroupId: bigint, attachType: number, cpu: number): bigint {
    const key = Buffer.alloc(this.keySize);
    key.writeBigUInt64LE(BigInt.asUintN(64, cgroupId));
    if (this.keySize >= 12) key.writeUInt32LE(attachType >>> 0, 8);
    const hk = hexKey(key);
    let e = this.entries_.get(hk);
    if (!e) {
      e = { key, regions: this.newStorage(`[${hk}]`) };
      this.entries_.set(hk, e);
    }
    return Memory.address(this.onCpu(e.regions, cpu).id);
  }

  /** A cgroup storage value, zeroed, one region per CPU: a cgroup's entry, or a test run's own (BPF_PROG_TEST_RUN makes one per run, outside the map). */
  newStorage(tag = '[test run]'): Region[] {
    return Array.from({ length: this.perCpu ? this.cpus : 1 }, (_, c) =>
      this.memory.add(`${this.name}${tag}${this.perCpu ? `[cpu ${c}]` : ''}`, new Uint8Array(this.valueSize), { kind: 'map_value' }),
    );
  }

  /** A storage region's address on `cpu`. */
  storageRegionAddress(regions: readonly Region[], cpu: number): bigint {
    return Memory.address(this.onCpu(regions, cpu).id);
  }

  private isLru(): boolean {
    return this.type === BPF_MAP_TYPE.LRU_HASH || this.type === BPF_MAP_TYPE.LRU_PERCPU_HASH;
  }

  private fail(what: string, errno: number, why: string): never {
    throw new BpfError('SYSCALL', `emulated map ${this.name}: ${what}: ${why}`, { cause: { errno } });
  }

  private checkKey(key: Uint8Array, what: string): void {
    if (key.byteLength !== this.keySize) throw new BpfError('KEY_SIZE', `emulated map ${this.name}: ${what}: key is ${key.byteLength} bytes, the map's keys are ${this.keySize}`);
  }

  /** The u32 index an array map's key holds (little-endian, as the programs store it): no DataView per lookup. */
  private arrayIndex(key: Uint8Array, at = 0): number {
    return (key[at]! | (key[at + 1]! << 8) | (key[at + 2]! << 16) | (key[at + 3]! << 24)) >>> 0;
  }

  /** LPM trie: the stored entry with the longest prefix matching `key`, or undefined. */
  private lpmMatch(key: Uint8Array): Entry | undefined {
    const want = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
    let best: Entry | undefined;
    let bestLen = -1;
    for (const e of this.entries_.values()) {
      const len = e.key.readUInt32LE(0);
      if (len > want || len <= bestLen) continue;
      if (prefixEqual(e.key.subarray(4), key.subarray(4), len)) {
        best = e;
        bestLen = len;
      }
    }
    return best;
  }

  private lpmCanonical(key: Uint8Array): Buffer {
    // Bits past the prefix length do not take part in the key.
    const k = Buffer.from(key);
    const len = k.readUInt32LE(0);
    for (let bit = len; bit < (this.keySize - 4) * 8; bit++) k.writeUInt8(k.readUInt8(4 + (bit >> 3)) & ~(0x80 >> (bit & 7)), 4 + (bit >> 3));
    return k;
  }

  /** A value's region for `cpu` (the only one when the map is not per-CPU). */
  private onCpu(regions: readonly Region[], cpu: number): Region {
    const r = regions[this.perCpu ? cpu : 0];
    if (r === undefined) throw new BpfError('USAGE', `emulated map ${this.name}: cpu ${cpu} does not exist (the emulation has ${this.cpus})`);
    return r;
  }

  // ---------------------------------------------------------------- program side

  /**
   * lookupAddress() of an array map with the key read in place (`key` holds
   * it at `at`): the address as addressValue() gives it, 0 past the end;
   * undefined for other maps.
   */
  arrayLookupAt(key: Uint8Array, at: number, cpu: number): number | bigint | undefined {
    if (!this.isArray()) return undefined;
    const i = this.arrayIndex(key, at);
    return i >= this.maxEntries ? 0 : Memory.addressValue(this.onCpu(this.arrays, cpu).id, i * this.valueSize);
  }

  /** bpf_map_lookup_elem: the value's address on `cpu`, or 0. */
  lookupAddress(key: Uint8Array, cpu: number): bigint {
    if (this.isArray()) {
      const i = this.arrayIndex(key);
      if (i >= this.maxEntries) return 0n;
      return Memory.address(this.onCpu(this.arrays, cpu).id, i * this.valueSize);
    }
    if (this.type === BPF_MAP_TYPE.ARRAY_OF_MAPS) {
      const e = this.entries_.get(hexKey(key));
      return e?.inner ? Memory.address(e.inner.handle.id) : 0n;
    }
    const e = this.type === BPF_MAP_TYPE.LPM_TRIE ? this.lpmMatch(key) : this.entries_.get(hexKey(key));
    if (!e) return 0n;
    if (this.isLru()) {
      // Most recently used goes last; eviction takes the first.
      this.entries_.delete(hexKey(e.key));
      this.entries_.set(hexKey(e.key), e);
    }
    if (e.inner) return Memory.address(e.inner.handle.id);
    if (e.socket) return Memory.address(e.socket.region.id);
    return Memory.address(this.onCpu(e.regions, cpu).id);
  }

  /**
   * bpf_for_each_map_elem: `visit` each element (an array's every index, a
   * hash map's entries in insertion order — the kernel's order is its hash
   * buckets', seeded at random per map) with the key's bytes and the value's
   * address on `cpu`, until it returns true; the number visited. undefined
   * for map types the kernel refuses it.
   */
  forEachElement(cpu: number, visit: (key: Uint8Array, value: number | bigint) => boolean): number | undefined {
    let n = 0;
    if (this.isArray()) {
      const region = this.onCpu(this.arrays, cpu);
      const key = new Uint8Array(4);
      const index = new DataView(key.buffer);
      for (let i = 0; i < this.maxEntries; i++) {
        n++;
        index.setUint32(0, i, true);
        if (visit(key, Memory.addressValue(region.id, i * this.valueSize))) break;
      }
      return n;
    }
    if (!FOR_EACH_HASH.has(this.type)) return undefined;
    for (const e of [...this.entries_.values()]) {
      // An entry the callback deleted is not visited.
      if (this.entries_.get(hexKey(e.key)) !== e) continue;
      n++;
      if (visit(e.key, Memory.addressValue(this.onCpu(e.regions, cpu).id))) break;
    }
    return n;
  }

  /** bpf_map_update_elem from a program: 0 or -errno. */
  updateFromProgram(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    return this.update(key, (region) => region.bytes.set(value), flags, cpu, true);
  }

  /** bpf_map_delete_elem: 0 or -errno. */
  deleteFromProgram(key: Uint8Array): number {
    // A cgroup's storage lives as long as the program is attached there.
    if (this.isArray() || this.isCgroupStorage) return -EINVAL;
    const k = this.type === BPF_MAP_TYPE.LPM_TRIE ? this.lpmCanonical(key) : Buffer.from(key);
    const e = this.entries_.get(hexKey(k));
    if (!e) return -ENOENT;
    this.entries_.delete(hexKey(k));
    for (const r of e.regions) this.memory.remove(r);
    return 0;
  }

  /** push/pop/peek for queue and stack maps: 0 or -errno. */
  push(value: Uint8Array, flags: number): number {
    if (this.queue.length >= this.maxEntries) {
      if (!(flags & BPF_EXIST)) return -E2BIG;
      this.queue.shift(); // BPF_EXIST: make room by dropping the oldest
    }
    this.queue.push(Buffer.from(value));
    return 0;
  }

  popOrPeek(out: Uint8Array, pop: boolean): number {
    const v = this.type === BPF_MAP_TYPE.STACK ? this.queue.at(-1) : this.queue[0];
    if (v === undefined) return -ENOENT;
    out.set(v);
    if (pop) {
      if (this.type === BPF_MAP_TYPE.STACK) this.queue.pop();
      else this.queue.shift();
    }
    return 0;
  }

  private update(key: Uint8Array, write: (r: Region) => void, flags: number, cpu: number, fromProgram: boolean): number {
    // The kernel's order: unknown flags, then (arrays) the index, NOEXIST, and
    // BPF_F_LOCK on a value without a bpf_spin_lock (the emulator knows of none).
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    if (this.isArray()) {
      const i = this.arrayIndex(key);
      if (i >= this.maxEntries) return -E2BIG;
      if (flags & BPF_NOEXIST) return -EEXIST; // array elements always exist
      if (flags & BPF_F_LOCK) return -EINVAL;
      const cpus = this.perCpu && !fromProgram ? this.arrays : [this.onCpu(this.arrays, cpu)];
      for (const r of cpus) write({ ...r, bytes: r.bytes.subarray(i * this.valueSize, (i + 1) * this.valueSize) });
      return 0;
    }
    if (flags & BPF_F_LOCK) return -EINVAL;
    if (this.isCgroupStorage) {
      // Only a cgroup's existing storage is written (BPF_ANY or BPF_EXIST); none is made from user space.
      if (flags & ~BPF_EXIST) return -EINVAL;
      const e = this.entries_.get(hexKey(key));
      if (!e) return -ENOENT;
      for (const r of this.perCpu && !fromProgram ? e.regions : [this.onCpu(e.regions, cpu)]) write(r);
      return 0;
    }
    if (!this.isHash()) return -EINVAL;
    if (this.type === BPF_MAP_TYPE.LPM_TRIE && key.byteLength >= 4 && new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true) > (this.keySize - 4) * 8) return -EINVAL;
    const slotted = this.type === BPF_MAP_TYPE.DEVMAP || this.type === BPF_MAP_TYPE.CPUMAP || this.type === BPF_MAP_TYPE.XSKMAP;
    if (slotted && this.arrayIndex(key) >= this.maxEntries) return -E2BIG;
    const k = this.type === BPF_MAP_TYPE.LPM_TRIE ? this.lpmCanonical(key) : Buffer.from(key);
    const hk = hexKey(k);
    let e = this.entries_.get(hk);
    if (e && flags === BPF_NOEXIST) return -EEXIST;
    if (!e && flags === BPF_EXIST) return -ENOENT;
    if (!e) {
      if (this.entries_.size >= this.maxEntries) {
        if (!this.isLru()) return -E2BIG;
        const oldest = this.entries_.values().next().value as Entry;
        this.entries_.delete(hexKey(oldest.key));
        for (const r of oldest.regions) this.memory.remove(r);
      }
      const n = this.perCpu ? this.cpus : 1;
      const regions: Region[] = [];
      for (let c = 0; c < n; c++) regions.push(this.memory.add(`${this.name}[${hk}]${this.perCpu ? `[cpu ${c}]` : ''}`, new Uint8Array(this.valueSize), { kind: 'map_value' }));
      e = { key: k, regions };
      this.entries_.set(hk, e);
    } else if (this.isLru()) {
      this.entries_.delete(hk);
      this.entries_.set(hk, e);
    }
    const targets = this.perCpu && !fromProgram ? e.regions : [this.onCpu(e.regions, cpu)];
    for (const r of targets) write(r);
    return 0;
  }

  // ---------------------------------------------------------------- user side (BpfMap's shape)

  private errnoToThrow(r: number, what: string): void {
    if (r === 0) return;
    const names: Record<number, string> = { [ENOENT]: 'ENOENT', [EEXIST]: 'EEXIST', [E2BIG]: 'E2BIG', [EINVAL]: 'EINVAL' };
    this.fail(what, -r, `${names[-r] ?? `errno ${-r}`}`);
  }

  /** A number key as the map's key bytes. */
  private keyBytes(key: MapKey): Uint8Array {
    return typeof key === 'number' || typeof key === 'bigint' ? scalarBytes(key, this.keySize, 'key', this.name) : key;
  }

  private valueBytes(v: MapKey): Uint8Array {
    return typeof v === 'number' || typeof v === 'bigint' ? scalarBytes(v, this.valueSize, 'value', this.name) : v;
  }

  /** The value (per-CPU maps: one Buffer per CPU), or undefined. An sk_storage map's key is a socket. */
  get(k: MapKey | EmulatedSocket): Buffer | Buffer[] | undefined {
    const sock = this.#socketKey(k, 'get');
    if (sock) {
      const r = this.#skStorage.get(sock);
      return r && Buffer.from(r.bytes);
    }
    const key = this.keyBytes(k as MapKey);
    this.checkKey(key, 'get');
    if (this.isArray()) {
      const i = this.arrayIndex(key);
      if (i >= this.maxEntries) return undefined;
      const vals = this.arrays.map((r) => Buffer.from(r.bytes.subarray(i * this.valueSize, (i + 1) * this.valueSize)));
      return this.perCpu ? vals : vals[0];
    }
    const e = this.entries_.get(hexKey(this.type === BPF_MAP_TYPE.LPM_TRIE ? this.lpmCanonical(key) : key));
    if (!e) return undefined;
    if (e.socket) {
      // The kernel hands user space the socket's cookie, in a u64 value only.
      if (this.valueSize !== 8) this.fail('get', ENOSPC, `ENOSPC: a socket's cookie is read through 8-byte values, the map's are ${this.valueSize}`);
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(e.socket.cookie);
      return v;
    }
    const vals = e.regions.map((r) => Buffer.from(r.bytes));
    return this.perCpu ? vals : vals[0];
  }

  has(key: MapKey | EmulatedSocket): boolean {
    return this.get(key) !== undefined;
  }

  /** Set a value (per-CPU maps: one value for every CPU, or an array of them). Maps of maps take a map, SOCKMAP/SOCKHASH a socket; an sk_storage map's key is a socket. */
  set(k: MapKey | EmulatedSocket, value: MapKey | MapKey[] | EmulatedMap | EmulatedSocket, flags: UpdateFlags = 'any'): void {
    const sock = this.#socketKey(k, 'set');
    if (sock) {
      const v = value instanceof EmulatedMap || value instanceof EmulatedSocket || Array.isArray(value) ? undefined : this.valueBytes(value);
      if (!v || v.byteLength !== this.valueSize) throw new BpfError('VALUE_SIZE', `emulated map ${this.name}: a socket's storage is ${this.valueSize} bytes`);
      const f = existFlag(flags);
      const had = this.#skStorage.get(sock);
      if (had && f === BPF_NOEXIST) this.fail('set', EEXIST, 'EEXIST');
      if (!had && f === BPF_EXIST) this.fail('set', ENOENT, 'ENOENT');
      if (had) had.bytes.set(v);
      else this.newSkStorage(sock, v);
      return;
    }
    const key = this.keyBytes(k as MapKey);
    this.checkKey(key, 'set');
    const f = existFlag(flags);
    if (this.isSockMap() || value instanceof EmulatedSocket) {
      this.setSocket(key, value, f);
      return;
    }
    if (value instanceof EmulatedMap) {
      if (this.type !== BPF_MAP_TYPE.ARRAY_OF_MAPS && this.type !== BPF_MAP_TYPE.HASH_OF_MAPS) this.fail('set', EINVAL, 'only a map of maps holds maps');
      const hk = hexKey(key);
      if (this.type === BPF_MAP_TYPE.ARRAY_OF_MAPS && this.arrayIndex(key) >= this.maxEntries) this.fail('set', E2BIG, 'E2BIG');
      this.entries_.set(hk, { key: Buffer.from(key), regions: [], inner: value });
      return;
    }
    const values = Array.isArray(value) ? value : null;
    if (values && values.length !== this.cpus) this.fail('set', EINVAL, `${values.length} per-CPU values for ${this.cpus} CPUs`);
    let c = 0;
    const r = this.update(
      key,
      (region) => {
        const v = this.valueBytes(values ? at(values, c++, 'INVALID_ARGUMENT', `emulated map ${this.name}: per-CPU values`) : (value as MapKey));
        if (v.byteLength !== this.valueSize) throw new BpfError('VALUE_SIZE', `emulated map ${this.name}: value is ${v.byteLength} bytes, the map's values are ${this.valueSize}`);
        region.bytes.set(v);
      },
      f,
      0,
      false,
    );
    this.errnoToThrow(r, 'set');
  }

  /** A socket into a SOCKMAP slot or SOCKHASH key, with the kernel's errors (sock_map_update_elem_sys). */
  private setSocket(key: Uint8Array, sock: unknown, flags: number): void {
    if (!this.isSockMap()) this.fail('set', EINVAL, 'EINVAL: only a SOCKMAP or SOCKHASH holds sockets');
    if (!(sock instanceof EmulatedSocket)) this.fail('set', EINVAL, `EINVAL: a ${this.typeName} holds sockets: set one EmulatedCollection.socket() made`);
    if (sock.memory !== this.memory) this.fail('set', EINVAL, `EINVAL: socket cookie ${sock.cookie} belongs to another emulation`);
    const refusal = sock.sockmapRefusal;
    if (refusal) this.fail('set', EOPNOTSUPP, `EOPNOTSUPP: ${refusal}`);
    this.errnoToThrow(this.putSocket(key, sock, flags), 'set');
  }

  /** The socket into its slot or key (sock_map_update_common, sock_hash_update_common): 0 or -errno. */
  private putSocket(key: Uint8Array, sock: EmulatedSocket, flags: number): number {
    if (this.type === BPF_MAP_TYPE.SOCKMAP && this.arrayIndex(key) >= this.maxEntries) return -E2BIG;
    const hk = hexKey(key);
    const had = this.entries_.has(hk);
    if (had && flags === BPF_NOEXIST) return -EEXIST;
    if (!had && flags === BPF_EXIST) return -ENOENT;
    if (!had && this.entries_.size >= this.maxEntries) return -E2BIG;
    this.entries_.set(hk, { key: Buffer.from(key), regions: [], socket: sock });
    return 0;
  }

  /** @internal bpf_sock_map_update / bpf_sock_hash_update of a sock_ops program: 0 or -errno; no socket state check on this path. */
  updateSocketFromProgram(key: Uint8Array, sock: EmulatedSocket, flags: bigint): number {
    return flags > BigInt(BPF_EXIST) ? -EINVAL : this.putSocket(key, sock, Number(flags));
  }

  delete(k: MapKey | EmulatedSocket): boolean {
    const sock = this.#socketKey(k, 'delete');
    if (sock) return this.deleteSkStorage(sock);
    const key = this.keyBytes(k as MapKey);
    this.checkKey(key, 'delete');
    if (this.isCgroupStorage) this.fail('delete', EINVAL, "EINVAL: a cgroup's storage is not deleted: it goes when the program is detached from the cgroup");
    return this.deleteFromProgram(key) === 0;
  }

  *keys(): Generator<Buffer> {
    // The kernel's sk_storage maps have no get_next_key.
    if (this.isSkStorage) this.fail('keys', EOPNOTSUPP, "EOPNOTSUPP: an sk_storage map's keys are sockets: get(socket) each");
    if (this.isArray()) {
      for (let i = 0; i < this.maxEntries; i++) {
        const k = Buffer.alloc(4);
        k.writeUInt32LE(i);
        yield k;
      }
      return;
    }
    for (const e of [...this.entries_.values()]) yield Buffer.from(e.key);
  }

  /** [key, value] pairs, as BpfMap.entries(): per-CPU maps refuse it (entriesPerCpu()). */
  entries(): Generator<[Buffer, Buffer]> {
    this.perCpuOnly(false, 'entries', 'entriesPerCpu');
    return this.walk() as Generator<[Buffer, Buffer]>;
  }

  /** entries() of a per-CPU map: one Buffer per CPU for each key. */
  entriesPerCpu(): Generator<[Buffer, Buffer[]]> {
    this.perCpuOnly(true, 'entriesPerCpu', 'entries');
    return this.walk() as Generator<[Buffer, Buffer[]]>;
  }

  private *walk(): Generator<[Buffer, Buffer | Buffer[]]> {
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /** BpfMap's refusal of the wrong iteration for the map kind (get/getPerCpu's rule). */
  private perCpuOnly(want: boolean, what: string, instead: string): void {
    if (this.perCpu === want) return;
    throw new BpfError(
      'MAP_INVALID',
      this.perCpu
        ? `emulated map ${this.name} is ${mapTypeName(this.type)}, which holds one value per CPU: use ${instead}() instead of ${what}()`
        : `emulated map ${this.name}: ${what} needs a per-CPU map, this is ${mapTypeName(this.type)}`,
    );
  }

  [Symbol.iterator](): Generator<[Buffer, Buffer]> {
    return this.entries();
  }

  // Batches: BpfMap's calls and shapes. One JavaScript call here does what
  // one BPF_MAP_*_BATCH syscall does there; batchSize only shapes syscalls.

  /** Every entry (`andDelete`: and remove them), as BpfMap.entriesBatch. */
  entriesBatch(opts: { batchSize?: number; andDelete?: boolean } = {}): Generator<[Buffer, Buffer]> {
    this.perCpuOnly(false, 'entriesBatch', 'entriesBatchPerCpu');
    return this.batchWalk(opts) as Generator<[Buffer, Buffer]>;
  }

  /** entriesBatch() of a per-CPU map, as BpfMap.entriesBatchPerCpu. */
  entriesBatchPerCpu(opts: { batchSize?: number; andDelete?: boolean } = {}): Generator<[Buffer, Buffer[]]> {
    this.perCpuOnly(true, 'entriesBatchPerCpu', 'entriesBatch');
    return this.batchWalk(opts) as Generator<[Buffer, Buffer[]]>;
  }

  private *batchWalk(opts: { andDelete?: boolean }): Generator<[Buffer, Buffer | Buffer[]]> {
    const all = [...this.walk()];
    if (opts.andDelete) {
      if (this.isArray()) this.fail('lookup and delete batch', EINVAL, 'EINVAL: array elements cannot be deleted');
      for (const [k] of all) this.delete(k);
    }
    yield* all;
  }

  /** Every entry, as BpfMap.getBatch. */
  getBatch(opts: { batchSize?: number } = {}): [Buffer, Buffer][] {
    this.perCpuOnly(false, 'getBatch', 'getBatchPerCpu');
    return [...this.entriesBatch(opts)];
  }

  /** Every entry of a per-CPU map, as BpfMap.getBatchPerCpu. */
  getBatchPerCpu(opts: { batchSize?: number } = {}): [Buffer, Buffer[]][] {
    this.perCpuOnly(true, 'getBatchPerCpu', 'getBatch');
    return [...this.entriesBatchPerCpu(opts)];
  }

  /** Write every entry (stopping at the first error, as the kernel does); the count written. */
  setBatch(entries: Iterable<[MapKey, MapKey | MapKey[]]>, flags: UpdateFlags = 'any'): number {
    let n = 0;
    for (const [k, v] of entries) {
      try {
        this.set(k, v, flags);
      } catch (e) {
        if (e instanceof BpfError) throw new BpfError(e.code, `${e.message}, after ${n} of the batch`, { cause: e });
        throw e;
      }
      n++;
    }
    return n;
  }

  /** Delete the keys that exist; the count deleted. Array maps: EINVAL, as BPF_MAP_DELETE_BATCH gives. */
  deleteBatch(keyList: Iterable<MapKey>): number {
    if (this.isArray()) this.fail('delete batch', EINVAL, 'EINVAL: array elements cannot be deleted');
    let n = 0;
    for (const k of keyList) if (this.delete(k)) n++;
    return n;
  }

  /** Queue/stack: the next element, removed. */
  lookupAndDelete(): Buffer | undefined {
    const out = Buffer.alloc(this.valueSize);
    return this.popOrPeek(out, true) === 0 ? out : undefined;
  }

  /** The inner map stored at `key` of an array/hash of maps. */
  inner(key: Uint8Array): EmulatedMap | undefined {
    return this.entries_.get(hexKey(key))?.inner;
  }
}

function prefixEqual(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const bytes = bits >> 3;
  for (let i = 0; i < bytes; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[bytes] ?? 0) & mask) === ((b[bytes] ?? 0) & mask);
}
