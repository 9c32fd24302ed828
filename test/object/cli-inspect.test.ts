// `bpf-ts inspect`: the JSON and human output for fixtures, checked against
// llvm-readelf's dump (instruction counts) and the C sources (types, sizes),
// and the error paths (one line on stderr, no stack trace, an error code in
// --json).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { FIXTURES, ROOT, parseReadelf, programs as oraclePrograms } from '../helpers/oracle.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const fixture = (name: string) => join(FIXTURES, name);

/** Instruction counts per program, from llvm-readelf's symbol sizes. */
function oracleCounts(name: string): Record<string, number> {
  const o = parseReadelf(readFileSync(fixture(name.replace(/\.o$/, '.readelf.txt')), 'utf8'));
  return Object.fromEntries(oraclePrograms(o).map((s) => [s.name, s.size / 8]));
}

// From bpf/*.c; type names as bpftool spells them.
const CASES: Record<string, { programs: { name: string; section: string; type: string | null }[]; maps: unknown[] }> = {
  'drop_all.o': { programs: [{ name: 'xdp_drop', section: 'prog', type: null }], maps: [] },
  'tc_shared_map.o': {
    programs: [
      { name: 'tc_ingress', section: 'ingress', type: 'sched_cls' },
      { name: 'tc_egress', section: 'egress', type: 'sched_cls' },
    ],
    maps: [{ name: 'acc_map', type: 'array', keySize: 4, valueSize: 8, maxEntries: 2, flags: 0, pinning: 'global' }],
  },
  'goebpf_protocount.bpfeb.o': {
    programs: [{ name: 'packet_count', section: 'xdp', type: 'xdp' }],
    maps: [{ name: 'protocols', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 255, flags: 0, pinning: 'none' }],
  },
  'lpm_blocklist.o': {
    programs: [{ name: 'xdp_blocklist', section: 'xdp', type: 'xdp' }],
    maps: [
      { name: 'blocklist', type: 'lpm_trie', keySize: 8, valueSize: 8, maxEntries: 1024, flags: 1, pinning: 'none' },
      { name: 'drops', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, pinning: 'none' },
    ],
  },
  'tailcall.clang14.o': {
    programs: [
      { name: 'xdp_entry', section: 'xdp', type: 'xdp' },
      { name: 'tail_drop', section: 'xdp', type: 'xdp' },
    ],
    maps: [{ name: 'jmp_table', type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, pinning: 'none' }],
  },
  'sockops_redir.o': {
    programs: [
      { name: 'bpf_sockmap', section: 'sockops', type: 'sock_ops' },
      { name: 'bpf_redir', section: 'sk_msg', type: 'sk_msg' },
    ],
    maps: [{ name: 'sock_map', type: 'sockhash', keySize: 16, valueSize: 4, maxEntries: 65535, flags: 0, pinning: 'none' }],
  },
  'map_in_map.o': {
    programs: [{ name: 'xdp_mim', section: 'xdp', type: 'xdp' }],
    maps: [
      { name: 'inner_arr', type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' },
      { name: 'inner_a', type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' },
      { name: 'outer', type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 2, flags: 0, pinning: 'none' },
    ],
  },
  'subprogs.o': {
    programs: ['xdp_a', 'xdp_b', 'xdp_c', 'xdp_loop'].map((name) => ({ name, section: 'xdp', type: 'xdp' })),
    maps: [],
  },
};

const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));

