// Codecs for values whose shape is known when code is generated (bpf-ts
// gen): a small layout tree, made from BTF by the generator, turns bytes
// into exactly the TypeScript shapes the generated interfaces declare —
// numbers up to 32 bits, bigints for 64, typed arrays for integer arrays,
// strings for char arrays, objects for structs — and back. Values are in
// host byte order, as maps and global data hold them.

import { BpfError } from '../errors.js';
import { LITTLE_ENDIAN } from '../host.js';

export type Scalar = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'bool';

export type Layout =
  | { kind: 'scalar'; type: Scalar }
  /** char[n]: a string of at most n latin1 characters, NUL-padded (NUL-terminated when shorter). */
  | { kind: 'string'; length: number }
  /** An array of scalars: a typed array (boolean[] for bool). */
  | { kind: 'array'; length: number; type: Scalar }
  /** An array of anything else: a JS array. */
  | { kind: 'list'; length: number; elem: Layout; stride: number }
  | { kind: 'struct'; size: number; fields: Field[] }
  /** Bytes the generator has no shape for (function pointers, opaque unions): Uint8Array. */
  | { kind: 'bytes'; length: number };

export type Field =
  | { name: string; offset: number; layout: Layout }
  /** A bitfield: `bits` bits from bit `bitOffset` of the struct. */
  | { name: string; bitOffset: number; bits: number; signed: boolean; bool?: boolean };

export interface Codec<T> {
  readonly size: number;
  readonly layout: Layout;
  decode(bytes: Uint8Array, offset?: number): T;
  /** Write `value` into `into` (at `offset`), or into new bytes; returns the bytes written to. */
  encode(value: T, into?: Uint8Array, offset?: number): Uint8Array;
}

const LE = LITTLE_ENDIAN;

const SCALAR_SIZE: Record<Scalar, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8, f32: 4, f64: 8, bool: 1 };

/** Bytes a layout occupies. */
export function layoutSize(l: Layout): number {
  switch (l.kind) {
    case 'scalar':
      return SCALAR_SIZE[l.type];
    case 'string':
    case 'bytes':
      return l.length;
    case 'array':
      return l.length * SCALAR_SIZE[l.type];
    case 'list':
      return l.length * l.stride;
    case 'struct':
      return l.size;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readScalar(dv: DataView, off: number, t: Scalar): number | bigint | boolean {
  switch (t) {
    case 'u8':
      return dv.getUint8(off);
    case 'i8':
      return dv.getInt8(off);
    case 'u16':
      return dv.getUint16(off, LE);
    case 'i16':
      return dv.getInt16(off, LE);
    case 'u32':
      return dv.getUint32(off, LE);
    case 'i32':
      return dv.getInt32(off, LE);
    case 'u64':
      return dv.getBigUint64(off, LE);
    case 'i64':
      return dv.getBigInt64(off, LE);
    case 'f32':
      return dv.getFloat32(off, LE);
    case 'f64':
      return dv.getFloat64(off, LE);
    case 'bool':
      return dv.getUint8(off) !== 0;
  }
}

const INT_RANGE: Partial<Record<Scalar, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function writeScalar(dv: DataView, off: number, t: Scalar, v: unknown, where: string): void {
  const range = INT_RANGE[t];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) {
      throw new BpfError('VALUE_SIZE', `${where}: ${t} takes an integer from ${range[0]} to ${range[1]}, got ${String(v)}`);
    }
  }
  switch (t) {
    case 'u8':
      return dv.setUint8(off, v as number);
    case 'i8':
      return dv.setInt8(off, v as number);
    case 'u16':
      return dv.setUint16(off, v as number, LE);
    case 'i16':
      return dv.setInt16(off, v as number, LE);
    case 'u32':
      return dv.setUint32(off, v as number, LE);
    case 'i32':
      return dv.setInt32(off, v as number, LE);
    case 'u64':
    case 'i64': {
      if (typeof v !== 'bigint') throw new BpfError('VALUE_SIZE', `${where}: ${t} takes a bigint, got ${typeof v}`);
      const lo = t === 'u64' ? 0n : -(1n << 63n);
      const hi = t === 'u64' ? (1n << 64n) - 1n : (1n << 63n) - 1n;
      if (v < lo || v > hi) throw new BpfError('VALUE_SIZE', `${where}: ${v} does not fit ${t}`);
      return t === 'u64' ? dv.setBigUint64(off, v, LE) : dv.setBigInt64(off, v, LE);
    }
    case 'f32':
    case 'f64':
      if (typeof v !== 'number') throw new BpfError('VALUE_SIZE', `${where}: ${t} takes a number, got ${typeof v}`);
      return t === 'f32' ? dv.setFloat32(off, v, LE) : dv.setFloat64(off, v, LE);
    case 'bool':
      if (typeof v !== 'boolean') throw new BpfError('VALUE_SIZE', `${where}: bool takes true or false, got ${String(v)}`);
      return dv.setUint8(off, v ? 1 : 0);
  }
}

