// vitest: long (the object fuzzer, CPU-bound: ~10 s)
// Malformed objects through parseObject. Every outcome must be a parse or a
// BpfError with an object-layer code and a message that starts with the path
// label — never a RangeError / TypeError / anything else — and no single
// parse may hang (still running after 10 s, which is thousands of times a
// normal parse, however loaded the machine). Speed itself is for the bench.
//
// Each run draws a fresh seed (test/helpers/fuzz.ts) and prints it with the
// command that replays it; a failure names the seed, batch and input index.
// BPF_FUZZ_SEED=<n> replays one run, BPF_FUZZ_N=<n> changes the number of
// mutations per batch (1000, times BPF_FUZZ_SCALE). A fresh seed each run
// adds up to more coverage than many mutations in one run.
//
// The mutated inputs are parsed in a worker thread, so that an input which
// makes the parser loop forever is caught (the worker is terminated after
// 10 s and the input reported) instead of hanging the whole test run. The
// worker runs dist/ (the tsc build of src/ that the global setup keeps
// fresh).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, type BpfErrorCode } from '../../src/errors.js';
import { parseObject } from '../../src/object/object.js';
import { ensureDist } from '../helpers/dist.js';
import { BTF_EXT_HEADER_FIELDS, BTF_HEADER_FIELDS, FUZZ_SEED, Rng, recordStats, SCALE, seedLine } from '../helpers/fuzz.js';
import { ROOT, listFixtures } from '../helpers/oracle.js';

const SEED = FUZZ_SEED;
const FILE = 'test/object/fuzz.test.ts';
const PER_BATCH = Number(process.env.BPF_FUZZ_N ?? Math.max(1, Math.round(1000 * SCALE)));
const BATCHES = 4;
const MAX_PARSE_MS = 10_000;

const OBJECT_CODES = new Set<BpfErrorCode>([
  'ELF_TRUNCATED',
  'ELF_BAD_MAGIC',
  'ELF_UNSUPPORTED',
  'ELF_BAD_SECTION',
  'ELF_BAD_SYMBOL',
  'ELF_BAD_STRING',
  'ELF_BAD_RELOCATION',
  'BTF_INVALID',
  'BTF_EXT_INVALID',
  'MAP_INVALID',
  'MAP_UNKNOWN_TYPE',
  'PROGRAM_INVALID',
]);

// ---------------------------------------------------------------------------
// A raw ELF64 reader of our own, for finding what to mutate in valid input.

interface RawSection {
  index: number;
  name: string;
  nameOff: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  /** Byte offset of the section header. */
  hdr: number;
}

class RawElf {
  readonly dv: DataView;
  readonly le: boolean;
  readonly shoff: number;
  readonly shnum: number;
  readonly shstrndx: number;
  readonly sections: RawSection[] = [];
  constructor(
    readonly file: string,
    readonly bytes: Uint8Array,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = bytes[5] === 1;
    this.shoff = Number(this.dv.getBigUint64(40, this.le));
    this.shnum = this.dv.getUint16(60, this.le);
    this.shstrndx = this.dv.getUint16(62, this.le);
    for (let i = 0; i < this.shnum; i++) {
      const h = this.shoff + i * 64;
      this.sections.push({
        index: i,
        name: '',
        nameOff: this.dv.getUint32(h, this.le),
        type: this.dv.getUint32(h + 4, this.le),
        offset: Number(this.dv.getBigUint64(h + 24, this.le)),
        size: Number(this.dv.getBigUint64(h + 32, this.le)),
        link: this.dv.getUint32(h + 40, this.le),
        info: this.dv.getUint32(h + 44, this.le),
        hdr: h,
      });
    }
    const names = this.sections[this.shstrndx]!;
    for (const s of this.sections) s.name = this.cstr(names.offset + s.nameOff);
  }
  cstr(at: number): string {
    const end = this.bytes.indexOf(0, at);
    return Buffer.from(this.bytes.subarray(at, end)).toString('latin1');
  }
  section(name: string): RawSection | undefined {
    return this.sections.find((s) => s.name === name);
  }
  ofType(type: number): RawSection[] {
    return this.sections.filter((s) => s.type === type);
  }
  get symtab(): RawSection | undefined {
    return this.ofType(2)[0];
  }
  /** Symbol index by name, and where its entry is. */
  symbol(name: string): { index: number; at: number; value: number; shndx: number } | undefined {
    const st = this.symtab!;
    const strtab = this.sections[st.link]!;
    for (let i = 0; i < st.size / 24; i++) {
      const at = st.offset + i * 24;
      if (this.cstr(strtab.offset + this.dv.getUint32(at, this.le)) === name) {
        return { index: i, at, value: Number(this.dv.getBigUint64(at + 8, this.le)), shndx: this.dv.getUint16(at + 6, this.le) };
      }
    }
    return undefined;
  }
}

