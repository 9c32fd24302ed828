// Load one program: apply map relocations to a copy of its instructions,
// attach BTF func/line info, and issue BPF_PROG_LOAD. The first attempt asks
// for no log (fast path); a refusal is retried with a log buffer that grows
// until the whole log fits, so the error can quote the verifier. CO-RE
// relocations are resolved and patched in before loading; an instruction
// they had to poison turns a refusal into an error naming the relocation.

import { BpfError, CoreRelocationError, VerifierError } from '../errors.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, Insns } from '../object/instruction.js';
import type { ProgramSpec } from '../object/types.js';
import { applyCoreRelocations, type CorePoisoned, type CoreResolver } from '../object/core/index.js';
import { BPF_PROG_LOAD } from '../sys/bpf-cmd.js';
import { ENOSPC, EPERM } from '../sys/errno.js';
import { LITTLE_ENDIAN, writeU32 } from '../sys/endian.js';
import { Fd } from '../sys/fd.js';
import { withMemlockRetry } from '../sys/memlock.js';
import { progLoad, type ProgLoadAttr } from '../sys/prog-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';

// Program types whose fentry/fexit/fmod_ret/lsm/freplace flavours load through a trampoline.
const TRAMPOLINE_TYPES = new Set<number>([BPF_PROG_TYPE.TRACING, BPF_PROG_TYPE.LSM, BPF_PROG_TYPE.EXT]);
import { resolveBtfAttachTarget } from './attach-btf.js';
import { lastInstruction, logTail, sourceLineFor, verdictLine } from './verifier-log.js';

const LOG_START = 64 * 1024;
const LOG_MAX = 256 * 1024 * 1024;

export interface LoadProgramOptions {
  /** Where the program came from, for messages (object path). */
  source: string;
  littleEndian: boolean;
  license: string;
  kernelVersion?: number;
  /** Program type to use when the section does not say (iproute2's "prog"). */
  type?: number;
  expectedAttachType?: number;
  /** fd of every map the program refers to, by map name. */
  mapFds: ReadonlyMap<string, number>;
  /** fd of the object's BTF in the kernel, when it was loaded. */
  btfFd?: number;
  ifindex?: number;
  /** Resolves CO-RE relocations (needed when the program has any); share one per object load for its caches. */
  core?: CoreResolver;
  /** BTF id of the attach target (tp_btf, fentry, lsm, iter…); default: looked up from the section in vmlinux BTF. */
  attachBtfId?: number;
  /** freplace: the program to replace functions of. */
  attachProgFd?: number;
}

/** The instructions with map fds and global-data addresses written in. */
export function relocate(spec: ProgramSpec, opts: Pick<LoadProgramOptions, 'source' | 'littleEndian' | 'mapFds'>): Uint8Array {
  if (opts.littleEndian !== LITTLE_ENDIAN) {
    throw new BpfError('PROGRAM_INVALID', `${opts.source}: program ${spec.name} is ${opts.littleEndian ? 'little' : 'big'}-endian BPF; this machine only runs ${LITTLE_ENDIAN ? 'little' : 'big'}-endian BPF (rebuild with -target bpf)`);
  }
  const bytes = spec.instructions.slice();
  const insns = new Insns(bytes, opts.littleEndian);
  for (const r of spec.relocations) {
    if (r.kind === 'extern') {
      throw new BpfError('PROGRAM_INVALID', `${opts.source}: program ${spec.name} uses extern ${r.symbol} (kfuncs, .kconfig and __ksym are not supported yet)`);
    }
    const fd = opts.mapFds.get(r.map);
    if (fd === undefined) throw new BpfError('MAP_NOT_FOUND', `${opts.source}: program ${spec.name} needs map ${r.map}, which was not created`);
    insns.setImm(r.insnIndex, fd);
    if (r.kind === 'map_fd') {
      insns.setSrc(r.insnIndex, BPF_PSEUDO_MAP_FD);
    } else {
      insns.setSrc(r.insnIndex, BPF_PSEUDO_MAP_VALUE);
      insns.setImm(r.insnIndex + 1, r.offset);
    }
  }
  return bytes;
}

/**
 * Patch the program's CO-RE relocations into `insns` (from relocate()), in
 * place. Returns the relocations that poisoned their instruction: harmless
 * in dead code, otherwise the verifier refuses the program there.
 */
export function relocateCore(spec: ProgramSpec, insns: Uint8Array, opts: Pick<LoadProgramOptions, 'source' | 'littleEndian' | 'core'>): CorePoisoned[] {
  if (spec.coreRelocations.length === 0) return [];
  if (!opts.core) {
    throw new CoreRelocationError(`${opts.source}: program ${spec.name} has ${spec.coreRelocations.length} CO-RE relocations but no BTF to resolve them against`);
  }
  return applyCoreRelocations(insns, opts.littleEndian, spec.coreRelocations, opts.core, `${opts.source}: program ${spec.name}`).poisoned;
}

