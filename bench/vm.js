// Figure: the emulator's speed, in BPF instructions per second, on a long
// loop mixing 64- and 32-bit ALU, a stack store and load, a bounds-checked
// read of a memory region through a pointer (as a packet or map value is
// read) and a conditional jump. The result is checked against the same loop
// computed in JavaScript with BigInt. Both tiers are measured: the compiled
// one (the default) carries the target; the interpreter is the reference.

import { check, dist, fmt, nowNs } from './util.js';

const ITERATIONS = 2_000_000;
const RUNS = 5;
const TARGET = 50e6;
const MEM = Uint8Array.from([1, 2, 3, 4, 0x78, 0x56, 0x34, 0x12, 9, 10, 11, 12]);
const MEM_WORD = 0x12345678n;

const PROGRAM = `
  r6 = r1
  r0 = 0
  r1 = ${ITERATIONS}
loop:
  r2 = r1
  r2 ^= 0x5a5a
  r0 += r2
  w3 = w0
  w3 >>= 3
  *(u64 *)(r10 - 8) = r3
  r4 = *(u64 *)(r10 - 8)
  r0 += r4
  r5 = *(u32 *)(r6 + 4)
  r0 += r5
  r1 += -1
  if r1 != 0x0 goto loop
  exit
`;

function reference() {
  const M = (1n << 64n) - 1n;
  let r0 = 0n;
  for (let r1 = BigInt(ITERATIONS); r1 !== 0n; r1--) {
    r0 = (r0 + (r1 ^ 0x5a5an)) & M;
    const r3 = (r0 & 0xffffffffn) >> 3n;
    r0 = (r0 + r3 + MEM_WORD) & M;
  }
  return r0;
}

export async function vmLoop() {
  const { assemble } = await dist('asm/assembler.js');
  const { Vm } = await dist('vm/vm.js');
  const bytes = assemble(PROGRAM).bytes;
  const want = reference();
  const measure = (tier) => {
    const vm = new Vm({ instructions: bytes, name: 'bench' }, { budget: 100 * ITERATIONS, tier });
    const mem = vm.memory.add('mem', MEM);
    const base = BigInt(mem.id) << 32n;
    let best = Infinity;
    let result;
    for (let r = 0; r < RUNS; r++) {
      const t0 = nowNs();
      result = vm.run([base]);
      best = Math.min(best, nowNs() - t0);
    }
    check(result.retval === want, `emulator (${tier}) returned ${result.retval}, BigInt reference ${want}`);
    return { perSec: result.instructions / (best / 1e9), best, instructions: result.instructions };
  };
  const fast = measure('compile');
  const slow = measure('interpret');
  const m = (v) => (v / 1e6).toFixed(0);
  return [
    {
      name: 'emulator',
      line: `emulator: ${m(fast.perSec)} M instructions/s compiled, ${m(slow.perSec)} M/s interpreted (${fmt.ratio(fast.perSec / slow.perSec)}x)`,
      detail: `${fast.instructions} instructions (a ${ITERATIONS}-iteration loop of 12), best of ${RUNS} runs: ${fmt.ms(fast.best / 1e6)} ms compiled, ${fmt.ms(slow.best / 1e6)} ms interpreted; r0 checked against BigInt`,
      checks: [{ what: 'speed', value: `${m(fast.perSec)} M insn/s`, target: `>= ${TARGET / 1e6} M insn/s`, pass: fast.perSec >= TARGET }],
    },
  ];
}