/** A copy of `base` with a field overwritten. */
function patch(base: RawElf, at: number, width: 1 | 2 | 4 | 8, value: number | bigint, bytes: Uint8Array = base.bytes.slice()): Uint8Array {
  if (at < 0 || at + width > bytes.length) return bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v = BigInt.asUintN(width * 8, BigInt(value));
  if (width === 1) dv.setUint8(at, Number(v));
  else if (width === 2) dv.setUint16(at, Number(v), base.le);
  else if (width === 4) dv.setUint32(at, Number(v), base.le);
  else dv.setBigUint64(at, v, base.le);
  return bytes;
}

function readField(base: RawElf, at: number, width: 1 | 2 | 4 | 8): bigint {
  const dv = base.dv;
  if (width === 1) return BigInt(dv.getUint8(at));
  if (width === 2) return BigInt(dv.getUint16(at, base.le));
  if (width === 4) return BigInt(dv.getUint32(at, base.le));
  return dv.getBigUint64(at, base.le);
}

/** Values that tend to break parsers, relative to the field's current value. */
function interesting(rng: Rng, base: RawElf, orig: bigint, width: 1 | 2 | 4 | 8): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  const len = BigInt(base.bytes.length);
  const choices = [
    0n,
    1n,
    2n,
    7n,
    8n,
    24n,
    64n,
    max,
    max - 1n,
    max >> 1n,
    (max >> 1n) + 1n,
    orig + 1n,
    orig - 1n,
    orig + 8n,
    orig - 8n,
    orig * 2n,
    orig + 0x1000n,
    len,
    len - 1n,
    len + 1n,
    len - orig,
    BigInt(base.shnum),
    BigInt(base.shnum - 1),
    BigInt(rng.int(1 << 16)),
    BigInt(rng.int(2 ** 31)) * BigInt(rng.int(4) + 1),
  ];
  return BigInt.asUintN(width * 8, rng.pick(choices));
}

function mutateField(rng: Rng, base: RawElf, at: number, width: 1 | 2 | 4 | 8, bytes?: Uint8Array): Uint8Array {
  if (at < 0 || at + width > base.bytes.length) return bytes ?? base.bytes.slice();
  return patch(base, at, width, interesting(rng, base, readField(base, at, width), width), bytes);
}

type Mutator = (rng: Rng, base: RawElf, into?: Uint8Array) => { bytes: Uint8Array; desc: string };

const EHDR_FIELDS: [string, number, 1 | 2 | 4 | 8][] = [
  ['e_ident[EI_CLASS]', 4, 1],
  ['e_ident[EI_DATA]', 5, 1],
  ['e_type', 16, 2],
  ['e_machine', 18, 2],
  ['e_shoff', 40, 8],
  ['e_shentsize', 58, 2],
  ['e_shnum', 60, 2],
  ['e_shstrndx', 62, 2],
];
const SHDR_FIELDS: [string, number, 1 | 2 | 4 | 8][] = [
  ['sh_name', 0, 4],
  ['sh_type', 4, 4],
  ['sh_flags', 8, 8],
  ['sh_offset', 24, 8],
  ['sh_size', 32, 8],
  ['sh_link', 40, 4],
  ['sh_info', 44, 4],
  ['sh_entsize', 56, 8],
];
const SYM_FIELDS: [string, number, 1 | 2 | 4 | 8][] = [
  ['st_name', 0, 4],
  ['st_info', 4, 1],
  ['st_other', 5, 1],
  ['st_shndx', 6, 2],
  ['st_value', 8, 8],
  ['st_size', 16, 8],
];