type TypedArrayCtor = { new (n: number): ArrayLike<number | bigint> & { [i: number]: number | bigint } };
const ARRAY_CTOR: Record<Exclude<Scalar, 'bool'>, TypedArrayCtor> = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
  f32: Float32Array,
  f64: Float64Array,
} as unknown as Record<Exclude<Scalar, 'bool'>, TypedArrayCtor>;

function decodeAt(l: Layout, dv: DataView, off: number): unknown {
  switch (l.kind) {
    case 'scalar':
      return readScalar(dv, off, l.type);
    case 'string': {
      let end = 0;
      while (end < l.length && dv.getUint8(off + end) !== 0) end++;
      return Buffer.from(dv.buffer, dv.byteOffset + off, end).toString('latin1');
    }
    case 'bytes':
      return new Uint8Array(dv.buffer.slice(dv.byteOffset + off, dv.byteOffset + off + l.length));
    case 'array': {
      const n = SCALAR_SIZE[l.type];
      if (l.type === 'bool') return Array.from({ length: l.length }, (_, i) => dv.getUint8(off + i) !== 0);
      const out = new ARRAY_CTOR[l.type](l.length);
      for (let i = 0; i < l.length; i++) out[i] = readScalar(dv, off + i * n, l.type) as number | bigint;
      return out;
    }
    case 'list':
      return Array.from({ length: l.length }, (_, i) => decodeAt(l.elem, dv, off + i * l.stride));
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const f of l.fields) {
        if ('layout' in f) out[f.name] = decodeAt(f.layout, dv, off + f.offset);
        else out[f.name] = readBits(dv, off, f);
      }
      return out;
    }
  }
}

function readBits(dv: DataView, base: number, f: Extract<Field, { bits: number }>): number | boolean {
  let v = 0n;
  const first = base + Math.floor(f.bitOffset / 8);
  const n = Math.ceil(((f.bitOffset % 8) + f.bits) / 8);
  for (let i = 0; i < n; i++) v |= BigInt(dv.getUint8(first + i)) << BigInt(LE ? 8 * i : 8 * (n - 1 - i));
  const shift = LE ? f.bitOffset % 8 : n * 8 - (f.bitOffset % 8) - f.bits;
  v = (v >> BigInt(shift)) & ((1n << BigInt(f.bits)) - 1n);
  if (f.bool) return v !== 0n;
  return Number(f.signed ? BigInt.asIntN(f.bits, v) : v);
}

