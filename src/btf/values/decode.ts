// Bytes -> plain JS, by BTF type: what `bpf-ts map dump` shows as
// "formatted" and what typed maps return.
//   ints: number up to 4 bytes, bigint for 8 and 16 bytes; bool -> boolean
//   pointers -> bigint (kernel addresses exceed 2^53)
//   enums -> the enumerator's name, or the number when none matches
//   char arrays -> string when printable and NUL-padded (so it encodes back
//     to the same bytes), else an array of numbers
//   structs/unions -> objects (anonymous members flattened), bitfields included
//   floats -> number; DATASEC -> { variable: value }

import { BpfError } from '../../errors.js';
import type { Btf } from '../btf.js';
import type { BtfInt, BtfType } from '../kinds.js';
import { LITTLE_ENDIAN } from '../../host.js';
import { valueFields } from './fields.js';

export interface BtfValueOptions {
  /** Byte order of the bytes; default the host's (maps hold host-order values). */
  littleEndian?: boolean;
}

// Nesting beyond this is a reference loop (arrays of structs of arrays …).
const MAX_DEPTH = 64;

/** Read `size` bytes at `off` as an unsigned integer. */
export function readUnsigned(b: Uint8Array, off: number, size: number, le: boolean): bigint {
  if (off + size > b.length) throw new BpfError('BTF_INVALID', `BTF layout reads ${size} bytes at offset ${off}, past the end of the ${b.length}-byte value`);
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[le ? off + size - 1 - i : off + i]!);
  return v;
}

function small(v: bigint, size: number): number | bigint {
  return size <= 4 ? Number(v) : v;
}

/** A char-like element: 1-byte int with char encoding or named char (bpftool's rule). */
export function isCharType(t: BtfType): boolean {
  return t.kind === 'int' && t.size === 1 && (t.encoding.char || t.name === 'char');
}

/** Printable ASCII up to a NUL, then only NULs: safe to show (and encode back) as a string. */
function asString(b: Uint8Array, off: number, n: number): string | null {
  let end = -1;
  for (let i = 0; i < n; i++) {
    const c = b[off + i]!;
    if (c === 0) {
      end = i;
      break;
    }
    if (c < 0x20 || c >= 0x7f) return null;
  }
  if (end < 0) return null;
  for (let i = end; i < n; i++) if (b[off + i] !== 0) return null;
  return Buffer.from(b.subarray(off, off + end)).toString('latin1');
}

function decodeInt(t: BtfInt, b: Uint8Array, off: number, le: boolean): unknown {
  let v = readUnsigned(b, off, t.size, le);
  // Old-style bitfield ints: the value sits in `bits` bits at `bitOffset`.
  if (t.bitOffset !== 0 || t.bits !== t.size * 8) v = (v >> BigInt(t.bitOffset)) & ((1n << BigInt(t.bits)) - 1n);
  if (t.encoding.bool) return v !== 0n;
  if (t.encoding.signed) v = BigInt.asIntN(t.bits, v);
  return small(v, t.size);
}

function enumName(t: BtfType, v: bigint): string | undefined {
  if (t.kind !== 'enum' && t.kind !== 'enum64') return undefined;
  return t.values.find((e) => BigInt(e.value) === v)?.name;
}

