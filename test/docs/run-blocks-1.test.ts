// vitest: long (every docs block as a user's project: ~20 s)
// Part 1 of 3 of the docs' runnable blocks (test/docs/run-blocks.ts; a kernel
// test: describeRoot there). Split so the parts run in parallel.
import { runDocBlocks } from './run-blocks.js';

runDocBlocks(0, 3);
