// Sizing maps before they are created: objects such as xdp-bench or
// xdp-monitor leave max_entries 0 for the loader to fill in, and users resize
// tables to fit their traffic. A MapSpecHandle changes one MapSpec of a
// not-yet-loaded object (its size; whether it is created at all), refusing
// sizes the kernel would refuse anyway or that make no sense for the map's
// type.

import { BpfError } from '../errors.js';
import { BPF_MAP_TYPE as M, mapTypeName } from '../uapi/bpf.js';
import type { MapSpec } from './types.js';

/** Map types whose values are plain bytes of the object's choosing: value_size may change. */
const OPAQUE_VALUE_TYPES: ReadonlySet<number> = new Set([
  M.HASH,
  M.ARRAY,
  M.PERCPU_HASH,
  M.PERCPU_ARRAY,
  M.LRU_HASH,
  M.LRU_PERCPU_HASH,
  M.LPM_TRIE,
  M.QUEUE,
  M.STACK,
  M.BLOOM_FILTER,
  M.SK_STORAGE,
  M.INODE_STORAGE,
  M.TASK_STORAGE,
  M.CGRP_STORAGE,
]);

const U32_MAX = 0xffffffff;

/** A map of an object spec, before loading: read everything, set max_entries (and value_size where the type allows). */
export class MapSpecHandle {
  readonly #source: string;
  readonly #spec: MapSpec;

  constructor(source: string, spec: MapSpec) {
    this.#source = source;
    this.#spec = spec;
  }

  get name(): string {
    return this.#spec.name;
  }
  get type(): number {
    return this.#spec.type;
  }
  get keySize(): number {
    return this.#spec.keySize;
  }
  get flags(): number {
    return this.#spec.flags;
  }
  /** The underlying definition (read-only view). */
  get spec(): Readonly<MapSpec> {
    return this.#spec;
  }

  #fail(what: string): never {
    throw new BpfError('MAP_SIZE', `${this.#source}: map ${this.#spec.name} (${mapTypeName(this.#spec.type)}): ${what}`);
  }

  #checkU32(n: number, field: string): void {
    if (!Number.isInteger(n) || n < 1 || n > U32_MAX) this.#fail(`${field} must be a whole number from 1 to ${U32_MAX}, got ${n}`);
  }

  get maxEntries(): number {
    return this.#spec.maxEntries;
  }

  set maxEntries(n: number) {
    this.#checkU32(n, 'max_entries');
    const s = this.#spec;
    if (s.style === 'data') this.#fail('global data maps hold exactly one value; their size is the section size');
    if (s.type === M.STRUCT_OPS) this.#fail('struct_ops maps have exactly one entry');
    if ((s.type === M.RINGBUF || s.type === M.USER_RINGBUF) && (n & (n - 1)) !== 0) {
      this.#fail(`a ring buffer's max_entries is its size in bytes and must be a power of two (and a multiple of the page size), got ${n}`);
    }
    s.maxEntries = n;
  }

  /**
   * false: not created at load, and programs that use it cannot load (libbpf's
   * bpf_map__set_autocreate). Maps in SEC("?.struct_ops") start false; set
   * true to create one and load its programs.
   */
  get autocreate(): boolean {
    return this.#spec.autocreate !== false;
  }

  set autocreate(v: boolean) {
    if (typeof v !== 'boolean') throw new BpfError('USAGE', `${this.#source}: map ${this.#spec.name}: autocreate is true or false, got ${String(v)}`);
    this.#spec.autocreate = v;
  }

  get valueSize(): number {
    return this.#spec.valueSize;
  }

  /** Changing value_size drops the BTF value type (it would no longer describe the value). */
  set valueSize(n: number) {
    this.#checkU32(n, 'value_size');
    const s = this.#spec;
    if (s.style === 'data' || !OPAQUE_VALUE_TYPES.has(s.type)) {
      this.#fail(`value_size is fixed for this map type${s.style === 'data' ? ' (global data)' : ''}`);
    }
    if (n !== s.valueSize) s.btfValueTypeId = 0;
    s.valueSize = n;
  }
}

/** "NAME=N" pairs (CLI --max-entries) applied through MapSpecHandle. */
export function parseMaxEntries(pairs: readonly string[]): { name: string; value: number }[] {
  return pairs.map((p) => {
    const [, name, n] = /^([^=]+)=(\d+)$/.exec(p.trim()) ?? [];
    if (name === undefined || n === undefined) throw new BpfError('USAGE', `--max-entries takes NAME=N (e.g. --max-entries counters=1024), got "${p}"`);
    return { name, value: Number(n) };
  });
}