/** A bitfield of `bits` bits at absolute bit `bitOff` of `b` (from `base`). */
function decodeBitfield(btf: Btf, typeId: number, b: Uint8Array, base: number, bitOff: number, bits: number, le: boolean): unknown {
  const t = btf.typeById(btf.skipQualifiers(typeId));
  const start = base + Math.floor(bitOff / 8);
  const n = Math.ceil(((bitOff % 8) + bits) / 8);
  let v = readUnsigned(b, start, n, le);
  // Little-endian bitfields count from the low bit of the first byte, big-endian from the high bit.
  const shift = le ? bitOff % 8 : n * 8 - (bitOff % 8) - bits;
  v = (v >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  const signed = (t.kind === 'int' && t.encoding.signed) || ((t.kind === 'enum' || t.kind === 'enum64') && t.signed);
  if (signed) v = BigInt.asIntN(bits, v);
  if (t.kind === 'int' && t.encoding.bool) return v !== 0n;
  const name = enumName(t, v);
  if (name !== undefined) return name;
  return small(v, 'size' in t ? t.size : 8);
}

/**
 * A type placed at byte `off` of a `length`-byte value must start on a byte
 * and fit: broken BTF can put a member at a fractional byte or past its struct.
 */
export function checkPlace(btf: Btf, t: BtfType, off: number, length: number): void {
  if (t.kind === 'var' || t.kind === 'datasec') return;
  if (!Number.isInteger(off)) throw new BpfError('BTF_INVALID', `type [${t.id}] ${t.kind} placed at bit ${off * 8}, not on a byte boundary`);
  const size = t.kind === 'ptr' ? 8 : 'size' in t ? t.size : t.kind === 'array' ? btf.resolveSize(t.id) : 0;
  if (off < 0 || off + size > length) throw new BpfError('BTF_INVALID', `BTF layout puts ${size} bytes of type [${t.id}] at offset ${off}, past the end of the ${length}-byte value`);
}

/**
 * Values a decode may produce: a real value has at most one per bit (bitfields),
 * plus empty structs. Broken BTF (a zero-size struct whose members are itself)
 * would otherwise branch exponentially below the depth limit.
 */
function nodeBudget(length: number): { left: number } {
  return { left: 8 * length + 4096 };
}

function decodeAt(btf: Btf, id: number, b: Uint8Array, off: number, le: boolean, depth: number, budget: { left: number }): unknown {
  if (depth > MAX_DEPTH) throw new BpfError('BTF_INVALID', `type [${id}] nests too deeply to decode`);
  if (--budget.left < 0) throw new BpfError('BTF_INVALID', `type [${id}] has more parts than its ${b.length}-byte value can hold (a zero-size type containing itself?)`);
  const t = btf.typeById(btf.skipQualifiers(id));
  checkPlace(btf, t, off, b.length);
  switch (t.kind) {
    case 'int':
      return decodeInt(t, b, off, le);
    case 'ptr':
      return readUnsigned(b, off, 8, le);
    case 'enum':
    case 'enum64': {
      let v = readUnsigned(b, off, t.size, le);
      if (t.signed) v = BigInt.asIntN(t.size * 8, v);
      return enumName(t, v) ?? small(v, t.kind === 'enum64' ? 8 : t.size);
    }
    case 'float': {
      if (off + t.size > b.length) throw new BpfError('BTF_INVALID', `BTF layout reads ${t.size} bytes at offset ${off}, past the end of the ${b.length}-byte value`);
      const dv = new DataView(b.buffer, b.byteOffset + off, t.size);
      if (t.size === 4) return dv.getFloat32(0, le);
      if (t.size === 8) return dv.getFloat64(0, le);
      return Array.from(b.subarray(off, off + t.size));
    }
    case 'array': {
      const elem = btf.typeById(btf.skipQualifiers(t.elemType));
      const sz = btf.resolveSize(elem.id);
      if (isCharType(elem)) {
        const s = asString(b, off, t.nelems);
        if (s !== null) return s;
      }
      if (t.nelems > budget.left) throw new BpfError('BTF_INVALID', `type [${t.id}] array of ${t.nelems} ${sz}-byte elements does not fit a ${b.length}-byte value`);
      const out = new Array(t.nelems);
      for (let i = 0; i < t.nelems; i++) out[i] = decodeAt(btf, elem.id, b, off + i * sz, le, depth + 1, budget);
      return out;
    }
    case 'struct':
    case 'union': {
      const out: Record<string, unknown> = {};
      for (const f of valueFields(btf, t)) {
        out[f.name] = f.bitfieldSize ? decodeBitfield(btf, f.type, b, off, f.bitOffset, f.bitfieldSize, le) : decodeAt(btf, f.type, b, off + f.bitOffset / 8, le, depth + 1, budget);
      }
      return out;
    }
    case 'var':
      return decodeAt(btf, t.type, b, off, le, depth + 1, budget);
    case 'datasec': {
      const out: Record<string, unknown> = {};
      for (const v of t.vars) {
        const vt = btf.typeById(v.type);
        out[vt.name || `@${v.offset}`] = decodeAt(btf, v.type, b, off + v.offset, le, depth + 1, budget);
      }
      return out;
    }
    default:
      throw new BpfError('BTF_INVALID', `type [${t.id}] ${t.kind} ${t.name} has no values to decode`);
  }
}

/** Decode the value of BTF type `typeId` from the start of `bytes`. */
export function decodeBtfValue(btf: Btf, typeId: number, bytes: Uint8Array, opts: BtfValueOptions = {}): unknown {
  const size = btf.resolveSize(typeId);
  if (bytes.byteLength < size) {
    throw new BpfError('VALUE_SIZE', `type [${typeId}] needs ${size} bytes, got ${bytes.byteLength}`);
  }
  return decodeAt(btf, typeId, bytes, 0, opts.littleEndian ?? LITTLE_ENDIAN, 0, nodeBudget(bytes.length));
}
