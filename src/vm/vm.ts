// An eBPF interpreter with the kernel's semantics, for running programs with
// no kernel: 64-bit registers held as int32 pairs (no BigInt on the hot
// path), 32-bit ALU results zero-extended, division by zero giving 0 and
// modulo by zero leaving dst, masked shifts, 512 bytes of stack per frame,
// r10 read-only, bpf-to-bpf calls (r6-r9 preserved, 8 frames), callx, an
// instruction budget, and bounds-checked memory regions. Faults are BpfError
// EMU_FAULT naming the instruction, its text and its C source line.
//
// What a program reaches outside itself (context, packet, maps, helpers,
// kfuncs) plugs in through VmOptions and `memory`.

import { essentialName } from '../object/core/names.js';
import { BpfError } from '../errors.js';
import { insnText } from '../asm/disasm.js';
import { helperName } from '../asm/helpers.js';
import { INSN_SIZE, type Insn, decode, withSlots } from '../asm/insn.js';
import * as op from '../asm/opcode.js';
import { validate } from '../asm/validate.js';
import type { ProgramRelocation } from '../object/types.js';
import * as A from './arith.js';
import { checkRegisters } from './check.js';
import { type CompiledRun, MAX_COMPILED_SLOTS, compile } from './compile.js';
import { FUNC_ADDR_ID, Memory, type Region } from './memory.js';

/** A source line from .BTF.ext line info (the object layer's LineInfo fits). */
export interface VmLineInfo {
  insnOff: number;
  fileName: string;
  line: number;
  source: string;
}

export interface VmProgram {
  /** Instruction bytes (ld_imm64 takes two slots). */
  instructions: Uint8Array;
  littleEndian?: boolean;
  name?: string;
  lineInfo?: readonly VmLineInfo[];
  /** Map, global-data and extern references still to resolve (a ProgramSpec's relocations). */
  relocations?: readonly ProgramRelocation[];
}

/** What a helper sees besides its arguments. */
export interface HelperContext {
  readonly vm: Vm;
  readonly memory: Memory;
  /** Slot index of the call instruction. */
  readonly insn: number;
  /** End the program now with this r0 (as the conformance suite's unwind helper and tail calls do). */
  stop(r0: bigint | number): void;
  /** Throw EMU_FAULT for this call (bad pointer argument and the like). */
  fault(message: string): never;
}

