// Kernel tests need root. Outside CI they skip with a printed reason; in CI
// (CI=true) a missing privilege is a failure, never a silent skip.
import { describe } from 'vitest';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function describeRoot(name: string, fn: () => void): void {
  if (!isRoot && process.env.CI) {
    describe(name, () => {
      throw new Error(`${name}: needs root, and CI must run kernel tests`);
    });
    return;
  }
  if (!isRoot) console.warn(`skipping "${name}": needs root (run the tests as root to include kernel tests)`);
  describe.skipIf(!isRoot)(name, fn);
}
