// What the running kernel supports, asked the kernel itself, the way libbpf
// (and so `bpftool feature probe`) asks: load a two-instruction program of a
// type, create a one-entry map of a type, call a helper from a program of a
// type, and read the answer (and, where the kernel answers the same errno
// for "unknown" and "known but not like this", the verifier's words).
// Answers are kept for the life of the process.
//
// A probe the kernel refuses with EPERM says nothing about support: it is a
// BpfError naming the capability the kernel wanted, never a "no".

import { assemble } from '../asm/assembler.js';
import { helperId, helperName, HELPER_NAMES } from '../asm/helpers.js';
import { encode } from '../asm/insn.js';
import * as op from '../asm/opcode.js';
import { btfBlob } from '../btf/features.js';
import { BpfError } from '../errors.js';
import { btfLoad } from '../sys/btf-attr.js';
import * as cmd from '../sys/bpf-cmd.js';
import { capName, capsForCommand, capsHint, effectiveCaps, missingCaps } from '../sys/caps.js';
import { EINVAL, EPERM, ENOTSUPP, errnoName } from '../sys/errno.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import * as ffi from '../sys/ffi.js';
import { kernelVersionCode } from '../sys/kernel-config.js';
import { mapCreateRaw } from '../sys/map-attr.js';
import { progLoad } from '../sys/prog-attr.js';
import {
  BPF_ATTACH_TYPE as A,
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  BPF_F_SLEEPABLE,
  BPF_MAP_TYPE as M,
  BPF_PROG_TYPE as P,
  MAP_TYPE_NAMES,
  type MapTypeName,
  mapTypeName,
  PROG_TYPE_NAMES,
  type ProgTypeName,
  progTypeName,
} from '../uapi/bpf.js';

const RETURN_0 = 'r0 = 0\nexit';
const LOG_SIZE = 64 * 1024;

const progCache = new Map<number, boolean>();
const mapCache = new Map<number, boolean>();
const helperCache = new Map<string, { available: boolean; because?: string }>();

function insns(text: string): Uint8Array {
  return assemble(text, { label: 'feature probe' }).bytes;
}

function typeNumber<T extends string>(t: number | T, names: readonly string[], what: string): number {
  const n = typeof t === 'number' ? t : names.indexOf(t);
  if (!Number.isInteger(n) || n <= 0 || n >= names.length) throw new BpfError('INVALID_ARGUMENT', `unknown ${what} ${String(t)} (known: ${names.slice(1).join(', ')})`);
  return n;
}

/**
 * An EPERM answer. From a caller that lacks a capability the kernel wants
 * for it, it tells nothing: a BpfError naming the capability. From a caller
 * holding them all, the kernel refuses the feature to everyone (a lockdown,
 * a security module, a kernel built without trampolines): it is a no.
 */
function refusal(what: string, command: number, info: { progType?: number; mapType?: number }): false {
  const needs = capsForCommand(command, info);
  const missing = missingCaps(needs, effectiveCaps());
  if (missing.length === 0) return false;
  throw new ProbeDenied(what, missing.map(capName), `probing ${what}: the kernel refused (EPERM): ${capsHint(needs, '')}`);
}

/** A probe the kernel refused for want of a capability: what, and the capabilities missing. */
export class ProbeDenied extends BpfError {
  readonly feature: string;
  readonly needs: string[];
  constructor(feature: string, needs: string[], message: string) {
    super('NOT_ROOT', message);
    this.name = 'ProbeDenied';
    this.feature = feature;
    this.needs = needs;
  }
}

interface LoadProbe {
  result: number;
  log: string;
}

/** Load attributes besides the instructions. */
interface LoadExtras {
  expectedAttachType?: number;
  progFlags?: number;
  attachBtfId?: number;
  kernVersion?: number;
}

function probeLoad(type: number, code: string | Uint8Array, extra: LoadExtras = {}, withLog = false): LoadProbe {
  const r = progLoad({ type, insns: typeof code === 'string' ? insns(code) : code, license: 'GPL', name: '', ...extra }, withLog ? 1 : 0, withLog ? LOG_SIZE : 0);
  if (r.result >= 0) ffi.close(r.result);
  return { result: r.result, log: withLog ? r.log : '' };
}

