// Parser for a raw BTF blob (the .BTF ELF section, /sys/kernel/btf/*).
//
// Layout (Documentation/bpf/btf.rst): a btf_header, then a type section of
// variable-length btf_type records (type ids are implicit: the n-th record is
// id n, id 0 is void), then a string section of NUL-terminated strings that
// records reference by byte offset.
//
// vmlinux BTF holds ~150k types, and most callers touch a handful of them, so
// parsing is lazy: one pass records where each type starts (a Uint32Array),
// and a type is decoded (and validated) only when asked for, then cached.
// Name lookup hashes the names' bytes in place rather than decoding every
// name into a JS string.

import { BpfError } from '../errors.js';
import {
  BTF_KIND_ARRAY,
  BTF_KIND_CONST,
  BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG,
  BTF_KIND_ENUM,
  BTF_KIND_ENUM64,
  BTF_KIND_FLOAT,
  BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO,
  BTF_KIND_FWD,
  BTF_KIND_INT,
  BTF_KIND_MAX,
  BTF_KIND_NAMES,
  BTF_KIND_PTR,
  BTF_KIND_RESTRICT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPEDEF,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
  BTF_LINKAGES,
  type BtfKindName,
  type BtfType,
  type BtfVoid,
} from './kinds.js';
import { setRecordSizes, wasmScan, type WasmScan } from './scan-wasm.js';

export * from './kinds.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
/** sizeof(struct btf_header): magic, version, flags, hdr_len + 4 offsets/lengths. */
export const BTF_HEADER_SIZE = 24;
const TYPE_HEADER_SIZE = 12;

export interface ParseBtfOptions {
  /** Byte order; detected from the magic when omitted. */
  littleEndian?: boolean;
  /** Base BTF (vmlinux) when parsing split BTF (a kernel module's). */
  base?: Btf;
  /** Label that starts every error message, e.g. the object's path. */
  source?: string;
}

const VOID: BtfVoid = Object.freeze({ kind: 'void', id: 0, name: '' }) as BtfVoid;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** Bytes of trailing data each kind's btf_type is followed by. */
function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      return 4;
    case BTF_KIND_ARRAY:
      return 12;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_DATASEC:
    case BTF_KIND_ENUM64:
      return 12 * vlen;
    case BTF_KIND_ENUM:
    case BTF_KIND_FUNC_PROTO:
      return 8 * vlen;
    default:
      // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
      return 0;
  }
}

// extraSize as tables for the parse pass: bytes after the header are
// FIXED[kind] + PER_VLEN[kind] * vlen; FIXED is 255 for kinds that do not exist.
const CACHE_SHIFT = 8;
const CACHE_PAGE = 1 << CACHE_SHIFT;
const EXTRA_FIXED = new Uint8Array(32).fill(255);
const EXTRA_PER_VLEN = new Uint8Array(32);
for (let k = 1; k <= BTF_KIND_MAX; k++) {
  EXTRA_FIXED[k] = extraSize(k, 0);
  EXTRA_PER_VLEN[k] = extraSize(k, 1) - extraSize(k, 0);
}
setRecordSizes(EXTRA_FIXED, EXTRA_PER_VLEN);

/**
 * The parse pass over host-order words with no error reporting: records each
 * record's offset and name offset, returns the count, or -1 at the first
 * problem (the checked pass then says what it is). Small and monomorphic so
 * that V8 optimises it early: it runs once per process over vmlinux's ~130k records.
 */
function walkRecords(words: Uint32Array, start: number, end: number, offsets: Uint32Array, nameOffsets: Uint32Array): number {
  let n = 0;
  let off = start;
  while (off < end) {
    if (off + TYPE_HEADER_SIZE > end) return -1;
    const info = words[(off + 4) >>> 2]!;
    const kind = (info >>> 24) & 0x1f;
    const fixed = EXTRA_FIXED[kind]!;
    if (fixed === 255) return -1;
    const size = TYPE_HEADER_SIZE + fixed + EXTRA_PER_VLEN[kind]! * (info & 0xffff);
    if (off + size > end) return -1;
    nameOffsets[n] = words[off >>> 2]!;
    offsets[n++] = off;
    off += size;
  }
  return n;
}

