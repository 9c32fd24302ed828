// collection.globals: the object's global variables (.bss, .data, .rodata and
// their .name suffixed siblings) as properties, typed from the BTF DATASEC of
// each section and read/written in place through the data map's mmap — the
// same memory the program sees, with no syscall per access.
//
//   collection.globals.seen_total += 1n   // u64 → bigint
//   collection.globals.hits[2]            // u64[4] → indexable, bigint elements
//   collection.globals.drop_port          // .rodata: readable; writing throws READ_ONLY
//
// Integers of 1, 2 and 4 bytes are numbers, 8-byte ones bigints, _Bool is a
// boolean, float/double numbers; arrays are indexable with .length and
// iteration; structs and unions are objects of their members. Anything else
// (bitfields, pointers' targets, unnamed members) is left out or exposed as a
// Uint8Array copy. After the collection is closed every access throws CLOSED.

import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import type { DataVariable } from '../object/types.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import type { MapMemory } from './memory.js';

/** The shape of one global, as codegen needs it. */
export type GlobalLayout =
  | { kind: 'int'; size: 1 | 2 | 4 | 8; signed: boolean }
  | { kind: 'bool' }
  | { kind: 'float'; size: 4 | 8 }
  | { kind: 'array'; length: number; stride: number; element: GlobalLayout }
  | { kind: 'struct'; size: number; members: { name: string; offset: number; layout: GlobalLayout }[] }
  | { kind: 'bytes'; size: number };

/** One global variable: where it lives and what JS value it reads as. */
export interface GlobalVariableInfo {
  name: string;
  /** The ELF section (and map name): .bss, .data, .rodata, .data.foo, … */
  section: string;
  offset: number;
  size: number;
  /** .rodata after load: reads only. */
  readOnly: boolean;
  layout: GlobalLayout;
}

/** The value a global reads as (codegen narrows this per variable). */
export type GlobalValue = number | bigint | boolean | Uint8Array | GlobalArray | GlobalStruct;

/** An array global: index it, take .length, iterate it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- elements read without casts, as Globals below
export interface GlobalArray<T = any> {
  [index: number]: T;
  readonly length: number;
  [Symbol.iterator](): Iterator<T>;
}

export interface GlobalStruct {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- members read without casts, as Globals below
  [member: string]: any;
}

/**
 * Every global variable by name. Property types are `any` so plain code needs
 * no casts (`globals.seen_total += 1n`); collection.globalsAs<T>() gives the
 * same object a precise type (what generated code declares).
 */
export interface Globals {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- deliberate: see above
  [name: string]: any;
}

/** The layout of BTF type `id` (qualifiers skipped); `size` is the variable's size in bytes. */
export function layoutOf(btf: Btf | null, id: number, size: number): GlobalLayout {
  if (!btf || id === 0) return scalarBySize(size);
  const t = btf.typeById(btf.skipQualifiers(id));
  switch (t.kind) {
    case 'int':
      if (t.bitOffset !== 0 || t.bits !== t.size * 8) return { kind: 'bytes', size: t.size };
      if (t.encoding.bool && t.size === 1) return { kind: 'bool' };
      return isScalarSize(t.size) ? { kind: 'int', size: t.size, signed: t.encoding.signed } : { kind: 'bytes', size: t.size };
    case 'enum':
    case 'enum64':
      return isScalarSize(t.size) ? { kind: 'int', size: t.size, signed: t.signed } : { kind: 'bytes', size: t.size };
    case 'ptr':
      return scalarBySize(size);
    case 'float':
      return t.size === 4 || t.size === 8 ? { kind: 'float', size: t.size } : { kind: 'bytes', size: t.size };
    case 'array': {
      if (t.nelems === 0) return { kind: 'bytes', size };
      const stride = btf.resolveSize(t.elemType);
      return { kind: 'array', length: t.nelems, stride, element: layoutOf(btf, t.elemType, stride) };
    }
    case 'struct':
    case 'union': {
      const members: { name: string; offset: number; layout: GlobalLayout }[] = [];
      for (const m of t.members) {
        // Bitfields and anonymous members are not addressable as whole bytes by name.
        if (m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0 || m.name === '') continue;
        members.push({ name: m.name, offset: m.bitOffset / 8, layout: layoutOf(btf, m.type, btf.resolveSize(m.type)) });
      }
      return { kind: 'struct', size: t.size, members };
    }
    default:
      return { kind: 'bytes', size };
  }
}