export type HelperFn = (ctx: HelperContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint | number | void;

export interface HelperDef {
  name: string;
  fn: HelperFn;
  /**
   * How many of r1..r5 `fn` reads (default 5): the others are passed as 0n,
   * not converted (a BigInt costs ~35 ns; a helper call converts each argument).
   */
  args?: number;
  /**
   * @internal The call done on the registers when it can be (vm.lo/vm.hi in,
   * r0 set): true; false hands it to `fn`, which also reports every fault.
   */
  fast?: (vm: Vm) => boolean;
}

export interface VmOptions {
  /** Helpers by id (enum bpf_func_id). Calling any other id is EMU_UNKNOWN_HELPER. */
  helpers?: ReadonlyMap<number, HelperDef>;
  /** kfuncs by name (an object's kfunc calls carry the name in an "extern" relocation). */
  kfuncs?: ReadonlyMap<string, HelperDef>;
  /** Instructions one run may execute before EMU_LIMIT; default 1,000,000. */
  budget?: number;
  /** Registers the caller sets besides r1 (for the read-before-write check); default [1]. */
  entryRegs?: number[];
  /**
   * The value of an ld_imm64 with a pseudo source (map fd/value/index, BTF id):
   * the address of the map or value region. Without it such programs are refused.
   */
  ldImm64?: (insn: Insn, slot: number, relocation?: ProgramRelocation) => bigint | undefined;
  /** Memory to share (maps that outlive one VM); a new one by default. */
  memory?: Memory;
  /**
   * 'compile' (default): translate the program to a JavaScript function on
   * first run; 'interpret': the reference interpreter only. Programs over
   * 8192 slots are always interpreted.
   */
  tier?: 'compile' | 'interpret';
  /** Called after every instruction with the registers it changed (runs interpreted). */
  trace?: (step: TraceStep) => void;
  /**
   * LD_ABS/LD_IND (classic packet loads of socket filters and TC programs):
   * the `size` bytes at socket-buffer offset `offset` (negative: SKF_NET_OFF /
   * SKF_LL_OFF relative), big-endian, or undefined when the load fails (the
   * function then returns 0, as the kernel's rewrite of the instruction does).
   * Without it such programs fault.
   */
  legacyLoad?: (offset: number, size: 1 | 2 | 4) => bigint | undefined;
  /**
   * Tracing programs' loads through kernel pointers (BPF_PROBE_MEM): a load
   * from an address no region holds (NULL plus a field's offset, a pointer
   * never mapped) gives 0, as the kernel's exception table makes it, instead
   * of a fault. Loads outside a region that is there still fault.
   */
  probeMem?: boolean;
}

/** One executed instruction, for tracing. */
export interface TraceStep {
  /** The program (tail calls and callbacks run other machines with the same trace). */
  program: string;
  slot: number;
  /** The instruction as text. */
  text: string;
  /** Registers whose value changed, with the new u64 value. */
  changed: [number, bigint][];
  /** The C line covering it (line info), if any. */
  source?: VmLineInfo;
}

export interface RunResult {
  /** r0 at exit, as a u64. */
  retval: bigint;
  /** Instructions executed. */
  instructions: number;
}

export const DEFAULT_BUDGET = 1_000_000;
/** may_goto falls through this many times, then jumps (the kernel's BPF_MAX_LOOPS). */
const MAY_GOTO_LIMIT = 8 * 1024 * 1024;
const STACK = op.MAX_BPF_STACK;
/** run()'s options when none are given (read-only: shared by every run). */
const NO_OPTIONS: { budget?: number; entry?: number } = Object.freeze({});

// Internal opcodes for the encodings an opcode byte alone does not tell apart
// (signed div/mod: off = 1; movsx: off = 8/16/32). They reuse opcode bytes no
// valid instruction has (LDX/ST/STX with mode 0), so every case of the
// interpreter's switch stays below 0x100 and it compiles to a jump table.
const SDIV64_K = 0x01;
const SDIV64_X = 0x09;
const SMOD64_K = 0x11;
const SMOD64_X = 0x19;
const SDIV32_K = 0x02;
const SDIV32_X = 0x0a;
const SMOD32_K = 0x12;
const SMOD32_X = 0x1a;
const MOVSX64 = 0x03;
const MOVSX32 = 0x0b;
const INTERNAL: Record<number, number> = {
  0x37: SDIV64_K,
  0x3f: SDIV64_X,
  0x97: SMOD64_K,
  0x9f: SMOD64_X,
  0x34: SDIV32_K,
  0x3c: SDIV32_X,
  0x94: SMOD32_K,
  0x9c: SMOD32_X,
};

/**
 * @internal A register number. validate() refuses any dst/src above 10 before
 * the decode arrays are filled, so a RegNo read from them indexes the 11-entry
 * register file without a check (the `src` field of calls and ld_imm64 holds
 * a pseudo source, 0..6, which is in range too).
 */
export type RegNo = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
/** @internal The register file: 11 int32 halves, read by RegNo (typed so reads on the hot path need no check). */
export type RegFile = Int32Array & Record<RegNo, number>;
/** @internal Per-slot dst/src fields, each a RegNo. */
export type RegNoArray = Uint8Array & { [slot: number]: RegNo };
const REGS: readonly RegNo[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/** @internal */
export const isRegNo = (r: number): r is RegNo => Number.isInteger(r) && r >= 0 && r <= 10;

class Stop {
  constructor(readonly r0: bigint) {}
}

/** A helper's view of its call: which instruction, and how to end the program or fault from it. */
class HelperCall implements HelperContext {
  readonly memory: Memory;
  insn = 0;
  /** The r0 stop() ended the program with, if it did. */
  stopped: bigint | undefined = undefined;
  #helper = '';
  // Arrow properties, made once per object: a helper may pass them around unbound.
  readonly stop = (r0: bigint | number): void => {
    this.stopped = BigInt.asUintN(64, BigInt(r0));
  };
  readonly fault = (message: string): never => {
    throw this.vm.fault(this.insn, `${this.#helper}: ${message}`);
  };

  constructor(readonly vm: Vm) {
    this.memory = vm.memory;
  }

  begin(slot: number, helper: string): void {
    this.insn = slot;
    this.#helper = helper;
    this.stopped = undefined;
  }
}

export class Vm {
  readonly memory: Memory;
  readonly name: string;
  readonly insns: Insn[];
  /** The program's bytes as given. */
  readonly insnsBytes: Uint8Array;
  readonly littleEndian: boolean;
  /** @internal */
  readonly opts: VmOptions;
  private readonly lineInfo: readonly VmLineInfo[];
  // Pre-decoded, one entry per slot.
  /** @internal */
  readonly k: Int32Array;
  /** @internal */
  readonly dst: RegNoArray;
  /** @internal */
  readonly src: RegNoArray;
  /** @internal */
  readonly off: Int32Array;
  /** @internal */
  readonly imm: Int32Array;
  /** @internal */
  readonly imm2: Int32Array;
  /** @internal */
  readonly slotToInsn: Int32Array;
  /** @internal */
  readonly lo = new Int32Array(11) as RegFile;
  /** @internal */
  readonly hi = new Int32Array(11) as RegFile;
  /** @internal One stack per call frame (MAX_CALL_FRAMES of them). */
  readonly stacks: [Uint8Array, ...Uint8Array[]];
  private compiled: CompiledRun | undefined;
  /** @internal Budget left when the last helper was called (a helper may end the run). */
  leftAtCall = 0;
  /** @internal Region id of stack frame 0; frame f is stackBase + f. */
  readonly stackBase: number;
  /** Call slot -> kfunc name, from extern relocations. */
  /** @internal */
  readonly kfuncNames = new Map<number, string>();

  constructor(program: VmProgram, opts: VmOptions = {}) {
    this.opts = opts;
    this.name = program.name ?? 'program';
    this.littleEndian = program.littleEndian ?? true;
    this.lineInfo = program.lineInfo ?? [];
    this.memory = opts.memory ?? new Memory();
    this.insnsBytes = program.instructions;
    const decoded = decode(program.instructions, this.littleEndian, this.name);
    // A kfunc call in an object is `call -1` with the local-call source until
    // a loader resolves it: mark it a kfunc call so the checks do not take it
    // for a call of a subprogram at its own slot.
    const kfuncSlots = new Set((program.relocations ?? []).filter((r) => r.kind === 'extern' || r.kind === 'kfunc').map((r) => r.insnIndex));
    const insns = [...withSlots(decoded)].map(([s, i]) => (kfuncSlots.has(s) && i.code === op.CALL && i.src === op.BPF_PSEUDO_CALL ? { ...i, src: op.BPF_PSEUDO_KFUNC_CALL } : i));
    this.insns = insns;
    const text = (i: Insn) => insnText(i);
    validate(insns, this.name, text);
    checkRegisters(insns, { entry: opts.entryRegs ?? [1], label: this.name, text });
    // decode() took every slot (an ld_imm64's second one included).
    const n = program.instructions.byteLength / INSN_SIZE;
    this.k = new Int32Array(n);
    this.dst = new Uint8Array(n) as RegNoArray;
    this.src = new Uint8Array(n) as RegNoArray;
    this.off = new Int32Array(n);
    this.imm = new Int32Array(n);
    this.imm2 = new Int32Array(n);
    this.slotToInsn = new Int32Array(n).fill(-1);
    const relocAt = new Map<number, ProgramRelocation>();
    const callSlots = new Set([...withSlots(insns)].filter(([, i]) => i.code === op.CALL).map(([s]) => s));
    for (const r of program.relocations ?? []) {
      if ((r.kind === 'extern' || r.kind === 'kfunc') && callSlots.has(r.insnIndex)) this.kfuncNames.set(r.insnIndex, r.symbol);
      else relocAt.set(r.insnIndex, r);
    }
    for (const [s, i, idx] of withSlots(insns)) {
      this.slotToInsn[s] = idx;
      let k = i.code;
      const c = op.cls(i.code);
      const o = op.aluOp(i.code);
      // validate() passed it, so an off of 1 on DIV/MOD is the signed form, which INTERNAL has for every such opcode.
      if ((c === op.BPF_ALU || c === op.BPF_ALU64) && (o === op.BPF_DIV || o === op.BPF_MOD) && i.off === 1) k = INTERNAL[i.code] ?? k;
      if ((c === op.BPF_ALU || c === op.BPF_ALU64) && o === op.BPF_MOV && op.srcBit(i.code) === op.BPF_X && i.off !== 0) {
        if (i.off === 1) throw new BpfError('INSN_INVALID', `${this.name}: instruction ${s} (${text(i)}): arena address-space casts are not emulated`);
        k = c === op.BPF_ALU64 ? MOVSX64 : MOVSX32;
      }
      // validate() refused these already; the check gives the register file its RegNo indexes.
      const { dst, src } = i;
      if (!isRegNo(dst) || !isRegNo(src)) throw new BpfError('INSN_INVALID', `${this.name}: instruction ${s} (${text(i)}): no register r${isRegNo(dst) ? src : dst}`);
      this.k[s] = k;
      this.dst[s] = dst;
      this.src[s] = src;
      this.off[s] = i.off;
      this.imm[s] = i.imm;
      if (i.code === op.LD_IMM64) {
        let v: bigint;
        const reloc = relocAt.get(s);
        if (i.src === op.BPF_PSEUDO_FUNC) v = Memory.address(FUNC_ADDR_ID, s + 1 + i.imm);
        else if (i.src === 0 && !reloc) v = (BigInt((i.imm2 ?? 0) >>> 0) << 32n) | BigInt(i.imm >>> 0);
        else {
          const r = opts.ldImm64?.(i, s, reloc);
          if (r === undefined) {
            const what = reloc?.kind === 'extern' || reloc?.kind === 'kfunc' ? `extern ${reloc.symbol}` : reloc ? `map ${reloc.map}` : 'a map or kernel object';
            const hint = reloc?.kind === 'extern' ? ` (emulate({ externs: { ${reloc.symbol}: value } }) gives it)` : '';
            throw new BpfError('EMU_FAULT', `${this.name}: instruction ${s} (${text(i)}) refers to ${what}, which this emulator was not given${hint}${this.sourceSuffix(s)}`);
          }
          v = r;
        }
        this.imm[s] = Number(BigInt.asIntN(32, v));
        this.imm2[s] = Number(BigInt.asIntN(32, v >> 32n));
      }
    }
    this.stackBase = this.memory.reserve(op.MAX_CALL_FRAMES);
    this.stacks = [new Uint8Array(STACK)];
    for (let f = 1; f < op.MAX_CALL_FRAMES; f++) this.stacks.push(new Uint8Array(STACK));
    this.stacks.forEach((bytes, f) => this.memory.add(`stack[frame ${f}]`, bytes, { kind: 'stack', id: this.stackBase + f }));
  }

  /** The options this machine was made with. */
  get options(): VmOptions {
    return this.opts;
  }

  /** Compile now (else the first run does): keeps the compile out of a timed run. */
  prepare(): this {
    this.#compiledRun();
    return this;
  }

  /** The compiled program when this machine runs compiled (compiled the first time), else undefined (interpreted, traced, or too long). */
  #compiledRun(): CompiledRun | undefined {
    if ((this.opts.tier ?? 'compile') !== 'compile' || this.opts.trace || this.k.length > MAX_COMPILED_SLOTS) return undefined;
    return (this.compiled ??= compile(this));
  }

  /** Number of 8-byte slots. */
  get slotCount(): number {
    return this.k.length;
  }

  /** The C source line covering slot `slot`, from line info. */
  sourceLine(slot: number): VmLineInfo | undefined {
    let best: VmLineInfo | undefined;
    for (const li of this.lineInfo) if (li.insnOff <= slot && (!best || li.insnOff >= best.insnOff)) best = li;
    return best;
  }

  private sourceSuffix(slot: number): string {
    const li = this.sourceLine(slot);
    return li ? ` at ${li.fileName}:${li.line}: ${li.source.trim()}` : '';
  }

  private describeInsn(slot: number): string {
    const i = this.insns[this.slotToInsn[slot] ?? -1];
    return i ? insnText(i) : '?';
  }

  /** A BpfError for instruction `slot`: "prog: instruction 7 (r0 = *(u32 *)(r1 + 4)): message at file.c:12: source". */
  fault(slot: number, message: string, code: 'EMU_FAULT' | 'EMU_LIMIT' | 'EMU_UNKNOWN_HELPER' = 'EMU_FAULT'): BpfError {
    return new BpfError(code, `${this.name}: instruction ${slot} (${this.describeInsn(slot)}): ${message}${this.sourceSuffix(slot)}`);
  }

  /** A register as u64 (after or during a run). */
  reg(r: number): bigint {
    if (!isRegNo(r)) throw new BpfError('INVALID_ARGUMENT', `${this.name}: there is no register r${r} (eBPF has r0..r10)`);
    return A.pairToBig(this.lo[r], this.hi[r]);
  }

  /** @internal */
  memFault(slot: number, what: 'read' | 'write', reg: RegNo, off: number, len: number): BpfError {
    const addr = BigInt.asUintN(64, this.reg(reg) + BigInt(off));
    // The region the base register points into (its upper half), if any.
    const region = this.memory.regions[this.hi[reg]];
    let why = 'outside every memory region';
    const e = (this.lo[reg] >>> 0) + off;
    if (region && what === 'write' && !region.writable && e >= 0 && e + len <= region.bytes.byteLength) why = `${region.name} is read-only`;
    else if (region) why = `outside ${region.name} (${region.bytes.byteLength} bytes)`;
    return this.fault(slot, `${what} of ${len} bytes at ${this.memory.describe(addr)}: ${why}`);
  }

  /**
   * Run from the first instruction with r1..r5 set from `args` (u64 values
   * or addresses from `memory`), r10 at the top of a zeroed stack.
   */
  run(args: readonly (bigint | number)[] = [], opts: { budget?: number; /** Start at this slot (a function: bpf_loop callbacks). */ entry?: number } = NO_OPTIONS): RunResult {
    const instructions = this.runRaw(args, opts);
    return { retval: A.pairToBig(this.lo[0], this.hi[0]), instructions };
  }

  /** @internal run() leaving r0 in lo[0]/hi[0] (no BigInt made): the instructions executed. */
  runRaw(args: readonly (bigint | number)[], opts: { budget?: number; entry?: number } = NO_OPTIONS): number {
    const L = this.lo;
    const H = this.hi;
    // A loop, not fill(): for 11 slots the builtin's call costs ~5x the stores.
    for (let i = 0; i < 11; i++) {
      L[i] = 0;
      H[i] = 0;
    }
    for (let i = 0; i < args.length; i++) {
      A.fromValue(args[i]!);
      L[i + 1] = A.RES_LO;
      H[i + 1] = A.RES_HI;
    }
    this.stacks[0].fill(0);
    L[10] = STACK;
    H[10] = this.stackBase;
    const budget = opts.budget ?? this.opts.budget ?? DEFAULT_BUDGET;
    try {
      const run = this.#compiledRun();
      const entry = opts.entry ?? 0;
      if (entry !== 0 && !((this.slotToInsn[entry] ?? -1) >= 0)) throw new BpfError('EMU_FAULT', `${this.name}: entry ${entry} is not an instruction`);
      return budget - (run ? run(budget, entry) : this.loop(budget, entry));
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      A.fromValue(e.r0);
      L[0] = A.RES_LO;
      H[0] = A.RES_HI;
      return budget - this.leftAtCall;
    }
  }

  /** @internal What a context hook's failure at `slot` throws: its BpfError as a fault of that instruction. */
  hookError(slot: number, err: unknown): unknown {
    return err instanceof BpfError ? this.fault(slot, err.message) : err;
  }

  /** @internal A context field load: the hook gives the 64-bit value (pointers for data/data_end). */
  hookLoad(slot: number, R: Region, e: number, len: number, d: number, signExtend: boolean): void {
    let loaded: bigint | number;
    try {
      loaded = R.hooks!.load(e, len);
    } catch (err) {
      throw this.hookError(slot, err);
    }
    A.fromValue(signExtend ? BigInt.asIntN(len * 8, BigInt(loaded)) : loaded);
    this.lo[d] = A.RES_LO;
    this.hi[d] = A.RES_HI;
  }

  /** @internal */
  hookStore(slot: number, R: Region, e: number, len: number, vl: number, vh: number): void {
    try {
      R.hooks!.store(e, len, A.pairToBig(vl, vh));
    } catch (err) {
      throw this.hookError(slot, err);
    }
  }

  /**
   * @internal LD_ABS/LD_IND at `slot`: r0 = the bytes at imm (ABS) or at src +
   * imm, as a 32-bit int (IND), big-endian, zero-extended; false when the load
   * fails. r1-r5 are the kernel's scratch here, which the verifier keeps
   * programs from reading.
   */
  legacyLoad(slot: number): boolean {
    const code = this.k[slot]!;
    const size = (code & 0x18) === op.BPF_B ? 1 : (code & 0x18) === op.BPF_H ? 2 : 4;
    const load = this.opts.legacyLoad;
    if (!load) throw this.fault(slot, 'legacy packet access (LD_ABS/LD_IND) reads a socket buffer: only socket filter and TC programs have one');
    const offset = (code & 0xe0) === op.BPF_IND ? (this.lo[this.src[slot]!]! + this.imm[slot]!) | 0 : this.imm[slot]!;
    const v = load(offset, size);
    if (v === undefined) return false;
    this.lo[0] = Number(v) | 0;
    this.hi[0] = 0;
    return true;
  }

  /** @internal The helper or kfunc call at `slot` (not a local call). */
  callSlot(slot: number): void {
    const known = this.#callDefs[slot];
    if (known !== undefined) return this.callHelper(slot, known);
    const name = this.kfuncNames.get(slot);
    if (this.src[slot] === op.BPF_PSEUDO_KFUNC_CALL || name !== undefined) {
      // bpf_dynptr_size___v2 calls bpf_dynptr_size (a flavor suffix, as libbpf resolves kfuncs).
      const def = name === undefined ? undefined : (this.opts.kfuncs?.get(name) ?? this.opts.kfuncs?.get(essentialName(name)));
      if (!def) throw this.unknownCall(slot, name === undefined ? `kfunc #${this.imm[slot]}` : `kfunc ${name}`);
      this.callHelper(slot, (this.#callDefs[slot] = def));
    } else {
      const h = this.opts.helpers?.get(this.imm[slot]!);
      if (h) this.#callDefs[slot] = h;
      this.callHelperId(slot, this.imm[slot]!);
    }
  }

  /** @internal */
  callHelperId(slot: number, id: number): void {
    const h = this.opts.helpers?.get(id);
    // The name is looked up only for the error: a call that succeeds makes no string.
    if (!h) throw this.unknownCall(slot, `helper ${helperName(id) ?? 'unknown'}#${id}`);
    this.callHelper(slot, h);
  }

  private unknownCall(slot: number, what: string): BpfError {
    return this.fault(slot, `calls ${what}, which this emulator does not provide`, 'EMU_UNKNOWN_HELPER');
  }

  /** The context of a helper call, reused call after call unless a helper runs this machine again (a tail call into itself). */
  #helperCall: HelperCall | undefined;
  #helperDepth = 0;
  /** What each call instruction calls, once looked up (the helper and kfunc tables are fixed per machine). */
  readonly #callDefs: (HelperDef | undefined)[] = [];

  /** @internal */
  callHelper(slot: number, h: HelperDef): void {
    if (h.fast !== undefined && h.fast(this)) return;
    const L = this.lo;
    const H = this.hi;
    const n = h.args ?? 5;
    const ctx = this.#helperDepth === 0 ? (this.#helperCall ??= new HelperCall(this)) : new HelperCall(this);
    ctx.begin(slot, h.name);
    let r: ReturnType<HelperFn>;
    this.#helperDepth++;
    try {
      r = h.fn(
        ctx,
        n > 0 ? A.pairToBig(L[1], H[1]) : 0n,
        n > 1 ? A.pairToBig(L[2], H[2]) : 0n,
        n > 2 ? A.pairToBig(L[3], H[3]) : 0n,
        n > 3 ? A.pairToBig(L[4], H[4]) : 0n,
        n > 4 ? A.pairToBig(L[5], H[5]) : 0n,
      );
    } finally {
      this.#helperDepth--;
    }
    const stopped = ctx.stopped;
    A.fromValue(r ?? 0);
    L[0] = A.RES_LO;
    H[0] = A.RES_HI;
    if (stopped !== undefined) throw new Stop(stopped);
  }

  /** The interpreter. Returns the budget left. */
  private loop(budget: number, entry = 0): number {
    // The per-slot arrays are read as X[pc]! below: pc is a slot here (entry
    // is checked by run(), jump targets by validate(), and running past the
    // end by the test at the top of each step), and a check per read would
    // cost the hot loop. Registers need no `!`: their indexes are RegNo.
    const K = this.k;
    const D = this.dst;
    const S = this.src;
    const OFF = this.off;
    const IMM = this.imm;
    const IMM2 = this.imm2;
    const L = this.lo;
    const H = this.hi;
    const regions = this.memory.regions;
    const le = this.littleEndian;
    const n = K.length;
    // Call frames: return slot and the caller's r6-r10.
    const retPc = new Int32Array(op.MAX_CALL_FRAMES);
    const saved = new Int32Array(op.MAX_CALL_FRAMES * 10);
    let frame = 0;
    let mayGoto = MAY_GOTO_LIMIT;
    let left = budget;
    let pc = entry;
    // Tracing: the registers before the previous instruction, compared at the top of the next.
    const trace = this.opts.trace;
    const before = trace ? new Int32Array(22) : undefined;
    let prev = -1;
    const emit = () => {
      const changed: [number, bigint][] = [];
      for (const r of REGS) if (before![r] !== L[r] || before![11 + r] !== H[r]) changed.push([r, A.pairToBig(L[r], H[r])]);
      trace!({ program: this.name, slot: prev, text: this.describeInsn(prev), changed, source: this.sourceLine(prev) });
    };
    for (;;) {
      if (trace) {
        if (prev >= 0) emit();
        before!.set(L, 0);
        before!.set(H, 11);
        prev = pc;
      }
      if (--left < 0) throw this.fault(pc, `instruction budget of ${budget} exhausted (an endless loop? raise it with the budget option)`, 'EMU_LIMIT');
      if (pc >= n) throw this.fault(n - 1, 'execution ran past the last instruction');
      const d = D[pc]!;
      switch (K[pc]!) {
        // ---------------------------------------------------- ALU64, immediate
        case 0x07: {
          const a = L[d];
          const b = IMM[pc]!;
          const r = (a + b) | 0;
          H[d] = (H[d] + (b >> 31) + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          L[d] = r;
          break;
        }
        case 0x17: {
          const a = L[d];
          const b = IMM[pc]!;
          H[d] = (H[d] - (b >> 31) - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
          L[d] = (a - b) | 0;
          break;
        }
        case 0x27: {
          const b = IMM[pc]!;
          A.mul64(L[d], H[d], b, b >> 31);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        }
        case 0x37: {
          const b = IMM[pc]!;
          if (b === 0) {
            L[d] = 0;
            H[d] = 0;
          } else {
            A.udiv64(L[d], H[d], b, b >> 31);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case 0x47: {
          const b = IMM[pc]!;
          L[d] |= b;
          H[d] |= b >> 31;
          break;
        }
        case 0x57: {
          const b = IMM[pc]!;
          L[d] &= b;
          H[d] &= b >> 31;
          break;
        }
        case 0x67:
          A.lsh64(L[d], H[d], IMM[pc]!);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case 0x77:
          A.rsh64(L[d], H[d], IMM[pc]!);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case 0x87: {
          const a = L[d];
          L[d] = -a | 0;
          H[d] = (~H[d] + (a === 0 ? 1 : 0)) | 0;
          break;
        }
        case 0x97: {
          const b = IMM[pc]!;
          if (b !== 0) {
            A.umod64(L[d], H[d], b, b >> 31);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case 0xa7: {
          const b = IMM[pc]!;
          L[d] ^= b;
          H[d] ^= b >> 31;
          break;
        }
        case 0xb7: {
          const b = IMM[pc]!;
          L[d] = b;
          H[d] = b >> 31;
          break;
        }
        case 0xc7:
          A.arsh64(L[d], H[d], IMM[pc]!);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case 0xd7: {
          // bswap16/32/64: unconditional byte swap
          const w = IMM[pc]!;
          if (w === 16) {
            L[d] = A.bswap16(L[d]);
            H[d] = 0;
          } else if (w === 32) {
            L[d] = A.bswap32(L[d]);
            H[d] = 0;
          } else {
            const l = L[d];
            L[d] = A.bswap32(H[d]);
            H[d] = A.bswap32(l);
          }
          break;
        }
        case SDIV64_K: {
          const b = IMM[pc]!;
          if (b === 0) {
            L[d] = 0;
            H[d] = 0;
          } else {
            A.sdiv64(L[d], H[d], b, b >> 31);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case SMOD64_K: {
          const b = IMM[pc]!;
          if (b !== 0) {
            A.smod64(L[d], H[d], b, b >> 31);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        // ---------------------------------------------------- ALU64, register
        case 0x0f: {
          const s = S[pc]!;
          const a = L[d];
          const r = (a + L[s]) | 0;
          H[d] = (H[d] + H[s] + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          L[d] = r;
          break;
        }
        case 0x1f: {
          const s = S[pc]!;
          const a = L[d];
          const b = L[s];
          H[d] = (H[d] - H[s] - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
          L[d] = (a - b) | 0;
          break;
        }
        case 0x2f: {
          const s = S[pc]!;
          A.mul64(L[d], H[d], L[s], H[s]);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        }
        case 0x3f: {
          const s = S[pc]!;
          if (L[s] === 0 && H[s] === 0) {
            L[d] = 0;
            H[d] = 0;
          } else {
            A.udiv64(L[d], H[d], L[s], H[s]);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case 0x4f: {
          const s = S[pc]!;
          L[d] |= L[s];
          H[d] |= H[s];
          break;
        }
        case 0x5f: {
          const s = S[pc]!;
          L[d] &= L[s];
          H[d] &= H[s];
          break;
        }
        case 0x6f:
          A.lsh64(L[d], H[d], L[S[pc]!]);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case 0x7f:
          A.rsh64(L[d], H[d], L[S[pc]!]);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case 0x9f: {
          const s = S[pc]!;
          if (L[s] !== 0 || H[s] !== 0) {
            A.umod64(L[d], H[d], L[s], H[s]);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case 0xaf: {
          const s = S[pc]!;
          L[d] ^= L[s];
          H[d] ^= H[s];
          break;
        }
        case 0xbf: {
          const s = S[pc]!;
          L[d] = L[s];
          H[d] = H[s];
          break;
        }
        case 0xcf:
          A.arsh64(L[d], H[d], L[S[pc]!]);
          L[d] = A.RES_LO;
          H[d] = A.RES_HI;
          break;
        case SDIV64_X: {
          const s = S[pc]!;
          if (L[s] === 0 && H[s] === 0) {
            L[d] = 0;
            H[d] = 0;
          } else {
            A.sdiv64(L[d], H[d], L[s], H[s]);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case SMOD64_X: {
          const s = S[pc]!;
          if (L[s] !== 0 || H[s] !== 0) {
            A.smod64(L[d], H[d], L[s], H[s]);
            L[d] = A.RES_LO;
            H[d] = A.RES_HI;
          }
          break;
        }
        case MOVSX64: {
          const v = L[S[pc]!];
          const w = OFF[pc]!;
          const r = w === 8 ? (v << 24) >> 24 : w === 16 ? (v << 16) >> 16 : v;
          L[d] = r;
          H[d] = r >> 31;
          break;
        }
        // ---------------------------------------------------- ALU32, immediate (results zero-extended)
        case 0x04:
          L[d] = (L[d] + IMM[pc]!) | 0;
          H[d] = 0;
          break;
        case 0x14:
          L[d] = (L[d] - IMM[pc]!) | 0;
          H[d] = 0;
          break;
        case 0x24:
          L[d] = Math.imul(L[d], IMM[pc]!);
          H[d] = 0;
          break;
        case 0x34: {
          const b = IMM[pc]! >>> 0;
          L[d] = b === 0 ? 0 : Math.floor((L[d] >>> 0) / b) | 0;
          H[d] = 0;
          break;
        }
        case 0x44:
          L[d] |= IMM[pc]!;
          H[d] = 0;
          break;
        case 0x54:
          L[d] &= IMM[pc]!;
          H[d] = 0;
          break;
        case 0x64:
          L[d] <<= IMM[pc]!;
          H[d] = 0;
          break;
        case 0x74:
          L[d] = L[d] >>> IMM[pc]!;
          H[d] = 0;
          break;
        case 0x84:
          L[d] = -L[d] | 0;
          H[d] = 0;
          break;
        case 0x94: {
          const b = IMM[pc]! >>> 0;
          if (b !== 0) L[d] = ((L[d] >>> 0) % b) | 0;
          H[d] = 0;
          break;
        }
        case 0xa4:
          L[d] ^= IMM[pc]!;
          H[d] = 0;
          break;
        case 0xb4:
          L[d] = IMM[pc]!;
          H[d] = 0;
          break;
        case 0xc4:
          L[d] >>= IMM[pc]!;
          H[d] = 0;
          break;
        case 0xd4:
        case 0xdc: {
          // le/be: swap only when the target order differs from the program's
          const w = IMM[pc]!;
          const swap = (K[pc]! === 0xdc) === le;
          if (w === 16) {
            L[d] = swap ? A.bswap16(L[d]) : L[d] & 0xffff;
            H[d] = 0;
          } else if (w === 32) {
            if (swap) L[d] = A.bswap32(L[d]);
            H[d] = 0;
          } else if (swap) {
            const l = L[d];
            L[d] = A.bswap32(H[d]);
            H[d] = A.bswap32(l);
          }
          break;
        }
        case SDIV32_K: {
          const b = IMM[pc]!;
          L[d] = b === 0 ? 0 : b === -1 ? -L[d] | 0 : (L[d] / b) | 0;
          H[d] = 0;
          break;
        }
        case SMOD32_K: {
          const b = IMM[pc]!;
          if (b === -1) L[d] = 0;
          else if (b !== 0) L[d] = (L[d] % b) | 0;
          H[d] = 0;
          break;
        }
        // ---------------------------------------------------- ALU32, register
        case 0x0c:
          L[d] = (L[d] + L[S[pc]!]) | 0;
          H[d] = 0;
          break;
        case 0x1c:
          L[d] = (L[d] - L[S[pc]!]) | 0;
          H[d] = 0;
          break;
        case 0x2c:
          L[d] = Math.imul(L[d], L[S[pc]!]);
          H[d] = 0;
          break;
        case 0x3c: {
          const b = L[S[pc]!] >>> 0;
          L[d] = b === 0 ? 0 : Math.floor((L[d] >>> 0) / b) | 0;
          H[d] = 0;
          break;
        }
        case 0x4c:
          L[d] |= L[S[pc]!];
          H[d] = 0;
          break;
        case 0x5c:
          L[d] &= L[S[pc]!];
          H[d] = 0;
          break;
        case 0x6c:
          L[d] <<= L[S[pc]!];
          H[d] = 0;
          break;
        case 0x7c:
          L[d] = L[d] >>> L[S[pc]!];
          H[d] = 0;
          break;
        case 0x9c: {
          const b = L[S[pc]!] >>> 0;
          if (b !== 0) L[d] = ((L[d] >>> 0) % b) | 0;
          H[d] = 0;
          break;
        }
        case 0xac:
          L[d] ^= L[S[pc]!];
          H[d] = 0;
          break;
        case 0xbc:
          L[d] = L[S[pc]!];
          H[d] = 0;
          break;
        case 0xcc:
          L[d] >>= L[S[pc]!];
          H[d] = 0;
          break;
        case SDIV32_X: {
          const b = L[S[pc]!];
          L[d] = b === 0 ? 0 : b === -1 ? -L[d] | 0 : (L[d] / b) | 0;
          H[d] = 0;
          break;
        }
        case SMOD32_X: {
          const b = L[S[pc]!];
          if (b === -1) L[d] = 0;
          else if (b !== 0) L[d] = (L[d] % b) | 0;
          H[d] = 0;
          break;
        }
        case MOVSX32: {
          const v = L[S[pc]!];
          L[d] = OFF[pc]! === 8 ? (v << 24) >> 24 : (v << 16) >> 16;
          H[d] = 0;
          break;
        }
        // ---------------------------------------------------- jumps
        case 0x05:
          pc += OFF[pc]!;
          break;
        case 0x06:
          pc += IMM[pc]!;
          break;
        case 0xe5:
          if (--mayGoto <= 0) {
            mayGoto = MAY_GOTO_LIMIT;
            pc += OFF[pc]!;
          }
          break;
        case 0x15: {
          const b = IMM[pc]!;
          if (L[d] === b && H[d] === b >> 31) pc += OFF[pc]!;
          break;
        }
        case 0x1d: {
          const s = S[pc]!;
          if (L[d] === L[s] && H[d] === H[s]) pc += OFF[pc]!;
          break;
        }
        case 0x55: {
          const b = IMM[pc]!;
          if (L[d] !== b || H[d] !== b >> 31) pc += OFF[pc]!;
          break;
        }
        case 0x5d: {
          const s = S[pc]!;
          if (L[d] !== L[s] || H[d] !== H[s]) pc += OFF[pc]!;
          break;
        }
        case 0x45: {
          const b = IMM[pc]!;
          if ((L[d] & b) !== 0 || (H[d] & (b >> 31)) !== 0) pc += OFF[pc]!;
          break;
        }
        case 0x4d: {
          const s = S[pc]!;
          if ((L[d] & L[s]) !== 0 || (H[d] & H[s]) !== 0) pc += OFF[pc]!;
          break;
        }
        case 0x25:
        case 0x35:
        case 0xa5:
        case 0xb5:
        case 0x2d:
        case 0x3d:
        case 0xad:
        case 0xbd: {
          // unsigned 64-bit compares
          const x = (K[pc]! & 0x08) !== 0;
          const bl = x ? L[S[pc]!] : IMM[pc]!;
          const bh = x ? H[S[pc]!] : IMM[pc]! >> 31;
          const ah = H[d] >>> 0;
          const bhu = bh >>> 0;
          const c = ah !== bhu ? (ah > bhu ? 1 : -1) : L[d] >>> 0 > bl >>> 0 ? 1 : L[d] === bl ? 0 : -1;
          const o = K[pc]! & 0xf0;
          if (o === 0x20 ? c > 0 : o === 0x30 ? c >= 0 : o === 0xa0 ? c < 0 : c <= 0) pc += OFF[pc]!;
          break;
        }
        case 0x65:
        case 0x75:
        case 0xc5:
        case 0xd5:
        case 0x6d:
        case 0x7d:
        case 0xcd:
        case 0xdd: {
          // signed 64-bit compares
          const x = (K[pc]! & 0x08) !== 0;
          const bl = x ? L[S[pc]!] : IMM[pc]!;
          const bh = x ? H[S[pc]!] : IMM[pc]! >> 31;
          const ah = H[d];
          const c = ah !== bh ? (ah > bh ? 1 : -1) : L[d] >>> 0 > bl >>> 0 ? 1 : L[d] === bl ? 0 : -1;
          const o = K[pc]! & 0xf0;
          if (o === 0x60 ? c > 0 : o === 0x70 ? c >= 0 : o === 0xc0 ? c < 0 : c <= 0) pc += OFF[pc]!;
          break;
        }
        // JMP32: the low halves only
        case 0x16:
          if (L[d] === IMM[pc]!) pc += OFF[pc]!;
          break;
        case 0x1e:
          if (L[d] === L[S[pc]!]) pc += OFF[pc]!;
          break;
        case 0x56:
          if (L[d] !== IMM[pc]!) pc += OFF[pc]!;
          break;
        case 0x5e:
          if (L[d] !== L[S[pc]!]) pc += OFF[pc]!;
          break;
        case 0x46:
          if ((L[d] & IMM[pc]!) !== 0) pc += OFF[pc]!;
          break;
        case 0x4e:
          if ((L[d] & L[S[pc]!]) !== 0) pc += OFF[pc]!;
          break;
        case 0x26:
        case 0x36:
        case 0xa6:
        case 0xb6:
        case 0x2e:
        case 0x3e:
        case 0xae:
        case 0xbe: {
          const a = L[d] >>> 0;
          const b = ((K[pc]! & 0x08) !== 0 ? L[S[pc]!] : IMM[pc]!) >>> 0;
          const o = K[pc]! & 0xf0;
          if (o === 0x20 ? a > b : o === 0x30 ? a >= b : o === 0xa0 ? a < b : a <= b) pc += OFF[pc]!;
          break;
        }
        case 0x66:
        case 0x76:
        case 0xc6:
        case 0xd6:
        case 0x6e:
        case 0x7e:
        case 0xce:
        case 0xde: {
          const a = L[d];
          const b = (K[pc]! & 0x08) !== 0 ? L[S[pc]!] : IMM[pc]!;
          const o = K[pc]! & 0xf0;
          if (o === 0x60 ? a > b : o === 0x70 ? a >= b : o === 0xc0 ? a < b : a <= b) pc += OFF[pc]!;
          break;
        }
        // ---------------------------------------------------- calls and exit
        case 0x85:
          if (S[pc]! === op.BPF_PSEUDO_CALL) {
            pc = this.enter(pc, pc + 1 + IMM[pc]!, frame++, retPc, saved);
            continue;
          }
          this.leftAtCall = left;
          this.callSlot(pc);
          break;
        case 0x8d: {
          // callx: a function address from ld_imm64 (src=BPF_PSEUDO_FUNC), or a helper id
          if (H[d] === FUNC_ADDR_ID && (this.slotToInsn[L[d]] ?? -1) >= 0) {
            pc = this.enter(pc, L[d], frame++, retPc, saved);
            continue;
          }
          if (H[d] !== 0) throw this.fault(pc, `callx target 0x${A.pairToBig(L[d], H[d]).toString(16)} is not a function address`);
          this.leftAtCall = left;
          this.callHelperId(pc, L[d]);
          break;
        }
        case 0x20:
        case 0x28:
        case 0x30:
        case 0x40:
        case 0x48:
        case 0x50:
        case 0x95:
          if (K[pc] !== 0x95) {
            if (this.legacyLoad(pc)) break;
            // A failed load ends the function with r0 = 0, as the kernel's rewrite of it does
            // (`if r0 s>= 0 goto +2; w0 ^= w0; exit`): the exit below.
            L[0] = 0;
            H[0] = 0;
          }
          if (frame === 0) {
            if (trace) emit();
            return left;
          }
          frame--;
          for (let r = 6, b = frame * 10; r <= 10; r++, b += 2) {
            L[r] = saved[b]!;
            H[r] = saved[b + 1]!;
          }
          pc = retPc[frame]!;
          continue;
        // ---------------------------------------------------- ld_imm64
        case 0x18:
          L[d] = IMM[pc]!;
          H[d] = IMM2[pc]!;
          pc += 2;
          continue;
        // ---------------------------------------------------- loads
        case 0x61:
        case 0x69:
        case 0x71:
        case 0x79:
        case 0x81:
        case 0x89:
        case 0x91: {
          const s = S[pc]!;
          const k = K[pc]!;
          const len = k === 0x79 ? 8 : k === 0x61 || k === 0x81 ? 4 : k === 0x69 || k === 0x89 ? 2 : 1;
          const R = regions[H[s]];
          const e = (L[s] >>> 0) + OFF[pc]!;
          if (R === undefined && this.opts.probeMem) {
            L[d] = 0;
            H[d] = 0;
            break;
          }
          if (R === undefined || e < 0 || e + len > R.bytes.byteLength) throw this.memFault(pc, 'read', s, OFF[pc]!, len);
          if (R.hooks !== undefined) {
            this.hookLoad(pc, R, e, len, d, k >= 0x81);
            break;
          }
          const dv = R.dv;
          if (len === 8) {
            const a = dv.getInt32(e, le);
            const b = dv.getInt32(e + 4, le);
            L[d] = le ? a : b;
            H[d] = le ? b : a;
          } else if (k === 0x61) {
            L[d] = dv.getInt32(e, le);
            H[d] = 0;
          } else if (k === 0x69) {
            L[d] = dv.getUint16(e, le);
            H[d] = 0;
          } else if (k === 0x71) {
            L[d] = dv.getUint8(e);
            H[d] = 0;
          } else {
            const v = k === 0x81 ? dv.getInt32(e, le) : k === 0x89 ? dv.getInt16(e, le) : dv.getInt8(e);
            L[d] = v;
            H[d] = v >> 31;
          }
          break;
        }
        // ---------------------------------------------------- stores
        case 0x62:
        case 0x6a:
        case 0x72:
        case 0x7a:
        case 0x63:
        case 0x6b:
        case 0x73:
        case 0x7b: {
          const k = K[pc]!;
          const sz = k & 0x18;
          const len = sz === 0x18 ? 8 : sz === 0x00 ? 4 : sz === 0x08 ? 2 : 1;
          const R = regions[H[d]];
          const e = (L[d] >>> 0) + OFF[pc]!;
          if (R === undefined || e < 0 || e + len > R.bytes.byteLength || !R.writable) throw this.memFault(pc, 'write', d, OFF[pc]!, len);
          const x = (k & 0x07) === op.BPF_STX;
          const vl = x ? L[S[pc]!] : IMM[pc]!;
          const vh = x ? H[S[pc]!] : IMM[pc]! >> 31;
          if (R.hooks !== undefined) {
            this.hookStore(pc, R, e, len, vl, vh);
            break;
          }
          const dv = R.dv;
          if (len === 8) {
            dv.setInt32(e, le ? vl : vh, le);
            dv.setInt32(e + 4, le ? vh : vl, le);
          } else if (len === 4) dv.setInt32(e, vl, le);
          else if (len === 2) dv.setInt16(e, vl, le);
          else dv.setInt8(e, vl);
          break;
        }
        case 0xc3:
        case 0xdb:
        case 0xcb:
        case 0xd3:
          this.atomic(pc);
          break;
        default:
          throw this.fault(pc, `opcode 0x${K[pc]!.toString(16)} is not emulated`);
      }
      pc++;
    }
  }

  /** bpf-to-bpf call: save the caller's r6-r10, give the callee a fresh stack frame. */
  private enter(pc: number, target: number, frame: number, retPc: Int32Array, saved: Int32Array): number {
    // One stack per frame: none left is the depth limit.
    const stack = this.stacks[frame + 1];
    if (stack === undefined) throw this.fault(pc, `call depth exceeds ${op.MAX_CALL_FRAMES} frames`, 'EMU_LIMIT');
    const L = this.lo;
    const H = this.hi;
    retPc[frame] = pc + 1;
    for (let r = 6, b = frame * 10; r <= 10; r++, b += 2) {
      saved[b] = L[r]!;
      saved[b + 1] = H[r]!;
    }
    stack.fill(0);
    L[10] = STACK;
    H[10] = this.stackBase + frame + 1;
    return target;
  }

  /** BPF_STX | BPF_ATOMIC: read-modify-write, xchg, cmpxchg, load-acquire, store-release. */
  /** @internal */
  atomic(pc: number): void {
    const L = this.lo;
    const H = this.hi;
    const d = this.dst[pc]!;
    const s = this.src[pc]!;
    const imm = this.imm[pc]!;
    const off = this.off[pc]!;
    const sz = this.k[pc]! & 0x18;
    const len = sz === op.BPF_DW ? 8 : sz === op.BPF_W ? 4 : sz === op.BPF_H ? 2 : 1;
    const le = this.littleEndian;
    // load-acquire reads through src into dst; everything else addresses through dst.
    const base = imm === op.BPF_LOAD_ACQ ? s : d;
    const R = this.memory.regions[H[base]];
    const e = (L[base] >>> 0) + off;
    const write = imm !== op.BPF_LOAD_ACQ;
    if (R === undefined || e < 0 || e + len > R.bytes.byteLength || (write && !R.writable)) throw this.memFault(pc, write ? 'write' : 'read', base, off, len);
    const dv = R.dv;
    const readMem = (): bigint => {
      if (len === 8) return dv.getBigUint64(e, le);
      if (len === 4) return BigInt(dv.getUint32(e, le));
      if (len === 2) return BigInt(dv.getUint16(e, le));
      return BigInt(dv.getUint8(e));
    };
    const writeMem = (v: bigint) => {
      if (len === 8) dv.setBigUint64(e, BigInt.asUintN(64, v), le);
      else if (len === 4) dv.setUint32(e, Number(BigInt.asUintN(32, v)), le);
      else if (len === 2) dv.setUint16(e, Number(BigInt.asUintN(16, v)), le);
      else dv.setUint8(e, Number(BigInt.asUintN(8, v)));
    };
    const setReg = (r: RegNo, v: bigint) => {
      const u = BigInt.asUintN(len === 8 ? 64 : 32, v);
      L[r] = Number(BigInt.asIntN(32, u));
      H[r] = Number(BigInt.asIntN(32, u >> 32n));
    };
    const bits = len === 8 ? 64 : 32;
    const srcVal = BigInt.asUintN(bits, A.pairToBig(L[s], H[s]));
    if (imm === op.BPF_LOAD_ACQ) {
      const v = readMem();
      L[d] = Number(BigInt.asIntN(32, v));
      H[d] = Number(BigInt.asIntN(32, v >> 32n));
      return;
    }
    if (imm === op.BPF_STORE_REL) {
      writeMem(A.pairToBig(L[s], H[s]));
      return;
    }
    const old = readMem();
    if (imm === op.BPF_XCHG) {
      writeMem(srcVal);
      setReg(s, old);
      return;
    }
    if (imm === op.BPF_CMPXCHG) {
      const expect = BigInt.asUintN(bits, A.pairToBig(L[0], H[0]));
      if (old === expect) writeMem(srcVal);
      setReg(0, old);
      return;
    }
    const o = imm & ~op.BPF_FETCH;
    const v = o === op.BPF_ADD ? old + srcVal : o === op.BPF_OR ? old | srcVal : o === op.BPF_AND ? old & srcVal : old ^ srcVal;
    writeMem(v);
    if (imm & op.BPF_FETCH) setReg(s, old);
  }
}
