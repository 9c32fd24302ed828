// What a module written by `bpf-ts gen` runs on: it describes its object
// (maps with key/value codecs, programs, global variables with their
// section and offset) and openTyped() builds the typed spec and collection
// the generated interfaces promise. Globals are read and written through
// the data map's memory map when the map has one (BPF_F_MMAPABLE), else
// with one lookup (and update) per access.

import { BpfObjectSpec, openObject, type BpfCollection, type LoadOptions } from '../collection.js';
import { BpfError } from '../errors.js';
import type { BpfMap, UpdateFlags } from '../maps/map.js';
import type { BpfProgram } from '../programs/program.js';
import type { Codec } from './codec.js';

export interface MapSchema {
  key: Codec<unknown>;
  value: Codec<unknown>;
  perCpu: boolean;
}

export interface VariableSchema {
  /** The data map holding it (".bss", ".data", ".rodata", ".data.custom"…). */
  map: string;
  offset: number;
  codec: Codec<unknown>;
}

export interface ObjectSchema {
  /** Maps with typed keys and values. */
  maps: Record<string, MapSchema>;
  /** Maps handed out as plain BpfMaps (ring buffers, perf event arrays, prog arrays…). */
  rawMaps: string[];
  programs: string[];
  /** Writable globals (.bss, .data). */
  globals: Record<string, VariableSchema>;
  /** const volatile globals (.rodata): set before load, read-only after. */
  rodata: Record<string, VariableSchema>;
}

/** What both typed map kinds share: the map, its key/value codecs checked against it, and key operations. */
abstract class TypedMapBase<K, V> {
  readonly raw: BpfMap;
  protected readonly key: Codec<K>;
  protected readonly value: Codec<V>;
  constructor(raw: BpfMap, key: Codec<K>, value: Codec<V>) {
    if (key.size !== raw.keySize || value.size !== raw.valueSize) {
      throw new BpfError('VALUE_SIZE', `map ${raw.name}: generated types are ${key.size}/${value.size} bytes, the map's are ${raw.keySize}/${raw.valueSize}: regenerate with bpf-ts gen`);
    }
    this.raw = raw;
    this.key = key;
    this.value = value;
  }
  /** The generated codecs of keys and values. */
  get keyCodec(): Codec<K> {
    return this.key;
  }
  get valueCodec(): Codec<V> {
    return this.value;
  }
  delete(key: K): boolean {
    return this.raw.delete(this.key.encode(key));
  }
  has(key: K): boolean {
    return this.raw.has(this.key.encode(key));
  }
  *keys(): Generator<K> {
    for (const k of this.raw.keys()) yield this.key.decode(k);
  }
}

/** A map seen through generated key and value types. */
export class TypedBpfMap<K, V> extends TypedMapBase<K, V> implements Iterable<[K, V]> {
  get(key: K): V | undefined {
    const v = this.raw.get(this.key.encode(key));
    return v === undefined ? undefined : this.value.decode(v);
  }
  set(key: K, value: V, flags: UpdateFlags = 'any'): void {
    this.raw.set(this.key.encode(key), this.value.encode(value), flags);
  }
  *entries(): Generator<[K, V]> {
    for (const [k, v] of this.raw.entries()) yield [this.key.decode(k), this.value.decode(v)];
  }
  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }
}

/** A per-CPU map: one value per possible CPU. */
export class TypedPerCpuMap<K, V> extends TypedMapBase<K, V> implements Iterable<[K, V[]]> {
  /** Number of values (possible CPUs). */
  get cpus(): number {
    return this.raw.cpus;
  }
  get(key: K): V[] | undefined {
    const v = this.raw.getPerCpu(this.key.encode(key));
    return v?.map((b) => this.value.decode(b));
  }
  /** One value per CPU, or one value written to every CPU. */
  set(key: K, value: V | V[], flags: UpdateFlags = 'any'): void {
    const all = Array.isArray(value) && value.length === this.raw.cpus ? (value as V[]) : Array.from({ length: this.raw.cpus }, () => value as V);
    this.raw.setPerCpu(
      this.key.encode(key),
      all.map((v) => this.value.encode(v)),
      flags,
    );
  }
  *entries(): Generator<[K, V[]]> {
    for (const k of this.raw.keys()) {
      const v = this.raw.getPerCpu(k);
      if (v) yield [this.key.decode(k), v.map((b) => this.value.decode(b))];
    }
  }
  [Symbol.iterator](): Generator<[K, V[]]> {
    return this.entries();
  }
}

