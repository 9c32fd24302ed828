// The CLI imports a command's module only when that command runs: --help
// reads the summaries in commands/index.ts, inspect loads the object layer
// and nothing that reaches the kernel (no koffi, no sys/).
//
// bin/bpf-ts.js runs the bundle in dist/cli-bundle/ (scripts/bundle.js):
// node loads a few bundle files, each evaluating the modules bundled into it.
// The source map of each file names those modules (src/…), so "which modules
// a command loads" is read from the files node loaded and their maps.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { commands } from '../../src/cli/commands/index.js';
import { BIN, ROOT, ensureDist, fixture } from '../helpers/cli.js';

let dir: string;
let hook: string;
let cjsHook: string;

beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'bpf-ts-lazy-'));
  hook = join(dir, 'hook.mjs');
  // A loader hook that names every module node loads through the ESM loader.
  writeFileSync(hook, `export async function load(u, c, n) { process.stderr.write('MODULE ' + u + '\\n'); return n(u, c); }\n`);
  // The bin and the bundle are CommonJS, which that hook does not see: a
  // preload names every file in require's cache when the process exits.
  cjsHook = join(dir, 'hook.cjs');
  writeFileSync(
    cjsHook,
    `process.on('exit', () => { for (const f of Object.keys(require.cache)) if (f !== __filename) process.stderr.write('MODULE ' + require('node:url').pathToFileURL(f).href + '\\n'); });\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What `bpf-ts ARGS` loads: the files node loaded (relative to the package),
 * the source modules bundled into them (src/…, from their source maps), and
 * the exit status.
 */
function modulesOf(args: string[]): { status: number | null; files: string[]; modules: string[] } {
  const r = spawnSync(process.execPath, ['--no-warnings', `--experimental-loader=${hook}`, '--require', cjsHook, BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  // Files only: node's built-ins (node:module, which the bundler's helper imports) cost nothing to load.
  // Each file once: the loader hook also sees the CommonJS entry point.
  const urls = [
    ...new Set(
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith('MODULE ') && !l.startsWith('MODULE node:'))
        .map((l) => l.slice('MODULE '.length)),
    ),
  ];
  const files = urls.map((u) => u.replace(/^file:\/\/.*?\/(dist|bin|node_modules)\//, '$1/'));
  const modules = urls.flatMap((u) => {
    if (!u.includes('/dist/cli-bundle/')) return [u.replace(/^file:\/\/.*?\/(dist|bin|node_modules)\//, '$1/')];
    // The bundler's helper chunk (namespace objects) has no sources and no map.
    if (/\/rolldown-runtime-[\w-]+\.js$/.test(u)) return ['(rolldown runtime)'];
    const map = JSON.parse(readFileSync(fileURLToPath(u) + '.map', 'utf8')) as { sources: string[] };
    return map.sources.map((s) => s.replace(/^(\.\.\/)+/, ''));
  });
  return { status: r.status, files, modules };
}

test('--help loads one bundle file: no command module, no object layer, no koffi', () => {
  const { status, files, modules } = modulesOf(['--help']);
  expect(status).toBe(0);
  expect(files).toEqual(['bin/bpf-ts.js', 'dist/cli-bundle/main.js']);
  expect(modules).toContain('src/cli/commands/index.ts');
  expect(modules).toContain('src/cli/main.ts');
  expect(modules.filter((m) => m.startsWith('src/cli/commands/') && m !== 'src/cli/commands/index.ts')).toEqual([]);
  expect(modules.filter((m) => m.includes('koffi') || m.startsWith('src/sys/') || m.startsWith('src/object/'))).toEqual([]);
});

test('inspect loads its own module and the object layer, not koffi, sys/ or other commands', () => {
  const { status, files, modules } = modulesOf(['inspect', fixture('globals.o')]);
  expect(status).toBe(0);
  // The bin, main.js, inspect's chunk and at most the bundler's small runtime helper chunk.
  expect(files.length).toBeLessThanOrEqual(4);
  expect(files.every((f) => f === 'bin/bpf-ts.js' || f.startsWith('dist/cli-bundle/'))).toBe(true);
  expect(modules).toContain('src/cli/commands/inspect.ts');
  expect(modules).toContain('src/object/object.ts');
  expect(modules.filter((m) => m.startsWith('src/cli/commands/') && !/\/(index|inspect)\.ts$/.test(m))).toEqual([]);
  expect(modules.filter((m) => m.includes('koffi') || m.startsWith('src/sys/'))).toEqual([]);
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
