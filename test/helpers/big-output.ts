// The stdout of a command that prints megabytes (bpftool's dump of the
// kernel's BTF, readelf's symbols of the node binary), read back from a
// temporary file: execFileSync gathers a pipe's output in small reads, which
// for ~10 MB costs over a second of CPU here; through a file, ~30 ms.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `cmd args…`'s stdout; throws when it cannot start (ENOENT…) or exits non-zero. */
export function bigOutput(cmd: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfts-out-'));
  try {
    const path = join(dir, 'stdout');
    const fd = openSync(path, 'w', 0o600);
    let r: SpawnSyncReturns<string>;
    try {
      r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    } finally {
      closeSync(fd);
    }
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stderr}`);
    return readFileSync(path, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
