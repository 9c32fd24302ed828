// Plain JS -> bytes, by BTF type: the inverse of decode.ts. Structs take an
// object (missing members are zero, as in a C initializer; unknown names are
// an error), enums a name or a number, char arrays a string, any type a
// Uint8Array of exactly its size. Integers may be given signed or unsigned
// (-1 and 0xffffffff are the same u32), but must fit.

import { BpfError } from '../../errors.js';
import type { Btf } from '../btf.js';
import type { BtfType } from '../kinds.js';
import { LITTLE_ENDIAN } from '../../host.js';
import { type BtfValueOptions, checkPlace, isCharType, readUnsigned } from './decode.js';
import { valueFields } from './fields.js';

const MAX_DEPTH = 64;

function bad(path: string, msg: string): never {
  throw new BpfError('VALUE_SIZE', `${path || 'value'}: ${msg}`);
}

function writeUnsigned(b: Uint8Array, off: number, size: number, v: bigint, le: boolean): void {
  for (let i = 0; i < size; i++) {
    b[le ? off + i : off + size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** `v` as a `bits`-bit pattern; accepts the signed and the unsigned range. */
function toBits(v: unknown, bits: number, path: string): bigint {
  let n: bigint;
  if (typeof v === 'boolean') n = v ? 1n : 0n;
  else if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else return bad(path, `expected an integer, got ${describe(v)}`);
  if (n < -(1n << BigInt(bits - 1)) || n >= 1n << BigInt(bits)) bad(path, `${v} does not fit ${bits} bits`);
  return BigInt.asUintN(bits, n);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** An enumerator name, or an integer. */
function enumBits(t: BtfType, v: unknown, bits: number, path: string): bigint {
  if (typeof v === 'string' && (t.kind === 'enum' || t.kind === 'enum64')) {
    const e = t.values.find((x) => x.name === v);
    if (!e) bad(path, `${v} is not an enumerator of enum ${t.name || '(anon)'} (${t.values.map((x) => x.name).join(', ')})`);
    return BigInt.asUintN(bits, BigInt(e!.value));
  }
  return toBits(v, bits, path);
}

function encodeBitfield(btf: Btf, typeId: number, v: unknown, b: Uint8Array, base: number, bitOff: number, bits: number, le: boolean, path: string): void {
  const t = btf.typeById(btf.skipQualifiers(typeId));
  const pattern = enumBits(t, v, bits, path);
  const start = base + Math.floor(bitOff / 8);
  const n = Math.ceil(((bitOff % 8) + bits) / 8);
  const shift = BigInt(le ? bitOff % 8 : n * 8 - (bitOff % 8) - bits);
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  const word = (readUnsigned(b, start, n, le) & ~mask) | (pattern << shift);
  writeUnsigned(b, start, n, word, le);
}

function encodeAt(btf: Btf, id: number, v: unknown, b: Uint8Array, off: number, le: boolean, path: string, depth: number): void {
  if (depth > MAX_DEPTH) bad(path, `type [${id}] nests too deeply to encode`);
  const t = btf.typeById(btf.skipQualifiers(id));
  checkPlace(btf, t, off, b.length);
  if (v instanceof Uint8Array && t.kind !== 'var') {
    // Raw bytes of exactly the type's size: copied as they are.
    const size = btf.resolveSize(t.id);
    if (v.byteLength !== size) bad(path, `${v.byteLength} bytes given for a ${size}-byte ${t.kind}`);
    b.set(v, off);
    return;
  }
  switch (t.kind) {
    case 'int': {
      if (typeof v === 'string' && isCharType(t) && v.length === 1) v = v.charCodeAt(0);
      const word = toBits(v, t.bits, path);
      const shifted = word << BigInt(t.bitOffset);
      writeUnsigned(b, off, t.size, shifted, le);
      return;
    }
    case 'ptr':
      writeUnsigned(b, off, 8, toBits(v, 64, path), le);
      return;
    case 'enum':
    case 'enum64':
      writeUnsigned(b, off, t.size, enumBits(t, v, t.size * 8, path), le);
      return;
    case 'float': {
      if (typeof v !== 'number') bad(path, `expected a number, got ${describe(v)}`);
      const dv = new DataView(b.buffer, b.byteOffset + off, t.size);
      if (t.size === 4) dv.setFloat32(0, v as number, le);
      else if (t.size === 8) dv.setFloat64(0, v as number, le);
      else bad(path, `${t.size}-byte floats take a Uint8Array`);
      return;
    }
    case 'array': {
      const elem = btf.typeById(btf.skipQualifiers(t.elemType));
      const sz = btf.resolveSize(elem.id);
      if (typeof v === 'string' && isCharType(elem)) {
        const bytes = Buffer.from(v, 'latin1');
        if (bytes.length > t.nelems) bad(path, `string of ${bytes.length} bytes does not fit char[${t.nelems}]`);
        b.set(bytes, off);
        b.fill(0, off + bytes.length, off + t.nelems);
        return;
      }
      if (!Array.isArray(v)) bad(path, `expected an array of ${t.nelems}, got ${describe(v)}`);
      const arr = v as unknown[];
      if (arr.length > t.nelems) bad(path, `${arr.length} elements given for an array of ${t.nelems}`);
      // Elements not given stay zero, as in a C initializer.
      b.fill(0, off, off + sz * t.nelems);
      arr.forEach((x, i) => encodeAt(btf, elem.id, x, b, off + i * sz, le, `${path}[${i}]`, depth + 1));
      return;
    }
    case 'struct':
    case 'union': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(path, `expected an object for ${t.kind} ${t.name || '(anon)'}, got ${describe(v)}`);
      const fields = valueFields(btf, t);
      const byName = new Map(fields.map((f) => [f.name, f]));
      const obj = v as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        if (!byName.has(key)) bad(path, `${t.kind} ${t.name || '(anon)'} has no member ${key} (members: ${fields.map((f) => f.name).join(', ')})`);
      }
      // Members not given are zero; union members given are written in declaration order, later on top.
      b.fill(0, off, off + t.size);
      for (const f of fields) {
        if (!(f.name in obj) || obj[f.name] === undefined) continue;
        const sub = path ? `${path}.${f.name}` : f.name;
        if (f.bitfieldSize) encodeBitfield(btf, f.type, obj[f.name], b, off, f.bitOffset, f.bitfieldSize, le, sub);
        else encodeAt(btf, f.type, obj[f.name], b, off + f.bitOffset / 8, le, sub, depth + 1);
      }
      return;
    }
    case 'var':
      encodeAt(btf, t.type, v, b, off, le, path, depth + 1);
      return;
    case 'datasec': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(path, `expected an object of variables, got ${describe(v)}`);
      const obj = v as Record<string, unknown>;
      const vars = t.vars.map((x) => ({ ...x, name: btf.typeById(x.type).name }));
      for (const key of Object.keys(obj)) {
        if (!vars.some((x) => x.name === key)) bad(path, `section ${t.name} has no variable ${key}`);
      }
      for (const x of vars) if (x.name in obj) encodeAt(btf, x.type, obj[x.name], b, off + x.offset, le, x.name, depth + 1);
      return;
    }
    default:
      bad(path, `type [${t.id}] ${t.kind} ${t.name} has no values to encode`);
  }
}

/** Encode `value` as BTF type `typeId`: a new buffer of the type's size. */
export function encodeBtfValue(btf: Btf, typeId: number, value: unknown, opts: BtfValueOptions = {}): Uint8Array {
  const out = new Uint8Array(btf.resolveSize(typeId));
  encodeAt(btf, typeId, value, out, 0, opts.littleEndian ?? LITTLE_ENDIAN, '', 0);
  return out;
}

/** Encode into `out` at `offset` (bytes of the type not covered by `value` keep or get zero as encodeBtfValue does). */
export function encodeBtfValueInto(btf: Btf, typeId: number, value: unknown, out: Uint8Array, offset = 0, opts: BtfValueOptions = {}): void {
  const size = btf.resolveSize(typeId);
  if (offset + size > out.byteLength) throw new BpfError('VALUE_SIZE', `type [${typeId}] needs ${size} bytes at offset ${offset}, buffer has ${out.byteLength}`);
  encodeAt(btf, typeId, value, out, offset, opts.littleEndian ?? LITTLE_ENDIAN, '', 0);
}