const MUTATORS: Record<string, Mutator> = {
  truncate(rng, base) {
    const n = base.bytes.length;
    // Half the time cut right around a section boundary, where checks are tight.
    let len = rng.int(n);
    if (rng.chance(0.5)) {
      const s = rng.pick(base.sections);
      len = Math.max(0, Math.min(n - 1, s.offset + rng.pick([0, s.size, s.size - 1, 1, -1, 8, 16])));
    }
    return { bytes: base.bytes.slice(0, len), desc: `truncate to ${len}` };
  },
  flip(rng, base, into) {
    const bytes = into ?? base.bytes.slice();
    const k = 1 + rng.int(16);
    const at: number[] = [];
    for (let i = 0; i < k; i++) {
      const p = rng.int(bytes.length);
      bytes[p] = rng.chance(0.5) ? bytes[p]! ^ (1 << rng.int(8)) : rng.int(256);
      at.push(p);
    }
    return { bytes, desc: `flip bytes ${at.join(',')}` };
  },
  header(rng, base, into) {
    const [name, off, w] = rng.pick(EHDR_FIELDS);
    return { bytes: mutateField(rng, base, off, w, into), desc: `ELF header ${name}` };
  },
  sectionHeader(rng, base, into) {
    const s = rng.pick(base.sections);
    const how = rng.int(4);
    if (how === 0) {
      // Rename it after another section: code becomes "maps", data becomes ".maps", …
      const other = rng.pick(base.sections);
      return { bytes: patch(base, s.hdr, 4, other.nameOff, into), desc: `section ${s.index} (${s.name}) renamed ${other.name}` };
    }
    if (how === 1) {
      const t = rng.pick([0, 1, 2, 3, 8, 9, 4, 0x6fff4c03]);
      return { bytes: patch(base, s.hdr + 4, 4, t, into), desc: `section ${s.index} (${s.name}) sh_type ${t}` };
    }
    if (how === 2) {
      const f = readField(base, s.hdr + 8, 8) ^ BigInt(rng.pick([1, 2, 4, 6]));
      return { bytes: patch(base, s.hdr + 8, 8, f, into), desc: `section ${s.index} (${s.name}) sh_flags ${f}` };
    }
    const [name, off, w] = rng.pick(SHDR_FIELDS);
    return { bytes: mutateField(rng, base, s.hdr + off, w, into), desc: `section ${s.index} (${s.name}) ${name}` };
  },
  symbol(rng, base, into) {
    const st = base.symtab!;
    const i = rng.int(st.size / 24);
    const at = st.offset + i * 24;
    const how = rng.int(4);
    if (how === 0) {
      // STT_FUNC/OBJECT/SECTION/NOTYPE with LOCAL/GLOBAL/WEAK binding
      const info = rng.pick([0x12, 0x11, 0x10, 0x03, 0x02, 0x01, 0x22, 0x00]);
      return { bytes: patch(base, at + 4, 1, info, into), desc: `symbol ${i} st_info 0x${info.toString(16)}` };
    }
    if (how === 1) {
      const ndx = rng.int(base.shnum + 2);
      return { bytes: patch(base, at + 6, 2, ndx, into), desc: `symbol ${i} st_shndx ${ndx}` };
    }
    if (how === 2) {
      const v = 8 * rng.int(64) + rng.pick([0, 0, 0, 4]);
      return { bytes: patch(base, at + 8 + 8 * rng.int(2), 8, v, into), desc: `symbol ${i} st_value/st_size ${v}` };
    }
    const [name, off, w] = rng.pick(SYM_FIELDS);
    return { bytes: mutateField(rng, base, at + off, w, into), desc: `symbol ${i} ${name}` };
  },
  relocation(rng, base, into) {
    const rels = base.ofType(9).filter((s) => s.size >= 16);
    if (rels.length === 0) return MUTATORS.flip!(rng, base, into);
    // Prefer the relocations that matter to us: code and .maps.
    const mine = rels.filter((s) => !s.name.startsWith('.rel.debug') && !s.name.startsWith('.rel.BTF'));
    const s = rng.chance(0.8) && mine.length ? rng.pick(mine) : rng.pick(rels);
    const i = rng.int(s.size / 16);
    const at = s.offset + i * 16;
    const bytes = into ?? base.bytes.slice();
    const which = rng.int(3);
    const info = readField(base, at + 8, 8);
    let desc: string;
    if (which === 0) {
      const sym = rng.chance(0.5) ? BigInt(rng.int(base.symtab!.size / 24)) : interesting(rng, base, info >> 32n, 4);
      patch(base, at + 8, 8, (sym << 32n) | (info & 0xffffffffn), bytes);
      desc = `${s.name}[${i}] symbol ${sym}`;
    } else if (which === 1) {
      const type = BigInt(rng.pick([0, 1, 2, 3, 4, 10, 11, rng.int(256), 0xffffffff]));
      patch(base, at + 8, 8, (info & ~0xffffffffn) | type, bytes);
      desc = `${s.name}[${i}] type ${type}`;
    } else {
      mutateField(rng, base, at, 8, bytes);
      desc = `${s.name}[${i}] r_offset`;
    }
    return { bytes, desc };
  },
  btf(rng, base, into) {
    const ext = rng.chance(0.4);
    const s = base.section(ext ? '.BTF.ext' : '.BTF');
    if (!s) return MUTATORS.flip!(rng, base, into);
    if (rng.chance(0.6)) {
      const [name, off, w] = rng.pick(ext ? BTF_EXT_HEADER_FIELDS : BTF_HEADER_FIELDS);
      return { bytes: mutateField(rng, base, s.offset + off, w, into), desc: `${s.name} header ${name}` };
    }
    // A field inside the type or record data: aligned u32s are what the parsers read.
    const at = s.offset + 24 + 4 * rng.int(Math.max(1, (s.size - 24) / 4));
    return { bytes: mutateField(rng, base, at, 4, into), desc: `${s.name} u32 at +${at - s.offset}` };
  },
  code(rng, base, into) {
    const code = base.sections.filter((s) => s.type === 1 && s.size >= 8 && (base.dv.getBigUint64(s.hdr + 8, base.le) & 4n) !== 0n);
    if (code.length === 0) return MUTATORS.flip!(rng, base, into);
    const s = rng.pick(code);
    const i = rng.int(s.size / 8);
    const at = s.offset + i * 8;
    const bytes = into ?? base.bytes.slice();
    const what = rng.int(3);
    if (what === 0) bytes[at] = rng.pick([0x18, 0x85, 0x95, 0x05, 0x00, rng.int(256)]);
    else if (what === 1) bytes[at + 1] = rng.int(256);
    else mutateField(rng, base, at + 4, 4, bytes);
    return { bytes, desc: `${s.name} insn ${i} ${['opcode', 'regs', 'imm'][what]}` };
  },
  mapData(rng, base, into) {
    const s = base.section('maps') ?? base.section('.maps') ?? base.section('.data') ?? base.section('.rodata');
    if (!s || s.size < 4 || s.type === 8) return MUTATORS.flip!(rng, base, into);
    const at = s.offset + 4 * rng.int(s.size / 4);
    return { bytes: mutateField(rng, base, at, 4, into), desc: `${s.name} u32 at +${at - s.offset}` };
  },
  random(rng, base) {
    const n = rng.int(4096);
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = rng.int(256);
    const how = rng.int(3);
    // Random data, or random data behind a plausible ELF64 BPF header.
    if (how >= 1) bytes.set(base.bytes.subarray(0, Math.min(n, how === 1 ? 16 : 64)));
    return { bytes, desc: `${n} random bytes${how ? ` after the first ${how === 1 ? 16 : 64} header bytes` : ''}` };
  },
};