const isScalarSize = (n: number): n is 1 | 2 | 4 | 8 => n === 1 || n === 2 || n === 4 || n === 8;
const scalarBySize = (size: number): GlobalLayout => (isScalarSize(size) ? { kind: 'int', size, signed: false } : { kind: 'bytes', size });

/** One data section's variables, mapped. */
export interface GlobalSection {
  section: string;
  memory: MapMemory;
  variables: DataVariable[];
}

/** Build the globals object over the mapped sections. */
export function buildGlobals(sections: GlobalSection[], btf: Btf | null): { globals: Globals; info: GlobalVariableInfo[] } {
  const globals: Globals = Object.create(null);
  const info: GlobalVariableInfo[] = [];
  for (const s of sections) {
    const acc = new Access(s.memory, s.section);
    for (const v of s.variables) {
      if (v.name in globals) continue; // static variables of the same name in two sections: the first wins
      const layout = layoutOf(btf, v.btfTypeId, v.size);
      info.push({ name: v.name, section: s.section, offset: v.offset, size: v.size, readOnly: s.memory.readOnly, layout });
      acc.define(globals, v.name, v.offset, layout, v.name);
    }
  }
  return { globals, info };
}

/** A canonical array index ("0", "17"; not "01", "1.0", "-1") as a number, else -1. No allocation. */
function arrayIndex(p: string | symbol): number {
  if (typeof p !== 'string') return -1;
  const len = p.length;
  if (len === 0 || len > 15) return -1;
  let i = 0;
  for (let k = 0; k < len; k++) {
    const d = p.charCodeAt(k) - 48;
    if (d < 0 || d > 9 || (k === 0 && d === 0 && len > 1)) return -1;
    i = i * 10 + d;
  }
  return i;
}

interface Slot {
  get(): unknown;
  set(v: unknown): void;
}

/** Typed views of one mapped section and the accessors built on them. */
class Access {
  readonly #mem: MapMemory;
  readonly #section: string;
  readonly #dv: DataView;
  readonly #i8: Int8Array;
  readonly #u8: Uint8Array;
  readonly #i16: Int16Array;
  readonly #u16: Uint16Array;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;
  readonly #i64: BigInt64Array;
  readonly #u64: BigUint64Array;
  readonly #f32: Float32Array;
  readonly #f64: Float64Array;

  constructor(mem: MapMemory, section: string) {
    this.#mem = mem;
    this.#section = section;
    const b = mem.buffer;
    const n = mem.size; // a multiple of 8
    this.#dv = new DataView(b, 0, n);
    this.#i8 = new Int8Array(b, 0, n);
    this.#u8 = new Uint8Array(b, 0, n);
    this.#i16 = new Int16Array(b, 0, n / 2);
    this.#u16 = new Uint16Array(b, 0, n / 2);
    this.#i32 = new Int32Array(b, 0, n / 4);
    this.#u32 = new Uint32Array(b, 0, n / 4);
    this.#i64 = new BigInt64Array(b, 0, n / 8);
    this.#u64 = new BigUint64Array(b, 0, n / 8);
    this.#f32 = new Float32Array(b, 0, n / 4);
    this.#f64 = new Float64Array(b, 0, n / 8);
  }

  define(target: object, key: string, offset: number, layout: GlobalLayout, path: string): void {
    const slot = this.slot(offset, layout, path);
    Object.defineProperty(target, key, { get: slot.get, set: slot.set, enumerable: true, configurable: false });
  }

