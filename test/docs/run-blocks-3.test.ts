// vitest: long (every docs block as a user's project: ~10 s)
// Part 3 of 3 of the docs' runnable blocks (test/docs/run-blocks.ts; a kernel
// test: describeRoot there). Split so the parts run in parallel.
import { runDocBlocks } from './run-blocks.js';

runDocBlocks(2, 3);
