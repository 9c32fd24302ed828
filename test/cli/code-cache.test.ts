// The CLI bundle's V8 code caches (bin/bpf-ts.js, made by
// scripts/code-cache.js during the build): one per content-hashed chunk, each
// one V8 itself accepts for its chunk, used by the bin, and harmless when
// damaged. V8's verdict (vm.Script's cachedDataRejected) is the oracle.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, ensureDist, fixture } from '../helpers/cli.js';

const require = createRequire(import.meta.url);
const { HASHED_CHUNK, cacheDir, BUNDLE_DIR: BUNDLE } = require('../../bin/bpf-ts.js') as { HASHED_CHUNK: RegExp; cacheDir: (bundleDir: string) => string; BUNDLE_DIR: string };
const Module = require('node:module') as { wrap(source: string): string };
const OBJ = fixture('core_reads.clang14.o');

let scratch: string;
beforeAll(() => {
  ensureDist();
  scratch = mkdtempSync(join(tmpdir(), 'bpf-ts-code-cache-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * `inspect OBJ` run in a fresh node from the package at `root` (the bin's
 * own loading path: caches unless --debug), with the cache counters.
 */
function inspectIn(root: string): { out: string; stats: { used: number; rejected: number } } {
  const script = `
    const cc = require(${JSON.stringify(join(root, 'bin', 'bpf-ts.js'))});
    cc.useCodeCaches(${JSON.stringify(join(root, 'dist', 'cli-bundle'))});
    let out = '';
    require(${JSON.stringify(join(root, 'dist', 'cli-bundle', 'main.js'))})
      .run(['inspect', ${JSON.stringify(OBJ)}], { out: (s) => (out += s), err: (s) => (out += 'ERR ' + s) })
      .then(() => process.stdout.write(JSON.stringify({ out, stats: cc.stats })));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as { out: string; stats: { used: number; rejected: number } };
}

describe('V8 code caches of the CLI bundle', () => {
  test('the build made one for every content-hashed chunk, for this Node', () => {
    const chunks = readdirSync(BUNDLE).filter((f) => f.endsWith('.js') && f !== 'main.js');
    expect(chunks.length).toBeGreaterThan(20);
    // Every chunk but the entry carries rolldown's 8-character hash.
    expect(chunks.filter((f) => !HASHED_CHUNK.test(f))).toEqual([]);
    expect(HASHED_CHUNK.test('main.js')).toBe(false);
    const dir = cacheDir(BUNDLE);
    expect(dir).toBe(join(BUNDLE, 'v8-cache', `${process.version}-${process.arch}`));
    expect(readdirSync(dir).sort()).toEqual(chunks.map((f) => f + '.cache').sort());
  });

  test('V8 accepts each cache for its chunk, and refuses it for another chunk', () => {
    const dir = cacheDir(BUNDLE);
    const chunks = readdirSync(BUNDLE).filter((f) => HASHED_CHUNK.test(f));
    for (const f of chunks) {
      const filename = join(BUNDLE, f);
      const s = new Script(Module.wrap(readFileSync(filename, 'utf8')), { filename, cachedData: readFileSync(join(dir, f + '.cache')) });
      expect({ chunk: f, rejected: s.cachedDataRejected }).toEqual({ chunk: f, rejected: false });
    }
    // A cache made for other source (here: the inspect chunk's) is refused, not run.
    const inspectChunk = chunks.find((f) => f.startsWith('inspect-'))!;
    // Any other chunk (how the bundler groups modules into chunks changes with the imports).
    const other = chunks.find((f) => !f.startsWith('inspect-'))!;
    const s = new Script(Module.wrap(readFileSync(join(BUNDLE, other), 'utf8')), { cachedData: readFileSync(join(dir, inspectChunk + '.cache')) });
    expect(s.cachedDataRejected).toBe(true);
  });

  test('inspect compiles its chunks from the caches and prints what it prints without them', () => {
    const withCaches = inspectIn(ROOT);
    // The inspect chunk and rolldown's runtime chunk (main.js has no hash, so no cache).
    expect(withCaches.stats).toEqual({ used: 2, rejected: 0 });
    expect(withCaches.out).toMatch(/^core_reads\s+raw_tracepoint\/sys_enter\s+raw_tracepoint\s+277$/m);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'bpf-ts.js'), 'inspect', OBJ, '--debug'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(withCaches.out).toBe(r.stdout);
  });

  test('a damaged cache is refused and the command works as without it', () => {
    // The package as installed elsewhere: bin/ and the bundle copied, with the inspect chunk's cache overwritten.
    const root = join(scratch, 'pkg');
    cpSync(join(ROOT, 'bin'), join(root, 'bin'), { recursive: true });
    cpSync(BUNDLE, join(root, 'dist', 'cli-bundle'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const dir = cacheDir(join(root, 'dist', 'cli-bundle'));
    const victim = readdirSync(dir).find((f) => f.startsWith('inspect-'))!;
    const good = inspectIn(root);
    expect(good.stats).toEqual({ used: 2, rejected: 0 }); // a copy in another place still takes them
    writeFileSync(join(dir, victim), Buffer.alloc(readFileSync(join(dir, victim)).length, 0x5a));
    const damaged = inspectIn(root);
    expect(damaged.stats).toEqual({ used: 1, rejected: 1 });
    expect(damaged.out).toBe(good.out);
    const r = spawnSync(process.execPath, [join(root, 'bin', 'bpf-ts.js'), 'inspect', OBJ], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(good.out);
  });
});
