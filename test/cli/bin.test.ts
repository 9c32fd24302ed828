// bin/bpf-ts.js runs the CLI bundle (dist/cli-bundle/, made by `npm run
// build`). Without it, it says so and how to make it, in one line, exit 1 —
// also when tsc's dist/ is there but the bundle step never ran. With
// --debug, the stack trace names src/*.ts lines (the bundle's source maps).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { BIN, ROOT, ensureDist } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A package directory with bin/bpf-ts.js and the given files, nothing else. */
function packageWith(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-nobuild-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'bin'));
  copyFileSync(BIN, join(dir, 'bin', 'bpf-ts.js'));
  copyFileSync(join(dirname(BIN), 'package.json'), join(dir, 'bin', 'package.json'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), 'export async function run() { return 0; }\n');
  }
  return dir;
}

test.each([
  ['no dist/ at all', []],
  ["tsc's dist/ without the bundle", ['dist/cli/main.js']],
])('%s: one line naming dist/cli-bundle/ and npm run build, exit 1', (_what, files) => {
  const dir = packageWith(files);
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'bpf-ts.js'), '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe('bpf-ts: dist/cli-bundle/ is missing; run `npm install` (or `npm run build`) in the package first\n');
});

test('--debug: the stack trace names the src/*.ts line that threw; without it, one line', () => {
  ensureDist();
  const missing = join(tmpdir(), `bpf-ts-no-such-${process.pid}.o`);
  const plain = spawnSync(process.execPath, [BIN, 'inspect', missing], { cwd: ROOT, encoding: 'utf8' });
  expect(plain.status).toBe(1);
  expect(plain.stderr).toBe(`bpf-ts: ${missing}: cannot read: ENOENT\n`);

  const r = spawnSync(process.execPath, [BIN, 'inspect', missing, '--debug'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status).toBe(1);
  const lines = r.stderr.split('\n');
  expect(lines[0]).toBe(`bpf-ts: ${missing}: cannot read: ENOENT`);
  expect(lines[1]).toBe(`BpfError: ${missing}: cannot read: ENOENT`);
  // The first frame: a file under src/ and a line of it that makes this BpfError.
  const frame = /\((.*\/src\/[\w/-]+\.ts):(\d+):\d+\)$/.exec(lines[2] ?? '');
  expect(frame, lines[2]).not.toBeNull();
  const [, file = '', line = '0'] = frame!;
  expect(file).toBe(join(ROOT, 'src', 'object', 'read.ts'));
  expect(readFileSync(file, 'utf8').split('\n')[Number(line) - 1]).toMatch(/new BpfError\(/);
  expect(r.stderr).toMatch(/src\/cli\/main\.ts:\d+:\d+/);
});
