// bpf_attr and the info structs are C structs in host byte order. These
// helpers read and write them that way, so the codecs work on big-endian
// hosts (s390x, ppc64) as well as the common little-endian ones.

import { LITTLE_ENDIAN } from '../host.js';

export { LITTLE_ENDIAN };

export function writeU32(b: Uint8Array, off: number, v: number): void {
  const buf = asBuffer(b);
  if (LITTLE_ENDIAN) buf.writeUInt32LE(v >>> 0, off);
  else buf.writeUInt32BE(v >>> 0, off);
}

export function readU32(b: Uint8Array, off: number): number {
  const buf = asBuffer(b);
  return LITTLE_ENDIAN ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}

export function writeU64(b: Uint8Array, off: number, v: bigint): void {
  const buf = asBuffer(b);
  if (LITTLE_ENDIAN) buf.writeBigUInt64LE(v, off);
  else buf.writeBigUInt64BE(v, off);
}

export function readU64(b: Uint8Array, off: number): bigint {
  const buf = asBuffer(b);
  return LITTLE_ENDIAN ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
}

/** A NUL-terminated string of at most `max` bytes starting at `off`. */
export function readCString(b: Uint8Array, off: number, max: number): string {
  const buf = asBuffer(b);
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + max ? off + max : end);
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