  /** A getter/setter pair for the value at `offset`. */
  slot(offset: number, layout: GlobalLayout, path: string): Slot {
    const mem = this.#mem;
    if (layout.kind === 'int' || layout.kind === 'bool' || layout.kind === 'float') {
      const read = this.#reader(offset, layout);
      const write = this.#writer(offset, layout, path);
      return {
        get: () => {
          if (!mem.valid) throw mem.closedError();
          return read();
        },
        set: (v: unknown) => {
          if (!mem.valid) throw mem.closedError();
          if (mem.readOnly) throw this.#readOnly(path);
          write(v);
        },
      };
    }
    if (layout.kind === 'bytes') {
      const size = layout.size;
      return {
        get: () => {
          if (!mem.valid) throw mem.closedError();
          return this.#u8.slice(offset, offset + size);
        },
        set: (v: unknown) => {
          if (!mem.valid) throw mem.closedError();
          if (mem.readOnly) throw this.#readOnly(path);
          if (!(v instanceof Uint8Array) || v.byteLength !== size) throw this.#valueError(path, v, `${size} bytes (a Uint8Array)`);
          this.#u8.set(v, offset);
        },
      };
    }
    const composite = layout.kind === 'array' ? (this.#typedArray(offset, layout) ?? this.#array(offset, layout, path)) : this.#struct(offset, layout, path);
    return {
      get: () => {
        if (!mem.valid) throw mem.closedError();
        return composite;
      },
      set: () => {
        throw new BpfError('USAGE', `global ${path} is ${layout.kind === 'array' ? 'an array' : 'a struct'}: assign its elements or members`);
      },
    };
  }

  /**
   * An array of aligned integers or floats in a writable section is a typed
   * array over the mapping itself: indexing is a plain element access (a
   * Proxy or accessor elements cost ~50× more in V8). It cannot throw CLOSED
   * by itself: once the map is closed its pages are anonymous zeroed memory,
   * so a reference kept past close() reads zeros and its writes go nowhere —
   * it never reaches the freed map or crashes; `collection.globals.x` throws
   * CLOSED. Read-only sections get the checked Proxy instead: a write through
   * a typed array over PROT_READ pages would crash the process.
   */
  #typedArray(offset: number, l: Extract<GlobalLayout, { kind: 'array' }>): GlobalArray | null {
    const e = l.element;
    if (this.#mem.readOnly || (e.kind !== 'int' && e.kind !== 'float') || l.stride !== e.size || offset % e.size !== 0) return null;
    const b = this.#mem.buffer;
    const n = l.length;
    if (e.kind === 'float') return e.size === 4 ? new Float32Array(b, offset, n) : new Float64Array(b, offset, n);
    switch (e.size) {
      case 1:
        return e.signed ? new Int8Array(b, offset, n) : new Uint8Array(b, offset, n);
      case 2:
        return e.signed ? new Int16Array(b, offset, n) : new Uint16Array(b, offset, n);
      case 4:
        return e.signed ? new Int32Array(b, offset, n) : new Uint32Array(b, offset, n);
      default:
        return e.signed ? new BigInt64Array(b, offset, n) : new BigUint64Array(b, offset, n);
    }
  }

  #struct(offset: number, layout: Extract<GlobalLayout, { kind: 'struct' }>, path: string): GlobalStruct {
    const obj: GlobalStruct = Object.create(null);
    for (const m of layout.members) this.define(obj, m.name, offset + m.offset, m.layout, `${path}.${m.name}`);
    return Object.freeze(obj);
  }