describe('bpf-ts inspect --json', () => {
  it.each(Object.keys(CASES))('%s', async (name) => {
    const r = await cli(['inspect', fixture(name), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(Object.keys(doc).sort()).toEqual(['externs', 'kfuncs', 'license', 'maps', 'programs', 'warnings']);
    // None of these objects uses externs or has anything to warn about.
    expect([doc.externs, doc.kfuncs, doc.warnings]).toEqual([[], [], []]);
    expect(doc.license).toBe('GPL');
    const counts = oracleCounts(name);
    const want = CASES[name]!;
    expect(byName(doc.programs)).toEqual(byName(want.programs.map((p) => ({ ...p, instructions: counts[p.name] }))));
    for (const p of doc.programs) expect(Object.keys(p).sort()).toEqual(['instructions', 'name', 'section', 'type']);
    // Global data sections show up as maps too; the source's maps must be there exactly.
    const named = doc.maps.filter((m: { name: string }) => !m.name.startsWith('.'));
    expect(byName(named)).toEqual(byName(want.maps as { name: string }[]));
    for (const m of doc.maps) expect(Object.keys(m).sort()).toEqual(['flags', 'keySize', 'maxEntries', 'name', 'pinning', 'type', 'valueSize']);
  });

  it('lists global data sections as array maps', async () => {
    const r = await cli(['inspect', fixture('globals.o'), '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    const sizes = Object.fromEntries(doc.maps.map((m: { name: string; valueSize: number; type: string; maxEntries: number }) => [m.name, [m.type, m.valueSize, m.maxEntries]]));
    expect(sizes).toEqual({ '.rodata': ['array', 5, 1], '.data': ['array', 8, 1], '.bss': ['array', 32, 1] });
  });
});

describe('bpf-ts inspect (human output)', () => {
  it('names every program, section and map', async () => {
    const r = await cli(['inspect', fixture('tc_shared_map.o')]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('GPL');
    for (const word of ['tc_ingress', 'tc_egress', 'ingress', 'egress', 'sched_cls', 'acc_map', 'global']) expect(r.out).toContain(word);
    // The instruction count the oracle gives appears on the program's line.
    const line = r.out.split('\n').find((l) => l.startsWith('tc_ingress'))!;
    expect(line.split(/\s+/)).toContain(String(oracleCounts('tc_shared_map.o').tc_ingress));
  });

  it('says so when an object has no maps', async () => {
    const r = await cli(['inspect', fixture('drop_all.o')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('xdp_drop');
    expect(r.out).toContain('prog');
    expect(r.out).not.toContain('acc_map');
  });
});

describe('bpf-ts inspect errors', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-ts-inspect-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const oneLine = (err: string) => {
    expect(err.endsWith('\n')).toBe(true);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err.startsWith('bpf-ts: ')).toBe(true);
    expect(err).not.toContain('    at ');
  };

  it('a missing file: exit 1, one line on stderr naming the file', async () => {
    const missing = join(dir, 'nope.o');
    const r = await cli(['inspect', missing]);
    expect(r.code).toBe(1);
    oneLine(r.err);
    expect(r.err).toContain(missing);
    expect(r.out).toBe('');
  });

  it('a missing file with --json: the error code on stdout', async () => {
    const r = await cli(['inspect', join(dir, 'nope.o'), '--json']);
    expect(r.code).toBe(1);
    oneLine(r.err);
    expect(JSON.parse(r.out).error.code).toBe('IO');
  });

  it('a file that is not ELF: exit 1, ELF_BAD_MAGIC in --json', async () => {
    const garbage = join(dir, 'garbage.o');
    writeFileSync(garbage, Buffer.from('this is not an ELF object, just some text that is long enough\n'.repeat(4)));
    const r = await cli(['inspect', garbage, '--json']);
    expect(r.code).toBe(1);
    oneLine(r.err);
    const doc = JSON.parse(r.out);
    expect(doc.error.code).toBe('ELF_BAD_MAGIC');
    expect(doc.error.message.startsWith(garbage + ':')).toBe(true);
  });

  it('a truncated object: exit 1, ELF_TRUNCATED', async () => {
    const cut = join(dir, 'cut.o');
    writeFileSync(cut, readFileSync(fixture('drop_all.o')).subarray(0, 40));
    const r = await cli(['inspect', cut, '--json']);
    expect(r.code).toBe(1);
    oneLine(r.err);
    expect(JSON.parse(r.out).error.code).toBe('ELF_TRUNCATED');
  });

  it('no object argument: a usage error', async () => {
    const r = await cli(['inspect', '--json']);
    expect(r.code).toBe(1);
    oneLine(r.err);
    expect(JSON.parse(r.out).error.code).toBe('USAGE');
  });
});

describe('the installed bin', () => {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  beforeAll(() => {
    if (existsSync(main)) return;
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      // tsc still emits when some other file has a type error; only a missing main.js is fatal.
      if (!existsSync(main)) throw e;
    }
  }, 120_000);

  it('node bin/bpf-ts.js inspect fixtures/drop_all.o --json', () => {
    const out = execFileSync(process.execPath, ['bin/bpf-ts.js', 'inspect', 'fixtures/drop_all.o', '--json'], { cwd: ROOT, encoding: 'utf8' });
    const doc = JSON.parse(out);
    expect(doc.license).toBe('GPL');
    expect(doc.programs).toEqual([{ name: 'xdp_drop', section: 'prog', type: null, instructions: oracleCounts('drop_all.o').xdp_drop }]);
    expect(doc.maps).toEqual([]);
  });
});
