// Shared by the fuzz tests: one seed per run (random unless BPF_FUZZ_SEED
// names one), printed with the command that replays it; a PRNG; and a case
// runner that derives each case's generator from (seed, harness, index), so
// BPF_FUZZ_CASE=harness:index replays exactly one failing case.
import { randomInt } from 'node:crypto';
import { appendFileSync, writeSync } from 'node:fs';
import { BpfError } from '../../src/errors.js';

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** This run's seed: BPF_FUZZ_SEED (decimal or 0x…) to replay one, else fresh. */
export const FUZZ_SEED: number = process.env.BPF_FUZZ_SEED ? Number(process.env.BPF_FUZZ_SEED) >>> 0 : randomInt(2 ** 32) >>> 0;
/** BPF_FUZZ_CASE=harness:index runs only that case. */
const ONLY = process.env.BPF_FUZZ_CASE?.split(':');
/** True when replaying one case: the harnesses' coverage checks do not apply. */
export const REPLAYING = !!ONLY;

/** The line every fuzz file prints first, so a failure in CI can be replayed. */
export function seedLine(file: string): string {
  return `fuzz seed ${hex(FUZZ_SEED)}  (replay: BPF_FUZZ_SEED=${hex(FUZZ_SEED)} npx vitest run ${file})`;
}

/** mulberry32: small, fast, good enough to pick mutations. */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  u32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The generator of one case: the same (seed, harness, index) gives the same case. */
export function caseRng(harness: string, index: number): Rng {
  return new Rng((FUZZ_SEED ^ hashName(harness) ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
}

/** A case that may only throw a BpfError; anything else, or running past MAX_CASE_MS, fails it. */
export const MAX_CASE_MS = 10_000;

export interface FuzzReport {
  cases: number;
  /** Cases that ended in a BpfError, by code. */
  codes: Map<string, number>;
  ok: number;
  failures: string[];
  ms: number;
  slowest: number;
}

/**
 * Run `n` cases of `harness` from `file`. `run` returns a description of what
 * it did (for the failure message) via `note`, and may throw only BpfErrors.
 * Every failure names the seed and the case index to replay it.
 */
export function runCases(file: string, harness: string, n: number, run: (rng: Rng, note: (what: string) => void, index: number) => void): FuzzReport {
  const report: FuzzReport = { cases: 0, codes: new Map(), ok: 0, failures: [], ms: 0, slowest: 0 };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (ONLY && (ONLY[0] !== harness || Number(ONLY[1]) !== i)) continue;
    let what = '';
    const c0 = performance.now();
    const note = (w: string) => {
      if (process.env.BPF_FUZZ_TRACE === '2') writeSync(2, `  +${(performance.now() - c0).toFixed(0)} ms: ${w}\n`);
      what = what ? `${what}; ${w}` : w;
    };
    report.cases++;
    // BPF_FUZZ_TRACE=1 names each case before it runs: the last one named is the one that hangs.
    if (process.env.BPF_FUZZ_TRACE) writeSync(2, `${harness}:${i}\n`);
    try {
      run(caseRng(harness, i), note, i);
      report.ok++;
    } catch (e) {
      if (e instanceof BpfError) report.codes.set(e.code, (report.codes.get(e.code) ?? 0) + 1);
      else if (report.failures.length < 20) {
        const err = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${String(e.stack).split('\n').slice(1, 4).join('\n')}` : String(e);
        report.failures.push(`${harness} case ${i} (BPF_FUZZ_SEED=${hex(FUZZ_SEED)} BPF_FUZZ_CASE=${harness}:${i} npx vitest run ${file}): ${what}: ${err}`);
      }
    }
    const ms = performance.now() - c0;
    report.slowest = Math.max(report.slowest, ms);
    if (ms > MAX_CASE_MS && report.failures.length < 20) {
      report.failures.push(`${harness} case ${i} (BPF_FUZZ_SEED=${hex(FUZZ_SEED)} BPF_FUZZ_CASE=${harness}:${i}): took ${ms.toFixed(0)} ms: ${what}`);
    }
  }
  report.ms = performance.now() - t0;
  recordStats(file, harness, report.cases, report.ok, report.codes);
  return report;
}

/**
 * BPF_FUZZ_STATS=FILE appends one JSON line per harness run (seed, cases, ok,
 * error codes): how the coverage thresholds were calibrated over many seeds.
 */
export function recordStats(file: string, harness: string, cases: number, ok: number, codes: Map<string, number>): void {
  const out = process.env.BPF_FUZZ_STATS;
  if (out) appendFileSync(out, `${JSON.stringify({ file, harness, seed: FUZZ_SEED, cases, ok, codes: Object.fromEntries(codes) })}\n`);
}

export function summary(harness: string, r: FuzzReport): string {
  const codes = [...r.codes]
    .sort((a, b) => b[1] - a[1])
    .map(([c, k]) => `${c}=${k}`)
    .join(' ');
  return `fuzz ${harness}: ${r.cases} cases in ${r.ms.toFixed(0)} ms, ${r.ok} ok, errors: ${codes || 'none'}; slowest ${r.slowest.toFixed(1)} ms`;
}

/** Scale case counts: BPF_FUZZ_SCALE=10 for a longer local run. */
export const SCALE = Number(process.env.BPF_FUZZ_SCALE ?? 1);
export const cases = (n: number): number => {
  const k = Math.max(1, Math.round(n * SCALE));
  // Replaying one case: run up to it even when it came from a run with a larger BPF_FUZZ_SCALE.
  return ONLY ? Math.max(k, Number(ONLY[1]) + 1) : k;
};

/** struct btf_header's fields (name, offset, width): what header mutations pick from. */
export const BTF_HEADER_FIELDS: readonly (readonly [string, number, 1 | 2 | 4])[] = [
  ['magic', 0, 2],
  ['version', 2, 1],
  ['flags', 3, 1],
  ['hdr_len', 4, 4],
  ['type_off', 8, 4],
  ['type_len', 12, 4],
  ['str_off', 16, 4],
  ['str_len', 20, 4],
];

/** struct btf_ext_header's fields, as above. */
export const BTF_EXT_HEADER_FIELDS: readonly (readonly [string, number, 1 | 2 | 4])[] = [
  ['magic', 0, 2],
  ['hdr_len', 4, 4],
  ['func_info_off', 8, 4],
  ['func_info_len', 12, 4],
  ['line_info_off', 16, 4],
  ['line_info_len', 20, 4],
  ['core_relo_off', 24, 4],
  ['core_relo_len', 28, 4],
];
