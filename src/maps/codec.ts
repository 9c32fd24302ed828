// Keys and values as bytes. Maps store raw bytes in the host's byte order;
// callers may pass bytes of exactly the declared size, or a number/bigint for
// 1, 2, 4 and 8-byte scalars (the common u32 index / u64 counter case).

import { BpfError } from '../errors.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';

/** What map methods accept for a key or a value. */
export type MapBytes = Uint8Array | number | bigint;

/**
 * Write `v` into `dest` (whose length is the declared size), checking sizes.
 * `what` and `mapName` only shape the error message. Allocation-free for
 * byte arrays and for numbers up to 4 bytes: this is on the per-call hot path.
 */
export function encodeInto(dest: Buffer, v: MapBytes, what: 'key' | 'value', mapName: string): void {
  // `length`, not `byteLength`: the same for these Uint8Arrays, and V8 (Node 20)
  // inlines it where `byteLength` costs ~40 ns a call on this hot path.
  const size = dest.length;
  if (v instanceof Uint8Array) {
    if (v.length !== size) throw sizeError(what, mapName, `is ${v.length} bytes`, size);
    dest.set(v);
    return;
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw sizeError(what, mapName, `is the non-integer ${v}`, size);
  } else if (typeof v !== 'bigint') {
    throw sizeError(what, mapName, `has unsupported type ${typeof v}`, size);
  }
  writeScalar(dest, size, v, what, mapName);
}

// Half the range of a 1/2/4-byte scalar, by size: a table lookup, because
// `2 ** (bits - 1)` with a variable exponent is measurably slow on the hot path.
const HALF_RANGE = [0, 0x80, 0x8000, 0, 0x8000_0000];

// Scalars may be given signed or unsigned (-1 and 0xffffffff are the same 4
// bytes), but must fit: silently truncating a key would address another entry.
function writeScalar(dest: Buffer, size: number, v: number | bigint, what: 'key' | 'value', mapName: string): void {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw sizeError(what, mapName, `is a ${typeof v}, which only fits 1, 2, 4 or 8-byte ${what}s`, size);
  const bits = size * 8;
  if (typeof v === 'number' && size <= 4) {
    const half = HALF_RANGE[size]!;
    if (v < -half || v >= 2 * half) throw rangeError(what, mapName, v, size);
    if (size === 1) dest[0] = v & 0xff;
    else if (size === 2) writeU16(dest, v & 0xffff);
    else if (LITTLE_ENDIAN) dest.writeUInt32LE(v >>> 0, 0);
    else dest.writeUInt32BE(v >>> 0, 0);
    return;
  }
  if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
    // u64 from a non-negative safe integer without a BigInt allocation.
    const lo = v % 0x1_0000_0000;
    const hi = (v - lo) / 0x1_0000_0000;
    if (LITTLE_ENDIAN) {
      dest.writeUInt32LE(lo, 0);
      dest.writeUInt32LE(hi, 4);
    } else {
      dest.writeUInt32BE(hi, 0);
      dest.writeUInt32BE(lo, 4);
    }
    return;
  }
  const big = BigInt(v);
  if (big < -(1n << BigInt(bits - 1)) || big >= 1n << BigInt(bits)) throw rangeError(what, mapName, v, size);
  const u = BigInt.asUintN(bits, big);
  if (size === 8) {
    if (LITTLE_ENDIAN) dest.writeBigUInt64LE(u, 0);
    else dest.writeBigUInt64BE(u, 0);
  } else {
    writeScalar(dest, size, Number(BigInt.asIntN(bits, u)), what, mapName);
  }
}

function writeU16(dest: Buffer, v: number): void {
  if (LITTLE_ENDIAN) dest.writeUInt16LE(v, 0);
  else dest.writeUInt16BE(v, 0);
}

function rangeError(what: 'key' | 'value', mapName: string, v: number | bigint, size: number): BpfError {
  return new BpfError(what === 'key' ? 'KEY_SIZE' : 'VALUE_SIZE', `map "${mapName}": ${what} ${v} does not fit in ${size} bytes (the map's ${what === 'key' ? 'key_size' : 'value_size'})`);
}

function sizeError(what: 'key' | 'value', mapName: string, problem: string, size: number): BpfError {
  const field = what === 'key' ? 'key_size' : 'value_size';
  return new BpfError(what === 'key' ? 'KEY_SIZE' : 'VALUE_SIZE', `map "${mapName}": ${what} ${problem}, but the map's ${field} is ${size}`);
}

/** The bytes of one scalar of `size` bytes in host byte order. */
export function scalarBytes(v: number | bigint, size: 1 | 2 | 4 | 8): Buffer {
  const b = Buffer.alloc(size);
  writeScalar(b, size, v, 'value', '');
  return b;
}

export const u8 = (v: number): Buffer => scalarBytes(v, 1);
export const u16 = (v: number): Buffer => scalarBytes(v, 2);
export const u32 = (v: number): Buffer => scalarBytes(v, 4);
export const u64 = (v: number | bigint): Buffer => scalarBytes(v, 8);

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export const readU8 = (b: Uint8Array, off = 0): number => b[off]!;
export const readU16 = (b: Uint8Array, off = 0): number => view(b).getUint16(off, LITTLE_ENDIAN);
export const readU32 = (b: Uint8Array, off = 0): number => view(b).getUint32(off, LITTLE_ENDIAN);
export const readI32 = (b: Uint8Array, off = 0): number => view(b).getInt32(off, LITTLE_ENDIAN);
export const readU64 = (b: Uint8Array, off = 0): bigint => view(b).getBigUint64(off, LITTLE_ENDIAN);
export const readI64 = (b: Uint8Array, off = 0): bigint => view(b).getBigInt64(off, LITTLE_ENDIAN);
