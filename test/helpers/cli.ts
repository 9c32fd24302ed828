// Driving the bpf-ts CLI from tests: in-process through run() (fast, same
// process, output captured), or as a child process through bin/bpf-ts.js
// (signals, exit codes, a real non-root user). The child needs dist/, which
// ensureDist() builds when it is missing or older than src/.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { ensureDist } from './dist.js';
import { afterThisFile } from './file-scope.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'bpf-ts.js');
export const fixture = (name: string): string => join(ROOT, 'fixtures', name);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document. */
  json(): any;
}

function result(code: number, stdout: string, stderr: string): CliResult {
  return {
    code,
    stdout,
    stderr,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not one JSON document (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/** `bpf-ts ARGV…` in this process. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return result(code, stdout, stderr);
}

/** Like cli(), but fail the test with both streams when the exit code is not 0. */
export async function cliOk(...argv: string[]): Promise<CliResult> {
  const r = await cli(...argv);
  if (r.code !== 0) throw new Error(`bpf-ts ${argv.join(' ')} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** Build dist/ with tsc, and the CLI bundle, when missing or older than src/. */
export { ensureDist };

// ------------------------------------------------------------- unprivileged

/** Prefix of the world-readable package copies under a temporary directory; the pid of their owner follows. */
const COPY_PREFIX = 'bpf-ts-unpriv-';
let unprivilegedCopy: string | undefined;

// Removed when the test file that made it is done (file-scope.ts: also where
// files share a worker's modules). A worker killed before that leaves it for
// sweepStaleCopies.
function removeCopy(): void {
  if (unprivilegedCopy) rmSync(unprivilegedCopy, { recursive: true, force: true });
  unprivilegedCopy = undefined;
}

/** Whether every directory from / down to `dir` lets others search it (o+x). */
function searchableByAll(dir: string): boolean {
  for (let d = resolvePath(dir); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === dirname(d)) return true;
  }
}

/**
 * The runtime dependencies of the package, and theirs, as installed under
 * node_modules — optional ones too when installed (koffi's native binary is
 * an optional per-platform package).
 */
function runtimeDeps(): string[] {
  const seen = new Set<string>();
  const visit = (pkgJson: string) => {
    const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    for (const d of [...Object.keys(pkg.dependencies ?? {}), ...optional]) {
      if (seen.has(d)) continue;
      const dir = join(ROOT, 'node_modules', d);
      if (!existsSync(join(dir, 'package.json'))) {
        if (optional.has(d)) continue; // another platform's build
        throw new Error(`runtime dependency ${d} is not installed under ${join(ROOT, 'node_modules')}`);
      }
      seen.add(d);
      visit(join(dir, 'package.json'));
    }
  };
  visit(join(ROOT, 'package.json'));
  return [...seen];
}

/** Directories 0755, files 0644 (0755 when the owner may execute): whatever umask the checkout was made with. */
export function openUp(path: string): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const e of readdirSync(path)) openUp(join(path, e));
  } else if (st.isFile()) {
    chmodSync(path, st.mode & 0o100 ? 0o755 : 0o644);
  }
}

/** Remove copies left by test processes that no longer run (killed before their exit handler). */
function sweepStaleCopies(base: string): void {
  for (const e of readdirSync(base)) {
    const m = new RegExp(`^${COPY_PREFIX}(\\d+)-`).exec(e);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(base, e), { recursive: true, force: true });
    }
  }
}

/**
 * A copy of the package (package.json, bin, dist, fixtures and the runtime
 * node_modules) that any user can read, for children that drop root. The
 * checkout itself may sit where only root can enter (a clone under /root or
 * a `mktemp -d` directory): run from there, an unprivileged child cannot
 * even load bin/bpf-ts.js. Made once per test file, removed after it.
 */
export function worldReadablePackage(): string {
  if (unprivilegedCopy && existsSync(join(unprivilegedCopy, 'bin', 'bpf-ts.js'))) return unprivilegedCopy;
  ensureDist();
  const base = [tmpdir(), '/tmp', '/var/tmp', '/dev/shm'].find((d) => existsSync(d) && searchableByAll(d));
  if (!base) throw new Error('no temporary directory that other users can enter (tried $TMPDIR, /tmp, /var/tmp, /dev/shm)');
  if (!searchableByAll(dirname(process.execPath))) throw new Error(`other users cannot run ${process.execPath}: install node where they can`);
  sweepStaleCopies(base);
  const dir = mkdtempSync(join(base, `${COPY_PREFIX}${process.pid}-`));
  try {
    for (const part of ['package.json', 'bin', 'dist', 'fixtures']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    for (const dep of runtimeDeps()) cpSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep), { recursive: true, dereference: true });
    openUp(dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  unprivilegedCopy = dir;
  afterThisFile(removeCopy);
  return dir;
}

/**
 * Run `node bin/bpf-ts.js ARGS…` to completion, optionally wrapped (e.g. in
 * setpriv to drop root): a wrapped child runs from worldReadablePackage(),
 * so it works wherever the checkout lives.
 */
export function cliProcess(args: string[], opts: { wrap?: string[]; timeoutMs?: number } = {}): Promise<CliResult> {
  const wrap = opts.wrap ?? [];
  const root = wrap.length ? worldReadablePackage() : ROOT;
  const argv = [...wrap, process.execPath, join(root, 'bin', 'bpf-ts.js'), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no exit after ${opts.timeoutMs ?? 30_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(result(code ?? (signal ? 128 : -1), stdout, stderr));
    });
  });
}

/** A long-running CLI child whose stdout is read line by line. */
export class CliChild {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #partial = '';
  #waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: 'pipe' });
    this.child.stdin.end();
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      const parts = (this.#partial + d).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts.filter((l) => l.length));
      this.#wake();
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        if (this.#partial) this.lines.push(this.#partial);
        this.#partial = '';
        this.#wake();
        resolve({ code, signal });
      });
    });
    this.exited.then(() => this.#wake());
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * The first stdout line (from `from` on) that matches, or a rejection on exit
   * or after timeoutMs (a bound for a child that hangs, generous enough for a loaded machine).
   */
  async waitForLine(pred: (line: string) => boolean, timeoutMs = 30_000, from = 0): Promise<{ line: string; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex((l, i) => i >= from && pred(l));
      if (index >= 0) return { line: this.lines[index]!, index };
      if (!this.running) throw new Error(`bpf-ts exited before the expected line\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching line after ${timeoutMs} ms\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Make sure the child is gone (for finally blocks). */
  async kill(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** A user other than root to run the CLI as, when the machine has a tool for it. */
export function unprivilegedWrapper(): string[] | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (existsSync(join(dir, 'setpriv'))) return [join(dir, 'setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups'];
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, 'runuser'))) return [join(dir, 'runuser'), '-u', 'nobody', '--'];
  }
  return undefined;
}

/** Names unique to this run: a tag, this pid and a random suffix, within testenv's 13 characters. */
export function uniqueName(tag: string): string {
  const pid = (process.pid % 36 ** 3).toString(36);
  const rnd = Math.floor(Math.random() * 36 ** 3)
    .toString(36)
    .padStart(3, '0');
  return `${tag}${pid}${rnd}`.slice(0, 13);
}

/** Sum of the little-endian u64 per-CPU values of one bpftool-shaped dump entry. */
export function sumPerCpu(entry: { values: { cpu: number; value: string[] }[] }): bigint {
  return entry.values.reduce((sum, v) => sum + Buffer.from(v.value.map((x) => parseInt(x, 16))).readBigUInt64LE(0), 0n);
}
