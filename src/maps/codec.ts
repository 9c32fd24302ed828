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
  const size = dest.byteLength;
  if (v instanceof Uint8Array) {
    if (v.byteLength !== size) throw sizeError(what, mapName, `is ${v.byteLength} bytes`, size);
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

// Scalars wrap like C casts: -1 fills every byte.
function writeScalar(dest: Buffer, size: number, v: number | bigint, what: 'key' | 'value', mapName: string): void {
  switch (size) {
    case 1:
      dest[0] = typeof v === 'number' ? v & 0xff : Number(BigInt.asUintN(8, v));
      return;
    case 2: {
      const n = typeof v === 'number' ? v & 0xffff : Number(BigInt.asUintN(16, v));
      if (LITTLE_ENDIAN) dest.writeUInt16LE(n, 0);
      else dest.writeUInt16BE(n, 0);
      return;
    }
    case 4: {
      const n = typeof v === 'number' ? v >>> 0 : Number(BigInt.asUintN(32, v));
      if (LITTLE_ENDIAN) dest.writeUInt32LE(n, 0);
      else dest.writeUInt32BE(n, 0);
      return;
    }
    case 8: {
      const n = BigInt.asUintN(64, BigInt(v));
      if (LITTLE_ENDIAN) dest.writeBigUInt64LE(n, 0);
      else dest.writeBigUInt64BE(n, 0);
      return;
    }
    default:
      throw sizeError(what, mapName, `is a ${typeof v}, which only fits 1, 2, 4 or 8-byte ${what}s`, size);
  }
}

function sizeError(what: 'key' | 'value', mapName: string, problem: string, size: number): BpfError {
  const field = what === 'key' ? 'key_size' : 'value_size';
  return new BpfError(
    what === 'key' ? 'KEY_SIZE' : 'VALUE_SIZE',
    `map "${mapName}": ${what} ${problem}, but the map's ${field} is ${size}`,
  );
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
