// A private bpffs instance per test file, so pins never touch /sys/fs/bpf.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mountBpffs(): { path: string; unmount(): void } {
  const path = mkdtempSync(join(tmpdir(), 'bpf-ts-fs-'));
  execFileSync('mount', ['-t', 'bpf', 'bpf', path]);
  return {
    path,
    unmount() {
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
