// Shell completion of names inside an object (--program, --max-entries MAP=,
// --set NAME=), interface names and pin paths: the real bash function runs
// with COMP_WORDS/COMP_CWORD set and calls `bpf-ts __complete` back, and its
// candidates are compared with what llvm-readelf says the object holds
// (the committed fixtures/*.readelf.txt, read by test/helpers/oracle.ts).

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { completeWords } from '../../src/cli/complete.js';
import { BIN, cli, ensureDist, fixture } from '../helpers/cli.js';
import { fixturesWithOracle, isDataSectionName, isLegacyMapsSection, programs, sectionByIndex, type ReadelfOracle } from '../helpers/oracle.js';

/** Map names readelf shows: symbols in .maps (BTF) or a legacy maps section. */
function oracleMaps(o: ReadelfOracle): string[] {
  return o.symbols
    .filter((s) => {
      const sec = sectionByIndex(o, s.ndx);
      return sec && s.name && !s.name.startsWith('.') && (sec.name === '.maps' || isLegacyMapsSection(sec.name));
    })
    .map((s) => s.name);
}

/** Global variables readelf shows: OBJECT symbols in .data/.rodata/.bss(.*). */
function oracleGlobals(o: ReadelfOracle): string[] {
  return o.symbols
    .filter((s) => {
      const sec = sectionByIndex(o, s.ndx);
      return sec && s.type === 'OBJECT' && !s.name.startsWith('.') && isDataSectionName(sec.name);
    })
    .map((s) => s.name);
}

const sorted = (xs: string[]) => [...new Set(xs)].sort();