/** What a program of type `t` needs besides its instructions to load at all: the attach type its hooks check, the kernel version kprobes once wanted, sleepable for syscall programs. */
function loadExtras(t: number): LoadExtras {
  const attach: Partial<Record<number, number>> = {
    [P.CGROUP_SOCK_ADDR]: A.CGROUP_INET4_CONNECT,
    [P.CGROUP_SOCKOPT]: A.CGROUP_GETSOCKOPT,
    [P.SK_LOOKUP]: A.SK_LOOKUP,
    [P.LIRC_MODE2]: A.LIRC_MODE2,
    [P.NETFILTER]: A.NETFILTER,
  };
  const extra: LoadExtras = {};
  if (attach[t] !== undefined) extra.expectedAttachType = attach[t];
  if (t === P.KPROBE) extra.kernVersion = kernelVersionCode();
  if (t === P.SYSCALL) extra.progFlags = BPF_F_SLEEPABLE;
  return extra;
}

/**
 * Whether the kernel has program type `type` (libbpf_probe_bpf_prog_type):
 * a `r0 = 0; exit` program of that type loads. Tracing, LSM and freplace
 * programs cannot load without a real target: the kernel's complaint about
 * the target says it knows the type.
 */
export function haveProgramType(type: number | ProgTypeName): boolean {
  const t = typeNumber(type, PROG_TYPE_NAMES, 'program type');
  const cached = progCache.get(t);
  if (cached !== undefined) return cached;
  let expect: { errno: number; message?: string } | undefined;
  const extra = loadExtras(t);
  switch (t) {
    case P.TRACING:
    case P.LSM:
      extra.expectedAttachType = t === P.TRACING ? A.TRACE_FENTRY : A.LSM_MAC;
      extra.attachBtfId = 1;
      expect = { errno: EINVAL, message: 'attach_btf_id 1 is not a function' };
      break;
    case P.EXT:
      extra.attachBtfId = 1;
      expect = { errno: EINVAL, message: 'Cannot replace kernel functions' };
      break;
    case P.STRUCT_OPS:
      // Without a struct_ops map behind it the kernel says ENOTSUPP, and only for a type it has.
      expect = { errno: ENOTSUPP };
      break;
  }
  const r = probeLoad(t, RETURN_0, extra, expect?.message !== undefined);
  const yes =
    r.result === -EPERM
      ? refusal(`program type ${progTypeName(t)}`, cmd.BPF_PROG_LOAD, { progType: t })
      : expect
        ? r.result === -expect.errno && (expect.message === undefined || r.log.includes(expect.message))
        : r.result >= 0;
  progCache.set(t, yes);
  return yes;
}

/** BTF for local-storage maps: int; struct bpf_spin_lock { int val; }; struct val { int cnt; struct bpf_spin_lock l; }. */
function localStorageBtf(): Uint8Array {
  const info = (kind: number, vlen: number) => ((kind << 24) | vlen) >>> 0;
  const INT = 1;
  const STRUCT = 4;
  // Strings: 0 "", 1 "bpf_spin_lock", 15 "val", 19 "cnt", 23 "l"
  return btfBlob([0, info(INT, 0), 4, (1 << 24) | 32, 1, info(STRUCT, 1), 4, 15, 1, 0, 15, info(STRUCT, 2), 8, 19, 1, 0, 23, 2, 32], '\0bpf_spin_lock\0val\0cnt\0l\0');
}

/**
 * Whether the kernel has map type `type` (libbpf_probe_bpf_map_type): a
 * small map of that type is created (key, value and size as the type wants).
 */
