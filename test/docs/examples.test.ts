// The runnable examples in docs/ must keep running.
import { execFileSync } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { ensureDist } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('docs/examples', () => {
  beforeAll(() => ensureDist());

  it('quickstart.mjs: rodata constant set, map written, test-run verdict and counters', () => {
    const out = execFileSync(process.execPath, ['docs/examples/quickstart.mjs'], { encoding: 'utf8' });
    // globals.c: UDP to drop_port is dropped; hits[0] counts every run (from the 100 written), hits[1] the drops.
    expect(out).toContain('verdict: XDP_DROP (retval 1)');
    expect(out).toContain('hits[0] = 103, hits[1] = 3');
  });

  it('tracing.mjs: a tracepoint counts exactly our getppid calls; the iterator finds our task', () => {
    const out = execFileSync(process.execPath, ['docs/examples/tracing.mjs'], { encoding: 'utf8' });
    expect(out).toContain('getppid calls seen: 10\n');
    expect(out).toContain('iter/task lines for this process\'s main thread: 1\n');
  });
});
