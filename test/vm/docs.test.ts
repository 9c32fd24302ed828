// docs/examples/emulate.mjs must keep running (no root needed).
import { execFileSync } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { ensureDist } from '../helpers/cli.js';
import { ROOT } from '../helpers/oracle.js';

beforeAll(() => ensureDist(), 300_000);

it('docs/examples/emulate.mjs: sums the bytes, lists the program, reports the fault', () => {
  const out = execFileSync(process.execPath, ['docs/examples/emulate.mjs'], { encoding: 'utf8', cwd: ROOT });
  expect(out).toContain(`sum = ${1 + 2 + 3 + 250} after 27 instructions`); // 1 + 4 loops of 6 + the final test and exit
  expect(out).toContain(' 1: if r2 == 0x0 goto +5');
  expect(out).toMatch(/EMU_FAULT: sum: instruction 2 \(r3 = \*\(u8 \*\)\(r1 \+ 0\)\): read of 1 bytes at 0x[0-9a-f]+ \(data\+4, region of 4 bytes\)/);
});
