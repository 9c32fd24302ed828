// How src/sys/ffi.ts loads koffi: its native module straight from the
// per-platform package (no koffi loader layers on the first syscall), as the
// one instance koffi's own loader hands out afterwards, never a second copy.
// In a fresh child: a test worker may have loaded koffi already.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { ensureDist } from './helpers/dist.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const CHILD = `
import { createRequire } from 'node:module';
const ffi = await import(process.argv[1]);
const require = createRequire(process.argv[1]);
const loadedAtImport = ffi.ffiLoaded();
const lim = ffi.getMemlock();
const cached = () => Object.keys(require.cache);
const before = cached();
const koffi = require('koffi');
const natives = cached().filter((f) => f.endsWith('.node'));
console.log(JSON.stringify({
  loadedAtImport,
  before,
  natives,
  same: koffi.default === require.cache[natives[0]].exports,
  koffiVersion: koffi.version,
  cur: String(lim.cur),
  max: String(lim.max),
}));
`;

/** RLIMIT_MEMLOCK from /proc/self/limits (the kernel's own account), as getrlimit reports it. */
function procMemlock(pid: number): { cur: string; max: string } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max locked memory'))!;
  const [cur, max] = line.replace('Max locked memory', '').trim().split(/\s+/);
  const v = (s: string) => (s === 'unlimited' ? String(2n ** 64n - 1n) : s);
  return { cur: v(cur!), max: v(max!) };
}

test('koffi: native module loaded once, straight from its platform package, and shared with koffi itself', () => {
  ensureDist();
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, join(ROOT, 'dist', 'sys', 'ffi.js')], { encoding: 'utf8' }));
  expect(out.loadedAtImport).toBe(false);
  // Nothing of koffi's JavaScript ran: only the native file is in require's cache.
  expect(out.before).toHaveLength(1);
  expect(out.before[0]).toMatch(new RegExp(`/@koromix/koffi-linux-${process.arch}/(linux|musl)_${process.arch}/koffi\\.node$`));
  // koffi's loader, run afterwards, found that instance instead of loading a second one.
  expect(out.natives).toEqual(out.before);
  expect(out.same).toBe(true);
  expect(out.koffiVersion).toBe(JSON.parse(readFileSync(join(ROOT, 'node_modules', 'koffi', 'package.json'), 'utf8')).version);
  // And it calls libc: getrlimit agrees with the kernel's /proc view of a process with the same limits (ours).
  expect({ cur: out.cur, max: out.max }).toEqual(procMemlock(process.pid));
});