const WEIGHTED: string[] = [
  ...Array<string>(2).fill('truncate'),
  ...Array<string>(2).fill('flip'),
  'header',
  ...Array<string>(3).fill('sectionHeader'),
  ...Array<string>(2).fill('symbol'),
  ...Array<string>(2).fill('relocation'),
  ...Array<string>(2).fill('btf'),
  'code',
  'mapData',
  'random',
];

function mutate(rng: Rng, base: RawElf): { bytes: Uint8Array; desc: string } {
  const first = MUTATORS[rng.pick(WEIGHTED)]!(rng, base);
  // Sometimes stack a second and third change on the same copy.
  const descs = [first.desc];
  let bytes = first.bytes;
  for (let k = 0; k < 2 && rng.chance(0.2) && bytes.length === base.bytes.length; k++) {
    const name = rng.pick(WEIGHTED.filter((w) => w !== 'truncate' && w !== 'random'));
    const m = MUTATORS[name]!(rng, base, bytes);
    bytes = m.bytes;
    descs.push(m.desc);
  }
  return { bytes, desc: descs.join(' + ') };
}

// --- the worker --------------------------------------------------------------

/**
 * Runs in the worker (plain JS, CommonJS eval). Parses each input, checks what
 * must hold of any object parseObject accepts, and posts one result per input.
 * Before each parse it stores the input's sequence number in shared[0] and
 * sets shared[1], so the main thread can tell which input is stuck.
 */
