// Shared helpers for the benchmarks: timing, formatting, the dist/ import
// root, C builds and privilege checks. Plain ESM JavaScript: the bench runs
// straight from the repo with `node`, against the compiled dist/.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH_DIR);
export const BUILD_DIR = join(BENCH_DIR, 'build');
export const C_DIR = join(BENCH_DIR, 'c');
export const DIST_DIR = join(ROOT, 'dist');

/** Import a compiled module of the library, e.g. dist('maps/map.js'). */
export function dist(rel) {
  return import(new URL(`../dist/${rel}`, import.meta.url).href);
}

/** Monotonic clock in nanoseconds, as a Number (fine for spans under ~100 days). */
/** The largest object under fixtures/ (the CLI start-up and load-time benches measure it). */
export function largestFixture() {
  const dir = join(ROOT, 'fixtures');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.o'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

export function nowNs() {
  return Number(process.hrtime.bigint());
}

export function gc() {
  if (typeof globalThis.gc !== 'function') throw new Error('bench: run node with --expose-gc (bench/run.js re-execs itself with it)');
  globalThis.gc();
}

export const fmt = {
  ns: (v) => v.toFixed(0),
  ms: (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)),
  mb: (v) => v.toFixed(1),
  ratio: (v) => v.toFixed(2),
};

/** Thrown for a run that cannot be trusted (wrong results, failed syscalls): the bench exits non-zero. */
export class BenchError extends Error {}

export function check(cond, message) {
  if (!cond) throw new BenchError(message);
}

// ------------------------------------------------------------------ privileges

const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;

/**
 * Why BPF maps cannot be created here, or null when they can: root (or
 * CAP_BPF / CAP_SYS_ADMIN in the effective set).
 */
export function bpfPrivilegeProblem() {
  let capEff = 0n;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) capEff = BigInt(`0x${m[1]}`);
  } catch {
    // no /proc: fall back to the uid
  }
  const has = (cap) => (capEff >> cap) & 1n;
  if (has(CAP_BPF) || has(CAP_SYS_ADMIN)) return null;
  const uid = process.getuid?.();
  if (uid !== 0) return `not root (uid ${uid ?? '?'}) and no CAP_BPF/CAP_SYS_ADMIN: creating BPF maps needs them`;
  return 'running as root but without CAP_BPF/CAP_SYS_ADMIN in the effective capability set';
}

// ------------------------------------------------------------------ builds

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Compile the library into dist/ when a source is newer than the output the
 * bench imports, and bundle the CLI when its bundle is older than that. tsc
 * emits even when it reports type errors (another change in progress
 * elsewhere in the tree); that is reported, not fatal, as long as the modules
 * the bench needs exist.
 */
export function ensureDist(required) {
  const src = join(ROOT, 'src');
  const outputs = required.map((r) => join(DIST_DIR, r));
  const oldest = Math.min(...outputs.map((p) => (existsSync(p) ? statSync(p).mtimeMs : 0)));
  if (oldest > 0 && oldest >= newestMtime(src)) {
    ensureCliBundle();
    return { built: false };
  }
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  const missing = outputs.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new BenchError(`tsc did not produce ${missing.join(', ')}:\n${r.stdout}${r.stderr}`);
  ensureCliBundle();
  return { built: true, warnings: r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim() };
}

/**
 * The bundles (scripts/bundle.js): the CLI's, which bin/bpf-ts.js runs, and
 * the library's, which `import 'bpf-ts'` loads; made when missing or older
 * than tsc's dist/cli/main.js.
 */
export function ensureCliBundle() {
  const main = join(DIST_DIR, 'cli', 'main.js');
  const bundles = [join(DIST_DIR, 'cli-bundle', 'main.js'), join(DIST_DIR, 'bundle', 'index.js')];
  if (bundles.every((b) => existsSync(b) && statSync(b).mtimeMs >= statSync(main).mtimeMs)) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.js')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new BenchError(`bundling failed:\n${r.stdout}${r.stderr}`);
}

/** gcc -O2 bench/c/<name>.c -> bench/build/<name>; returns the binary's path. */
export function compileC(name) {
  mkdirSync(BUILD_DIR, { recursive: true });
  const out = join(BUILD_DIR, name);
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', out, join(C_DIR, `${name}.c`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const detail = e.code === 'ENOENT' ? 'gcc not found' : `${e.stderr ?? e.message}`.trim();
    throw new BenchError(`compiling bench/c/${name}.c failed: ${detail}`);
  }
  return out;
}

/** Run a C baseline that prints one JSON object; returns it parsed. */
export function runC(binary, args) {
  const r = spawnSync(binary, args.map(String), { encoding: 'utf8' });
  if (r.error) throw new BenchError(`${binary}: ${r.error.message}`);
  if (r.status !== 0) throw new BenchError(`${binary} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new BenchError(`${binary}: unexpected output ${JSON.stringify(r.stdout)}`);
  }
}
