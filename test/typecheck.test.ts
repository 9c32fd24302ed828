// vitest: long (tsc over src/ and test/: ~10 s of one CPU)
// The type check of every source and test file, the public API's type-level
// tests among them (test/**/*.test-d.ts: expectTypeOf, @ts-expect-error). A
// type error anywhere fails this test with tsc's own report.
//
// A plain test rather than vitest's typecheck mode: vitest runs type checks
// as a group of their own after every other file, so in a fresh clone (no
// incremental cache) they added ~12 s alone at the end of the run; as a test
// marked long it starts first, beside the rest.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT } from './helpers/cli.js';

test('tsc -p tsconfig.test.json: no type error in src/ or test/ (the *.test-d.ts type tests included)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.test.json')], { cwd: ROOT, encoding: 'utf8' });
  expect(`${r.stdout}${r.stderr}`).toBe('');
  expect(r.status).toBe(0);
}, 300_000);
