// The two loops over every record of a big BTF blob (vmlinux: ~130k types,
// ~5 MB), as a tiny WebAssembly module: the parse pass that finds where each
// record starts, and the name index (FNV-1a of each name, chained per
// bucket). A process that loads one object runs each loop once, so in
// JavaScript they run mostly unoptimised (~15 ms for the walk alone); the
// same loops compiled by the wasm baseline compiler take about a millisecond.
// The blob lives in the module's memory, where the loops can read it, and the
// results are typed-array views of that memory: nothing is copied back.
//
// Used for large little-endian base BTF on little-endian hosts only; anything
// else (split BTF, foreign byte order, no WebAssembly, e.g. --jitless) takes
// the JavaScript path in btf.ts, which also reports every error.

// ---------------------------------------------------------------- the module
// Hand-assembled: two functions over an imported memory. Opcodes by name.

const I32 = 0x7f;
const op = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, brIf: 0x0d, ret: 0x0f,
  get: 0x20, set: 0x21, tee: 0x22,
  load: 0x28, load8u: 0x2d, store: 0x36,
  const: 0x41, eqz: 0x45, eq: 0x46, gtU: 0x4b, leU: 0x4d, geU: 0x4f,
  add: 0x6a, sub: 0x6b, mul: 0x6c, and: 0x71, xor: 0x73, shl: 0x74, shrU: 0x76,
} as const;
const VOID_BLOCK = 0x40;

/** Signed LEB128 (i32.const operands). */
function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}
/** Unsigned LEB128 (sizes, counts, memarg offsets). */
function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}
const i32 = (v: number) => [op.const, ...sleb(v | 0)];
const get = (l: number) => [op.get, l];
const set = (l: number) => [op.set, l];
const tee = (l: number) => [op.tee, l];
/** 32-bit load/store (alignment hint 4) and byte load, with a constant offset. */
const load = (offset = 0) => [op.load, 2, ...uleb(offset)];
const store = (offset = 0) => [op.store, 2, ...uleb(offset)];
const load8u = (offset = 0) => [op.load8u, 0, ...uleb(offset)];
/** address of element `idx` (a local) of the u32 array at `base` (a local). */
const elem = (base: number, idx: number) => [...get(base), ...get(idx), ...i32(2), op.shl, op.add];

// Memory layout: bytes 0-31 each kind's fixed trailing size (255: no such
// kind), 32-63 its size per vlen entry, 64-67 walk's count of names that do
// not start a string; the blob and the arrays follow from byte 128.
const TABLES = 128;
const ODD_NAMES = 64;

/**
 * walk(start, end, base, offs, names, strBase, strLen) -> n, or -1 at the
 * first record that has an unknown kind or runs past `end`. Stores each
 * record's offset from `base` in offs[] and its name_off in names[], and
 * counts at ODD_NAMES the name offsets that are not 0 and do not point just
 * past a NUL of the string section (a suffix of another string, or invalid).
 */
function walkBody(): number[] {
  const [start, end, base, offs, names, strBase, strLen, n, off, info, kind, fixed, size, nameOff] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  return [
    1, 7, I32, // seven i32 locals
    ...get(start), ...set(off),
    op.block, VOID_BLOCK, // fail
    op.block, VOID_BLOCK, // done
    op.loop, VOID_BLOCK,
    ...get(off), ...get(end), op.geU, op.brIf, 1,
    ...get(off), ...i32(12), op.add, ...get(end), op.gtU, op.brIf, 2,
    ...get(off), ...load(4), ...tee(info),
    ...i32(24), op.shrU, ...i32(31), op.and, ...tee(kind),
    ...load8u(0), ...tee(fixed), ...i32(255), op.eq, op.brIf, 2,
    ...i32(12), ...get(fixed), op.add,
    ...get(kind), ...load8u(32), ...get(info), ...i32(0xffff), op.and, op.mul, op.add, ...set(size),
    ...get(off), ...get(size), op.add, ...get(end), op.gtU, op.brIf, 2,
    ...elem(names, n), ...get(off), ...load(0), ...tee(nameOff), ...store(0),
    // odd: nameOff != 0 && (nameOff >= strLen || byte before it != 0)
    op.block, VOID_BLOCK,
    ...get(nameOff), op.eqz, op.brIf, 0,
    op.block, VOID_BLOCK,
    ...get(nameOff), ...get(strLen), op.geU, op.brIf, 0,
    ...get(strBase), ...get(nameOff), op.add, ...i32(1), op.sub, ...load8u(0), op.eqz, op.brIf, 1,
    op.end,
    ...i32(0), ...i32(0), ...load(ODD_NAMES), ...i32(1), op.add, ...store(ODD_NAMES),
    op.end,
    ...elem(offs, n), ...get(off), ...get(base), op.sub, ...store(0),
    ...get(n), ...i32(1), op.add, ...set(n),
    ...get(off), ...get(size), op.add, ...set(off),
    op.br, 0,
    op.end,
    op.end,
    ...get(n), op.ret,
    op.end,
    ...i32(-1),
    op.end,
  ];
}

