// Setup file (vitest.config.ts): runs before every test file, so its hook is
// each file's own even where files share a worker's modules.
import { afterAll } from 'vitest';
import { runFileCleanups } from './file-scope.js';

afterAll(runFileCleanups);