export function haveMapType(type: number | MapTypeName): boolean {
  const t = typeNumber(type, MAP_TYPE_NAMES, 'map type');
  const cached = mapCache.get(t);
  if (cached !== undefined) return cached;
  let keySize = 4;
  let valueSize = 4;
  let maxEntries = 1;
  let mapFlags = 0;
  let btf: Uint8Array | undefined;
  let btfVmlinuxValueTypeId: number | undefined;
  let expectErrno: number | undefined;
  let innerMapFd: number | undefined;
  switch (t) {
    case M.STACK_TRACE:
      valueSize = 8;
      break;
    case M.LPM_TRIE:
      keySize = 8;
      valueSize = 8;
      mapFlags = BPF_F_NO_PREALLOC;
      break;
    case M.CGROUP_STORAGE:
    case M.PERCPU_CGROUP_STORAGE:
      keySize = 16; // struct bpf_cgroup_storage_key
      valueSize = 8;
      maxEntries = 0;
      break;
    case M.QUEUE:
    case M.STACK:
      keySize = 0;
      break;
    case M.SK_STORAGE:
    case M.INODE_STORAGE:
    case M.TASK_STORAGE:
    case M.CGRP_STORAGE:
      valueSize = 8;
      maxEntries = 0;
      mapFlags = BPF_F_NO_PREALLOC;
      btf = localStorageBtf();
      break;
    case M.RINGBUF:
    case M.USER_RINGBUF:
      keySize = 0;
      valueSize = 0;
      maxEntries = ffi.pageSize();
      break;
    case M.STRUCT_OPS:
      // No such struct_ops type (BTF id 1): ENOTSUPP, from a kernel that has the map type.
      btfVmlinuxValueTypeId = 1;
      expectErrno = ENOTSUPP;
      break;
    case M.BLOOM_FILTER:
      keySize = 0;
      break;
    case M.ARENA:
      keySize = 0;
      valueSize = 0;
      mapFlags = BPF_F_MMAPABLE;
      break;
  }
  let btfFd = -1;
  try {
    if (btf) {
      const r = btfLoad(btf);
      if (r.result < 0) {
        // BTF that small loads wherever these map types exist, for whoever may load BTF.
        if (r.result === -EPERM) refusal(`map type ${mapTypeName(t)}`, cmd.BPF_BTF_LOAD, {});
        mapCache.set(t, false);
        return false;
      }
      btfFd = r.result;
    }
    if (t === M.ARRAY_OF_MAPS || t === M.HASH_OF_MAPS) {
      innerMapFd = mapCreateRaw({ mapType: M.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
      if (innerMapFd < 0) {
        if (innerMapFd === -EPERM) refusal(`map type ${mapTypeName(t)}`, cmd.BPF_MAP_CREATE, { mapType: M.HASH });
        throw new BpfError('SYSCALL', `probing map type ${mapTypeName(t)}: an inner hash map could not be made (${errnoName(-innerMapFd)})`);
      }
    }
    const fd = mapCreateRaw({
      mapType: t,
      keySize,
      valueSize,
      maxEntries,
      mapFlags,
      ...(innerMapFd !== undefined ? { innerMapFd } : {}),
      ...(btfFd >= 0 ? { btfFd, btfKeyTypeId: 1, btfValueTypeId: 3 } : {}),
      ...(btfVmlinuxValueTypeId !== undefined ? { btfVmlinuxValueTypeId } : {}),
    });
    if (fd >= 0) ffi.close(fd);
    const yes = fd === -EPERM ? refusal(`map type ${mapTypeName(t)}`, cmd.BPF_MAP_CREATE, { mapType: t }) : expectErrno !== undefined ? fd === -expectErrno : fd >= 0;
    mapCache.set(t, yes);
    return yes;
  } finally {
    if (btfFd >= 0) ffi.close(btfFd);
    if (innerMapFd !== undefined && innerMapFd >= 0) ffi.close(innerMapFd);
  }
}

// The verifier's words for "no such helper" and "not for this program type" (older and newer kernels).
const NO_HELPER = ['invalid func ', 'unknown func ', 'program of this type cannot use helper '];

/** Program types a helper cannot be probed from: they do not load without a real target. */
const UNPROBEABLE = new Set<number>([P.TRACING, P.EXT, P.LSM, P.STRUCT_OPS]);

/**
 * Whether programs of type `progType` may call helper `helper` (id or name,
 * "bpf_" optional), as libbpf_probe_bpf_helper asks: a program that only
 * calls it is loaded, and only the verifier saying it does not know the
 * helper, or not for this type, is a no (any other complaint is about the
 * missing arguments). BpfError for the types that cannot be probed this way
 * (tracing, ext, lsm, struct_ops).
 */
export function haveHelper(progType: number | ProgTypeName, helper: number | string): boolean {
  return helperProbe(progType, helper).available;
}

/** haveHelper with the verifier's line that decided a "no". */
export function helperProbe(progType: number | ProgTypeName, helper: number | string): { available: boolean; because?: string } {
  const t = typeNumber(progType, PROG_TYPE_NAMES, 'program type');
  const id = typeof helper === 'number' ? helper : helperId(helper);
  if (id === undefined || !Number.isInteger(id) || id <= 0) throw new BpfError('INVALID_ARGUMENT', `unknown helper ${String(helper)}`);
  if (UNPROBEABLE.has(t)) throw new BpfError('INVALID_ARGUMENT', `helpers cannot be probed from ${progTypeName(t)} programs: they do not load without an attach target`);
  const key = `${t}/${id}`;
  const cached = helperCache.get(key);
  if (cached) return cached;
  const extra = loadExtras(t);
  // call <id>; exit — encoded, not assembled: the helper may be one the assembler has no name for.
  const code = encode(
    [
      { code: op.CALL, dst: 0, src: 0, off: 0, imm: id },
      { code: op.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    LITTLE_ENDIAN,
  );
  const r = probeLoad(t, code, extra, true);
  if (r.result === -EPERM) {
    refusal(`helper ${helperName(id) ?? id} for ${progTypeName(t)}`, cmd.BPF_PROG_LOAD, { progType: t });
    const answer = { available: false, because: 'the kernel refuses programs of this type (EPERM)' };
    helperCache.set(key, answer);
    return answer;
  }
  const line = r.result < 0 ? r.log.split('\n').find((l) => NO_HELPER.some((m) => l.includes(m))) : undefined;
  const answer = line ? { available: false, because: line.trim() } : { available: true };
  helperCache.set(key, answer);
  return answer;
}

/** Beyond types and helpers: the verifier limits and ISA versions bpftool reports. */
export interface MiscFeatures {
  /** Programs of more than 4096 instructions (Linux 5.2). */
  largeInsnLimit: boolean;
  /** Loops the verifier can bound (5.3). */
  boundedLoops: boolean;
  /** ISA v2: jlt, jle, jslt, jsle (4.14). */
  isaV2: boolean;
  /** ISA v3: 32-bit jumps (5.1). */
  isaV3: boolean;
  /** ISA v4: sign extension, signed division, bswap, gotol (6.6). */
  isaV4: boolean;
}

export function haveMiscFeatures(): MiscFeatures {
  const loads = (type: number, text: string): boolean => {
    const r = probeLoad(type, text);
    return r.result === -EPERM ? refusal('verifier features', cmd.BPF_PROG_LOAD, { progType: type }) : r.result >= 0;
  };
  return {
    largeInsnLimit: loads(P.SCHED_CLS, 'r0 = 1\n'.repeat(4096) + 'exit'),
    boundedLoops: loads(P.SOCKET_FILTER, 'r0 = 10\nl: r0 -= 1\nif r0 != 0 goto l\nexit'),
    isaV2: loads(P.SOCKET_FILTER, 'r0 = 0\nif r0 < 0 goto +1\nr0 = 1\nexit'),
    isaV3: loads(P.SOCKET_FILTER, 'r0 = 0\nif w0 < 0 goto +1\nr0 = 1\nexit'),
    isaV4: loads(P.SOCKET_FILTER, 'r0 = 0\nr0 = (s8)r0\nexit'),
  };
}

export interface KernelFeatures {
  /** Per program type (bpftool's names): true, false, or null with why it could not be told. */
  programTypes: Record<string, boolean | null>;
  mapTypes: Record<string, boolean | null>;
  /** With `helpers`: per program type that can be probed and is available, the helpers it may call. */
  helpers?: Record<string, string[]>;
  misc: MiscFeatures | null;
  /** What could not be told (null above), and the capabilities the kernel wanted for it. */
  unknown: { feature: string; needs: string[] }[];
}

/** Every program type, map type and miscellaneous feature; with `helpers`, the helpers of each program type. */
export function probeKernel(opts: { helpers?: boolean } = {}): KernelFeatures {
  const unknown: KernelFeatures['unknown'] = [];
  const tell = <T>(f: () => T): T | null => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ProbeDenied) {
        unknown.push({ feature: e.feature, needs: e.needs });
        return null;
      }
      throw e;
    }
  };
  const programTypes: Record<string, boolean | null> = {};
  for (const name of PROG_TYPE_NAMES.slice(1)) programTypes[name] = tell(() => haveProgramType(name));
  const mapTypes: Record<string, boolean | null> = {};
  for (const name of MAP_TYPE_NAMES.slice(1)) mapTypes[name] = tell(() => haveMapType(name));
  const out: KernelFeatures = { programTypes, mapTypes, misc: tell(haveMiscFeatures), unknown };
  if (opts.helpers) {
    out.helpers = {};
    // PROG_TYPE_NAMES is indexed by type.
    for (let t = 1; t < PROG_TYPE_NAMES.length; t++) {
      const name = PROG_TYPE_NAMES[t]!;
      if (programTypes[name] !== true || UNPROBEABLE.has(t)) continue;
      const list: string[] = [];
      for (let id = 1; id < HELPER_NAMES.length; id++) if (tell(() => haveHelper(t, id))) list.push(helperName(id)!);
      out.helpers[name] = list;
    }
  }
  return out;
}
