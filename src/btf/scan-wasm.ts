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
// Assembled by scan-wasm-source.ts (the functions, opcode by opcode, with
// what each does); a test checks these bytes are what it produces. Embedded
// rather than assembled at run time: building it cold cost ~2 ms per process.

// Memory layout: bytes 0-31 each kind's fixed trailing size (255: no such
// kind), 32-63 its size per vlen entry, 64-67 walk's count of names that do
// not start a string; find's needle and results next; the blob and the
// arrays from byte TABLES on.
export const ODD_NAMES = 64;
export const NEEDLE = 128;
export const NEEDLE_MAX = 1024;
export const FOUND = NEEDLE + NEEDLE_MAX;
export const FOUND_MAX = 1024;
export const TABLES = FOUND + 4 * FOUND_MAX;

/** The module's bytes (hex). */
export const SCAN_WASM_HEX =
  '0061736d0100000001240360077f7f7f7f7f7f7f017f60097f7f7f7f7f7f7f7f7f0060087f7f7f7f7f7f7f7f017f0208010165016d0200010304030001020717030477616c6b000005696e64657800010466696e6400020a850403bf0101077f20002108024002400340200820014f0d012008410c6a20014b0d0220082802042209411876411f71220a2d0000220b41ff01460d02410c200b6a200a2d0020200941ffff03716c6a210c2008200c6a20014b0d02200420074102746a2008280200220d3602000240200d450d000240200d20064f0d002005200d6a41016b2d0000450d010b4100410028024041016a3602400b200320074102746a200820026b360200200741016a21072008200c6a21080c000b0b20070f0b417f0b9e0101067f2001210902400340200920004d0d01200941016b2109200220094102746a280200220a450d00200a20044f0d002003200a6a210b41c5bbf28878210c02400340200b2d0000220d450d01200c200d7341938380086c210c200b41016a210b0c000b0b200720094102746a200c3602002005200c2008714102746a210e200620094102746a200e280200360200200e200941016a3602000c000b0b0ba10101067f20042d0000210d02400340200820014f0d010240200020084102746a2802002209450d00200920034f0d00200220096a220a2d0000200d470d004101210b02400340200b20054f0d01200a200b6a2d00002004200b6a2d0000470d02200b41016a210b0c000b0b200a20056a2d00000d000240200c20074f0d002006200c4102746a20083602000b200c41016a210c0b200841016a21080c000b0b200c0b';

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
  find(names: number, count: number, strBase: number, strLen: number, needle: number, len: number, out: number, maxOut: number): number;
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
let enabled = true;

/** @internal Tests run the same blobs through the JavaScript path to compare. */
export function setWasmScanEnabled(on: boolean): void {
  enabled = on;
}
const arenas = new WeakMap<ArrayBufferLike, Arena>();

function wasmModule(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = HOST_LE && wasm ? new wasm.Module(Buffer.from(SCAN_WASM_HEX, 'hex')) : null;
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
  const a = enabled && size >= WASM_MIN_BYTES ? newArena(size) : null;
  return a ? new Uint8Array(a.memory.buffer, a.blob, size) : new Uint8Array(size);
}

export interface WasmScan {
  /** The blob as the Btf keeps it: `bytes` itself, or its copy in the module's memory. */
  raw: Uint8Array;
  typeOffsets: Uint32Array;
  nameOffsets: Uint32Array;
  /** Every non-zero name offset points just past a NUL: a name's bytes are found only where a string starts. */
  namesStartStrings: boolean;
  /** Indexes of the records named `needle` (bytes, no NUL), ascending; null when it cannot say (needle too long, too many matches). */
  find(needle: Uint8Array): Uint32Array | null;
  /** Builds the name index (see Btf): bucket heads and chains hold index+1, 0 ends a chain. */
  buildIndex(strStart: number, strLen: number): { head: Int32Array; next: Int32Array; hashes: Uint32Array };
}

/**
 * The parse pass over a little-endian base BTF blob in WebAssembly. Null
 * when it does not apply or a record is malformed: the caller then runs the
 * JavaScript pass, which names the problem.
 */
export function wasmScan(bytes: Uint8Array, typeStart: number, typeEnd: number, strStart: number, strLen: number): WasmScan | null {
  if (!enabled || bytes.byteLength < WASM_MIN_BYTES) return null;
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
    find(needle) {
      if (needle.length === 0 || needle.length > NEEDLE_MAX) return null;
      new Uint8Array(buf, NEEDLE, needle.length).set(needle);
      const m = arena.fns.find(arena.names, n, arena.blob + strStart, strLen, NEEDLE, needle.length, FOUND, FOUND_MAX);
      return m > FOUND_MAX ? null : new Uint32Array(buf, FOUND, m).slice();
    },
    buildIndex(strStart, strLen) {
      const buckets = bucketsFor(n);
      // Every bucket starts empty. The arena outlives one parse (the same
      // buffer parsed again reuses it): heads left from an earlier index
      // would chain into the new one, even into a cycle.
      new Int32Array(buf, arena.head, buckets).fill(0);
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
