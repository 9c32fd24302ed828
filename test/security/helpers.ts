// A private bpffs shared with a real unprivileged "attacker" (uid 65534,
// through setpriv or runuser), mounted 1777 like /sys/fs/bpf, and one
// network namespace holding a veth pair for XDP attach tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { netnsExists } from '../../src/netns.js';
import { unprivilegedWrapper } from '../helpers/cli.js';

export const ATTACKER_UID = 65534;

/** argv prefix that runs a command as uid 65534; throws when the machine has no tool for it (CI must not skip). */
export function attackerWrapper(): string[] {
  const w = unprivilegedWrapper();
  if (!w) throw new Error('neither setpriv nor runuser is installed: cannot act as an unprivileged user (apt-get install util-linux)');
  return w;
}

/** Run `cmd` as the attacker; returns its exit status and stderr. */
export function asAttacker(cmd: string[]): { status: number; stderr: string } {
  const w = attackerWrapper();
  const r = spawnSync(w[0]!, [...w.slice(1), ...cmd], { encoding: 'utf8', cwd: '/' });
  return { status: r.status ?? -1, stderr: r.stderr };
}

/** A bpffs mounted mode 1777 under /tmp (which every user may traverse). */
export function mountSharedBpffs(): { path: string; unmount(): void } {
  const path = mkdtempSync(join('/tmp', 'bpf-ts-sec-'));
  execFileSync('mount', ['-t', 'bpf', '-o', 'mode=1777', 'bpf', path]);
  return {
    path,
    unmount() {
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A namespace `ns` with veth v0 <-> v1 (both up) inside it. */
export function makeVethNs(ns: string): void {
  execFileSync('ip', ['netns', 'add', ns]);
  addVeth(ns);
}

export function addVeth(ns: string): void {
  execFileSync('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'v0', 'up']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'v1', 'up']);
}

export function deleteVeth(ns: string): void {
  execFileSync('ip', ['-n', ns, 'link', 'del', 'v0']);
}

export function removeNs(ns: string): void {
  if (netnsExists(ns)) execFileSync('ip', ['netns', 'del', ns]);
}

/** XDP program id on v0 in `ns` from `ip -j link show` (0: none), an independent view. */
export function xdpProgIdOnV0(ns: string): number {
  const j = JSON.parse(execFileSync('ip', ['-n', ns, '-d', '-j', 'link', 'show', 'v0'], { encoding: 'utf8' }))[0];
  return j?.xdp?.prog?.id ?? j?.xdp?.attached?.[0]?.prog?.id ?? 0;
}
