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
    expect(out).toContain("iter/task lines for this process's main thread: 1\n");
  });

  it('instructions.mjs: assembled instructions loaded by the kernel and emulated, the same verdicts', () => {
    const out = execFileSync(process.execPath, ['docs/examples/instructions.mjs'], { encoding: 'utf8' });
    // The program drops frames shorter than 64 bytes.
    expect(out).toBe('60 bytes: kernel XDP_DROP, emulator XDP_DROP\n64 bytes: kernel XDP_PASS, emulator XDP_PASS\n1500 bytes: kernel XDP_PASS, emulator XDP_PASS\n');
  });

  it('globals.mjs: .rodata from setGlobal, .data written through the mapping and incremented by the program, .rodata write refused', () => {
    const out = execFileSync(process.execPath, ['docs/examples/globals.mjs'], { encoding: 'utf8' });
    // globals.c: every run does seen_total++ and hits[0]++; UDP to drop_port (9) also hits[1]++.
    expect(out).toContain('drop_port = 9');
    expect(out).toContain('seen_total = 1005, hits = [5, 5, 0, 0]');
    expect(out).toContain('READ_ONLY: global drop_port');
  });
});
