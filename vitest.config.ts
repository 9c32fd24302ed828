import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kernel tests create namespaces, links and pins: run files one after another
    // so two files never race for the same kernel state.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Type-level tests of the public API (expectTypeOf), checked by tsc.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
  },
});
