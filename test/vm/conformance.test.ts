// The public eBPF conformance suite (bpf_conformance, the one the kernel,
// uBPF, rbpf and PREVAIL report against), read from ../shared/bpf_conformance
// beside the repository: it is test data, never copied into the project.
// - tests/: every program assembles and returns its `-- result`;
// - negative/: every input is refused with a clear BpfError (or, for the one
//   whose `-- result` is deliberately wrong, runs to a different value).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { parseDataFile } from '../../src/asm/data-file.js';
import { disassemble } from '../../src/asm/disasm.js';
import { BpfError } from '../../src/errors.js';
import { runAsm } from '../../src/vm/asm-run.js';
import { ROOT } from '../helpers/oracle.js';

const SUITE = join(ROOT, '..', 'shared', 'bpf_conformance');
const present = existsSync(join(SUITE, 'tests')) && existsSync(join(SUITE, 'negative'));
if (!present) console.log(`conformance suite skipped: ${SUITE} does not exist (put bpf_conformance's tests/ and negative/ there)`);

const files = (dir: string) =>
  readdirSync(join(SUITE, dir))
    .filter((f) => f.endsWith('.data'))
    .sort();

describe.skipIf(!present)('bpf_conformance', () => {
  for (const tier of ['compile', 'interpret'] as const) {
    it(`tests/: all 313 programs return their -- result (${tier})`, () => {
      const names = files('tests');
      expect(names.length).toBe(313);
      const failures: string[] = [];
      let passed = 0;
      for (const f of names) {
        const text = readFileSync(join(SUITE, 'tests', f), 'utf8');
        try {
          const r = runAsm(text, { label: f, tier });
          if (r.expected === undefined) failures.push(`${f}: no -- result`);
          else if (r.expectedError !== undefined) failures.push(`${f}: expects an error, returned 0x${r.retval.toString(16)}`);
          else if (r.retval !== r.expected) failures.push(`${f}: returned 0x${r.retval.toString(16)}, expected 0x${r.expected.toString(16)}`);
          else passed++;
        } catch (e) {
          failures.push(`${f}: ${(e as Error).message}`);
        }
      }
      console.log(`bpf_conformance tests/ (${tier}): ${passed} of ${names.length} programs return their -- result`);
      expect(failures).toEqual([]);
      expect(passed).toBe(313);
    });
  }

  it('tests/: -- raw and -- asm agree where a file has both, and every program round-trips through the disassembler', () => {
    let both = 0;
    for (const f of files('tests')) {
      const text = readFileSync(join(SUITE, 'tests', f), 'utf8');
      const d = parseDataFile(text, f);
      if (/^-- raw$/m.test(text)) {
        const raw = parseDataFile(text.replace(/^-- asm$[\s\S]*?(?=^-- )/m, ''), f);
        expect(raw.source).toBe('raw');
        expect(Buffer.from(raw.bytes).equals(Buffer.from(d.bytes)), f).toBe(true);
        both++;
      }
      const back = assemble(
        disassemble(d.bytes)
          .map((l) => l.text)
          .join('\n'),
        { label: f },
      ).bytes;
      expect(Buffer.from(back).equals(Buffer.from(d.bytes)), `${f}: bytes -> text -> bytes`).toBe(true);
    }
    expect(both).toBeGreaterThan(0);
  });

  it('negative/: all 60 inputs are refused with a clear error', () => {
    const names = files('negative');
    expect(names.length).toBe(60);
    const accepted: string[] = [];
    const codes = new Map<string, number>();
    for (const f of names) {
      const text = readFileSync(join(SUITE, 'negative', f), 'utf8');
      let r;
      try {
        r = runAsm(text, { label: f });
      } catch (e) {
        expect(e, f).toBeInstanceOf(BpfError);
        const err = e as BpfError;
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        expect(['ASM_SYNTAX', 'INSN_INVALID']).toContain(err.code);
        // One line, naming the file, no internals.
        expect(err.message).toContain(f);
        expect(err.message).not.toMatch(/\n|undefined|NaN|\[object/);
        if (f.startsWith('unused-')) expect(err.message).toMatch(/instruction 0 \(.*\): reserved field (dst|src|offset|imm) is \d+, must be 0|offset 1 of mov/);
        continue;
      }
      // Runs, but must not produce the deliberately wrong -- result.
      if (r.expected !== undefined && r.retval === r.expected) accepted.push(`${f}: returned the expected 0x${r.retval.toString(16)}`);
      if (r.expected === undefined) accepted.push(`${f}: ran without complaint`);
    }
    console.log(
      `bpf_conformance negative/: ${names.length - accepted.length} of ${names.length} refused (${[...codes].map(([c, n]) => `${n} ${c}`).join(', ')}; the rest run to a value other than their wrong -- result)`,
    );
    expect(accepted).toEqual([]);
  });

  it('negative/ names the exact problem for a sample of inputs', () => {
    const msg = (f: string) => {
      try {
        runAsm(readFileSync(join(SUITE, 'negative', f), 'utf8'), { label: f });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(msg('invalid_register.data')).toMatch(/invalid register "%r50"/);
    expect(msg('invalid_label.data')).toMatch(/unknown label "NOT_A_LABEL"/);
    expect(msg('invalid_mnemonic.data')).toMatch(/invalid mnemonic "ldxq"/);
    expect(msg('invalid_imm32_dec_range.data')).toMatch(/2147483648 is out of 32-bit range/);
    expect(msg('invalid_offset_range.data')).toMatch(/out of 16-bit range/);
    expect(msg('empty.data')).toMatch(/no instructions|no program/);
    expect(msg('error.data')).toMatch(/instruction 0 \(r0 \|= r10\): reads r0 before any path writes it/);
    expect(msg('unused-exit-imm.data')).toMatch(/instruction 0 \(exit\): reserved field imm is 1, must be 0/);
  });
});