/** Where the sections live; produced by parseBtf. */
/** The parsed sections a Btf is built from (parseBtf builds it; rarely needed directly). */
export interface BtfLayout {
  raw: Uint8Array;
  view: DataView;
  littleEndian: boolean;
  source: string;
  prefix: string;
  base: Btf | null;
  typeOffsets: Uint32Array;
  /** Each record's name_off, by local index (from the same pass as typeOffsets). */
  nameOffsets: Uint32Array;
  strStart: number;
  strLen: number;
  /** Builds the name index in WebAssembly (big base BTF; see scan-wasm.ts). */
  buildIndex?: WasmScan['buildIndex'];
  /** Every name offset points at the start of a string (none into the middle of another). */
  namesStartStrings?: boolean;
  /** Name search in WebAssembly (see scan-wasm.ts). */
  find?: WasmScan['find'];
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Name lookups answered by a linear scan before the name index is built. */
const SCANS_BEFORE_INDEX = 8;

export class Btf {
  /** The bytes parsed, unchanged: what gets handed to BPF_BTF_LOAD. */
  readonly raw: Uint8Array;
  readonly littleEndian: boolean;
  /** The label errors start with ('' when none was given). */
  readonly source: string;
  /** The base BTF for split BTF, else null. */
  readonly base: Btf | null;
  /** First type id this blob describes: 1 for base BTF (0 is void), base.count for split BTF. */
  readonly startId: number;
  /** Number of type ids, void included: valid ids are 0 … count-1. */
  readonly count: number;
  /** First string offset owned by this blob (base's string end for split BTF). */
  readonly stringStart: number;
  /** One past the last valid string offset. */
  readonly stringEnd: number;

  readonly #view: DataView;
  readonly #prefix: string;
  readonly #typeOffsets: Uint32Array;
  readonly #nameOffsets: Uint32Array;
  #buf: Buffer | null = null;
  #scans = 0;
  readonly #strStart: number;
  readonly #strLen: number;
  // Decoded types in pages of CACHE_PAGE, made on first use: vmlinux has
  // ~130k types and a load decodes a few hundred, and one array of them all
  // (1 MB, V8's large-object space) forced a full GC in every fresh process.
  readonly #cache: ((BtfType | undefined)[] | undefined)[];
  // Name index, built on the first lookup (see #nameIndex).
  /** Name index (see #nameIndex): bucket -> first local index + 1, chained by #nameNext (0 ends); #nameHash per index. */
  #nameHead: Int32Array | null = null;
  readonly #buildIndex: WasmScan['buildIndex'] | undefined;
  readonly #namesStartStrings: boolean;
  readonly #find: WasmScan['find'] | undefined;
  #nameNext: Int32Array | null = null;
  #nameHash: Uint32Array | null = null;

  /** @internal use parseBtf() */
  constructor(layout: BtfLayout) {
    this.raw = layout.raw;
    this.#view = layout.view;
    this.littleEndian = layout.littleEndian;
    this.source = layout.source;
    this.#prefix = layout.prefix;
    this.base = layout.base;
    this.#typeOffsets = layout.typeOffsets;
    this.#nameOffsets = layout.nameOffsets;
    this.#strStart = layout.strStart;
    this.#strLen = layout.strLen;
    this.#buildIndex = layout.buildIndex;
    this.#namesStartStrings = layout.namesStartStrings ?? false;
    this.#find = layout.find;
    this.startId = layout.base ? layout.base.count : 1;
    this.count = this.startId + layout.typeOffsets.length;
    this.stringStart = layout.base ? layout.base.stringEnd : 0;
    this.stringEnd = this.stringStart + layout.strLen;
    this.#cache = [];
  }

