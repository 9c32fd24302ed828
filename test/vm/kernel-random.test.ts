// The emulator against the kernel on random programs (root): each case is a
// new XDP program the verifier accepts (test/helpers/random-program.ts: ALU
// and ALU64, sdiv/smod, movsx, byte swaps, loads and stores of every size,
// atomics, ld_imm64, JMP/JMP32), loaded with BpfObjectSpec.fromInstructions
// and run on random inputs by BPF_PROG_TEST_RUN and by the emulator (both
// tiers). The program writes r0-r8 and its whole stack into the packet, so
// the comparison covers every register and stack byte, not just r0. The
// kernel is the reference: what the JIT computes is what the emulator must.
//
// The programs change with the run's fuzz seed (printed first; BPF_FUZZ_SEED
// replays a run, BPF_FUZZ_CASE=kernel-random:N one case, BPF_FUZZ_SCALE
// draws more). A disagreement is shrunk first: every body instruction that
// can become a no-op while the kernel and the emulator still disagree does,
// and the failure lists what is left, with the inputs and the differing
// register or stack slot.

import { describe, expect, it } from 'vitest';
import { BpfObjectSpec } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { insnText } from '../../src/asm/disasm.js';
import { encode, type Insn, slotCount, withSlots } from '../../src/asm/insn.js';
import * as op from '../../src/asm/opcode.js';
import {
  BODY_REGS,
  EPILOGUE,
  HELPER_OUT,
  INPUT_OFF,
  PACKET_LEN,
  PROBE_OFF,
  programAround,
  PROLOGUE,
  asSyscallProgram,
  randomHelperPacket,
  randomHelperProgram,
  randomFrame,
  randomInputs,
  randomLegacyLoadProgram,
  randomProgram,
  randomMapProgram,
  RANDOM_MAP,
  REGS_OUT_OFF,
  STACK_OUT_OFF,
  SKB_HELPERS,
  XDP_HELPERS,
  resultCalls,
} from '../helpers/random-program.js';
import { helperId } from '../../src/asm/helpers.js';
import { progLoad } from '../../src/sys/prog-attr.js';
import { Fd } from '../../src/sys/fd.js';
import { BPF_F_XDP_HAS_FRAGS, BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../src/uapi/bpf.js';
import { objectFromInstructions } from '../../src/object/from-instructions.js';
import { cases, REPLAYING, type Rng, runCases, seedLine, summary } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';

const FILE = 'test/vm/kernel-random.test.ts';
const NAME = 'rand_prog';
const INPUTS_PER_PROGRAM = 4;
const NOP: Insn = { code: op.BPF_JMP | op.BPF_JA, dst: 0, src: 0, off: 0, imm: 0 };

interface Outcome {
  retval: number;
  out: Buffer;
}

/** Results each TC helper must have given the random sequences at least once (errnos negative). */
const SKB_RESULTS: Record<string, string[]> = {
  bpf_skb_adjust_room: ['0', '-14', '-22', '-524'],
  bpf_skb_change_proto: ['0', '-22', '-524'],
  bpf_csum_level: ['0', '-13', '-22'],
  bpf_skb_load_bytes_relative: ['0', '-14'],
  bpf_skb_load_bytes: ['0', '-14'],
  bpf_skb_store_bytes: ['0', '-14', '-22'],
  bpf_l3_csum_replace: ['0', '-14', '-22'],
  bpf_l4_csum_replace: ['0', '-14', '-22'],
  bpf_skb_pull_data: ['0', '-12'],
  bpf_skb_change_tail: ['0', '-22'],
  bpf_skb_change_head: ['0', '-22'],
  bpf_csum_update: ['-524'],
  bpf_skb_set_tunnel_key: ['0', '-22'],
  bpf_skb_get_tunnel_key: ['0', '-22'],
  bpf_skb_set_tunnel_opt: ['0', '-22'],
  bpf_skb_get_tunnel_opt: ['-2'],
  bpf_skb_set_tstamp: ['0', '-22', '-95'],
};

/** What the emulator is given instead of the kernel's program: the program itself, or (to see this test fail) a wrong one. */
type Mutation = (insns: Insn[]) => Insn[];
const same: Mutation = (insns) => insns;

/** The kernel's run and both emulator tiers' on each input; the first disagreement, or undefined. */
function disagreement(
  insns: Insn[],
  inputs: Buffer[],
  mutate = same,
  type: 'xdp' | 'sched_cls' | 'socket_filter' | 'syscall' = 'xdp',
  /** Shown each of the kernel's outcomes. */
  seen?: (kernel: Outcome) => void,
  /** BPF_F_* program flags (BPF_F_XDP_HAS_FRAGS). */
  flags = 0,
): { input: Buffer; kernel: Outcome; emulator: Outcome; tier: string } | undefined {
  const spec = BpfObjectSpec.fromInstructions(encode(insns), { type, name: NAME, ...(flags ? { progFlags: flags } : {}) });
  using coll = spec.load();
  const prog = coll.program(NAME);
  const emulated = mutate === same ? spec : BpfObjectSpec.fromInstructions(encode(mutate(insns)), { type, name: NAME, ...(flags ? { progFlags: flags } : {}) });
  const tiers = (['compile', 'interpret'] as const).map((tier) => [tier, emulated.emulate({ tier }).program(NAME)] as const);
  // A syscall program's input and output are its context, which the kernel writes back.
  const syscall = type === 'syscall';
  const none = new Uint8Array(0);
  for (const input of inputs) {
    const k = syscall ? prog.testRun(none, { ctx: input }) : prog.testRun(input);
    const kernel = { retval: k.retval, out: Buffer.from(syscall ? k.ctxOut! : k.dataOut) };
    seen?.(kernel);
    for (const [tier, emu] of tiers) {
      const e = syscall ? emu.testRun(none, { ctx: input }) : emu.testRun(input);
      const emulator = { retval: e.retval, out: Buffer.from(syscall ? e.ctxOut! : e.dataOut) };
      if (kernel.retval !== emulator.retval || !kernel.out.equals(emulator.out)) return { input, kernel, emulator, tier };
    }
  }
  return undefined;
}

/**
 * The kernel's answer to `input` once the same program has run it a few
 * times. A program that reads memory nobody wrote — past a packet's end
 * after pskb_expand_head gave it a new head, which copies only up to the
 * tail — sees what the allocator left there: foreign bytes on a first run,
 * then the same (zeroes, as the emulator has them) run after run. When the
 * first answer differs from this one and the emulator gives this one, the
 * disagreement was the kernel's stale memory, reported rather than failed.
 */
function kernelSteadyAnswer(insns: Insn[], input: Buffer, type: 'xdp' | 'sched_cls', flags: number): Outcome {
  using coll = BpfObjectSpec.fromInstructions(encode(insns), { type, name: NAME, ...(flags ? { progFlags: flags } : {}) }).load();
  let r = coll.program(NAME).testRun(input);
  for (let i = 0; i < 3; i++) r = coll.program(NAME).testRun(input);
  return { retval: r.retval, out: Buffer.from(r.dataOut) };
}

const sameOutcome = (a: Outcome, b: Outcome): boolean => a.retval === b.retval && a.out.equals(b.out);

/** What differs, in the program's own terms: a register or a stack slot, by value. */
function differences(kernel: Outcome, emulator: Outcome): string[] {
  const out: string[] = [];
  if (kernel.retval !== emulator.retval) out.push(`retval: kernel ${kernel.retval}, emulator ${emulator.retval}`);
  const u64 = (b: Buffer, off: number) => `0x${b.readBigUInt64LE(off).toString(16)}`;
  for (let r = 0; r < BODY_REGS; r++) {
    const off = REGS_OUT_OFF + 8 * r;
    if (u64(kernel.out, off) !== u64(emulator.out, off)) out.push(`r${r}: kernel ${u64(kernel.out, off)}, emulator ${u64(emulator.out, off)}`);
  }
  for (let s = 0; s < 8; s++) {
    const off = STACK_OUT_OFF + 8 * s;
    if (u64(kernel.out, off) !== u64(emulator.out, off)) out.push(`*(u64 *)(r10 - ${8 * (s + 1)}): kernel ${u64(kernel.out, off)}, emulator ${u64(emulator.out, off)}`);
  }
  return out;
}

/** Make no-ops of the body instructions the disagreement does not need (jump offsets keep their targets). */
function shrink(insns: Insn[], inputs: Buffer[], mutate: Mutation): Insn[] {
  let best = insns;
  for (let i = 0; i < best.length; i++) {
    const insn = best[i]!;
    if (insn === NOP || !isBody(best, i)) continue;
    const nops = insn.code === op.LD_IMM64 ? [NOP, NOP] : [NOP];
    const candidate = [...best.slice(0, i), ...nops, ...best.slice(i + 1)];
    try {
      if (disagreement(candidate, inputs, mutate)) best = candidate;
    } catch {
      // The verifier refused the smaller program (e.g. a register left uninitialised): keep the instruction.
    }
  }
  return best;
}

/** Body instructions sit between the prologue's input stores and the epilogue's output stores. */
const isBody = (insns: Insn[], i: number) => i >= PROLOGUE && i < insns.length - EPILOGUE;

function listing(insns: Insn[], first = 0): string {
  const lines: string[] = [];
  for (const [s, i] of withSlots(insns)) {
    const slot = first + s;
    if (i !== NOP) lines.push(`  ${String(slot).padStart(3)}: ${insnText(i, undefined, slot)}`);
  }
  return lines.join('\n');
}

/** What differs after a helper program: each call's result first (the likeliest cause), then the buffer, r7, the packet. */
function helperDifferences(insns: Insn[], kernel: Outcome, emulator: Outcome): string[] {
  const calls = resultCalls(insns).map((i) => insnText(i));
  const out: string[] = [];
  const room = (o: Outcome) => o.retval === 2 && o.out.length >= HELPER_OUT.end;
  if (room(kernel) && room(emulator)) {
    calls.forEach((name, c) => {
      const at = HELPER_OUT.results + 8 * c;
      const [k, e] = [kernel.out.readBigInt64LE(at), emulator.out.readBigInt64LE(at)];
      if (k !== e) out.push(`call ${c + 1} (${name}) returned ${k} in the kernel, ${e} in the emulator`);
    });
    const buf = (o: Outcome) => o.out.subarray(HELPER_OUT.buffer, HELPER_OUT.end).toString('hex');
    if (buf(kernel) !== buf(emulator)) out.push(`stack buffer: kernel ${buf(kernel)}, emulator ${buf(emulator)}`);
  }
  if (kernel.retval !== emulator.retval) out.push(`retval: kernel ${kernel.retval}, emulator ${emulator.retval}`);
  if (kernel.out.length !== emulator.out.length) out.push(`packet length: kernel ${kernel.out.length}, emulator ${emulator.out.length}`);
  if (out.length === 0) out.push(`packet out: kernel ${kernel.out.toString('hex')}, emulator ${emulator.out.toString('hex')}`);
  return out;
}

function registersIn(input: Buffer): string {
  return Array.from({ length: BODY_REGS }, (_, r) => `r${r}=0x${input.readBigUInt64LE(INPUT_OFF + 8 * r).toString(16)}`).join(' ');
}

/**
 * The instructions the verifier visited (from its level-2 log, by slot). An
 * instruction a run executes but the verifier never visited is the verifier's
 * error: it judged a path dead (and the kernel removed its code) that the
 * input takes. Linux 6.18 does this to a few random programs in 10,000
 * (state pruning around stack spills and narrow stack accesses); those runs
 * say nothing about the emulator, so they are reported, not failed.
 */
function verifierVisited(insns: Insn[]): Set<number> {
  const r = progLoad({ type: BPF_PROG_TYPE.XDP, insns: encode(insns), license: 'GPL', name: NAME }, 2, 1 << 24);
  if (r.result >= 0) new Fd(r.result, 'verifier log probe').close();
  const visited = new Set<number>();
  for (const m of r.log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) visited.add(Number(m[1]));
  return visited;
}

/**
 * Slots `input` executes that the verifier never visited: none when the
 * kernel is sound on this program. Only when the kernel itself computes, at
 * the jump that leads there, the operands the emulator has: a kernel run of
 * the same program with that jump detoured through a probe that stores them
 * (jumps that probe the kernel are this file's own, so it can tell its
 * verifier's error from the emulator's wrong turn).
 */
function skippedByVerifier(insns: Insn[], input: Buffer): number[] {
  const visited = verifierVisited(insns);
  const steps: { slot: number; regs: bigint[] }[] = [];
  const regs: bigint[] = Array.from({ length: 11 }, () => 0n);
  const spec = BpfObjectSpec.fromInstructions(encode(insns), { type: 'xdp', name: NAME });
  spec
    .emulate({
      tier: 'interpret',
      trace: (s) => {
        steps.push({ slot: s.slot, regs: [...regs] });
        for (const [r, v] of s.changed) regs[r] = v;
      },
    })
    .program(NAME)
    .testRun(input);
  const first = steps.findIndex((s) => !visited.has(s.slot));
  if (first <= 0) return [];
  const jump = steps[first - 1]!;
  const j = insns[indexOfSlot(insns, jump.slot)]!;
  const cls = j.code & 0x07;
  if ((cls !== op.BPF_JMP && cls !== op.BPF_JMP32) || (j.code & 0xf0) === op.BPF_JA) return [];
  const probed = probeOperands(insns, jump.slot, input);
  if (probed[0] !== jump.regs[j.dst] || ((j.code & op.BPF_X) !== 0 && probed[1] !== jump.regs[j.src])) return [];
  return [...new Set(steps.slice(first).map((s) => s.slot))].filter((slot) => !visited.has(slot)).sort((a, b) => a - b);
}

function indexOfSlot(insns: Insn[], slot: number): number {
  for (const [s, , i] of withSlots(insns)) if (s === slot) return i;
  throw new Error(`no instruction at slot ${slot}`);
}

/**
 * The kernel's values of a conditional jump's operands when the run reaches
 * it: the jump becomes a `ja` to a block appended after the program, which
 * stores dst and src at PROBE_OFF in the packet, then takes the jump itself
 * and comes back (every other instruction keeps its slot).
 */
function probeOperands(insns: Insn[], jumpSlot: number, input: Buffer): [bigint, bigint] {
  const at = indexOfSlot(insns, jumpSlot);
  const j = insns[at]!;
  const end = slotCount(insns);
  const store = (src: number, off: number): Insn => ({ code: op.BPF_STX | op.BPF_MEM | op.BPF_DW, dst: 9, src, off, imm: 0 });
  const ja = (from: number, to: number): Insn => ({ code: op.BPF_JMP | op.BPF_JA, dst: 0, src: 0, off: to - from - 1, imm: 0 });
  const probe = [
    ...insns.slice(0, at),
    ja(jumpSlot, end),
    ...insns.slice(at + 1),
    store(j.dst, PROBE_OFF),
    store(j.code & op.BPF_X ? j.src : j.dst, PROBE_OFF + 8),
    { ...j, off: jumpSlot + 1 + j.off - (end + 2) - 1 },
    ja(end + 3, jumpSlot + 1),
  ];
  using coll = BpfObjectSpec.fromInstructions(encode(probe), { type: 'xdp', name: NAME }).load();
  const out = Buffer.from(coll.program(NAME).testRun(input).dataOut);
  return [out.readBigUInt64LE(PROBE_OFF), out.readBigUInt64LE(PROBE_OFF + 8)];
}

/**
 * Why the kernel, not the emulator, is wrong about a program, when it
 * provably is: its verifier never visited instructions the input executes
 * (with the kernel's own operands at the jump before them), or it left out
 * the `w0 = w0` its verifier puts after every 32-bit cmpxchg (x86's cmpxchg
 * does not write eax when the values match, so r0 keeps its upper half).
 * Linux 6.18 does one or the other to a few programs in 10,000, always around
 * atomics on the stack; the test prints them (kernel findings), not fails.
 */
function kernelFault(insns: Insn[], input: Buffer): string | undefined {
  const skipped = skippedByVerifier(insns, input);
  if (skipped.length > 0) return `instructions ${skipped.join(', ')} run but the verifier never visited them (it judged their path dead and removed them)`;
  using coll = BpfObjectSpec.fromInstructions(encode(insns), { type: 'xdp', name: NAME }).load();
  const xlated = coll
    .program(NAME)
    .xlated()
    .lines.map((l) => l.text);
  const bare = xlated.findIndex((t, i) => /= atomic_cmpxchg\(\(u32 \*\)/.test(t) && xlated[i + 1] !== 'w0 = w0');
  if (bare >= 0) return `the kernel runs the 32-bit cmpxchg at its instruction ${bare} (${xlated[bare]}) without the zero-extension of r0 its verifier adds after every one`;
  return undefined;
}

/** Programs the kernel runs wrongly, with the reason (kernelFault). */
const kernelFaults: string[] = [];

/**
 * A case whose every BpfError is a failure with its message: here the
 * verifier must accept every generated program and the kernel run each one
 * (runCases would otherwise count a BpfError by code only).
 */
function strict(run: (rng: Rng, note: (what: string) => void) => void): (rng: Rng, note: (what: string) => void) => void {
  return (rng, note) => {
    try {
      run(rng, note);
    } catch (e) {
      if (e instanceof BpfError) throw new Error(`${e.code}: ${e.message.split('\n').slice(0, 8).join('\n')}`);
      throw e;
    }
  };
}

let programs = 0;
let runs = 0;
/** Which kinds of instruction the run's programs held (what the generator is meant to cover). */
const kinds = new Set<string>();

/** A kind per instruction: its class and operation, sdiv/smod, movsx and sign-extending loads apart. */
function kindOf(i: Insn): string {
  const cls = i.code & 0x07;
  const text = insnText(i);
  if (cls === op.BPF_ALU || cls === op.BPF_ALU64) return `${cls === op.BPF_ALU ? 'alu' : 'alu64'} ${text.replace(/\b[rw]\d+\b/g, 'R').replace(/(?<![a-z0-9])-?(0x[0-9a-f]+|\d+)\b/g, 'N')}`;
  if (cls === op.BPF_JMP || cls === op.BPF_JMP32) return `${cls === op.BPF_JMP ? 'jmp' : 'jmp32'} ${(i.code & 0xf0).toString(16)} ${i.code & op.BPF_X ? 'x' : 'k'}`;
  return `${i.code.toString(16)} ${i.imm.toString(16)}`;
}

/** Check one random program (`mutate`: what the emulator runs instead, to see a failure). */
function checkProgram(rng: Rng, note: (what: string) => void, mutate = same): void {
  const insns = randomProgram(rng, 16 + rng.int(48));
  const inputs = Array.from({ length: INPUTS_PER_PROGRAM }, () => randomInputs(rng));
  note(`program of ${insns.length} instructions:\n${listing(insns)}`);
  const d = disagreement(insns, inputs, mutate);
  programs++;
  runs += inputs.length;
  insns.forEach((insn, i) => isBody(insns, i) && kinds.add(kindOf(insn)));
  if (!d) return;
  const small = shrink(insns, [d.input], mutate);
  const again = disagreement(small, [d.input], mutate) ?? d;
  const fault = kernelFault(small, again.input);
  if (fault) {
    kernelFaults.push(
      `${fault}, on inputs ${registersIn(again.input)} (${differences(again.kernel, again.emulator).join('; ')}); body:\n` + listing(small.slice(PROLOGUE, small.length - EPILOGUE), PROLOGUE),
    );
    return;
  }
  throw new Error(
    `the ${again.tier} emulator disagrees with the kernel on inputs ${registersIn(again.input)}: ${differences(again.kernel, again.emulator).join('; ')}\n` +
      `its body, shrunk (the frame around it loads r0-r8 and the stack from the inputs and stores them out; no-ops left out):\n${listing(small.slice(PROLOGUE, small.length - EPILOGUE), PROLOGUE)}`,
  );
}

describeRoot('the emulator computes what the kernel computes, on random programs', () => {
  it('every random program: the same r0-r8, stack and return value on every input', () => {
    console.log(seedLine(FILE));
    const r = runCases(
      FILE,
      'kernel-random',
      cases(300),
      strict((rng, note) => checkProgram(rng, note)),
    );
    console.log(summary('kernel-random', r) + `; ${programs} programs loaded, ${runs} inputs compared`);
    for (const v of kernelFaults.splice(0)) console.log(`the kernel's error, not the emulator's: ${v}`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    // A BpfError here is the verifier refusing a generated program: the generator's bug, not coverage.
    expect([...r.codes]).toEqual([]);
    if (REPLAYING) return;
    expect(programs).toBe(r.cases);
    // Every operation the generator draws from showed up (300 programs of 16-63 instructions hold each many times).
    const wanted = ['s/=', 's%=', '(s8)', '(s16)', '(s32)', 'bswap16', 'bswap64', 'be16', 'le32', 's>>=', '<<=', '= -'];
    const seen = [...kinds].join('\n');
    for (const w of wanted) expect(seen, `no ${w} in ${r.cases} programs`).toContain(w);
    // JMP32 jlt, JMP jset, JMP32 jsle; 64-bit cmpxchg, 32-bit fetch-add, sign-extending byte load, st of an immediate.
    for (const k of ['jmp32 a0 x', 'jmp 40 k', 'jmp32 d0 k']) expect(kinds.has(k), k).toBe(true);
    for (const code of ['db f1', 'c3 1', '91 0', '7a '])
      expect(
        [...kinds].some((k) => k.startsWith(code)),
        code,
      ).toBe(true);
  });

  it('every random program as a syscall program (its context in and out): the same r0-r8, stack and return value', () => {
    let compared = 0;
    const r = runCases(
      FILE,
      'kernel-random-syscall',
      cases(100),
      strict((rng, note) => {
        const xdp = randomProgram(rng, 16 + rng.int(48));
        const insns = asSyscallProgram(xdp);
        const inputs = Array.from({ length: INPUTS_PER_PROGRAM }, () => randomInputs(rng));
        note(`program:\n${listing(insns)}`);
        const d = disagreement(insns, inputs, same, 'syscall');
        compared += inputs.length;
        if (!d) return;
        // The same body as an XDP program, on the same input: when the kernel is wrong there too
        // (the verifier faults kernelFault() proves), it is the kernel's error, not the emulator's.
        const fault = disagreement(xdp, [d.input]) ? kernelFault(xdp, d.input) : undefined;
        if (fault) {
          kernelFaults.push(`${fault} (the same body as a syscall program, on context ${registersIn(d.input)})`);
          return;
        }
        throw new Error(`the ${d.tier} emulator disagrees with the kernel on context ${registersIn(d.input)}: ${differences(d.kernel, d.emulator).join('; ')}`);
      }),
    );
    console.log(summary('kernel-random-syscall', r) + `; ${compared} contexts compared`);
    for (const v of kernelFaults.splice(0)) console.log(`the kernel's error, not the emulator's: ${v}`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
  });

  it.each([
    ['xdp', 'XDP'],
    ['tc', 'TC (sched_cls)'],
  ] as const)('every random sequence of %s helper calls: the same results, packet bytes and length, and return value', (kind, _label) => {
    const names: readonly string[] = kind === 'xdp' ? XDP_HELPERS : SKB_HELPERS;
    const harness = kind === 'xdp' ? 'kernel-random-helpers' : 'kernel-random-skb-helpers';
    const called = new Map<string, number>();
    // What the kernel's calls returned, by helper: an errno, 0-3, or "more" (a checksum, a length).
    const results = new Map<string, Map<string, number>>();
    let compared = 0;
    const r = runCases(
      FILE,
      harness,
      // 400 TC sequences: every result SKB_RESULTS names then comes at least ~13 times on average (the rarest,
      // set_tunnel_opt succeeding, ~6.5 in 200, which left one missing about once in 500 runs).
      cases(kind === 'tc' ? 400 : 200),
      strict((rng, note) => {
        const insns = randomHelperProgram(rng, 2 + rng.int(6), (name) => helperId(name.replace(/^bpf_/, '')) ?? 0, kind);
        const packets = Array.from({ length: 3 }, () => randomHelperPacket(rng, kind));
        // Half the XDP programs say they take multi-buffer frames (xdp.frags); a test run gives them to either.
        const flags = kind === 'xdp' && rng.chance(0.5) ? BPF_F_XDP_HAS_FRAGS : 0;
        note(`program${flags ? ' (BPF_F_XDP_HAS_FRAGS)' : ''}:\n${listing(insns)}`);
        const calls = resultCalls(insns).map((i) => insnText(i).replace(/^call (.*)#\d+$/, '$1'));
        const seen = (k: Outcome) => {
          // Only a run that wrote its results out (it returns 2 then) says what each call returned;
          // an XDP frame's metadata, which comes first in the output, would move them.
          if (kind !== 'tc' || k.retval !== 2 || k.out.length < HELPER_OUT.end) return;
          calls.forEach((name, c) => {
            const v = k.out.readBigInt64LE(HELPER_OUT.results + 8 * c);
            const key = v < 0n && v > -4096n ? String(v) : v >= 0n && v <= 3n ? String(v) : 'more';
            const m = results.get(name) ?? results.set(name, new Map()).get(name)!;
            m.set(key, (m.get(key) ?? 0) + 1);
          });
        };
        const d = disagreement(insns, packets, same, kind === 'xdp' ? 'xdp' : 'sched_cls', seen, flags);
        for (const i of resultCalls(insns)) called.set(insnText(i), (called.get(insnText(i)) ?? 0) + 1);
        compared += packets.length;
        if (!d) return;
        const steady = kernelSteadyAnswer(insns, d.input, kind === 'xdp' ? 'xdp' : 'sched_cls', flags);
        const fault =
          (kind === 'xdp' ? kernelFault(insns, d.input) : undefined) ??
          (!sameOutcome(steady, d.kernel) && sameOutcome(steady, d.emulator)
            ? "the kernel's first run read memory nobody wrote: run again on the same packet it gives the emulator's answer"
            : undefined);
        if (fault) {
          kernelFaults.push(`${fault}, on packet ${d.input.toString('hex')}; program:\n${listing(insns)}`);
          return;
        }
        throw new Error(`the ${d.tier} emulator disagrees with the kernel on packet ${d.input.toString('hex')}: ${helperDifferences(insns, d.kernel, d.emulator).join('; ')}`);
      }),
    );
    console.log(summary(harness, r) + `; ${compared} packets compared; calls: ${[...called].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    console.log(`the kernel's results: ${[...results].map(([h, m]) => `${h} ${[...m].map(([k, n]) => `${k}:${n}`).join(' ')}`).join('; ')}`);
    for (const v of kernelFaults.splice(0)) console.log(`the kernel's error, not the emulator's: ${v}`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
    if (REPLAYING) return;
    for (const h of names)
      expect(
        [...called.keys()].some((k) => k.includes(h)),
        h,
      ).toBe(true);
    // The sequences reach each helper's success and its errors, as the kernel answered them.
    if (kind === 'tc')
      for (const [h, want] of Object.entries(SKB_RESULTS))
        expect(
          want.filter((v) => !results.get(h)?.has(v)),
          `${h}: results the kernel never gave (it gave ${[...(results.get(h)?.keys() ?? [])].join(', ')})`,
        ).toEqual([]);
  });

  it.each(['socket_filter', 'sched_cls'] as const)('every random sequence of LD_ABS/LD_IND loads in a %s program: the same return value and packet', (type) => {
    let compared = 0;
    let failedEarly = 0;
    const harness = `kernel-random-ld-abs-${type}`;
    console.log(seedLine(FILE));
    const r = runCases(
      FILE,
      harness,
      cases(200),
      strict((rng, note) => {
        const insns = randomLegacyLoadProgram(rng, 1 + rng.int(4));
        const frames = Array.from({ length: 3 }, () => randomFrame(rng));
        note(`program:\n${listing(insns)}`);
        const d = disagreement(insns, frames, same, type);
        compared += frames.length;
        if (!d) {
          // How often some load failed (the program returned 0): both outcomes must be exercised.
          using coll = BpfObjectSpec.fromInstructions(encode(insns), { type, name: NAME }).load();
          failedEarly += frames.filter((f) => coll.program(NAME).testRun(f).retval === 0).length;
          return;
        }
        throw new Error(
          `the ${d.tier} emulator disagrees with the kernel on frame ${d.input.toString('hex')}: retval kernel ${d.kernel.retval}, emulator ${d.emulator.retval}; packet out kernel ${d.kernel.out.toString('hex')}, emulator ${d.emulator.out.toString('hex')}`,
        );
      }),
    );
    console.log(summary(harness, r) + `; ${compared} frames compared, ${failedEarly} ended by a failed load`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
    if (REPLAYING) return;
    expect(failedEarly).toBeGreaterThan(compared / 10);
    expect(failedEarly).toBeLessThan(compared);
  });

  it.each([
    [BPF_MAP_TYPE.HASH, 'hash'],
    [BPF_MAP_TYPE.ARRAY, 'array'],
  ] as const)('every random sequence of lookups, updates and deletes on a %s map: the same results and contents', (type, typeName) => {
    let compared = 0;
    const harness = `kernel-random-map-${typeName}`;
    const r = runCases(
      FILE,
      harness,
      cases(150),
      strict((rng, note) => {
        const loads: number[] = [];
        const insns = randomMapProgram(rng, 2 + rng.int(8), (name) => helperId(name) ?? 0, loads);
        note(`program:\n${listing(insns)}`);
        const file = objectFromInstructions(encode(insns), { type: BPF_PROG_TYPE.XDP, name: NAME });
        file.maps.push({ ...RANDOM_MAP, type, flags: 0, pinning: 'none', style: 'btf', section: '.maps', btfKeyTypeId: 0, btfValueTypeId: 0, freeze: false });
        file.programs[0]!.relocations.push(...loads.map((insnIndex) => ({ kind: 'map_fd' as const, insnIndex, map: RANDOM_MAP.name })));
        const spec = new BpfObjectSpec(file, 'random');
        using coll = spec.load();
        const em = spec.emulate();
        const dump = (m: { entries(): Iterable<[Buffer, Buffer]> }) => [...m.entries()].map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).sort();
        for (let run = 0; run < 3; run++) {
          const pkt = Buffer.alloc(64);
          const k = coll.program(NAME).testRun(pkt).retval;
          const e = em.program(NAME).testRun(pkt).retval;
          compared++;
          if (k !== e) throw new Error(`run ${run}: retval kernel ${k}, emulator ${e}`);
          expect(dump(em.map(RANDOM_MAP.name)), `run ${run}: the map afterwards`).toEqual(dump(coll.map(RANDOM_MAP.name)));
        }
      }),
    );
    console.log(summary(harness, r) + `; ${compared} runs compared`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
  });

  it('a wrong emulator fails it, with the inputs, the register and the one instruction that explains it', () => {
    // The emulator is handed the program with every signed 32-bit division made unsigned.
    const unsignedDiv: Mutation = (insns) => insns.map((i) => (i.code === (op.BPF_ALU | op.BPF_DIV | op.BPF_X) && i.off === 1 ? { ...i, off: 0 } : i));
    const mov = (dst: number, imm: number): Insn => ({ code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst, src: 0, off: 0, imm });
    const bodyInsns = [mov(4, 5), mov(5, 6), { code: op.BPF_ALU | op.BPF_DIV | op.BPF_X, dst: 3, src: 2, off: 1, imm: 0 }, mov(6, 7)];
    const insns = programAround(bodyInsns);
    const input = Buffer.alloc(PACKET_LEN);
    input.writeBigInt64LE(-7n, INPUT_OFF + 8 * 3);
    input.writeBigInt64LE(2n, INPUT_OFF + 8 * 2);
    const d = disagreement(insns, [input], unsignedDiv);
    expect(d).toBeDefined();
    // The kernel: -7 / 2 = -3 (rounded towards zero), zero-extended; the wrong emulator: 0xfffffff9 / 2.
    expect(differences(d!.kernel, d!.emulator)).toEqual(['r3: kernel 0xfffffffd, emulator 0x7ffffffc']);
    expect(disagreement(insns, [input])).toBeUndefined();
    const small = shrink(insns, [input], unsignedDiv);
    const body = listing(small).split('\n').slice(PROLOGUE, -EPILOGUE);
    expect(body.map((l) => l.replace(/^\s*\d+: /, ''))).toEqual(['w3 s/= w2']);
  });
});

describeRoot('testRun returns the packet however far the program grew it', () => {
  it('bpf_xdp_adjust_tail by 3,000 bytes: the whole frame, zeroes after the input, as the emulator has it', () => {
    // The output buffer was sized input + 256 bytes: the kernel ran the program, then said ENOSPC.
    const grow = (n: number) => [
      { code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst: 2, src: 0, off: 0, imm: n },
      { code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('xdp_adjust_tail')! },
      { code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst: 0, src: 0, off: 0, imm: 2 },
      { code: op.BPF_JMP | op.BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ];
    const spec = BpfObjectSpec.fromInstructions(encode(grow(3000)), { type: 'xdp', name: NAME });
    using coll = spec.load();
    const input = Buffer.alloc(100, 0xab);
    const k = coll.program(NAME).testRun(input);
    expect(k.retval).toBe(2);
    expect(k.dataOut.length).toBe(3100);
    expect(Buffer.from(k.dataOut).equals(Buffer.concat([input, Buffer.alloc(3000)]))).toBe(true);
    expect(Buffer.from(spec.emulate().program(NAME).testRun(input).dataOut).equals(Buffer.from(k.dataOut))).toBe(true);
    // A page's frame ends 3,520 bytes after data (headroom 256, skb_shared_info 320): a byte more is -EINVAL.
    for (const [n, want] of [
      [3420, 0],
      [3421, 2 ** 32 - 22],
    ] as const) {
      const result = BpfObjectSpec.fromInstructions(encode([...grow(n).slice(0, 2), grow(n)[3]!]), { type: 'xdp', name: NAME });
      using c = result.load();
      expect(c.program(NAME).testRun(input).retval, `grow by ${n}`).toBe(want);
      expect(result.emulate().program(NAME).testRun(input).retval, `grow by ${n}, emulated`).toBe(want);
    }
  });
});

describe('random programs (no kernel)', () => {
  it('are whole: the packet is big enough for inputs, registers and stack', () => {
    expect(STACK_OUT_OFF + 64).toBe(PROBE_OFF);
    expect(PROBE_OFF + 16).toBe(PACKET_LEN);
    expect(REGS_OUT_OFF).toBe(INPUT_OFF + 8 * BODY_REGS);
  });
});
