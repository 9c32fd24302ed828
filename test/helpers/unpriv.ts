// Running the CLI as an unprivileged user with an exact capability set:
// `setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=…
// --ambient-caps=… --bounding-set=…` (util-linux). The child cannot read a
// checkout under a 0700 directory (e.g. /root), so it runs from a
// world-readable copy of what the CLI needs: bin/, dist/, fixtures/,
// package.json and the runtime dependencies.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist, ROOT, type CliResult } from './cli.js';

export const NOBODY = 65534;

/** Capability names as setpriv spells them (lower case, no CAP_ prefix). */
export type CapWord = 'bpf' | 'net_admin' | 'perfmon' | 'sys_admin' | 'net_raw' | 'dac_override' | 'sys_resource';

export const capTitle = (c: CapWord): string => `CAP_${c.toUpperCase()}`;

const RUNTIME_DEPS = ['koffi', 'elfy', 'endian-reader'];

let copy: string | undefined;

function makeReadable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) makeReadable(p);
    else if (e.isFile()) chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** A world-readable copy of the CLI (made once per test process, removed at exit). */
export function unprivilegedCopy(): string {
  if (copy && existsSync(copy)) return copy;
  ensureDist();
  // mkdtemp makes a 0700 directory: opened up below.
  const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-unpriv-'));
  for (const d of ['bin', 'dist', 'fixtures']) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  for (const dep of RUNTIME_DEPS) {
    const src = join(ROOT, 'node_modules', dep);
    if (existsSync(src)) cpSync(src, join(dir, 'node_modules', dep), { recursive: true, dereference: true });
  }
  makeReadable(dir);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  copy = dir;
  return dir;
}

/** The setpriv argv prefix for uid/gid 65534 holding exactly `caps`. */
export function setprivArgs(caps: readonly CapWord[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`];
}

export function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `bpf-ts ARGS…` as uid 65534 with exactly `caps`, from the world-readable
 * copy. `netns` runs it inside that network namespace (entered as root with
 * nsenter before the privileges are dropped).
 */
export function runUnprivileged(args: string[], caps: readonly CapWord[], opts: { netns?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const dir = unprivilegedCopy();
  const pre = opts.netns ? ['nsenter', `--net=/var/run/netns/${opts.netns}`] : [];
  const argv = [...pre, ...setprivArgs(caps), process.execPath, join(dir, 'bin', 'bpf-ts.js'), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no exit after ${opts.timeoutMs ?? 60_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout,
        stderr,
        json() {
          return JSON.parse(stdout);
        },
      });
    });
  });
}

/** A fixture path inside the world-readable copy. */
export const unprivFixture = (name: string): string => join(unprivilegedCopy(), 'fixtures', name);
