// docs/examples/events.mjs must run, and the process must end by itself once
// its loops are left (issue 9: a reader left by `break` kept node alive).
import { spawnSync } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { ensureDist, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('docs/examples/events.mjs', () => {
  beforeAll(() => ensureDist(), 180_000);

  it('reads both maps, breaks out, and exits by itself', () => {
    const r = spawnSync(process.execPath, ['docs/examples/events.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(['ring buffer: seq 1', 'ring buffer: seq 2', 'ring buffer: seq 3', 'ring buffer reader closed: true']);
    const perf = lines.slice(4, 9);
    // Samples come per CPU (the test run may move between CPUs): compare as a set.
    expect(perf.map((l) => l.replace(/ from CPU \d+/, '')).sort()).toEqual([1, 2, 3, 4, 5].map((s) => `perf: seq ${s}`));
    expect(lines[9]).toBe('perf samples lost in all: 0');
    expect(lines).toHaveLength(10);
  });
});
