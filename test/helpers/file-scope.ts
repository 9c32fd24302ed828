// Cleanups that belong to the test file running now. Files may share a
// worker and its modules (isolate: false in vitest.config.ts), so a helper
// module's own afterAll would run after the first file that loaded it only;
// file-setup.ts (a setup file, which vitest runs afresh for every file)
// runs these after each file instead.
const pending: (() => void)[] = [];

/** Run `fn` once the current test file is done. */
export function afterThisFile(fn: () => void): void {
  pending.push(fn);
}

/** Called by file-setup.ts after each file. */
export function runFileCleanups(): void {
  for (const fn of pending.splice(0).reverse()) fn();
}
