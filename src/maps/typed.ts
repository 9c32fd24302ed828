// A BpfMap seen through BTF: keys and values are plain JS values (objects
// for structs, numbers/bigints, enum names, strings for char arrays),
// encoded and decoded by the key and value types BTF describes. For per-CPU
// maps a value is an array with one element per possible CPU.

import { decodeBtfValue } from '../btf/values/decode.js';
import { encodeBtfValue } from '../btf/values/encode.js';
import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { kernelBtfById } from '../btf/handle.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import type { BpfMap, MapBytes, MapValue, UpdateFlags } from './map.js';

/** How one side (key or value) of a map turns into JS and back. */
export interface ValueCodec<T = unknown> {
  readonly size: number;
  /** The BTF type id decoded by, or 0 when BTF does not describe this side. */
  readonly typeId: number;
  decode(bytes: Uint8Array): T;
  /** Bytes of exactly `size`, or a number/bigint BpfMap writes at that size. */
  encode(value: T): MapBytes;
}

/**
 * Refuse a type that contains itself by value (a struct member, array
 * element or typedef leading back to it without a pointer): no C type can,
 * its size is a lie, and decoding it would walk off the end of the value.
 */
export function checkNotSelfContaining(btf: Btf, typeId: number): void {
  const onPath = new Set<number>();
  const done = new Set<number>();
  const visit = (id: number, via: string): void => {
    const t = btf.typeById(btf.skipQualifiers(id));
    if (done.has(t.id)) return;
    if (onPath.has(t.id)) {
      throw new BpfError(
        'BTF_INVALID',
        `BTF type [${t.id}] ${t.kind} ${t.name || '(anon)'} contains itself (through ${via}), which no C type can: the BTF is corrupt, so values of this map cannot be decoded`,
      );
    }
    onPath.add(t.id);
    if (t.kind === 'struct' || t.kind === 'union') for (const m of t.members) visit(m.type, `member ${m.name || '(anon)'}`);
    else if (t.kind === 'array') visit(t.elemType, 'an array element');
    else if (t.kind === 'var') visit(t.type, `variable ${t.name}`);
    onPath.delete(t.id);
    done.add(t.id);
  };
  visit(typeId, 'itself');
}

/** Codec for BTF type `typeId`. */
export function btfCodec<T = unknown>(btf: Btf, typeId: number): ValueCodec<T> {
  checkNotSelfContaining(btf, typeId);
  return {
    size: btf.resolveSize(typeId),
    typeId,
    decode: (b) => decodeBtfValue(btf, typeId, b) as T,
    encode: (v) => encodeBtfValue(btf, typeId, v),
  };
}

/**
 * Codec for a side BTF does not describe: numbers for 1/2/4-byte values,
 * bigints for 8, bytes otherwise (host byte order, like the map itself).
 */
export function rawCodec(size: number): ValueCodec<unknown> {
  return {
    size,
    typeId: 0,
    decode(b) {
      const buf = Buffer.from(b.buffer, b.byteOffset, size);
      if (size === 1) return buf[0];
      if (size === 2) return LITTLE_ENDIAN ? buf.readUInt16LE(0) : buf.readUInt16BE(0);
      if (size === 4) return LITTLE_ENDIAN ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
      if (size === 8) return LITTLE_ENDIAN ? buf.readBigUInt64LE(0) : buf.readBigUInt64BE(0);
      return Buffer.from(buf);
    },
    encode(v) {
      if (v instanceof Uint8Array) return v;
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new BpfError('VALUE_SIZE', `a ${size}-byte raw value takes a number, bigint or bytes`);
      // BpfMap checks range and size for scalars itself.
      return v;
    },
  };
}

export class TypedMap<K = unknown, V = unknown> implements Iterable<[K, V]> {
  readonly map: BpfMap;
  readonly key: ValueCodec<K>;
  readonly value: ValueCodec<unknown>;

  constructor(map: BpfMap, key: ValueCodec<K>, value: ValueCodec<unknown>) {
    if (key.size !== map.keySize) throw new BpfError('KEY_SIZE', `map "${map.name}": key type is ${key.size} bytes, the map's keys are ${map.keySize}`);
    if (value.size !== map.valueSize) throw new BpfError('VALUE_SIZE', `map "${map.name}": value type is ${value.size} bytes, the map's values are ${map.valueSize}`);
    this.map = map;
    this.key = key;
    this.value = value;
  }

  #decodeValue(v: MapValue): V {
    return (Array.isArray(v) ? v.map((x) => this.value.decode(x)) : this.value.decode(v)) as V;
  }

  #encodeValue(v: V): MapBytes | MapBytes[] {
    if (this.map.perCpu) {
      // One value per CPU, or one value for every CPU.
      if (Array.isArray(v) && v.length === this.map.cpus) return v.map((x) => this.value.encode(x));
      return this.value.encode(v);
    }
    return this.value.encode(v);
  }

  get(key: K): V | undefined {
    const k = this.key.encode(key);
    const v = this.map.perCpu ? this.map.getPerCpu(k) : this.map.get(k);
    return v === undefined ? undefined : this.#decodeValue(v);
  }

  set(key: K, value: V, flags: UpdateFlags = 'any'): void {
    this.map.set(this.key.encode(key), this.#encodeValue(value), flags);
  }

  delete(key: K): boolean {
    return this.map.delete(this.key.encode(key));
  }

  has(key: K): boolean {
    return this.map.has(this.key.encode(key));
  }

  *keys(): Generator<K> {
    for (const k of this.map.keys()) yield this.key.decode(k);
  }

  *entries(): Generator<[K, V]> {
    const all = this.map.perCpu ? this.map.entriesPerCpu() : this.map.entries();
    for (const [k, v] of all) yield [this.key.decode(k), this.#decodeValue(v)];
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }
}

/**
 * `map` typed by BTF: `keyTypeId` / `valueTypeId` are ids in `btf` (0 means
 * "not described": raw numbers or bytes for that side).
 */
export function typedMap<K = unknown, V = unknown>(map: BpfMap, btf: Btf, keyTypeId: number, valueTypeId: number): TypedMap<K, V> {
  const key = keyTypeId ? btfCodec<K>(btf, keyTypeId) : (rawCodec(map.keySize) as ValueCodec<K>);
  const value = valueTypeId ? btfCodec(btf, valueTypeId) : rawCodec(map.valueSize);
  return new TypedMap<K, V>(map, key, value);
}

/**
 * `map` typed by the BTF the kernel holds for it (bpf_map_info.btf_id with
 * btf_key_type_id / btf_value_type_id), as bpftool does for pinned maps.
 * Null when the map was created without BTF.
 */
export function typedMapFromKernel<K = unknown, V = unknown>(map: BpfMap): TypedMap<K, V> | null {
  const info = map.info();
  // struct_ops values are described by vmlinux, not by the map's own BTF.
  if (!info.btfId || info.btfVmlinuxValueTypeId || (!info.btfKeyTypeId && !info.btfValueTypeId)) return null;
  return typedMap<K, V>(map, kernelBtfById(info.btfId), info.btfKeyTypeId, info.btfValueTypeId);
}