/** The refusal explained by a poisoned CO-RE relocation, when one is to blame. */
function coreFailure(poisoned: CorePoisoned[], log: string, insn: number, prefix: string): CoreRelocationError | null {
  if (poisoned.length === 0) return null;
  // The verifier stops at the first reachable poisoned call: prefer the one it names.
  const hit = poisoned.find((p) => p.insn === insn) ?? (log.includes('unknown#195896080') ? poisoned[0] : undefined);
  if (!hit) return null;
  const others = poisoned.filter((p) => p !== hit).map((p) => `also unresolved: ${p.message}`);
  const details = [...others, `verifier log (last lines):\n${logTail(log)}`].join('\n');
  return new CoreRelocationError(`${prefix}: CO-RE relocation failed: ${hit.message}`, { details, log, instruction: hit.insn, relocation: hit.relocation });
}

function encodeFuncInfo(spec: ProgramSpec): Uint8Array {
  const b = new Uint8Array(spec.funcInfo.length * 8);
  spec.funcInfo.forEach((f, i) => {
    writeU32(b, i * 8, f.insnOff);
    writeU32(b, i * 8 + 4, f.typeId);
  });
  return b;
}

function encodeLineInfo(spec: ProgramSpec): Uint8Array {
  const b = new Uint8Array(spec.lineInfo.length * 16);
  spec.lineInfo.forEach((l, i) => {
    writeU32(b, i * 16, l.insnOff);
    writeU32(b, i * 16 + 4, l.fileNameOff);
    writeU32(b, i * 16 + 8, l.lineOff);
    writeU32(b, i * 16 + 12, (l.line << 10) | (l.column & 0x3ff));
  });
  return b;
}

/** Load a program; returns an owned fd. Throws BpfError('VERIFIER') with the log on refusal. */
export function loadProgram(spec: ProgramSpec, opts: LoadProgramOptions): { fd: Fd; type: number } {
  const type = spec.type ?? opts.type;
  if (type === undefined || type === null) {
    throw new BpfError('PROGRAM_INVALID', `${opts.source}: program ${spec.name} in section "${spec.section}": the section name does not say which program type it is; choose one (e.g. --xdp or --type xdp)`);
  }
  const withBtf = opts.btfFd !== undefined && spec.funcInfo.length > 0;
  const insns = relocate(spec, opts);
  const poisoned = relocateCore(spec, insns, opts);
  const attr: ProgLoadAttr = {
    type,
    insns,
    license: opts.license,
    name: spec.name,
    kernVersion: opts.kernelVersion ?? 0,
    progFlags: spec.progFlags,
    expectedAttachType: opts.expectedAttachType ?? spec.expectedAttachType ?? 0,
    ifindex: opts.ifindex,
  };
  const btfTarget = opts.attachBtfId ?? resolveBtfAttachTarget({ ...spec, type }, opts.source)?.attachBtfId;
  if (btfTarget !== undefined) attr.attachBtfId = btfTarget;
  if (opts.attachProgFd !== undefined) attr.attachProgFd = opts.attachProgFd;
  if (withBtf) {
    attr.btfFd = opts.btfFd;
    attr.funcInfo = encodeFuncInfo(spec);
    attr.lineInfo = encodeLineInfo(spec);
  }
  const context = `program ${spec.name}`;
  const first = withMemlockRetry(() => progLoad(attr).result);
  if (first >= 0) return { fd: new Fd(first, `program ${spec.name}`), type };

  // Refused: load again with a log. Errors other than a verifier refusal
  // (EPERM, E2BIG, …) are reported as syscall errors with their hint.
  let size = LOG_START;
  let res = progLoad(attr, 1, size);
  for (let i = 0; i < 16 && res.result === -ENOSPC && size < LOG_MAX; i++) {
    size = res.logTrueSize > size ? res.logTrueSize : size * 2;
    res = progLoad(attr, 1, Math.min(size, LOG_MAX));
  }
  if (res.result >= 0) return { fd: new Fd(res.result, `program ${spec.name}`), type };
  const log = res.log;
  if (-first === EPERM && TRAMPOLINE_TYPES.has(type) && process.geteuid?.() === 0) {
    // Root, a program that needs a BPF trampoline, and no verifier complaint:
    // the kernel itself will not attach trampolines here.
    throw new BpfError(
      'KERNEL_UNSUPPORTED',
      `${opts.source}: program ${spec.name}: the kernel verified the program but refused to load it (EPERM): fentry/fexit/fmod_ret/lsm/freplace programs need a BPF trampoline (ftrace direct calls), which this kernel or its security policy does not allow; tp_btf and raw_tp programs attach without one`,
      { details: log.trim() ? `verifier log (last lines):\n${logTail(log)}` : undefined },
    );
  }
  if (!log.trim()) throw new BpfSyscallError(BPF_PROG_LOAD, -first, context);
  const insn = lastInstruction(log);
  const coreErr = coreFailure(poisoned, log, insn, `${opts.source}: ${progTypeName(type)} program ${spec.name}`);
  if (coreErr) throw coreErr;
  const src = insn >= 0 ? sourceLineFor(spec.lineInfo, insn) : undefined;
  const where = src ? ` at ${src.fileName.split('/').pop()}:${src.line}` : insn >= 0 ? ` at instruction ${insn}` : '';
  const srcText = src?.source ? `\nsource line ${src.fileName}:${src.line}: ${src.source.trim()}` : '';
  throw new VerifierError(`${opts.source}: ${progTypeName(type)} program ${spec.name} rejected by the verifier${where}: ${verdictLine(log)}`, {
    details: `verifier log (last lines):\n${logTail(log)}${srcText}`,
    log,
    instruction: insn,
    sourceLine: src,
  });
}