const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const shared = new Int32Array(workerData.shared);
const ready = Promise.all([import(workerData.objectUrl), import(workerData.errorsUrl), import(workerData.inspectUrl)]);
function invariants(obj) {
  const names = new Set(obj.maps.map((m) => m.name));
  if (names.size !== obj.maps.length) throw new Error('duplicate map names');
  for (const p of obj.programs) {
    const n = p.instructions.length / 8;
    if (!Number.isInteger(n)) throw new Error(p.name + ': ' + p.instructions.length + ' bytes of instructions');
    if (p.ownInstructionCount > n || p.ownInstructionCount <= 0) throw new Error(p.name + ': own ' + p.ownInstructionCount + ' of ' + n);
    for (const r of p.relocations) {
      if (!(r.insnIndex >= 0 && r.insnIndex < n)) throw new Error(p.name + ': relocation at ' + r.insnIndex + ' of ' + n);
      if (r.kind === 'map_fd' || r.kind === 'map_value') {
        if (!names.has(r.map)) throw new Error(p.name + ': relocation to unknown map ' + r.map);
        if (p.instructions[r.insnIndex * 8] !== 0x18) throw new Error(p.name + ': map relocation on a non-ld_imm64');
      }
    }
  }
}
parentPort.on('message', async (inputs) => {
  const [{ parseObject }, { BpfError }, { describeObject }] = await ready;
  for (const { seq, label, bytes } of inputs) {
    Atomics.store(shared, 0, seq);
    Atomics.store(shared, 1, 1);
    const t0 = performance.now();
    let r;
    try {
      const obj = parseObject(bytes, label);
      invariants(obj);
      JSON.stringify(describeObject(obj));
      r = { kind: 'ok' };
    } catch (e) {
      if (e instanceof BpfError) r = { kind: 'bpf', code: e.code, message: e.message };
      else r = { kind: 'other', message: (e && e.constructor ? e.constructor.name : typeof e) + ': ' + (e && e.message) + '\\n' + String(e && e.stack).split('\\n').slice(1, 4).join('\\n') };
    }
    Atomics.store(shared, 1, 0);
    r.seq = seq;
    r.ms = performance.now() - t0;
    parentPort.postMessage(r);
  }
});
`;

type Result = { seq: number; kind: 'ok' | 'bpf' | 'other' | 'hang'; code?: string; message?: string; ms: number };

/** The worker's modules: dist/, built from src/ by the global setup (or here, for a file run alone). */
const DIST = join(ROOT, 'dist');
/** A scratch directory for the stand-in parser of the watchdog test. */
let scratch = '';

/** Parse inputs in a worker; an input still parsing after MAX_PARSE_MS is reported as a hang and the worker replaced. */
async function parseInWorker(inputs: { label: string; bytes: Uint8Array }[], objectUrl?: string, hangMs = MAX_PARSE_MS): Promise<Result[]> {
  const out = DIST;
  const results: Result[] = new Array(inputs.length);
  let next = 0;
  while (next < inputs.length) {
    const shared = new SharedArrayBuffer(8);
    const flags = new Int32Array(shared);
    const worker = new Worker(WORKER_JS, {
      eval: true,
      workerData: {
        shared,
        objectUrl: objectUrl ?? pathToFileURL(join(out, 'object/object.js')).href,
        errorsUrl: pathToFileURL(join(out, 'errors.js')).href,
        inspectUrl: pathToFileURL(join(out, 'cli/commands/inspect.js')).href,
      },
    });
    const from = next;
    next = await new Promise<number>((resolve, reject) => {
      let done = from;
      let watching = -1;
      let since = 0;
      const timer = setInterval(() => {
        if (Atomics.load(flags, 1) !== 1) return;
        const seq = Atomics.load(flags, 0);
        if (seq !== watching) {
          watching = seq;
          since = performance.now();
        } else if (performance.now() - since > hangMs) {
          clearInterval(timer);
          results[seq] = { seq, kind: 'hang', ms: performance.now() - since };
          void worker.terminate();
          resolve(seq + 1);
        }
      }, 50);
      worker.on('message', (r: Result) => {
        results[r.seq] = r;
        done++;
        if (done === inputs.length) {
          clearInterval(timer);
          void worker.terminate();
          resolve(done);
        }
      });
      worker.on('error', (e) => {
        clearInterval(timer);
        reject(e);
      });
      worker.postMessage(inputs.slice(from).map((x, i) => ({ seq: from + i, ...x })));
    });
  }
  return results;
}

interface Outcome {
  ok: number;
  codes: Map<string, number>;
  failures: string[];
  slowest: { ms: number; what: string };
  elapsedMs: number;
}

const BASES = listFixtures().map((f) => new RawElf(f.file, new Uint8Array(readFileSync(f.path))));

async function fuzzBatch(batch: number, n: number): Promise<Outcome> {
  const seed = (SEED + Math.imul(batch, 0x9e3779b9)) >>> 0;
  const rng = new Rng(seed);
  const out: Outcome = { ok: 0, codes: new Map(), failures: [], slowest: { ms: 0, what: '' }, elapsedMs: 0 };
  const t0 = performance.now();
  const inputs: { label: string; bytes: Uint8Array; desc: string }[] = [];
  for (let i = 0; i < n; i++) {
    const base = rng.pick(BASES);
    const { bytes, desc } = mutate(rng, base);
    inputs.push({ label: `fuzz/${base.file}#${batch}.${i}`, bytes, desc: `[BPF_FUZZ_SEED=0x${SEED.toString(16)} batch ${batch} input ${i}] ${base.file}: ${desc}` });
  }
  const results = await parseInWorker(inputs.map(({ label, bytes }) => ({ label, bytes })));
  results.forEach((r, i) => {
    const { label, desc } = inputs[i]!;
    const fail = (why: string) => {
      if (out.failures.length < 25) out.failures.push(`${desc}: ${why}`);
    };
    if (r.kind === 'ok') out.ok++;
    else if (r.kind === 'bpf' && OBJECT_CODES.has(r.code as BpfErrorCode) && r.message!.startsWith(`${label}: `)) {
      out.codes.set(r.code!, (out.codes.get(r.code!) ?? 0) + 1);
    } else if (r.kind === 'hang') fail(`still parsing after ${MAX_PARSE_MS} ms`);
    else fail(r.kind === 'bpf' ? `BpfError ${r.code} "${r.message}"` : r.message!);
    if (r.ms > out.slowest.ms) out.slowest = { ms: r.ms, what: desc };
    if (r.ms > MAX_PARSE_MS && r.kind !== 'hang') fail(`took ${r.ms.toFixed(0)} ms`);
  });
  out.elapsedMs = performance.now() - t0;
  return out;
}

