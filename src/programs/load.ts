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
import { EAGAIN, ENOSPC } from '../sys/errno.js';
import { LITTLE_ENDIAN, writeU32 } from '../sys/endian.js';
import { Fd } from '../sys/fd.js';
import { withMemlockRetry } from '../sys/memlock.js';
import { CORE_RELO_SIZE, progLoad, type ProgLoadAttr } from '../sys/prog-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { progTypeName } from '../uapi/bpf.js';
import { capsHint, NEED_PERFMON } from '../sys/caps.js';
import type { ExternResolver } from './externs.js';
import { isRootUser, refusalCause, needsTrampoline } from './refusal.js';
import { lastInstruction, logIncludes, logTail, needsPerfmon, sourceLineFor, verdictLine, type VerifierLogText } from './verifier-log.js';

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
  /** Where the arena's globals start in the arena (bytes), for `arena` map_value relocations. */
  arenaDataOffset?: number;
  /** fd of the object's BTF in the kernel, when it was loaded. */
  btfFd?: number;
  ifindex?: number;
  /**
   * Resolves CO-RE relocations (needed when the program has any and the
   * kernel does not apply them); share one per object load for its caches.
   * A function is called only when the relocations are resolved here.
   */
  core?: CoreResolver | (() => CoreResolver | undefined);
  /**
   * Let the kernel apply the CO-RE relocations (core_relos, Linux 5.17+)
   * while the program's BTF is loaded with it: no reading of the kernel's
   * BTF here. Shared by a load's programs: `enabled` turns false when the
   * kernel failed a program that then loaded with the relocations resolved
   * here, and the load's other programs skip the kernel.
   */
  kernelCore?: { enabled: boolean };
  /** Resolves kfuncs and __ksym externs against the kernel (needed when the program uses any); one per object load. */
  externs?: ExternResolver;
  /** attach_btf_id / attach_btf_obj_fd (or attach_prog_fd for freplace): the BTF target of tracing, LSM and EXT programs. */
  attachBtfId?: number;
  attachBtfObjFd?: number;
}

