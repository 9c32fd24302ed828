// Running the CLI as an unprivileged user with an exact capability set:
// `setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=…
// --ambient-caps=… --bounding-set=…` (util-linux). The child cannot read a
// checkout under a 0700 directory (e.g. /root), so it runs from a
// world-readable copy of what the CLI needs: bin/, dist/, fixtures/,
// package.json and the runtime dependencies.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cliProcess, worldReadablePackage, type CliResult } from './cli.js';

export const NOBODY = 65534;

/** Capability names as setpriv spells them (lower case, no CAP_ prefix). */
export type CapWord = 'bpf' | 'net_admin' | 'perfmon' | 'sys_admin' | 'net_raw' | 'dac_override' | 'dac_read_search' | 'sys_resource' | 'ipc_lock' | 'syslog';

export const capTitle = (c: CapWord): string => `CAP_${c.toUpperCase()}`;

/** The world-readable copy of the CLI (cli.ts makes it, once per test file, and removes it). */
export const unprivilegedCopy = (): string => worldReadablePackage();

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
  const pre = opts.netns ? ['nsenter', `--net=/var/run/netns/${opts.netns}`] : [];
  return cliProcess(args, { wrap: [...pre, ...setprivArgs(caps)], timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** A fixture path inside the world-readable copy. */
export const unprivFixture = (name: string): string => join(unprivilegedCopy(), 'fixtures', name);
