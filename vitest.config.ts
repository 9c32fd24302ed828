import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Two projects. "pure" (no kernel: parsers, codecs, CLI text, docs, types)
// runs its files in parallel; "kernel" (files that need root: namespaces,
// links, pins) runs after it, one file at a time, so two files never race for
// the same kernel state. A file is a kernel file when it asks for root
// (describeRoot / isRoot / getuid), so new files land in the right project.
function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? testFiles(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const all = testFiles('test');
const needsKernel = (f: string) => /\b(describeRoot|isRoot|getuid)\b/.test(readFileSync(f, 'utf8'));
const kernel = all.filter(needsKernel);
const pure = all.filter((f) => !needsKernel(f));

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'pure',
          include: pure,
          fileParallelism: true,
          sequence: { groupOrder: 0 },
          // Type-level tests of the public API (expectTypeOf), checked by tsc with every test file.
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
        },
      },
      { extends: true, test: { name: 'kernel', include: kernel, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