/** The instructions with map fds and global-data addresses written in. */
export function relocate(spec: ProgramSpec, opts: Pick<LoadProgramOptions, 'source' | 'littleEndian' | 'mapFds' | 'externs' | 'arenaDataOffset'>): Uint8Array {
  if (opts.littleEndian !== LITTLE_ENDIAN) {
    throw new BpfError(
      'PROGRAM_INVALID',
      `${opts.source}: program ${spec.name} is ${opts.littleEndian ? 'little' : 'big'}-endian BPF; this machine only runs ${LITTLE_ENDIAN ? 'little' : 'big'}-endian BPF (rebuild with -target bpf)`,
    );
  }
  const bytes = spec.instructions.slice();
  const insns = new Insns(bytes, opts.littleEndian);
  let externs = false;
  for (const r of spec.relocations) {
    if (r.kind === 'extern' || r.kind === 'kfunc') {
      externs = true;
      continue;
    }
    const fd = opts.mapFds.get(r.map);
    if (fd === undefined) throw new BpfError('MAP_NOT_FOUND', `${opts.source}: program ${spec.name} needs map ${r.map}, which was not created`);
    insns.setImm(r.insnIndex, fd);
    if (r.kind === 'map_fd') {
      insns.setSrc(r.insnIndex, BPF_PSEUDO_MAP_FD);
    } else {
      insns.setSrc(r.insnIndex, BPF_PSEUDO_MAP_VALUE);
      if (r.arena && opts.arenaDataOffset === undefined) throw new BpfError('MAP_INVALID', `${opts.source}: program ${spec.name} uses arena globals, but arena ${r.map} has no place for them`);
      insns.setImm(r.insnIndex + 1, r.offset + (r.arena ? opts.arenaDataOffset! : 0));
    }
  }
  if (externs) {
    if (!opts.externs) {
      const names = spec.relocations.flatMap((r) => (r.kind === 'extern' || r.kind === 'kfunc' ? [r.symbol] : []));
      throw new BpfError('EXTERN_UNRESOLVED', `${opts.source}: program ${spec.name} uses externs (${[...new Set(names)].join(', ')}) and no resolver was given`);
    }
    opts.externs.apply(spec, bytes, opts.littleEndian);
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
  const core = typeof opts.core === 'function' ? opts.core() : opts.core;
  if (!core) {
    throw new CoreRelocationError(`${opts.source}: program ${spec.name} has ${spec.coreRelocations.length} CO-RE relocations but no BTF to resolve them against`);
  }
  return applyCoreRelocations(insns, opts.littleEndian, spec.coreRelocations, core, `${opts.source}: program ${spec.name}`).poisoned;
}

/** The program's CO-RE relocations as struct bpf_core_relo records, or null when one lacks its string offset. */
function encodeCoreRelos(spec: ProgramSpec): Uint8Array | null {
  const b = new Uint8Array(spec.coreRelocations.length * CORE_RELO_SIZE);
  for (let i = 0; i < spec.coreRelocations.length; i++) {
    const r = spec.coreRelocations[i]!;
    if (r.accessStrOff === undefined) return null;
    const at = i * CORE_RELO_SIZE;
    writeU32(b, at, r.insnOff * 8);
    writeU32(b, at + 4, r.typeId);
    writeU32(b, at + 8, r.accessStrOff);
    writeU32(b, at + 12, r.kind);
  }
  return b;
}

/** The refusal explained by a poisoned CO-RE relocation, when one is to blame. */
function coreFailure(poisoned: CorePoisoned[], log: VerifierLogText, insn: number, prefix: string, fullLog: () => string): CoreRelocationError | null {
  if (poisoned.length === 0) return null;
  // The verifier stops at the first reachable poisoned call: prefer the one it names.
  const hit = poisoned.find((p) => p.insn === insn) ?? (logIncludes(log, 'unknown#195896080') ? poisoned[0] : undefined);
  if (!hit) return null;
  const others = poisoned.filter((p) => p !== hit).map((p) => `also unresolved: ${p.message}`);
  const details = [...others, `verifier log (last lines):\n${logTail(log)}`].join('\n');
  const err = new CoreRelocationError(`${prefix}: CO-RE relocation failed: ${hit.message}`, { details, instruction: hit.insn, relocation: hit.relocation });
  attachLog(err, log, fullLog);
  return err;
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

/**
 * The whole log on the error: `logBytes` (the kernel's buffer, no copy) and
 * `log`, decoded only when someone reads it.
 */
function attachLog(err: BpfError, bytes: VerifierLogText, full: () => string): void {
  Object.defineProperty(err, 'logBytes', { value: bytes, enumerable: false });
  Object.defineProperty(err, 'log', { get: full, enumerable: false, configurable: true });
}

/** Load a program; returns an owned fd. Throws BpfError('VERIFIER') with the log on refusal. */
export function loadProgram(spec: ProgramSpec, opts: LoadProgramOptions): { fd: Fd; type: number } {
  const type = spec.type ?? opts.type;
  if (type === undefined || type === null) {
    throw new BpfError(
      'PROGRAM_INVALID',
      `${opts.source}: program ${spec.name} in section "${spec.section}": the section name does not say which program type it is; choose one (e.g. --xdp or --type xdp)`,
    );
  }
  const withBtf = opts.btfFd !== undefined && spec.funcInfo.length > 0;
  const insns = relocate(spec, opts);
  const attr: ProgLoadAttr = {
    type,
    insns,
    license: opts.license,
    name: spec.name,
    kernVersion: opts.kernelVersion ?? 0,
    progFlags: spec.progFlags,
    expectedAttachType: opts.expectedAttachType ?? spec.expectedAttachType ?? 0,
    ifindex: opts.ifindex,
    attachBtfId: opts.attachBtfId,
    attachBtfObjFd: opts.attachBtfObjFd,
    fdArray: opts.externs?.fdArray,
  };
  if (withBtf) {
    attr.btfFd = opts.btfFd;
    attr.funcInfo = encodeFuncInfo(spec);
    attr.lineInfo = encodeLineInfo(spec);
  }
  const context = `program ${spec.name}`;
  // The kernel applies CO-RE relocations itself when given them with the
  // program's BTF (the relocations name its types and strings), as libbpf's
  // light skeletons have it do: the kernel's BTF is then never read here.
  const kernelCore = opts.kernelCore;
  let kernelFailed = false;
  if (kernelCore?.enabled && withBtf && spec.coreRelocations.length > 0) {
    const coreRelos = encodeCoreRelos(spec);
    if (coreRelos) {
      const r = withMemlockRetry(() => progLoad({ ...attr, coreRelos }).result);
      if (r >= 0) return { fd: new Fd(r, `program ${spec.name}`), type };
      // Refused (a kernel before 5.17 says E2BIG: fields it does not know):
      // resolve them here and load again, which also explains a refusal as before.
      kernelFailed = true;
    }
  }
  const poisoned = relocateCore(spec, insns, opts);
  const first = withMemlockRetry(() => progLoad(attr).result);
  // Loaded once resolved here after the kernel failed them: the load's other programs skip the kernel.
  if (first >= 0 && kernelFailed) kernelCore!.enabled = false;
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
  // Interrupted by signals on every attempt (the wrapper retried): what the
  // log holds is where the verifier stopped, not a verdict.
  if (first === -EAGAIN && res.result === -EAGAIN) throw new BpfSyscallError(BPF_PROG_LOAD, EAGAIN, context, { progType: type });
  const log = res.logBytes;
  const fullLog = () => res.log;
  const verdict = verdictLine(log);
  const hasLog = logTail(log, 1).trim() !== '';
  if (!verdict && (isRootUser() || hasLog)) {
    // No verifier verdict: name the likely cause rather than "run as root" or nothing.
    const sys = new BpfSyscallError(BPF_PROG_LOAD, -first, context, { progType: type });
    const cause = refusalCause(type, attr.expectedAttachType ?? 0, attr.attachBtfId ?? 0, -first);
    // A kernel that will not make a trampoline here is a limit of this kernel, not of the program.
    const code = needsTrampoline(type, -first) ? 'KERNEL_UNSUPPORTED' : 'VERIFIER';
    const message = `${opts.source}: ${progTypeName(type)} program ${spec.name} refused by the kernel (${sys.errnoName}): ${cause}`;
    const details = hasLog ? { details: `verifier log (last lines):\n${logTail(log)}` } : {};
    const err = code === 'VERIFIER' ? new VerifierError(message, { ...details, log: '', instruction: -1 }) : new BpfError(code, message, details);
    attachLog(err, log, fullLog);
    Object.assign(err, { errno: -first });
    throw err;
  }
  if (!hasLog) throw new BpfSyscallError(BPF_PROG_LOAD, -first, context, { progType: type });
  const insn = lastInstruction(log);
  const coreErr = coreFailure(poisoned, log, insn, `${opts.source}: ${progTypeName(type)} program ${spec.name}`, fullLog);
  if (coreErr) throw coreErr;
  const src = insn >= 0 ? sourceLineFor(spec.lineInfo, insn) : undefined;
  const where = src ? ` at ${src.fileName.split('/').pop()}:${src.line}` : insn >= 0 ? ` at instruction ${insn}` : '';
  const srcText = src?.source ? `\nsource line ${src.fileName}:${src.line}: ${src.source.trim()}` : '';
  // Refusals only unprivileged callers get: name the capability that lifts them, unless the caller has it.
  const privileged = needsPerfmon(log) ? capsHint([NEED_PERFMON], '') : '';
  const perfmon = privileged ? ' (the verifier allows this only to callers with CAP_PERFMON, which this process lacks: grant CAP_PERFMON)' : '';
  const err = new VerifierError(`${opts.source}: ${progTypeName(type)} program ${spec.name} rejected by the verifier${where}: ${verdict}${perfmon}`, {
    details: `verifier log (last lines):\n${logTail(log)}${srcText}`,
    log: '',
    instruction: insn,
    sourceLine: src,
  });
  // The log is read lazily from the kernel's buffer (it can be megabytes).
  attachLog(err, log, fullLog);
  throw err;
}