  #array(offset: number, layout: Extract<GlobalLayout, { kind: 'array' }>, path: string): GlobalArray {
    const mem = this.#mem;
    const n = layout.length;
    const slots: Slot[] = [];
    for (let i = 0; i < n; i++) slots.push(this.slot(offset + i * layout.stride, layout.element, `${path}[${i}]`));
    const index = arrayIndex;
    const outOfRange = (p: string) => new BpfError('KEY_SIZE', `global ${path} has ${n} elements: index ${p} is out of range`);
    const target = { length: n };
    return new Proxy(target, {
      get(_t, p) {
        const i = index(p);
        if (i >= 0) {
          if (i >= n) throw outOfRange(String(p));
          return slots[i]!.get();
        }
        if (p === 'length') return n;
        if (p === Symbol.iterator)
          return function* () {
            for (let k = 0; k < n; k++) yield slots[k]!.get();
          };
        if (!mem.valid) throw mem.closedError();
        return undefined;
      },
      set(_t, p, v) {
        const i = index(p);
        if (i < 0 || i >= n) throw outOfRange(String(p));
        slots[i]!.set(v);
        return true;
      },
      has(_t, p) {
        const i = index(p);
        return (i >= 0 && i < n) || p === 'length';
      },
      ownKeys() {
        return [...Array.from({ length: n }, (_, i) => String(i)), 'length'];
      },
      getOwnPropertyDescriptor(_t, p) {
        const i = index(p);
        if (i >= 0 && i < n) return { value: slots[i]!.get(), writable: !mem.readOnly, enumerable: true, configurable: true };
        if (p === 'length') return { value: n, writable: false, enumerable: false, configurable: false };
        return undefined;
      },
    }) as unknown as GlobalArray;
  }

  #reader(off: number, l: Extract<GlobalLayout, { kind: 'int' | 'bool' | 'float' }>): () => unknown {
    const dv = this.#dv;
    const le = LITTLE_ENDIAN;
    if (l.kind === 'bool') {
      const u8 = this.#u8;
      return () => u8[off] !== 0;
    }
    const size = l.size;
    const aligned = off % size === 0;
    if (l.kind === 'float') {
      if (size === 4) {
        const a = this.#f32;
        const i = off >> 2;
        return aligned ? () => a[i] : () => dv.getFloat32(off, le);
      }
      const a = this.#f64;
      const i = off >> 3;
      return aligned ? () => a[i] : () => dv.getFloat64(off, le);
    }
    const signed = l.signed;
    switch (size) {
      case 1: {
        const a = signed ? this.#i8 : this.#u8;
        return () => a[off];
      }
      case 2: {
        const a = signed ? this.#i16 : this.#u16;
        const i = off >> 1;
        if (!aligned) return signed ? () => dv.getInt16(off, le) : () => dv.getUint16(off, le);
        return () => a[i];
      }
      case 4: {
        const a = signed ? this.#i32 : this.#u32;
        const i = off >> 2;
        if (!aligned) return signed ? () => dv.getInt32(off, le) : () => dv.getUint32(off, le);
        return () => a[i];
      }
      default: {
        const a = signed ? this.#i64 : this.#u64;
        const i = off >> 3;
        if (!aligned) return signed ? () => dv.getBigInt64(off, le) : () => dv.getBigUint64(off, le);
        return () => a[i];
      }
    }
  }

  #writer(off: number, l: Extract<GlobalLayout, { kind: 'int' | 'bool' | 'float' }>, path: string): (v: unknown) => void {
    const dv = this.#dv;
    const le = LITTLE_ENDIAN;
    if (l.kind === 'bool') {
      const u8 = this.#u8;
      return (v) => {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw this.#valueError(path, v, 'a boolean');
        u8[off] = v ? 1 : 0;
      };
    }
    if (l.kind === 'float') {
      return l.size === 4
        ? (v) => {
            if (typeof v !== 'number') throw this.#valueError(path, v, 'a number');
            dv.setFloat32(off, v, le);
          }
        : (v) => {
            if (typeof v !== 'number') throw this.#valueError(path, v, 'a number');
            dv.setFloat64(off, v, le);
          };
    }
    const size = l.size;
    const signed = l.signed;
    if (size === 8) {
      const lo = signed ? -(1n << 63n) : 0n;
      const hi = signed ? 1n << 63n : 1n << 64n;
      return (v) => {
        const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : null;
        if (b === null || b < lo || b >= hi) throw this.#valueError(path, v, `a ${signed ? 'signed' : 'unsigned'} 64-bit integer (bigint)`);
        if (signed) dv.setBigInt64(off, b, le);
        else dv.setBigUint64(off, b, le);
      };
    }
    const bits = size * 8;
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    return (v) => {
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw this.#valueError(path, v, `an integer in ${min}..${max}`);
      if (size === 1) dv.setUint8(off, n & 0xff);
      else if (size === 2) dv.setUint16(off, n & 0xffff, le);
      else dv.setUint32(off, n >>> 0, le);
    };
  }

  #readOnly(path: string): BpfError {
    return new BpfError('READ_ONLY', `global ${path} is in ${this.#section}, frozen at load: set it with setGlobal('${path.split(/[.[]/)[0]}', …) on the spec before loading`);
  }

  #valueError(path: string, v: unknown, want: string): BpfError {
    return new BpfError('VALUE_SIZE', `global ${path} (${this.#section}): ${typeof v === 'bigint' ? `${v}n` : String(v)} is not ${want}`);
  }
}