/**
 * index(count, names, strBase, strLen, head, next, hashes, mask): for each
 * record from the last to the first whose name_off is in 1..strLen-1, hash
 * the NUL-terminated name at strBase+name_off into hashes[idx], and push
 * idx+1 on bucket head[hash & mask] (next[] chains; 0 ends a chain), so each
 * chain comes out in ascending id order.
 */
function indexBody(): number[] {
  const [from, to, names, strBase, strLen, head, next, hashes, mask, idx, nameOff, p, h, c, slot] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  return [
    1, 6, I32,
    ...get(to), ...set(idx),
    op.block, VOID_BLOCK,
    op.loop, VOID_BLOCK,
    ...get(idx), ...get(from), op.leU, op.brIf, 1,
    ...get(idx), ...i32(1), op.sub, ...set(idx),
    ...elem(names, idx), ...load(0), ...tee(nameOff), op.eqz, op.brIf, 0,
    ...get(nameOff), ...get(strLen), op.geU, op.brIf, 0,
    ...get(strBase), ...get(nameOff), op.add, ...set(p),
    ...i32(0x811c9dc5), ...set(h),
    op.block, VOID_BLOCK,
    op.loop, VOID_BLOCK,
    ...get(p), ...load8u(0), ...tee(c), op.eqz, op.brIf, 1,
    ...get(h), ...get(c), op.xor, ...i32(0x01000193), op.mul, ...set(h),
    ...get(p), ...i32(1), op.add, ...set(p),
    op.br, 0,
    op.end,
    op.end,
    ...elem(hashes, idx), ...get(h), ...store(0),
    ...get(head), ...get(h), ...get(mask), op.and, ...i32(2), op.shl, op.add, ...set(slot),
    ...elem(next, idx), ...get(slot), ...load(0), ...store(0),
    ...get(slot), ...get(idx), ...i32(1), op.add, ...store(0),
    op.br, 0,
    op.end,
    op.end,
    op.end,
  ];
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const sized = (body: number[]) => [...uleb(body.length), ...body];

function moduleBytes(): Uint8Array {
  const funcType = (params: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(I32), 1, I32];
  const voidType = (params: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(I32), 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([funcType(7), voidType(9)])),
    // import "e" "m": a memory of at least one page
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('walk'), 0x00, 0x00], [...name('index'), 0x00, 0x01]])),
    ...section(10, vec([sized(walkBody()), sized(indexBody())])),
  ]);
}

// ---------------------------------------------------------------- the API

// The few WebAssembly globals used (the compiler's lib here has no DOM types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface Exports {
  walk(start: number, end: number, base: number, offs: number, names: number, strBase: number, strLen: number): number;
  index(from: number, to: number, names: number, strBase: number, strLen: number, head: number, next: number, hashes: number, mask: number): void;
}

interface Arena {
  memory: WasmMemory;
  fns: Exports;
  /** Capacity for a blob of this many bytes. */
  size: number;
  /** Where the blob starts, and where each result array can start (sized for the most records a blob of `size` can hold). */
  blob: number;
  offs: number;
  names: number;
  hashes: number;
  next: number;
  head: number;
  maxRecords: number;
}

/** Blobs smaller than this parse fast enough in JavaScript. */
export const WASM_MIN_BYTES = 512 * 1024;
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const PAGE = 65536;
const INDEX_SLICE = 2048;

let compiled: object | null | undefined;
const arenas = new WeakMap<ArrayBufferLike, Arena>();

function wasmModule(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = HOST_LE && wasm ? new wasm.Module(moduleBytes()) : null;
  } catch {
    compiled = null; // no WebAssembly (--jitless) or it refused: the JS path
  }
  return compiled;
}

const align8 = (n: number) => (n + 7) & ~7;

function bucketsFor(records: number): number {
  let b = 16;
  while (b < records * 2) b *= 2;
  return b;
}