describe('__complete: names from the object, against llvm-readelf', () => {
  const all = fixturesWithOracle();

  it('every fixture: --program lists its programs, --max-entries its maps (MAP=), --set its globals (NAME=)', () => {
    let withPrograms = 0;
    let withMaps = 0;
    let withGlobals = 0;
    for (const f of all) {
      const progs = sorted(programs(f.oracle).map((p) => p.name));
      if (progs.length) {
        expect(sorted(completeWords(['load', f.path, '--program', ''])), f.file).toEqual(progs);
        withPrograms++;
      }
      const maps = sorted(oracleMaps(f.oracle));
      expect(sorted(completeWords(['run', f.path, '--max-entries', ''])), f.file).toEqual(maps.map((m) => `${m}=`));
      const globals = sorted(oracleGlobals(f.oracle));
      expect(sorted(completeWords(['load', '--xdp', 'lo', f.path, '--set', ''])), f.file).toEqual(globals.map((g) => `${g}=`));
      if (maps.length) withMaps++;
      if (globals.length) withGlobals++;
    }
    // The fixtures exercise each kind (so the loop above could fail).
    expect(all.length).toBeGreaterThan(50);
    expect(withPrograms).toBeGreaterThan(50);
    expect(withMaps).toBeGreaterThan(20);
    expect(withGlobals).toBeGreaterThan(3);
  });

  it('filters by the typed prefix; the object is found after options with values and after a sub-command', () => {
    const o = fixture('tc_shared_map.o');
    expect(completeWords(['load', '--tc', 'lo', '--direction', 'ingress', o, '--program', 'tc_e'])).toEqual(['tc_egress']);
    expect(completeWords(['load', o, '--max-entries', 'acc'])).toEqual(['acc_map=']);
    // Typing the value after NAME= is not completed.
    expect(completeWords(['load', o, '--max-entries', 'acc_map=1'])).toEqual([]);
    // "--program=x": bash hands over '=' as its own word.
    expect(completeWords(['load', o, '--program', '=', ''])).toEqual(['tc_ingress', 'tc_egress']);
  });

  it('never fails: no object, a missing file, a directory, a non-ELF file, a FIFO give no candidates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfts-complete-'));
    try {
      writeFileSync(join(dir, 'text.o'), 'not an object\n');
      execFileSync('mkfifo', [join(dir, 'fifo.o')]);
      for (const obj of [join(dir, 'missing.o'), dir, join(dir, 'text.o'), join(dir, 'fifo.o')]) {
        expect(completeWords(['load', obj, '--program', '']), obj).toEqual([]);
      }
      expect(completeWords(['load', '--program', ''])).toEqual([]);
      expect(completeWords(['load', fixture('drop_all.o'), '--xdp', ''])).toEqual([]);
      expect(completeWords([])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the bash completion function calls bpf-ts back', () => {
  let script = '';
  let dir = '';
  beforeAll(async () => {
    ensureDist();
    script = (await cli('completion', 'bash')).stdout;
    dir = mkdtempSync(join(tmpdir(), 'bpfts-compl-'));
    writeFileSync(join(dir, 'c.sh'), script);
    for (const f of ['tc_shared_map.o', 'globals.o', 'map_in_map.o']) copyFileSync(fixture(f), join(dir, f));
    // ensureDist() may run tsc, which takes minutes on a loaded machine.
  }, 900_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** COMPREPLY of _bpf_ts for `words` (the last one being completed), run in `dir` with the real bin as COMP_WORDS[0]. */
  const complete = (words: string[]): string[] => {
    const quoted = [BIN, ...words].map((w) => `'${w}'`).join(' ');
    const cmd = `source c.sh; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _bpf_ts; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', cwd: dir }).split('\n').filter(Boolean);
  };
  const oracle = (file: string) => fixturesWithOracle().find((f) => f.file === file)!.oracle;

  it("--program: the object's programs, as readelf lists them", () => {
    expect(sorted(complete(['load', 'tc_shared_map.o', '--tc', 'lo', '--program', '']))).toEqual(sorted(programs(oracle('tc_shared_map.o')).map((p) => p.name)));
    expect(complete(['run', 'globals.o', '--program', 'x'])).toEqual(
      programs(oracle('globals.o'))
        .map((p) => p.name)
        .filter((n) => n.startsWith('x')),
    );
  });

  it('--max-entries and --set: MAP= and NAME= from the object', () => {
    expect(sorted(complete(['load', 'map_in_map.o', '--max-entries', '']))).toEqual(sorted(oracleMaps(oracle('map_in_map.o')).map((m) => `${m}=`)));
    expect(sorted(complete(['run', 'globals.o', '--set', '']))).toEqual(sorted(oracleGlobals(oracle('globals.o')).map((g) => `${g}=`)));
    // --program=PREFIX as bash splits it.
    expect(complete(['load', 'tc_shared_map.o', '--program', '=', 'tc_i'])).toEqual(['tc_ingress']);
  });

  it('object arguments complete to *.o files; a missing object gives no names and no error', () => {
    expect(sorted(complete(['inspect', '']))).toEqual(['globals.o', 'map_in_map.o', 'tc_shared_map.o']);
    expect(complete(['load', 'nope.o', '--program', ''])).toEqual([]);
  });

  it('--xdp/--tc/--socket: interfaces of this namespace (/sys/class/net)', () => {
    const ifaces = readdirSync('/sys/class/net').sort();
    expect(sorted(complete(['load', 'x.o', '--xdp', '']))).toEqual(ifaces);
    expect(complete(['load', 'x.o', '--tc', 'l'])).toEqual(ifaces.filter((i) => i.startsWith('l')));
    expect(complete(['run', 'x.o', '--socket', 'l'])).toEqual(ifaces.filter((i) => i.startsWith('l')));
  });

  it('map sub-commands take a pin path or id:', () => {
    expect(complete(['map', 'dump', 'glob'])).toEqual(['globals.o']);
    expect(complete(['map', 'lookup', 'i'])).toEqual(['id:']);
    expect(complete(['map', 'd'])).toEqual(['dump', 'delete']);
  });

  it('prog dump takes a pin path or id:', () => {
    expect(complete(['prog', 'd'])).toEqual(['dump']);
    expect(complete(['prog', 'dump', 'glob'])).toEqual(['globals.o']);
    expect(complete(['prog', 'dump', 'i'])).toEqual(['id:']);
  });
});