/** Bytes of a data map (whole value at key 0), read and written back. */
interface DataAccess {
  read(): Uint8Array;
  write(bytes: Uint8Array): void;
}

function dataAccess(map: BpfMap): DataAccess {
  // A memory-mapped data map (BPF_F_MMAPABLE) is read and written in place, no syscall.
  try {
    const view = map.view();
    if (view.valueSize > 8 || ![1, 2, 4, 8].includes(view.valueSize)) {
      return { read: () => view.get(0) as Uint8Array, write: (b) => view.set(0, b) };
    }
  } catch (e) {
    if (!(e instanceof BpfError && e.code === 'NOT_MMAPABLE')) throw e;
  }
  // Otherwise one lookup (and update) per access.
  return {
    read: () => {
      const v = map.get(0);
      if (!(v instanceof Uint8Array)) throw new BpfError('MAP_NOT_FOUND', `data map ${map.name} has no value`);
      return v;
    },
    write: (b) => map.set(0, b),
  };
}

function defineVariables(target: object, vars: Record<string, VariableSchema>, access: (map: string) => DataAccess, writable: boolean): void {
  for (const [name, v] of Object.entries(vars)) {
    Object.defineProperty(target, name, {
      enumerable: true,
      get: () => v.codec.decode(access(v.map).read(), v.offset),
      set: writable
        ? (value: unknown) => {
            const a = access(v.map);
            const bytes = a.read();
            v.codec.encode(value, bytes, v.offset);
            a.write(bytes);
          }
        : () => {
            throw new BpfError('USAGE', `${name} is in .rodata: set it on the spec before load(); after load it is read-only`);
          },
    });
  }
}

function buildCollection(coll: BpfCollection, schema: ObjectSchema): object {
  const maps: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(schema.maps)) {
    const raw = coll.map(name);
    maps[name] = m.perCpu ? new TypedPerCpuMap(raw, m.key, m.value) : new TypedBpfMap(raw, m.key, m.value);
  }
  for (const name of schema.rawMaps) maps[name] = coll.map(name);
  const programs: Record<string, BpfProgram> = {};
  for (const name of schema.programs) if (coll.programs.has(name)) programs[name] = coll.program(name);
  const cache = new Map<string, DataAccess>();
  const access = (map: string): DataAccess => {
    let a = cache.get(map);
    if (!a) cache.set(map, (a = dataAccess(coll.map(map))));
    return a;
  };
  const globals = {};
  defineVariables(globals, schema.globals, access, true);
  const rodata = {};
  defineVariables(rodata, schema.rodata, access, false);
  return {
    raw: coll,
    maps,
    programs,
    globals,
    rodata,
    close: () => coll.close(),
    [Symbol.dispose]: () => coll.close(),
  };
}

/**
 * The typed spec of a generated module: `source` is the object's path or
 * bytes. The shape `S` is the generated `Spec` interface, which describes
 * what this function builds from `schema`.
 */
export function openTyped<S>(source: string | Uint8Array, schema: ObjectSchema): S {
  const spec = typeof source === 'string' ? openObject(source) : BpfObjectSpec.fromBytes(source, '<embedded object>');
  const rodata = {};
  for (const [name, v] of Object.entries(schema.rodata)) {
    Object.defineProperty(rodata, name, {
      enumerable: true,
      get: () => {
        const m = spec.maps.find((x) => x.name === v.map);
        const bytes = m ? (spec.initialValue(m) ?? new Uint8Array(m.valueSize)) : new Uint8Array(v.offset + v.codec.size);
        return v.codec.decode(bytes, v.offset);
      },
      set: (value: unknown) => {
        spec.setGlobal(name, v.codec.encode(value));
      },
    });
  }
  const typed = {
    raw: spec,
    rodata,
    load: (opts?: LoadOptions) => {
      const coll = spec.load(opts);
      try {
        return buildCollection(coll, schema);
      } catch (e) {
        coll.close();
        throw e;
      }
    },
  };
  return typed as S;
}