function newArena(size: number): Arena | null {
  const mod = wasmModule();
  if (!mod) return null;
  // A record is at least 12 bytes: at most size/12 of them.
  const maxRecords = Math.floor(size / 12) + 1;
  const blob = TABLES;
  const offs = align8(blob + size);
  const names = offs + 4 * maxRecords;
  const hashes = names + 4 * maxRecords;
  const next = hashes + 4 * maxRecords;
  const head = next + 4 * maxRecords;
  const total = head + 4 * bucketsFor(maxRecords);
  if (total > 0x7fff0000) return null;
  try {
    // Pages never touched cost no memory: the arrays are sized for the worst case.
    const memory = new wasm!.Memory({ initial: Math.ceil(total / PAGE) });
    const fns = new wasm!.Instance(mod, { e: { m: memory } }).exports as Exports;
    const a: Arena = { memory, fns, size, blob, offs, names, hashes, next, head, maxRecords };
    arenas.set(memory.buffer, a);
    return a;
  } catch {
    return null;
  }
}

/**
 * A buffer for a BTF blob of `size` bytes that parseBtf can scan in place
 * (the reader of vmlinux fills it straight from the file); a plain
 * Uint8Array when the fast path does not apply.
 */
export function btfBuffer(size: number): Uint8Array {
  const a = size >= WASM_MIN_BYTES ? newArena(size) : null;
  return a ? new Uint8Array(a.memory.buffer, a.blob, size) : new Uint8Array(size);
}

export interface WasmScan {
  /** The blob as the Btf keeps it: `bytes` itself, or its copy in the module's memory. */
  raw: Uint8Array;
  typeOffsets: Uint32Array;
  nameOffsets: Uint32Array;
  /** Every non-zero name offset points just past a NUL: a name's bytes are found only where a string starts. */
  namesStartStrings: boolean;
  /** Builds the name index (see Btf): bucket heads and chains hold index+1, 0 ends a chain. */
  buildIndex(strStart: number, strLen: number): { head: Int32Array; next: Int32Array; hashes: Uint32Array };
}

/**
 * The parse pass over a little-endian base BTF blob in WebAssembly. Null
 * when it does not apply or a record is malformed: the caller then runs the
 * JavaScript pass, which names the problem.
 */
export function wasmScan(bytes: Uint8Array, typeStart: number, typeEnd: number, strStart: number, strLen: number): WasmScan | null {
  if (bytes.byteLength < WASM_MIN_BYTES) return null;
  let a = arenas.get(bytes.buffer);
  let raw = bytes;
  if (!a || bytes.byteOffset !== a.blob || bytes.byteLength > a.size) {
    a = newArena(bytes.byteLength) ?? undefined;
    if (!a) return null;
    raw = new Uint8Array(a.memory.buffer, a.blob, bytes.byteLength);
    raw.set(bytes);
  }
  const mem = new Uint8Array(a.memory.buffer);
  for (let k = 0; k < 32; k++) {
    mem[k] = EXTRA_FIXED[k]!;
    mem[32 + k] = EXTRA_PER_VLEN[k]!;
  }
  const words = new Uint32Array(a.memory.buffer, 0, TABLES / 4);
  words[ODD_NAMES / 4] = 0;
  const n = a.fns.walk(a.blob + typeStart, a.blob + typeEnd, a.blob, a.offs, a.names, a.blob + strStart, strLen);
  if (n < 0 || n > a.maxRecords) return null;
  const arena = a;
  const buf = a.memory.buffer;
  return {
    raw,
    typeOffsets: new Uint32Array(buf, a.offs, n),
    nameOffsets: new Uint32Array(buf, a.names, n),
    namesStartStrings: words[ODD_NAMES / 4] === 0,
    buildIndex(strStart, strLen) {
      const buckets = bucketsFor(n);
      // Fresh pages read as zero: every bucket starts empty.
      // In slices, from the last record down: a call that runs long stays in
      // the baseline tier, later calls get the optimised code.
      for (let to = n; to > 0; to -= INDEX_SLICE) {
        arena.fns.index(Math.max(0, to - INDEX_SLICE), to, arena.names, arena.blob + strStart, strLen, arena.head, arena.next, arena.hashes, buckets - 1);
      }
      return {
        head: new Int32Array(buf, arena.head, buckets),
        next: new Int32Array(buf, arena.next, n),
        hashes: new Uint32Array(buf, arena.hashes, n),
      };
    },
  };
}

// Filled in by btf.ts (its kind tables), so both passes agree on record sizes.
const EXTRA_FIXED = new Uint8Array(32);
const EXTRA_PER_VLEN = new Uint8Array(32);

/** @internal btf.ts hands over its record-size tables once. */
export function setRecordSizes(fixed: Uint8Array, perVlen: Uint8Array): void {
  EXTRA_FIXED.set(fixed);
  EXTRA_PER_VLEN.set(perVlen);
}