  #fail(msg: string): never {
    throw new BpfError('BTF_INVALID', this.#prefix + msg);
  }

  #u32(off: number): number {
    return this.#view.getUint32(off, this.littleEndian);
  }

  /** True when `offset` names a string of this BTF (or its base). */
  hasString(offset: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset < this.stringEnd;
  }

  /** The NUL-terminated string at `offset` in the string section. */
  stringAt(offset: number): string {
    if (offset < this.stringStart && this.base) return this.base.stringAt(offset);
    const local = offset - this.stringStart;
    if (!Number.isInteger(local) || local < 0 || local >= this.#strLen) {
      this.#fail(`string offset ${offset} past string section (${this.stringEnd} bytes)`);
    }
    const start = this.#strStart + local;
    // parseBtf checked the section ends in NUL, so this always finds one.
    const end = this.raw.indexOf(0, start);
    return end === start ? '' : utf8.decode(this.raw.subarray(start, end));
  }

  /**
   * The type with this id. Id 0 is `void` and yields a frozen
   * `{ kind: 'void', id: 0, name: '' }` rather than null, so callers can
   * switch on `kind` without a null check. Throws BpfError('BTF_INVALID') for
   * ids outside 0…count-1 and for records that do not decode.
   */
  typeById(id: number): BtfType {
    if (id === 0) return VOID;
    if (id < this.startId && this.base) return this.base.typeById(id);
    const idx = id - this.startId;
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.#typeOffsets.length) {
      this.#fail(`type id ${id} out of range (${this.count} types)`);
    }
    const page = (this.#cache[idx >>> CACHE_SHIFT] ??= []);
    return (page[idx & (CACHE_PAGE - 1)] ??= this.#decode(id, this.#typeOffsets[idx]!));
  }

  /** Byte offset of a type's record inside `raw` (for patching a copy of the blob). */
  recordOffset(id: number): number {
    const idx = id - this.startId;
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.#typeOffsets.length) {
      this.#fail(`type id ${id} out of range (${this.count} types)`);
    }
    return this.#typeOffsets[idx]!;
  }

