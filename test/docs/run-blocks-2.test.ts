// vitest: long (a nested vitest and 'run --duration'/'top --count' blocks that wait: ~30 s)
// Part 2 of 3 of the docs' runnable blocks (test/docs/run-blocks.ts; a kernel
// test: describeRoot there). Split so the parts run in parallel.
import { runDocBlocks } from './run-blocks.js';

runDocBlocks(1, 3);
