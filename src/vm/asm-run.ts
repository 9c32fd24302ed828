// Run an assembler file in the emulator the way the conformance suite does:
// the memory (from `-- mem` or the caller) is one region, r1 points at it and
// r2 holds its length (r1 = r2 = 0 when there is none).

import { parseDataFile } from '../asm/data-file.js';
import { type HelperDef, Vm } from './vm.js';

/**
 * The helper the conformance suite's runtimes provide: id 5, "unwind", which
 * returns its argument and ends the program when that is zero. Only for
 * suite programs; real programs get the kernel's helpers.
 */
export const CONFORMANCE_HELPERS: ReadonlyMap<number, HelperDef> = new Map([
  [
    5,
    {
      name: 'unwind (conformance suite helper 5)',
      fn: (ctx, r1) => {
        if (r1 === 0n) ctx.stop(0n);
        return r1;
      },
    },
  ],
]);

export interface AsmRunResult {
  retval: bigint;
  /** `-- result` of a .data file, when it has one. */
  expected?: bigint;
  /** `-- error` of a .data file, when it has one. */
  expectedError?: string;
  instructions: number;
  bytes: Uint8Array;
}

/** Assemble `text` (plain or .data) and run it. `mem` replaces the file's `-- mem`. */
export function runAsm(text: string, opts: { label?: string; mem?: Uint8Array; budget?: number; tier?: 'compile' | 'interpret' } = {}): AsmRunResult {
  const file = parseDataFile(text, opts.label ?? 'asm');
  const mem = opts.mem ?? file.mem;
  const vm = new Vm({ instructions: file.bytes, name: opts.label ?? 'asm' }, { helpers: CONFORMANCE_HELPERS, entryRegs: [1, 2], budget: opts.budget, tier: opts.tier });
  let args: bigint[] = [0n, 0n];
  if (mem.length > 0) {
    const region = vm.memory.add('mem', mem, { kind: 'memory' });
    args = [BigInt(region.id) << 32n, BigInt(mem.length)];
  }
  const r = vm.run(args);
  return { retval: r.retval, expected: file.result, expectedError: file.error, instructions: r.instructions, bytes: file.bytes };
}
