// The interpreter's ALU and conditional jumps against reference arithmetic
// written with BigInt straight from the ISA's definitions (RFC 9669 and the
// kernel's rules), for edge values and seeded random operands. Every case
// runs a real program through assemble + Vm, so decoding is covered too.
// The random operands change with the run's fuzz seed (test/helpers/fuzz.ts:
// printed first, BPF_FUZZ_SEED replays it, BPF_FUZZ_SCALE draws more), so
// runs add up; each immediate builds and compiles its own program, so the
// immediate forms take one pair in eight.

import { afterEach, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { Vm } from '../../src/vm/vm.js';
import { caseRng, SCALE, seedLine } from '../helpers/fuzz.js';

const FILE = 'test/vm/alu-property.test.ts';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const u64 = (x: bigint) => x & M64;
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const u32 = (x: bigint) => x & M32;
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const sext = (x: bigint, bits: number) => u64(BigInt.asIntN(bits, x));
const swap = (x: bigint, bytes: number) => {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
};

const EDGES = [
  0n,
  1n,
  2n,
  7n,
  u64(-1n),
  u64(-2n),
  0x7fffffffn,
  0x80000000n,
  u64(-0x80000000n),
  0xffffffffn,
  1n << 32n,
  (1n << 32n) + 1n,
  1n << 63n,
  (1n << 63n) - 1n,
  u64(-(1n << 63n) + 1n),
  0x8000000000000001n,
  63n,
  64n,
  31n,
  32n,
  33n,
];

// Random operands from the run's seed, so failures reproduce.
const rng = caseRng('alu-operands', 0);
function rnd64(): bigint {
  const x = (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
  // Mix sizes: full 64-bit, 32-bit, small, negative small.
  switch (rng.int(4)) {
    case 0:
      return x;
    case 1:
      return x & M32;
    case 2:
      return x & 0xffn;
    default:
      return u64(-(x & 0xffffn));
  }
}

const pairs: [bigint, bigint][] = [];
for (const a of EDGES) for (const b of EDGES) pairs.push([a, b]);
const RANDOM_PAIRS = Math.max(1, Math.round(100 * SCALE));
for (let i = 0; i < RANDOM_PAIRS; i++) pairs.push([rnd64(), rnd64()]);

// Collected rather than expect()ed one by one (tens of thousands of cases).
const failures: string[] = [];
function check(got: bigint, want: bigint, what: string): void {
  if (got !== want && failures.length < 20) failures.push(`${what}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
}

// One Vm per program text (r1 = a, r2 = b on entry); immediates make their own programs.
const vms = new Map<string, [Vm, Vm]>();
function run(body: string[], a: bigint, b: bigint): bigint {
  const text = ['r0 = r1', 'r1 = r2', ...body, 'exit'].join('\n');
  let pair = vms.get(text);
  if (!pair) {
    const bytes = assemble(text).bytes;
    pair = [new Vm({ instructions: bytes }, { entryRegs: [1, 2], tier: 'compile' }), new Vm({ instructions: bytes }, { entryRegs: [1, 2], tier: 'interpret' })];
    vms.set(text, pair);
  }
  // Both tiers must agree; the compiled one is what users get.
  const [fast, ref] = pair;
  const got = fast.run([a, b]).retval;
  const want = ref.run([a, b]).retval;
  if (got !== want) failures.push(`${body.join('; ')} on 0x${a.toString(16)}, 0x${b.toString(16)}: compiled 0x${got.toString(16)}, interpreted 0x${want.toString(16)}`);
  return want;
}
// Immediate forms over fewer pairs (a program per immediate).
const immPairs = pairs.filter((_p, i) => i % 8 === 0);

type Ref = (a: bigint, b: bigint) => bigint;
// [kernel-notation operator, 64-bit reference, 32-bit reference]
const BINARY: [string, Ref, Ref][] = [
  ['+=', (a, b) => u64(a + b), (a, b) => u32(a + b)],
  ['-=', (a, b) => u64(a - b), (a, b) => u32(a - b)],
  ['*=', (a, b) => u64(a * b), (a, b) => u32(u32(a) * u32(b))],
  ['/=', (a, b) => (b === 0n ? 0n : a / b), (a, b) => (u32(b) === 0n ? 0n : u32(a) / u32(b))],
  ['%=', (a, b) => (b === 0n ? a : a % b), (a, b) => (u32(b) === 0n ? u32(a) : u32(a) % u32(b))],
  ['s/=', (a, b) => (b === 0n ? 0n : u64(s64(a) / s64(b))), (a, b) => (u32(b) === 0n ? 0n : u32(s32(a) / s32(b)))],
  ['s%=', (a, b) => (b === 0n ? a : u64(s64(a) % s64(b))), (a, b) => (u32(b) === 0n ? u32(a) : u32(s32(a) % s32(b)))],
  ['|=', (a, b) => a | b, (a, b) => u32(a | b)],
  ['&=', (a, b) => a & b, (a, b) => u32(a & b)],
  ['^=', (a, b) => a ^ b, (a, b) => u32(a ^ b)],
  ['<<=', (a, b) => u64(a << (b & 63n)), (a, b) => u32(a << (b & 31n))],
  ['>>=', (a, b) => a >> (b & 63n), (a, b) => u32(a) >> (b & 31n)],
  ['s>>=', (a, b) => u64(s64(a) >> (b & 63n)), (a, b) => u32(s32(a) >> (b & 31n))],
  ['=', (_a, b) => b, (_a, b) => u32(b)],
];

describe('ALU against BigInt reference arithmetic', () => {
  afterEach(() => {
    expect(failures, seedLine(FILE)).toEqual([]);
  });

  it('prints the seed', () => {
    console.log(`${seedLine(FILE)}: ${pairs.length} operand pairs, ${RANDOM_PAIRS} of them random`);
    expect(pairs.length).toBe(EDGES.length ** 2 + RANDOM_PAIRS);
  });

  for (const [opText, ref64, ref32] of BINARY) {
    it(`r0 ${opText} r1 / w0 ${opText} w1 (${pairs.length} operand pairs) / immediates (${immPairs.length})`, () => {
      for (const [a, b] of pairs) {
        check(run([`r0 ${opText} r1`], a, b), ref64(a, b), `0x${a.toString(16)} ${opText} 0x${b.toString(16)} (64)`);
        check(run([`w0 ${opText} w1`], a, b), ref32(a, b), `0x${a.toString(16)} ${opText} 0x${b.toString(16)} (32)`);
      }
      for (const [a, b] of immPairs) {
        // Immediate forms: imm is s32, sign-extended to 64 bits for ALU64.
        const imm = s32(b);
        check(run([`r0 ${opText} ${imm}`], a, 0n), ref64(a, u64(imm)), `0x${a.toString(16)} ${opText} imm ${imm} (64)`);
        check(run([`w0 ${opText} ${imm}`], a, 0n), ref32(a, u64(imm)), `0x${a.toString(16)} ${opText} imm ${imm} (32)`);
      }
    });
  }

  it('neg, movsx, le/be/bswap', () => {
    for (const [a] of pairs) {
      const h = `0x${a.toString(16)}`;
      check(run(['r0 = -r0'], a, 0n), u64(-a), `neg64 ${h}`);
      check(run(['w0 = -w0'], a, 0n), u32(-a), `neg32 ${h}`);
      for (const w of [8, 16, 32]) check(run([`r0 = (s${w})r1`], 0n, a), sext(a, w), `movsx${w}64 ${h}`);
      for (const w of [8, 16]) check(run([`w0 = (s${w})w1`], 0n, a), u32(sext(a, w)), `movsx${w}32 ${h}`);
      check(run(['r0 = le16 r0'], a, 0n), a & 0xffffn, 'le');
      check(run(['r0 = le32 r0'], a, 0n), a & M32, 'le');
      check(run(['r0 = le64 r0'], a, 0n), a, 'le');
      for (const [w, bytes] of [
        [16, 2],
        [32, 4],
        [64, 8],
      ] as const) {
        check(run([`r0 = be${w} r0`], a, 0n), swap(a, bytes), `be${w} ${h}`);
        check(run([`r0 = bswap${w} r0`], a, 0n), swap(a, bytes), `bswap${w} ${h}`);
      }
    }
  });

  const JUMPS: [string, (a: bigint, b: bigint, bits: 32 | 64) => boolean][] = [
    ['==', (a, b) => a === b],
    ['!=', (a, b) => a !== b],
    ['>', (a, b) => a > b],
    ['>=', (a, b) => a >= b],
    ['<', (a, b) => a < b],
    ['<=', (a, b) => a <= b],
    ['s>', (a, b, n) => BigInt.asIntN(n, a) > BigInt.asIntN(n, b)],
    ['s>=', (a, b, n) => BigInt.asIntN(n, a) >= BigInt.asIntN(n, b)],
    ['s<', (a, b, n) => BigInt.asIntN(n, a) < BigInt.asIntN(n, b)],
    ['s<=', (a, b, n) => BigInt.asIntN(n, a) <= BigInt.asIntN(n, b)],
    ['&', (a, b) => (a & b) !== 0n],
  ];
  for (const [sym, ref] of JUMPS) {
    it(`if r0 ${sym} r1 / w0 ${sym} w1 / immediates`, () => {
      const taken = (r: string, rhs: string) => [`r2 = 0`, `if ${r}0 ${sym} ${rhs} goto +1`, 'goto +1', 'r2 = 1', 'r0 = r2'];
      for (const [a, b] of pairs) {
        const m = `0x${a.toString(16)} ${sym} 0x${b.toString(16)}`;
        check(run(taken('r', 'r1'), a, b), ref(a, b, 64) ? 1n : 0n, `${m} (64)`);
        check(run(taken('w', 'w1'), a, b), ref(a & M32, b & M32, 32) ? 1n : 0n, `${m} (32)`);
      }
      for (const [a, b] of immPairs) {
        const m = `0x${a.toString(16)} ${sym} 0x${b.toString(16)}`;
        const imm = s32(b);
        const hex = imm < 0 ? `-0x${(-imm).toString(16)}` : `0x${imm.toString(16)}`;
        check(run(taken('r', hex), a, 0n), ref(a, u64(imm), 64) ? 1n : 0n, `${m} imm (64)`);
        check(run(taken('w', hex), a, 0n), ref(a & M32, u32(imm), 32) ? 1n : 0n, `${m} imm (32)`);
      }
    });
  }
});
