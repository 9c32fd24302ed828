// The CLI imports a command's module only when that command runs: --help
// reads the summaries in commands/index.ts, inspect loads the object layer
// and nothing that reaches the kernel (no koffi, no sys/).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { commands } from '../../src/cli/commands/index.js';
import { BIN, ROOT, ensureDist, fixture } from '../helpers/cli.js';

let dir: string;
let hook: string;

beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'bpf-ts-lazy-'));
  hook = join(dir, 'hook.mjs');
  // A loader hook that names every module node loads through the ESM loader.
  writeFileSync(hook, `export async function load(u, c, n) { process.stderr.write('MODULE ' + u + '\\n'); return n(u, c); }\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Module URLs (relative to the package) loaded by `bpf-ts ARGS`, plus the exit status. */
function modulesOf(args: string[]): { status: number | null; modules: string[] } {
  const r = spawnSync(process.execPath, ['--no-warnings', `--experimental-loader=${hook}`, BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const modules = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('MODULE '))
    .map((l) => l.slice('MODULE '.length).replace(/^file:\/\/.*?\/(dist|bin|node_modules)\//, '$1/'));
  return { status: r.status, modules };
}

test('--help loads no command module and no koffi', () => {
  const { status, modules } = modulesOf(['--help']);
  expect(status).toBe(0);
  expect(modules).toContain('dist/cli/commands/index.js');
  expect(modules.filter((m) => m.startsWith('dist/cli/commands/') && m !== 'dist/cli/commands/index.js')).toEqual([]);
  expect(modules.filter((m) => m.includes('koffi') || m.startsWith('dist/sys/') || m.startsWith('dist/object/'))).toEqual([]);
});

test('inspect loads its own module and the object layer, not koffi, sys/ or other commands', () => {
  const { status, modules } = modulesOf(['inspect', fixture('globals.o')]);
  expect(status).toBe(0);
  expect(modules).toContain('dist/cli/commands/inspect.js');
  expect(modules).toContain('dist/object/object.js');
  expect(modules.filter((m) => m.startsWith('dist/cli/commands/') && !/\/(index|inspect)\.js$/.test(m))).toEqual([]);
  expect(modules.filter((m) => m.includes('koffi') || m.startsWith('dist/sys/'))).toEqual([]);
});

test('the summaries in commands/index.ts are those of the command modules', async () => {
  for (const entry of commands) {
    const cmd = await entry.load();
    expect({ name: cmd.name, aliases: cmd.aliases, summary: cmd.summary }).toEqual({
      name: entry.name,
      aliases: entry.aliases,
      summary: entry.summary,
    });
  }
});