describe('fuzz parseObject', () => {
  beforeAll(() => {
    ensureDist();
    scratch = mkdtempSync(join(tmpdir(), 'bpf-ts-fuzz-'));
  }, 900_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('has fixtures to mutate', () => {
    console.log(`${seedLine(FILE)}: ${BATCHES} × ${PER_BATCH} mutations of ${BASES.length} fixtures`);
    expect(BASES.length).toBeGreaterThan(10);
  });

  it.each(Array.from({ length: BATCHES }, (_, i) => i))('batch %i', async (batch) => {
    const out = await fuzzBatch(batch, PER_BATCH);
    recordStats(FILE, `batch ${batch}`, PER_BATCH, out.ok, out.codes);
    const codes = [...out.codes]
      .sort((a, b) => b[1] - a[1])
      .map(([c, k]) => `${c}=${k}`)
      .join(' ');
    console.log(
      `fuzz batch ${batch}: ${PER_BATCH} inputs in ${out.elapsedMs.toFixed(0)} ms (${((PER_BATCH / out.elapsedMs) * 1000).toFixed(0)}/s, mutation included); ` +
        `${out.ok} parsed, errors: ${codes}; slowest parse ${out.slowest.ms.toFixed(1)} ms (${out.slowest.what})`,
    );
    expect(out.failures, seedLine(FILE)).toEqual([]);
    // The mutations must reach past the first checks, or this test proves little. Over 18 seeds
    // (80 batches of 1000) 41-50% parsed (a twentieth is > 20 sigma below), and 11-12 codes
    // appeared: the six commonest each come in more than 2% of inputs, so one missing from a
    // batch of 1000 has odds below 1e-9.
    expect(out.ok).toBeGreaterThan(PER_BATCH / 20);
    expect(out.codes.size).toBeGreaterThanOrEqual(6);
  });

  it('reports an input that never finishes, and carries on with the rest', async () => {
    // A stand-in parser that spins forever on one label: the watchdog must
    // terminate the worker, report that input, and parse the others.
    const spin = join(scratch, 'spin.mjs');
    writeFileSync(
      spin,
      `import { parseObject as real } from ${JSON.stringify(pathToFileURL(join(DIST, 'object/object.js')).href)};\n` +
        `export function parseObject(bytes, label) { if (label === 'spin') for (;;) {} return real(bytes, label); }\n`,
    );
    const elf = load('drop_all.o');
    const hangMs = 3000;
    const r = await parseInWorker(
      [
        { label: 'a', bytes: elf.bytes },
        { label: 'spin', bytes: elf.bytes },
        { label: 'b', bytes: elf.bytes.slice(0, 10) },
      ],
      pathToFileURL(spin).href,
      hangMs,
    );
    expect(r.map((x) => x.kind)).toEqual(['ok', 'hang', 'bpf']);
    expect(r[2]!.code).toBe('ELF_TRUNCATED');
    // Reported only once it had run the full allowance (the test's own timeout bounds the rest).
    expect(r[1]!.ms).toBeGreaterThanOrEqual(hangMs);
  });

  it('a .maps symbol with a huge size is a quick MAP_INVALID (it used to walk 2^52 value slots)', async () => {
    const elf = load('map_in_map.o');
    const sym = elf.symbol('outer')!;
    const r = await parseInWorker([{ label: 'huge.o', bytes: patch(elf, sym.at + 16, 8, 2n ** 55n) }]);
    expect(r[0]).toMatchObject({ kind: 'bpf', code: 'MAP_INVALID' });
  });
});

// ---------------------------------------------------------------------------

function load(name: string): RawElf {
  return new RawElf(name, new Uint8Array(readFileSync(listFixtures().find((f) => f.file === name)!.path)));
}

function errorOf(bytes: Uint8Array, label = 'bad.o'): BpfError {
  try {
    parseObject(bytes, label);
  } catch (e) {
    if (e instanceof BpfError) {
      expect(e.message.startsWith(`${label}: `), e.message).toBe(true);
      return e;
    }
    throw e;
  }
  throw new Error('parseObject accepted malformed input');
}

describe('malformed objects, by hand', () => {
  const drop = load('drop_all.o');

  it('a cut-off ELF header is ELF_TRUNCATED', () => {
    expect(errorOf(drop.bytes.slice(0, 40)).code).toBe('ELF_TRUNCATED');
    expect(errorOf(drop.bytes.slice(0, 10)).code).toBe('ELF_TRUNCATED');
    expect(errorOf(new Uint8Array(0)).code).toBe('ELF_TRUNCATED');
  });

  it('random bytes are ELF_BAD_MAGIC', () => {
    const rng = new Rng(42);
    const bytes = Uint8Array.from({ length: 4096 }, () => rng.int(256));
    bytes[0] = 0x7e;
    expect(errorOf(bytes).code).toBe('ELF_BAD_MAGIC');
  });

  it('the wrong class, or a machine other than BPF, is ELF_UNSUPPORTED', () => {
    expect(errorOf(patch(drop, 4, 1, 1)).code).toBe('ELF_UNSUPPORTED'); // ELFCLASS32
    expect(errorOf(patch(drop, 18, 2, 62)).code).toBe('ELF_UNSUPPORTED'); // EM_X86_64
  });

  it('a section table past the end of the file is ELF_TRUNCATED', () => {
    expect(errorOf(patch(drop, 40, 8, drop.bytes.length)).code).toBe('ELF_TRUNCATED');
    expect(errorOf(patch(drop, 40, 8, 2n ** 63n)).code).toBe('ELF_TRUNCATED');
    expect(errorOf(patch(drop, 60, 2, 0xffff)).code).toBe('ELF_TRUNCATED');
  });

  it('a section whose data lies past the end is ELF_TRUNCATED', () => {
    const prog = drop.section('prog')!;
    expect(errorOf(patch(drop, prog.hdr + 24, 8, drop.bytes.length + 8)).code).toBe('ELF_TRUNCATED');
    expect(errorOf(patch(drop, prog.hdr + 32, 8, 2n ** 40n)).code).toBe('ELF_TRUNCATED');
  });

  it('a section name table index out of range is ELF_BAD_SECTION', () => {
    expect(errorOf(patch(drop, 62, 2, drop.shnum)).code).toBe('ELF_BAD_SECTION');
  });

  it('a symbol name past the string table is ELF_BAD_STRING', () => {
    const strtab = drop.sections[drop.symtab!.link]!;
    const sym = drop.symbol('xdp_drop')!;
    expect(errorOf(patch(drop, sym.at, 4, strtab.size + 100)).code).toBe('ELF_BAD_STRING');
  });

  it('a section name past the section name table is ELF_BAD_STRING', () => {
    const names = drop.sections[drop.shstrndx]!;
    const prog = drop.section('prog')!;
    const e = errorOf(patch(drop, prog.hdr, 4, names.size + 3));
    expect(e.code).toBe('ELF_BAD_STRING');
  });

  it.each(['tc_shared_map.o', 'tc_shared_map.bpfeb.o'])('a relocation to a missing symbol is ELF_BAD_RELOCATION (%s)', (name) => {
    const elf = load(name);
    const rel = elf.section('.relingress')!;
    const nsyms = elf.symtab!.size / 24;
    const info = readField(elf, rel.offset + 8, 8);
    const e = errorOf(patch(elf, rel.offset + 8, 8, (BigInt(nsyms + 5) << 32n) | (info & 0xffffffffn)));
    expect(e.code).toBe('ELF_BAD_RELOCATION');
    expect(e.message).toContain(String(nsyms + 5));
  });

  it('a relocation for a section that does not exist is ELF_BAD_RELOCATION', () => {
    const elf = load('tc_shared_map.o');
    const rel = elf.section('.relingress')!;
    expect(errorOf(patch(elf, rel.hdr + 44, 4, 999)).code).toBe('ELF_BAD_RELOCATION');
  });

  it.each(['single_source_filter.o', 'single_source_filter.bpfeb.o', 'single_source_filter.clang14.o'])('a legacy map of type 999 is MAP_UNKNOWN_TYPE naming the map (%s)', (name) => {
    const elf = load(name);
    const maps = elf.section('maps')!;
    const sym = elf.symbol('blocked_src')!;
    const e = errorOf(patch(elf, maps.offset + sym.value, 4, 999));
    expect(e.code).toBe('MAP_UNKNOWN_TYPE');
    expect(e.message).toContain('blocked_src');
    expect(e.message).toContain('999');
  });

  it('an iproute2 map with custom pinning is MAP_INVALID', () => {
    const elf = load('tc_shared_map.o');
    const sym = elf.symbol('acc_map')!;
    // struct bpf_elf_map: pinning is the 7th u32
    const e = errorOf(patch(elf, elf.section('maps')!.offset + sym.value + 24, 4, 7));
    expect(e.code).toBe('MAP_INVALID');
    expect(e.message).toContain('acc_map');
  });

  it('a .bss claiming gigabytes is MAP_INVALID, not an allocation failure', () => {
    const elf = load('globals.o');
    expect(errorOf(patch(elf, elf.section('.bss')!.hdr + 32, 8, 2n ** 40n)).code).toBe('MAP_INVALID');
  });

  it('a function that runs past its section is ELF_BAD_SYMBOL', () => {
    const sym = drop.symbol('xdp_drop')!;
    expect(errorOf(patch(drop, sym.at + 16, 8, 4096)).code).toBe('ELF_BAD_SYMBOL');
  });

  it('a call into the middle of nowhere is ELF_BAD_RELOCATION', () => {
    const elf = load('subprogs.o');
    const xdp = elf.section('xdp')!;
    const sym = elf.symbol('xdp_a')!;
    // xdp_a: find its bpf-to-bpf call and aim it far away
    let at = -1;
    for (let i = 0; i < 3; i++) if (elf.bytes[xdp.offset + sym.value + i * 8] === 0x85) at = xdp.offset + sym.value + i * 8;
    expect(at).toBeGreaterThan(0);
    expect(errorOf(patch(elf, at + 4, 4, 100000)).code).toBe('ELF_BAD_RELOCATION');
  });

  it('broken BTF is BTF_INVALID, broken .BTF.ext is BTF_EXT_INVALID, both labelled once', () => {
    const elf = load('icmp_even_drop.o');
    const e1 = errorOf(patch(elf, elf.section('.BTF')!.offset, 2, 0x1234));
    expect(e1.code).toBe('BTF_INVALID');
    expect(e1.message.startsWith('bad.o: .BTF: ')).toBe(true);
    expect(e1.message).not.toContain('.BTF: .BTF');
    const e2 = errorOf(patch(elf, elf.section('.BTF.ext')!.offset, 2, 0x1234));
    expect(e2.code).toBe('BTF_EXT_INVALID');
    expect(e2.message.startsWith('bad.o: .BTF.ext: ')).toBe(true);
  });

  it('a .maps section without BTF is MAP_INVALID', () => {
    const elf = load('lpm_blocklist.o');
    // rename .BTF to .BTX (same length) so the object has no BTF
    const btf = elf.section('.BTF')!;
    const names = elf.sections[elf.shstrndx]!;
    const bytes = elf.bytes.slice();
    bytes[names.offset + btf.nameOff + 3] = 'X'.charCodeAt(0);
    expect(errorOf(bytes).code).toBe('MAP_INVALID');
  });
});