function writeBits(dv: DataView, base: number, f: Extract<Field, { bits: number }>, value: unknown, where: string): void {
  const raw = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (typeof raw !== 'number' || !Number.isInteger(raw)) throw new BpfError('VALUE_SIZE', `${where}: bitfield takes an integer, got ${String(value)}`);
  const lo = f.signed ? -(2 ** (f.bits - 1)) : 0;
  const hi = f.signed ? 2 ** (f.bits - 1) - 1 : 2 ** f.bits - 1;
  if (raw < lo || raw > hi) throw new BpfError('VALUE_SIZE', `${where}: ${raw} does not fit ${f.bits} bits`);
  const first = base + Math.floor(f.bitOffset / 8);
  const n = Math.ceil(((f.bitOffset % 8) + f.bits) / 8);
  let word = 0n;
  for (let i = 0; i < n; i++) word |= BigInt(dv.getUint8(first + i)) << BigInt(LE ? 8 * i : 8 * (n - 1 - i));
  const shift = BigInt(LE ? f.bitOffset % 8 : n * 8 - (f.bitOffset % 8) - f.bits);
  const mask = ((1n << BigInt(f.bits)) - 1n) << shift;
  word = (word & ~mask) | ((BigInt.asUintN(f.bits, BigInt(raw)) << shift) & mask);
  for (let i = 0; i < n; i++) dv.setUint8(first + i, Number((word >> BigInt(LE ? 8 * i : 8 * (n - 1 - i))) & 0xffn));
}

function encodeAt(l: Layout, dv: DataView, off: number, v: unknown, where: string): void {
  switch (l.kind) {
    case 'scalar':
      return writeScalar(dv, off, l.type, v, where);
    case 'string': {
      if (typeof v !== 'string') throw new BpfError('VALUE_SIZE', `${where}: char[${l.length}] takes a string, got ${typeof v}`);
      const b = Buffer.from(v, 'latin1');
      // Like C: char[n] holds up to n characters; a shorter string is NUL-padded.
      if (b.length > l.length) throw new BpfError('VALUE_SIZE', `${where}: "${v}" is ${b.length} bytes, char[${l.length}] holds ${l.length}`);
      for (let i = 0; i < l.length; i++) dv.setUint8(off + i, i < b.length ? b[i]! : 0);
      return;
    }
    case 'bytes': {
      if (!(v instanceof Uint8Array) || v.length !== l.length) throw new BpfError('VALUE_SIZE', `${where}: takes ${l.length} bytes`);
      for (let i = 0; i < l.length; i++) dv.setUint8(off + i, v[i]!);
      return;
    }
    case 'array': {
      const a = v as ArrayLike<unknown>;
      if (!a || typeof a !== 'object' || a.length !== l.length) throw new BpfError('VALUE_SIZE', `${where}: takes ${l.length} elements`);
      const n = SCALAR_SIZE[l.type];
      for (let i = 0; i < l.length; i++) writeScalar(dv, off + i * n, l.type, a[i], `${where}[${i}]`);
      return;
    }
    case 'list': {
      const a = v as ArrayLike<unknown>;
      if (!a || typeof a !== 'object' || a.length !== l.length) throw new BpfError('VALUE_SIZE', `${where}: takes ${l.length} elements`);
      for (let i = 0; i < l.length; i++) encodeAt(l.elem, dv, off + i * l.stride, a[i], `${where}[${i}]`);
      return;
    }
    case 'struct': {
      if (!v || typeof v !== 'object') throw new BpfError('VALUE_SIZE', `${where}: takes an object`);
      const o = v as Record<string, unknown>;
      for (const f of l.fields) {
        if (!(f.name in o)) throw new BpfError('VALUE_SIZE', `${where}: missing field ${f.name}`);
        if ('layout' in f) encodeAt(f.layout, dv, off + f.offset, o[f.name], `${where}.${f.name}`);
        else writeBits(dv, off, f, o[f.name], `${where}.${f.name}`);
      }
      return;
    }
  }
}

/** A codec for `layout`. `name` is used in error messages. */
export function codec<T>(layout: Layout, name = 'value'): Codec<T> {
  const size = layoutSize(layout);
  return {
    size,
    layout,
    decode(bytes, offset = 0) {
      if (bytes.byteLength - offset < size) throw new BpfError('VALUE_SIZE', `${name}: needs ${size} bytes, got ${bytes.byteLength - offset}`);
      return decodeAt(layout, view(bytes), offset) as T;
    },
    encode(value, into, offset = 0) {
      const out = into ?? new Uint8Array(size);
      if (out.byteLength - offset < size) throw new BpfError('VALUE_SIZE', `${name}: needs ${size} bytes, got ${out.byteLength - offset}`);
      encodeAt(layout, view(out), offset, value, name);
      return out;
    },
  };
}