  /** Kind of a type without decoding it (cheap; for scans over every id). */
  kindOf(id: number): BtfKindName {
    if (id === 0) return 'void';
    if (id < this.startId && this.base) return this.base.kindOf(id);
    const idx = id - this.startId;
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.#typeOffsets.length) {
      this.#fail(`type id ${id} out of range (${this.count} types)`);
    }
    return BTF_KIND_NAMES[(this.#u32(this.#typeOffsets[idx]! + 4) >>> 24) & 0x1f]!;
  }

  /** Every type this blob defines (not the base's), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.startId; id < this.count; id++) yield this.typeById(id);
  }

  #ref(owner: number, id: number): number {
    if (id >= this.count) this.#fail(`type [${owner}] refers to type id ${id} out of range (${this.count} types)`);
    return id;
  }

  #name(owner: number, offset: number): string {
    if (offset >= this.stringEnd) {
      this.#fail(`type [${owner}] name offset ${offset} past string section (${this.stringEnd} bytes)`);
    }
    return this.stringAt(offset);
  }

  #decode(id: number, off: number): BtfType {
    const le = this.littleEndian;
    const v = this.#view;
    const name = this.#name(id, v.getUint32(off, le));
    const info = v.getUint32(off + 4, le);
    const sizeOrType = v.getUint32(off + 8, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const p = off + TYPE_HEADER_SIZE;

    switch (kind) {
      case BTF_KIND_INT: {
        const data = v.getUint32(p, le);
        const enc = (data >>> 24) & 0x0f;
        const bitOffset = (data >>> 16) & 0xff;
        const bits = data & 0xff;
        // The kernel's checks: power-of-two size up to 16, bits fit the size and 128.
        if (![1, 2, 4, 8, 16].includes(sizeOrType) || bits > 128 || (bits + 7) >> 3 > sizeOrType || bitOffset + bits > 128) {
          this.#fail(`type [${id}] INT '${name}' has size ${sizeOrType}, bit offset ${bitOffset}, ${bits} bits`);
        }
        return {
          kind: 'int',
          id,
          name,
          size: sizeOrType,
          encoding: { signed: (enc & 1) !== 0, char: (enc & 2) !== 0, bool: (enc & 4) !== 0 },
          bitOffset,
          bits,
        };
      }
      case BTF_KIND_PTR:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
        return {
          kind: BTF_KIND_NAMES[kind] as 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag',
          id,
          name,
          type: this.#ref(id, sizeOrType),
        };
      case BTF_KIND_ARRAY:
        return {
          kind: 'array',
          id,
          name,
          elemType: this.#ref(id, v.getUint32(p, le)),
          indexType: this.#ref(id, v.getUint32(p + 4, le)),
          nelems: v.getUint32(p + 8, le),
        };
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        const members = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          const offset = v.getUint32(q + 8, le);
          members[i] = {
            name: this.#name(id, v.getUint32(q, le)),
            type: this.#ref(id, v.getUint32(q + 4, le)),
            // With kind_flag the top 8 bits carry the bitfield width.
            bitOffset: kflag ? offset & 0xffffff : offset,
            bitfieldSize: kflag ? offset >>> 24 : 0,
          };
        }
        return { kind: kind === BTF_KIND_STRUCT ? 'struct' : 'union', id, name, size: sizeOrType, members };
      }
      case BTF_KIND_ENUM: {
        const values = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 8) {
          values[i] = {
            name: this.#name(id, v.getUint32(q, le)),
            value: kflag ? v.getInt32(q + 4, le) : v.getUint32(q + 4, le),
          };
        }
        return { kind: 'enum', id, name, size: sizeOrType, signed: kflag, values };
      }
      case BTF_KIND_ENUM64: {
        const values = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          const u = (BigInt(v.getUint32(q + 8, le)) << 32n) | BigInt(v.getUint32(q + 4, le));
          values[i] = { name: this.#name(id, v.getUint32(q, le)), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        return { kind: 'enum64', id, name, size: sizeOrType, signed: kflag, values };
      }
      case BTF_KIND_FWD:
        return { kind: 'fwd', id, name, isUnion: kflag };
      case BTF_KIND_FUNC: {
        // FUNC keeps its linkage in vlen.
        const linkage = BTF_LINKAGES[vlen];
        if (!linkage) this.#fail(`type [${id}] FUNC '${name}' has unknown linkage ${vlen}`);
        return { kind: 'func', id, name, type: this.#ref(id, sizeOrType), linkage };
      }
      case BTF_KIND_FUNC_PROTO: {
        const params = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 8) {
          params[i] = { name: this.#name(id, v.getUint32(q, le)), type: this.#ref(id, v.getUint32(q + 4, le)) };
        }
        return { kind: 'func_proto', id, name, returnType: this.#ref(id, sizeOrType), params };
      }
      case BTF_KIND_VAR: {
        const raw = v.getUint32(p, le);
        const linkage = BTF_LINKAGES[raw];
        if (!linkage) this.#fail(`type [${id}] VAR '${name}' has unknown linkage ${raw}`);
        return { kind: 'var', id, name, type: this.#ref(id, sizeOrType), linkage };
      }
      case BTF_KIND_DATASEC: {
        const vars = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          vars[i] = {
            type: this.#ref(id, v.getUint32(q, le)),
            offset: v.getUint32(q + 4, le),
            size: v.getUint32(q + 8, le),
          };
        }
        return { kind: 'datasec', id, name, size: sizeOrType, vars };
      }
      case BTF_KIND_FLOAT:
        return { kind: 'float', id, name, size: sizeOrType };
      case BTF_KIND_DECL_TAG:
        return { kind: 'decl_tag', id, name, type: this.#ref(id, sizeOrType), componentIdx: v.getInt32(p, le) };
      default:
        // parseBtf rejects unknown kinds; unreachable unless the bytes changed underneath.
        this.#fail(`type [${id}] has unknown kind ${kind}`);
    }
  }

  /**
   * Size in bytes of a type, as the compiler lays it out: follows typedefs,
   * modifiers, type tags, VARs and DECL_TAGs; arrays multiply; pointers are 8
   * (BPF is 64-bit). Throws BpfError('BTF_INVALID') for sizeless kinds (void,
   * fwd, func, func_proto), reference loops, and sizes beyond 4 GiB.
   */
  resolveSize(id: number): number {
    let mult = 1;
    // Each step moves to another id, so more steps than ids means a loop.
    for (let steps = 0; steps <= this.count; steps++) {
      const t = this.typeById(id);
      switch (t.kind) {
        case 'int':
        case 'enum':
        case 'enum64':
        case 'struct':
        case 'union':
        case 'datasec':
        case 'float':
          return this.#checkSize(id, mult * t.size);
        case 'ptr':
          return this.#checkSize(id, mult * 8);
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
        case 'var':
        case 'decl_tag':
          id = t.type;
          break;
        case 'array':
          mult *= t.nelems;
          if (mult > 0xffffffff) this.#fail(`type [${t.id}] array size overflows`);
          id = t.elemType;
          break;
        default:
          this.#fail(`type [${t.id}] ${t.kind.toUpperCase()} '${t.name}' has no size`);
      }
    }
    this.#fail(`type [${id}] is part of a reference loop`);
  }

  #checkSize(id: number, size: number): number {
    if (size > 0xffffffff) this.#fail(`type [${id}] size ${size} overflows`);
    return size;
  }

