// The disassembler and assembler against every instruction of every fixture:
// - round trip: section bytes -> our text -> assemble -> the same bytes;
// - oracle: our text against llvm-objdump-19's (fixtures/*.objdump.txt, made
//   by `make -C bpf`), both normalised to one spelling of the same facts
//   (numbers in decimal, no symbolic jump annotations, helper/local call
//   targets as the raw imm the way llvm-objdump prints them).
// Section bytes are located by readelf's offsets, not by our ELF parser.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { disassemble } from '../../src/asm/disasm.js';
import { fixturesWithOracle, isExecutable, sectionBytes } from '../helpers/oracle.js';

const fixtures = fixturesWithOracle();

/** llvm-objdump -d output: section name -> slot -> text. */
function parseObjdump(text: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  let cur: Map<number, string> | undefined;
  for (const line of text.split('\n')) {
    const [, sec] = /^Disassembly of section (.+):$/.exec(line) ?? [];
    if (sec !== undefined) {
      cur = new Map();
      out.set(sec, cur);
      continue;
    }
    const [, at, text] = /^\s+(\d+):\t(.*)$/.exec(line) ?? [];
    if (at !== undefined && text !== undefined && cur) cur.set(Number(at), text.trim());
  }
  return out;
}

/** One spelling for both tools' text. */
function normalise(t: string): string {
  return t
    .replace(/\s*<[^>]*>$/, '') // llvm's "<func+0x138>" jump annotations
    .replace(/\bcall pc([+-]\d+)/, (_m, n) => `call ${Number(n)}`) // local call: llvm prints the imm
    .replace(/\bcall (?:kfunc|[A-Za-z_]\w*)#(-?\d+)/, 'call $1') // helper/kfunc: llvm prints the imm
    .replace(/\batomic64_/, 'atomic_')
    .replace(/^lock (.*) ([+|&^]=) w(\d+)$/, 'lock $1 $2 r$3') // llvm names the 32-bit operand w
    .replace(/([+-]?)0x([0-9a-f]+)/gi, (_m, sign, hex) => `${sign}${BigInt(`0x${hex}`)}`)
    .replace(/= (-?\d+) ll$/, (_m, n) => `= ${BigInt.asUintN(64, BigInt(n))} ll`); // a 64-bit constant: llvm prints it signed, the verifier's notation unsigned
}

describe('disassembler and assembler on every fixture instruction', () => {
  it('finds fixtures with readelf and llvm-objdump dumps', () => {
    expect(fixtures.length).toBeGreaterThan(40);
    for (const f of fixtures) expect(existsSync(f.path.replace(/\.o$/, '.objdump.txt')), `${f.file}: objdump dump missing (make -C bpf)`).toBe(true);
  });

  let total = 0;
  let compared = 0;
  for (const f of fixtures) {
    it(`${f.file}: bytes -> text -> bytes, and text matches llvm-objdump`, () => {
      const file = new Uint8Array(readFileSync(f.path));
      const le = file[5] === 1;
      const dump = parseObjdump(readFileSync(f.path.replace(/\.o$/, '.objdump.txt'), 'utf8'));
      const secs = f.oracle.sections.filter((s) => isExecutable(s) && s.size > 0);
      expect(secs.length).toBeGreaterThan(0);
      for (const s of secs) {
        const bytes = sectionBytes(file, s);
        const lines = disassemble(bytes, { littleEndian: le });
        const back = assemble(lines.map((l) => l.text).join('\n'), { label: `${f.file}:${s.name}`, littleEndian: le }).bytes;
        expect(Buffer.from(back).equals(Buffer.from(bytes)), `${f.file} ${s.name}: round trip differs`).toBe(true);
        total += lines.length;
        const theirs = dump.get(s.name);
        expect(theirs, `${f.file}: llvm-objdump has no section ${s.name}`).toBeDefined();
        expect(theirs!.size).toBe(lines.length);
        for (const l of lines) {
          const want = theirs!.get(l.slot);
          expect(want, `${f.file} ${s.name} slot ${l.slot}: not in llvm-objdump's listing`).toBeDefined();
          expect(normalise(l.text), `${f.file} ${s.name} slot ${l.slot}: ours "${l.text}", llvm-objdump "${want}"`).toBe(normalise(want!));
          compared++;
        }
      }
    });
  }
  it('covered every instruction', () => {
    console.log(`fixtures: ${total} instructions round-tripped, ${compared} compared with llvm-objdump-19, in ${fixtures.length} objects`);
    expect(compared).toBe(total);
    expect(total).toBeGreaterThan(1000);
  });
});