  /** Follows typedef/const/volatile/restrict/type_tag to the id underneath. */
  skipQualifiers(id: number): number {
    for (let steps = 0; steps <= this.count; steps++) {
      const t = this.typeById(id);
      switch (t.kind) {
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
          id = t.type;
          break;
        default:
          return id;
      }
    }
    this.#fail(`type [${id}] is part of a reference loop`);
  }

  /**
   * First type (lowest id, base BTF first) named `name`, optionally of one
   * kind. Anonymous types are never found: findByName('') is undefined.
   */
  findByName(name: string, kind?: BtfKindName): BtfType | undefined {
    const fromBase = this.base?.findByName(name, kind);
    if (fromBase) return fromBase;
    let best = -1;
    this.#forEachNamed(name, (idx) => {
      if ((best === -1 || idx < best) && (kind === undefined || this.kindOf(this.startId + idx) === kind)) best = idx;
    });
    return best === -1 ? undefined : this.typeById(this.startId + best);
  }

  /** Every type named `name` (base BTF's first), in id order. */
  findAllByName(name: string, kind?: BtfKindName): BtfType[] {
    const out = this.base ? this.base.findAllByName(name, kind) : [];
    const idxs: number[] = [];
    this.#forEachNamed(name, (idx) => {
      if (kind === undefined || this.kindOf(this.startId + idx) === kind) idxs.push(idx);
    });
    idxs.sort((a, b) => a - b);
    for (const idx of idxs) out.push(this.typeById(this.startId + idx));
    return out;
  }

  /** Calls fn with the local index of every own type named `name`, in id order. */
  #forEachNamed(name: string, fn: (idx: number) => void): void {
    if (name === '' || name.includes('\0')) return;
    const needle = utf8Encoder.encode(name);
    // A load asks for a handful of names: scanning the records' name offsets
    // costs less than hashing every name of vmlinux. Many lookups pay for the index.
    if (!this.#nameHead && this.#scans < SCANS_BEFORE_INDEX) {
      this.#scans++;
      const found = this.#find?.(needle);
      if (found) {
        for (const idx of found) fn(idx);
        return;
      }
      if (!this.#searchNamed(needle, fn)) this.#scanNamed(needle, fn);
      return;
    }
    const head = this.#nameIndex();
    const next = this.#nameNext!;
    const hashes = this.#nameHash!;
    const h = fnv1a(needle, 0, needle.length);
    // A bucket holds every name whose hash lands there; compare hash, then bytes.
    // No chain is longer than the types: a longer one is a corrupt index, never a hang.
    let steps = this.#typeOffsets.length;
    for (let e = head[h & (head.length - 1)]!; e !== 0; e = next[e - 1]!) {
      if (steps-- === 0) this.#fail(`the name index of ${name} loops (corrupt index)`);
      const idx = e - 1;
      if (hashes[idx] === h && this.#nameEquals(this.#nameOffsets[idx]!, needle)) fn(idx);
    }
  }

  /**
   * Name lookup without a JS loop over the records, for a fresh process where
   * such loops run unoptimised: find `name\0` in the string section (native
   * search), then each such string offset among the records' name offsets
   * (a native indexOf over a Uint32Array). False when it cannot answer
   * cheaply (split BTF, whose names may live in the base; a name that ends
   * many strings).
   */
  #searchNamed(needle: Uint8Array, fn: (idx: number) => void): boolean {
    if (this.base) return false;
    const buf = (this.#buf ??= Buffer.from(this.raw.buffer, this.raw.byteOffset, this.raw.byteLength));
    const pat = Buffer.alloc(needle.length + 1);
    pat.set(needle);
    const strEnd = this.#strStart + this.#strLen;
    const nameOffs: number[] = [];
    for (let p = buf.indexOf(pat, this.#strStart); p !== -1 && p + pat.length <= strEnd; p = buf.indexOf(pat, p + 1)) {
      // Any byte position can be a name offset (a suffix of a longer string
      // included), unless the parse pass found every name at a string's start.
      if (this.#namesStartStrings && buf[p - 1] !== 0) continue;
      if (nameOffs.length === 8) return false;
      nameOffs.push(p - this.#strStart);
    }
    const names = this.#nameOffsets;
    const found: number[] = [];
    for (const nameOff of nameOffs) {
      for (let idx = names.indexOf(nameOff); idx !== -1; idx = names.indexOf(nameOff, idx + 1)) found.push(idx);
    }
    if (nameOffs.length > 1) found.sort((x, y) => x - y);
    for (const idx of found) fn(idx);
    return true;
  }

  /** One pass over the records' name offsets comparing name bytes in place (first byte, then all), in id order. */
  #scanNamed(needle: Uint8Array, fn: (idx: number) => void): void {
    const names = this.#nameOffsets;
    const raw = this.raw;
    const first = needle[0]!;
    const own = this.stringStart;
    const end = this.stringEnd;
    const delta = this.#strStart - own;
    for (let idx = 0; idx < names.length; idx++) {
      const nameOff = names[idx]!;
      // Anonymous, or invalid (decoding that type will report it).
      if (nameOff === 0 || nameOff >= end) continue;
      if (nameOff >= own && raw[delta + nameOff] !== first) continue;
      if (this.#nameEquals(nameOff, needle)) fn(idx);
    }
  }

  /**
   * Name index: hash of the name's bytes -> first local index, next[] chains
   * the rest in id order. Hashing the string section's bytes in place avoids
   * decoding ~100k names into JS strings just to look a few of them up.
   */
  #nameIndex(): Int32Array {
    if (this.#nameHead) return this.#nameHead;
    if (this.#buildIndex) {
      const ix = this.#buildIndex(this.#strStart, this.#strLen);
      this.#nameNext = ix.next;
      this.#nameHash = ix.hashes;
      return (this.#nameHead = ix.head);
    }
    const offs = this.#typeOffsets;
    // Buckets in a typed array (a power of two, at least twice the types): a
    // JS Map of ~100k entries for vmlinux cost most of a CO-RE load's time.
    let buckets = 16;
    while (buckets < offs.length * 2) buckets *= 2;
    const mask = buckets - 1;
    const head = new Int32Array(buckets);
    const next = new Int32Array(offs.length);
    const hashes = new Uint32Array(offs.length);
    // Walk backwards so each chain comes out in ascending id order.
    const names = this.#nameOffsets;
    for (let idx = offs.length - 1; idx >= 0; idx--) {
      const nameOff = names[idx]!;
      // Anonymous, or invalid (decoding that type will report it).
      if (nameOff === 0 || nameOff >= this.stringEnd) continue;
      let bytes = this.raw;
      let i = this.#strStart + nameOff - this.stringStart;
      if (nameOff < this.stringStart) [bytes, i] = this.#stringBytes(nameOff);
      // FNV-1a up to the NUL, inlined: this loop runs for every named type.
      let h = 0x811c9dc5;
      for (let c = bytes[i]!; c !== 0; c = bytes[++i]!) h = Math.imul(h ^ c, 0x01000193);
      h >>>= 0;
      hashes[idx] = h;
      next[idx] = head[h & mask]!;
      head[h & mask] = idx + 1;
    }
    this.#nameNext = next;
    this.#nameHash = hashes;
    return (this.#nameHead = head);
  }

  /** The blob holding string `offset` (this one or a base) and where in it the string starts. */
  #stringBytes(offset: number): [Uint8Array, number] {
    if (offset < this.stringStart && this.base) return this.base.#stringBytes(offset);
    return [this.raw, this.#strStart + offset - this.stringStart];
  }

  #nameEquals(offset: number, needle: Uint8Array): boolean {
    const [bytes, start] = this.#stringBytes(offset);
    // Strings end in NUL (checked at parse), so `needle.length` bytes plus the
    // terminator are always readable when the bytes match up to there.
    for (let i = 0; i < needle.length; i++) if (bytes[start + i] !== needle[i]) return false;
    return bytes[start + needle.length] === 0;
  }
}

/** 32-bit FNV-1a over bytes[start, end); #nameIndex inlines the same hash. */
function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Parses a BTF blob. Validates the header and walks the type section once to
 * locate every record (rejecting unknown kinds and records that run past the
 * section); the records themselves are decoded and checked on first use.
 * Every problem throws BpfError('BTF_INVALID') naming `opts.source`.
 */
export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const prefix = opts.source ? `${opts.source}: .BTF: ` : '.BTF: ';
  const fail: (msg: string) => never = (msg) => {
    throw new BpfError('BTF_INVALID', prefix + msg);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array');
  if (bytes.length < BTF_HEADER_SIZE) fail(`truncated header (${bytes.length} bytes, need ${BTF_HEADER_SIZE})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let le: boolean;
  const magicLE = view.getUint16(0, true);
  if (opts.littleEndian !== undefined) {
    le = opts.littleEndian;
    if (view.getUint16(0, le) !== BTF_MAGIC) {
      fail(`bad magic 0x${view.getUint16(0, le).toString(16)} for ${le ? 'little' : 'big'}-endian BTF`);
    }
  } else if (magicLE === BTF_MAGIC) le = true;
  else if (view.getUint16(0, false) === BTF_MAGIC) le = false;
  else fail(`bad magic 0x${magicLE.toString(16)} (want 0xeb9f)`);

  const version = view.getUint8(2);
  if (version !== BTF_VERSION) fail(`unsupported version ${version}`);
  const hdrLen = view.getUint32(4, le);
  if (hdrLen < BTF_HEADER_SIZE) fail(`header length ${hdrLen} below ${BTF_HEADER_SIZE}`);
  if (hdrLen > bytes.length) fail(`header length ${hdrLen} past end of data (${bytes.length} bytes)`);
  const typeOff = view.getUint32(8, le);
  const typeLen = view.getUint32(12, le);
  const strOff = view.getUint32(16, le);
  const strLen = view.getUint32(20, le);
  // Offsets count from the end of the header.
  const typeStart = hdrLen + typeOff;
  const typeEnd = typeStart + typeLen;
  const strStart = hdrLen + strOff;
  const strEnd = strStart + strLen;
  if (typeEnd > bytes.length) {
    fail(`type section ${typeOff}+${typeLen} past end of data (${bytes.length - hdrLen} bytes after header)`);
  }
  if (strEnd > bytes.length) {
    fail(`string section ${strOff}+${strLen} past end of data (${bytes.length - hdrLen} bytes after header)`);
  }
  if (typeStart < strEnd && strStart < typeEnd && typeLen > 0 && strLen > 0) fail('type and string sections overlap');
  if (strLen === 0) {
    if (!opts.base) fail('empty string section');
  } else {
    if (bytes[strEnd - 1] !== 0) fail('string section does not end in NUL');
    // Offset 0 must be the empty string: anonymous types use it.
    if (!opts.base && bytes[strStart] !== 0) fail('string section does not start with NUL');
  }

  // Big base BTF (vmlinux): the pass in WebAssembly, the blob in its memory.
  const scan = !opts.base && le && HOST_LE ? wasmScan(bytes, typeStart, typeEnd, strStart, strLen) : null;
  if (scan) {
    return new Btf({
      raw: scan.raw,
      view: scan.raw === bytes ? view : new DataView(scan.raw.buffer, scan.raw.byteOffset, scan.raw.byteLength),
      littleEndian: le,
      source: opts.source ?? '',
      prefix,
      base: null,
      typeOffsets: scan.typeOffsets,
      nameOffsets: scan.nameOffsets,
      strStart,
      strLen,
      buildIndex: scan.buildIndex,
      namesStartStrings: scan.namesStartStrings,
      find: scan.find,
    });
  }

  // One pass: the byte offset of each record. A record is at least 12 bytes.
  // Read through 32-bit words when the blob allows it (vmlinux: ~130k records).
  const words = le === HOST_LE && (bytes.byteOffset & 3) === 0 && (typeStart & 3) === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2) : null;
  const offsets = new Uint32Array(Math.floor(typeLen / TYPE_HEADER_SIZE));
  const nameOffsets = new Uint32Array(offsets.length);
  let n = words ? walkRecords(words, typeStart, typeEnd, offsets, nameOffsets) : -1;
  // The checked pass: blobs not in host order or alignment, and to name what is wrong.
  if (n < 0) {
    n = 0;
    const firstId = opts.base ? opts.base.count : 1;
    for (let off = typeStart; off < typeEnd;) {
      if (off + TYPE_HEADER_SIZE > typeEnd) {
        fail(`type [${firstId + n}] header at type section offset ${off - typeStart} runs past the end (${typeLen} bytes)`);
      }
      const info = view.getUint32(off + 4, le);
      const kind = (info >>> 24) & 0x1f;
      if (kind === 0 || kind > BTF_KIND_MAX) fail(`type [${firstId + n}] has unknown kind ${kind}`);
      const size = TYPE_HEADER_SIZE + extraSize(kind, info & 0xffff);
      if (off + size > typeEnd) {
        fail(`type [${firstId + n}] ${BTF_KIND_NAMES[kind]!.toUpperCase()} with vlen ${info & 0xffff} runs past the end of the type section (${typeLen} bytes)`);
      }
      nameOffsets[n] = view.getUint32(off, le);
      offsets[n++] = off;
      off += size;
    }
  }

  return new Btf({
    raw: bytes,
    view,
    littleEndian: le,
    source: opts.source ?? '',
    prefix,
    base: opts.base ?? null,
    typeOffsets: n === offsets.length ? offsets : offsets.slice(0, n),
    nameOffsets: n === offsets.length ? nameOffsets : nameOffsets.slice(0, n),
    strStart,
    strLen,
  });
}
