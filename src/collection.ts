// An object file, opened and then loaded: every map created (or reused from
// its pin), every program loaded, declared map contents filled in. What was
// created is owned here and closed together; a failure half-way closes what
// was made and removes pins this load created, so nothing is left behind.

import { BpfError } from './errors.js';
import { BpfMap } from './maps/map.js';
import { type TypedMap, typedMap } from './maps/typed.js';
import { buildGlobals, type GlobalSection, type GlobalVariableInfo, type Globals } from './maps/globals.js';
import { type Btf, parseBtf } from './btf/btf.js';
import { sanitizeBtf } from './btf/sanitize.js';
import { CoreResolver } from './object/core/index.js';
import { DEFAULT_BPFFS, byNamePinPath, iproute2GlobalPinPath, mapPinName, removeEmptyDirs, reusePinnedMap } from './maps/pin.js';
import { checkExistingPin, walkBpffsDir } from './sys/bpffs.js';
import { parseObject } from './object/object.js';
import { type InstructionsProgram, objectFromInstructions } from './object/from-instructions.js';
import { readObjectBytes } from './object/read.js';
import type { BpfObjectFile, DataVariable, MapSpec, ProgramSpec } from './object/types.js';
import { loadProgram } from './programs/load.js';
import { ExternResolver, kconfigValue } from './programs/externs.js';
import { resolveAttachTarget } from './programs/attach-target.js';
import { MapSpecHandle } from './object/map-sizing.js';
import { programClosure } from './object/needs.js';
import { createStructOpsMap, structOpsKernel, structOpsLink, structOpsMemberIndex, structOpsRegisterError, structOpsValue, type StructOpsKernel } from './struct-ops.js';
import { assertAttachTypeKnown } from './programs/refusal.js';
import { needsAttachBtf } from './object/section-names.js';
import { BpfProgram } from './programs/program.js';
import { type EmulateOptions, type EmulatedCollection, emulateObject } from './vm/emulate.js';
import type { MapLike } from './vm/maps.js';

// A test can drive the kernel's maps and the emulator's with the same calls.
const kernelMapsAreMapLike: (m: BpfMap) => MapLike = (m) => m;
void kernelMapsAreMapLike;
import { btfLoad } from './sys/btf-attr.js';
import { btfFeatures } from './btf/features.js';
import { coreTargetFromBtf, kernelCoreTarget } from './btf/kernel.js';
import { LITTLE_ENDIAN } from './sys/endian.js';
import { Fd } from './sys/fd.js';
import { BPF_F_MMAPABLE, BPF_MAP_TYPE, BPF_PROG_TYPE, PROG_TYPE_NAMES, type ProgTypeName } from './uapi/bpf.js';
import { BpfSyscallError } from './sys/syscall-error.js';
import { EBUSY, EINVAL } from './sys/errno.js';
const { rmSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');

export interface LoadOptions {
  /** bpffs mount used for pinning declared in the object (iproute2 tc/globals, libbpf by-name). */
  bpffs?: string;
  /** Directory for libbpf LIBBPF_PIN_BY_NAME maps (default: the bpffs root). */
  pinRoot?: string;
  /** Also pin every map by name under this bpffs directory after loading (refuses existing pins). */
  pinMaps?: string;
  /** Load only these programs (by name); default all whose type is known. */
  programs?: string[];
  /** Program type for programs whose section does not say (e.g. iproute2's "prog"): a bpftool name like 'xdp' or a number. */
  programType?: ProgramTypeOption;
  /** Skip the object's own pinning declarations (create fresh, pin nothing). */
  ignorePinning?: boolean;
  /** BTF to resolve CO-RE relocations against instead of the running kernel's (/sys/kernel/btf). */
  targetBtf?: Btf;
  /**
   * false: resolve CO-RE relocations here against the kernel's BTF, as on
   * kernels before 5.17. By default the kernel applies them itself when it
   * can (it took the object's BTF as it is, no targetBtf), and they are
   * resolved here only for a program it fails.
   */
  kernelCore?: boolean;
  /** Create maps even when their estimated memory exceeds what is available (see BpfMap.create). */
  ignoreMemoryLimit?: boolean;
  /**
   * With `programs`: load only those, the programs their prog arrays name (tail calls), and the
   * maps all of these use; other maps are not created (test-run uses this).
   */
  onlyNeeded?: boolean;
  /**
   * false: create struct_ops maps and load their programs without registering
   * them with the kernel, as libbpf's load does (its attach registers);
   * registerStructOps() does it later. Default: register each map whose
   * programs were all loaded.
   */
  registerStructOps?: boolean;
  /** freplace programs: the program whose function they replace (fd), and the function when the section does not name it. */
  freplace?: { progFd: number; func?: string };
}

/** A program type by bpftool's name ('xdp', 'sched_cls' or 'tc', 'kprobe', …) or enum bpf_prog_type number. */
export type ProgramTypeOption = Exclude<ProgTypeName, 'unspec'> | 'tc' | number;

/** BpfObjectSpec.fromInstructions: the program's type (by name or number), name, license, attach type, flags. */
export type FromInstructionsOptions = Omit<InstructionsProgram, 'type'> & { type: ProgramTypeOption };

/**
 * Map types whose max_entries 0 is not a size left to the loader: perf event
 * arrays (one slot per CPU), and local and cgroup storage, whose entries live
 * with their socket, task, inode or cgroup: the kernel refuses any other value.
 */
const SIZED_BY_KERNEL: ReadonlySet<number> = new Set([
  BPF_MAP_TYPE.PERF_EVENT_ARRAY,
  BPF_MAP_TYPE.SK_STORAGE,
  BPF_MAP_TYPE.INODE_STORAGE,
  BPF_MAP_TYPE.TASK_STORAGE,
  BPF_MAP_TYPE.CGRP_STORAGE,
  BPF_MAP_TYPE.CGROUP_STORAGE,
  BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE,
]);

/** A program type name or number as enum bpf_prog_type; BpfError 'USAGE' for an unknown name. */
export function progTypeNumber(t: string | number): number {
  if (typeof t === 'number') return t;
  const i = (PROG_TYPE_NAMES as readonly string[]).indexOf(t === 'tc' ? 'sched_cls' : t);
  if (i <= 0) throw new BpfError('USAGE', `unknown program type "${t}" (known: ${PROG_TYPE_NAMES.slice(1).join(', ')}, tc; or a BPF_PROG_TYPE number)`);
  return i;
}

/**
 * BPF_MAP_CREATE with the fallbacks libbpf has: a kernel before 5.5 refuses
 * BPF_F_MMAPABLE on global data (then collection.globals says NOT_MMAPABLE
 * and the maps work through syscalls), and a kernel that refuses the map's
 * BTF description still gets the map.
 */
function createMap(spec: MapSpec, btfFd: number | undefined, ignoreMemoryLimit?: boolean): BpfMap {
  try {
    return BpfMap.create(spec, { btfFd, ignoreMemoryLimit });
  } catch (e) {
    const flags = spec.flags ?? 0;
    if (spec.style === 'data' && flags & BPF_F_MMAPABLE && e instanceof BpfSyscallError && e.errno === EINVAL) {
      try {
        return createMap({ ...spec, flags: flags & ~BPF_F_MMAPABLE }, btfFd, ignoreMemoryLimit);
      } catch {
        // not that: report the original error
      }
    }
    // Like libbpf: a kernel that refuses the BTF description still gets the map
    // (only for the kernel's refusals: a guard's error, e.g. MEMORY_LIMIT, stands).
    if (btfFd === undefined || !(spec.btfKeyTypeId || spec.btfValueTypeId) || !(e instanceof BpfSyscallError)) throw e;
    // The BTF fd stays for a map-in-map's inner template, whose own description may be fine.
    return BpfMap.create({ ...spec, btfKeyTypeId: 0, btfValueTypeId: 0 }, { btfFd, ignoreMemoryLimit });
  }
}

/** An object read from disk, not yet in the kernel. Global variables can be set before loading. */
export class BpfObjectSpec {
  readonly file: BpfObjectFile;
  #sha1: string | (() => string);
  readonly #overrides = new Map<string, Uint8Array>();

  /** `sha1` may be a function: it is then called once, when first needed. */
  constructor(file: BpfObjectFile, sha1: string | (() => string)) {
    this.file = file;
    this.#sha1 = sha1;
  }

  /** SHA-1 of the object bytes: iproute2 pins PIN_OBJECT_NS maps under tc/<sha1>/. */
  get sha1(): string {
    if (typeof this.#sha1 === 'function') this.#sha1 = this.#sha1();
    return this.#sha1;
  }

  /** Parse an object from bytes. */
  static fromBytes(bytes: Uint8Array, path = '<object>'): BpfObjectSpec {
    // Hashed only for iproute2's per-object pinning; node:crypto loads only then.
    const sha1 = () => process.getBuiltinModule('node:crypto').createHash('sha1').update(bytes).digest('hex');
    return new BpfObjectSpec(parseObject(bytes, path), sha1);
  }

  /**
   * An object of one program from its instructions (`assemble(text).bytes`
   * from bpf-ts/asm, or bytes built in code), for load(), testRun() and
   * emulate() like any object: `BpfObjectSpec.fromInstructions(bytes, { type: 'xdp' })`.
   * The license defaults to "GPL"; map fds in ld_imm64 reach the kernel as they are.
   */
  static fromInstructions(instructions: Uint8Array, opts: FromInstructionsOptions): BpfObjectSpec {
    const file = objectFromInstructions(instructions, { ...opts, type: progTypeNumber(opts.type) });
    const sha1 = () => process.getBuiltinModule('node:crypto').createHash('sha1').update(instructions).digest('hex');
    return new BpfObjectSpec(file, sha1);
  }

  get path(): string {
    return this.file.path;
  }

  get programs(): ProgramSpec[] {
    return this.file.programs;
  }

  get maps(): MapSpec[] {
    return this.file.maps;
  }

  /** A map before loading: `spec.map('events').maxEntries = 4096` sizes it (validated). */
  map(name: string): MapSpecHandle {
    const m = this.file.maps.find((x) => x.name === name);
    if (!m) throw new BpfError('MAP_NOT_FOUND', `${this.path}: no map named ${name} (maps: ${this.file.maps.map((x) => x.name).join(', ') || 'none'})`);
    return new MapSpecHandle(this.path, m);
  }

  program(name: string): ProgramSpec {
    const p = this.file.programs.find((x) => x.name === name);
    if (!p) throw new BpfError('PROGRAM_NOT_FOUND', `${this.path}: no program named ${name} (programs: ${this.file.programs.map((x) => x.name).join(', ') || 'none'})`);
    return p;
  }

  /** Where a global variable lives: its data map and offset. */
  variable(name: string): { map: MapSpec; variable: DataVariable } {
    for (const m of this.file.maps) {
      const v = m.variables?.find((x) => x.name === name);
      if (v) return { map: m, variable: v };
    }
    const all = this.file.maps.flatMap((m) => m.variables?.map((v) => v.name) ?? []);
    throw new BpfError('VARIABLE_NOT_FOUND', `${this.path}: no global variable named ${name} (globals: ${all.join(', ') || 'none'})`);
  }

  /**
   * Set a global variable's initial value before loading; for `const volatile`
   * variables in .rodata this is how configuration reaches the verifier.
   * Numbers and bigints are written in host byte order at the variable's size.
   */
  setGlobal(name: string, value: number | bigint | boolean | Uint8Array): this {
    const { map, variable } = this.variable(name);
    let bytes: Uint8Array;
    if (value instanceof Uint8Array) {
      if (value.byteLength !== variable.size) {
        throw new BpfError('VALUE_SIZE', `${this.path}: global ${name} is ${variable.size} bytes, got ${value.byteLength}`);
      }
      bytes = value;
    } else {
      const ok = typeof value === 'boolean' || typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));
      if (!ok) {
        throw new BpfError(
          'USAGE',
          `${this.path}: global ${name} takes an integer, a bigint, a boolean or a Uint8Array of ${variable.size} bytes, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
        );
      }
      const n = typeof value === 'boolean' ? BigInt(value ? 1 : 0) : BigInt(value);
      const b = Buffer.alloc(variable.size);
      if (![1, 2, 4, 8].includes(variable.size)) {
        throw new BpfError('VALUE_SIZE', `${this.path}: global ${name} is ${variable.size} bytes; pass a Uint8Array`);
      }
      const bits = BigInt(variable.size * 8);
      const wrapped = BigInt.asUintN(Number(bits), n);
      if (n < -(1n << (bits - 1n)) || n >= 1n << bits) {
        throw new BpfError('VALUE_SIZE', `${this.path}: ${value} does not fit global ${name} (${variable.size} bytes)`);
      }
      for (let i = 0; i < variable.size; i++) {
        const byte = Number((wrapped >> BigInt(8 * i)) & 0xffn);
        b[LITTLE_ENDIAN ? i : variable.size - 1 - i] = byte;
      }
      bytes = b;
    }
    const current = this.#overrides.get(map.name) ?? Uint8Array.from(map.initialValue ?? new Uint8Array(map.valueSize));
    current.set(bytes, variable.offset);
    this.#overrides.set(map.name, current);
    return this;
  }

  /** The initial bytes of a data map, with setGlobal() applied. */
  initialValue(map: MapSpec): Uint8Array | undefined {
    return this.#overrides.get(map.name) ?? map.initialValue;
  }

  /**
   * Run the object's programs and maps in the emulator instead of the kernel:
   * no root, no syscalls. setGlobal() values apply as they do for load().
   */
  emulate(opts: EmulateOptions = {}): EmulatedCollection {
    return emulateObject(this.file, { initialValues: (m) => this.initialValue(m), ...opts });
  }

  /** Create the maps and load the programs. */
  load(opts: LoadOptions = {}): BpfCollection {
    return BpfCollection.load(this, opts);
  }
}

/** Read and parse an object file. */
export function openObject(path: string): BpfObjectSpec {
  return BpfObjectSpec.fromBytes(readObjectBytes(path), path);
}

/** Whether a BTF blob has a FUNC type (a kernel that loads it knows FUNC). */
function hasFunc(btf: Btf): boolean {
  for (let id = btf.startId; id < btf.count; id++) if (btf.kindOf(id) === 'func') return true;
  return false;
}

/** Open an object file and load it. */
export function loadObject(path: string, opts: LoadOptions = {}): BpfCollection {
  return openObject(path).load(opts);
}

function declaredPinPath(spec: BpfObjectSpec, m: MapSpec, opts: LoadOptions): string | null {
  const bpffs = opts.bpffs ?? DEFAULT_BPFFS;
  switch (m.pinning) {
    case 'global':
      return iproute2GlobalPinPath(m.name, bpffs);
    case 'object':
      return join(bpffs, 'tc', spec.sha1, m.name);
    case 'by_name':
      return byNamePinPath(m.name, opts.pinRoot ?? bpffs);
    default:
      return null;
  }
}

/** The kernel objects of one loaded object. */
export class BpfCollection {
  readonly path: string;
  readonly maps = new Map<string, BpfMap>();
  readonly programs = new Map<string, BpfProgram>();
  /** The object's BTF in the kernel, or null (no BTF, or the kernel refused it: see btfError). */
  btf: Fd | null = null;
  /** Why the object's BTF could not be loaded, when it could not: the kernel's BTF verifier log. */
  btfError: string | null = null;
  /** Maps that were reused from an existing pin rather than created. */
  readonly reusedPins = new Set<string>();
  /** Pins this load made (removed again if the load fails). */
  readonly createdPins: string[] = [];
  /** Directories this load made for its pins, outermost first (removed again, when empty, if the load fails). */
  readonly createdDirs: string[] = [];
  /** bpf_links registering .struct_ops.link maps, by map name (closed with the collection). */
  readonly structOpsLinks = new Map<string, Fd>();
  /** .struct_ops maps registered by their update: the kernel holds them until key 0 is deleted. */
  readonly #registeredStructOps: BpfMap[] = [];
  /** struct_ops maps created and not registered yet, with the kernel struct each implements. */
  readonly #pendingStructOps = new Map<string, { spec: MapSpec; kernel: StructOpsKernel }>();
  /** Programs of the object that were not loaded, and why. */
  readonly skipped: { name: string; section: string; reason: string }[] = [];
  /** The object, for typedMap(); its BTF with DATASEC sizes filled in is parsed on first use. */
  #file: BpfObjectFile | null = null;
  #typesBtf: Btf | null = null;
  #globals: { globals: Globals; info: GlobalVariableInfo[] } | null = null;
  #closed = false;

  private constructor(path: string) {
    this.path = path;
  }

  static load(spec: BpfObjectSpec, opts: LoadOptions = {}): BpfCollection {
    const c = new BpfCollection(spec.path);
    try {
      c.#load(spec, opts);
      return c;
    } catch (e) {
      c.removeCreated();
      c.close();
      throw e;
    }
  }

  #load(spec: BpfObjectSpec, opts: LoadOptions): void {
    const file = spec.file;
    // Refuse an unusable --pin-maps directory (not bpffs, symlinks, another user's) before creating anything.
    if (opts.pinMaps) walkBpffsDir(opts.pinMaps, { missingOk: true, purpose: `pin maps under ${opts.pinMaps}` });
    this.#file = file;
    // Older kernels refuse BTF kinds newer than they are: rewrite those first.
    // A kernel that takes the object's BTF as it is (any recent one) needs no
    // rewriting, so that is tried first: when it holds a FUNC, its acceptance
    // also answers the one question asked below, and the seven feature
    // probes are skipped. Refused (or no FUNC in it): probe and rewrite, as before.
    let btfFunc = false;
    // The kernel may apply CO-RE relocations (5.17+) to the BTF it took as it is
    // (a rewritten one could name other strings), against itself, not a targetBtf.
    const kernelCore = { enabled: false };
    if (file.btfForKernel) {
      const asIs = file.btf && hasFunc(file.btf) ? btfLoad(file.btfForKernel) : null;
      if (asIs && asIs.result >= 0) {
        this.btf = new Fd(asIs.result, `BTF of ${file.path}`);
        btfFunc = true;
        kernelCore.enabled = !opts.targetBtf && opts.kernelCore !== false;
      } else {
        const features = btfFeatures();
        btfFunc = features.btfFunc;
        const bytes = sanitizeBtf(file.btfForKernel, features, { littleEndian: file.littleEndian });
        const r = btfLoad(bytes);
        if (r.result >= 0) this.btf = new Fd(r.result, `BTF of ${file.path}`);
        else {
          // Keep the kernel's BTF verifier log: it names the offending type.
          const withLog = btfLoad(bytes, 1 << 20);
          this.btfError = withLog.log.trim() || `errno ${-r.result}`;
        }
      }
    }
    const btfFd = this.btf?.value;
    // func_info names FUNC types, which a kernel without them saw as typedefs.
    const progBtfFd = btfFunc ? btfFd : undefined;
    // One resolver per load (its caches span programs), made when a program needs it:
    // reading the kernel's BTF is skipped for objects without CO-RE.
    let core: CoreResolver | undefined;
    const coreFor = (p: ProgramSpec): CoreResolver | undefined => {
      if (!file.btf || p.coreRelocations.length === 0) return undefined;
      const target = opts.targetBtf ? coreTargetFromBtf(opts.targetBtf) : kernelCoreTarget();
      return (core ??= new CoreResolver(file.btf, target, { littleEndian: file.littleEndian }));
    };

    // kfuncs, __ksym and .kconfig externs: resolved against this kernel, once per load.
    using externs = new ExternResolver(file.path, file.externs, file.btf);
    const needed = opts.onlyNeeded && opts.programs ? programClosure(file, opts.programs) : null;
    const structOps = new Map<string, StructOpsKernel>();
    for (const m of file.maps) {
      if (needed && !needed.maps.has(m.name)) continue;
      if (m.autocreate === false) continue;
      if (m.style === 'struct_ops') {
        // Created against the kernel's bpf_struct_ops_<name>; filled once its programs exist.
        const k = structOpsKernel(m, file.path);
        structOps.set(m.name, k);
        this.maps.set(m.name, createStructOpsMap(m, k, btfFd));
        continue;
      }
      const pinPath = opts.ignorePinning ? null : declaredPinPath(spec, m, opts);
      // checkExistingPin refuses symlinks and pins or directories another user controls.
      if (pinPath && checkExistingPin(pinPath, `reuse map "${m.name}" pinned at ${pinPath}`)) {
        this.maps.set(m.name, reusePinnedMap(pinPath, m));
        this.reusedPins.add(m.name);
        continue;
      }
      if (m.maxEntries === 0 && !SIZED_BY_KERNEL.has(m.type)) {
        throw new BpfError(
          'MAP_SIZE',
          `${file.path}: map ${m.name} has max_entries 0: the object leaves its size to the loader; set it before loading (spec.map('${m.name}').maxEntries = N, CLI: --max-entries ${m.name}=N)`,
        );
      }
      const kconfig = m.style === 'data' && m.section === '.kconfig' ? kconfigValue(m, file.externs, file.path) : undefined;
      const map = createMap({ ...m, initialValue: kconfig ?? spec.initialValue(m) }, btfFd, opts.ignoreMemoryLimit);
      this.maps.set(m.name, map);
      if (pinPath) {
        try {
          this.createdDirs.push(...map.pin(pinPath, { mkdir: true }));
          this.createdPins.push(pinPath);
        } catch (e) {
          if (!(e instanceof BpfError && e.code === 'PIN_EXISTS')) throw e;
          // Another loader pinned it between our check and our pin: use
          // theirs (after the same compatibility check), as libbpf does.
          map.close();
          this.maps.delete(m.name);
          this.maps.set(m.name, reusePinnedMap(pinPath, m));
          this.reusedPins.add(m.name);
        }
      }
    }

    const mapFds = new Map<string, number>();
    for (const [name, m] of this.maps) mapFds.set(name, m.fd.value);
    // Arena globals go to the end of the object's one arena, as libbpf places them.
    const arena = file.arenaData ? [...this.maps].find(([, m]) => m.type === BPF_MAP_TYPE.ARENA) : undefined;
    const arenaMapExtra = arena && file.maps.find((m) => m.name === arena[0])?.mapExtra;
    const arenaDataOffset = arena ? arena[1].placeArenaGlobals(file.arenaData!, arenaMapExtra) : undefined;
    const override = opts.programType !== undefined ? progTypeNumber(opts.programType) : undefined;
    /** The created .struct_ops map that puts program `name` in one of its members, if any. */
    const structOpsOwner = (name: string) => file.maps.find((m) => structOps.has(m.name) && m.structOps!.funcs.some((f) => f.program === name));
    for (const name of opts.programs ?? []) spec.program(name);
    const wanted = needed ? [...needed.programs] : opts.programs;
    for (const p of file.programs) {
      if (wanted && !wanted.includes(p.name)) {
        this.skipped.push({ name: p.name, section: p.section, reason: 'not requested' });
        continue;
      }
      // A SEC("?struct_ops") program a .struct_ops map of the object uses is loaded with it, as libbpf switches it on.
      if (!wanted && p.autoload === false && !structOpsOwner(p.name)) {
        this.skipped.push({ name: p.name, section: p.section, reason: `SEC("?${p.section}"): loaded only when asked for by name (programs option; CLI --program)` });
        continue;
      }
      const type = p.type ?? override;
      if (type === undefined) {
        if (!wanted) {
          // Not asked for, and not loadable without a type: say so rather than drop it silently.
          this.skipped.push({ name: p.name, section: p.section, reason: `section "${p.section}" names no program type (pass programType / --type)` });
          continue;
        }
        throw new BpfError(
          'PROGRAM_INVALID',
          `${file.path}: program ${p.name} in section "${p.section}": the section name does not say which program type it is; pass programType (CLI: --type xdp, or attach with --xdp)`,
        );
      }
      // struct_ops programs: against the kernel struct, as the member their map puts them in.
      let structOpsTarget: { attachBtfId: number; member: number } | undefined;
      if (type === BPF_PROG_TYPE.STRUCT_OPS) {
        const owner = structOpsOwner(p.name);
        if (!owner) {
          const off = file.maps.find((m) => m.autocreate === false && m.structOps?.funcs.some((f) => f.program === p.name));
          const reason = off
            ? `used only by struct_ops map ${off.name}, which is not created unless asked for (spec.map('${off.name}').autocreate = true)`
            : 'struct_ops program not used by any loaded .struct_ops map';
          if (wanted && opts.programs?.includes(p.name) && !needed) {
            throw new BpfError(
              'ATTACH_TARGET',
              `${file.path}: struct_ops program ${p.name} has no kernel struct to load against: it is ${off ? reason : 'not used by any .struct_ops map of the object'}`,
            );
          }
          this.skipped.push({ name: p.name, section: p.section, reason });
          continue;
        }
        const k = structOps.get(owner.name)!;
        const member = owner.structOps!.funcs.find((f) => f.program === p.name)!.member;
        structOpsTarget = { attachBtfId: k.struct.id, member: structOpsMemberIndex(k, member, file.path, owner.name) };
      }
      const off = p.relocations.find((r) => (r.kind === 'map_fd' || r.kind === 'map_value') && file.maps.some((m) => m.name === r.map && m.autocreate === false));
      if (off && 'map' in off) {
        throw new BpfError('MAP_NOT_FOUND', `${file.path}: program ${p.name} uses map ${off.map}, which is not created unless asked for: set spec.map('${off.map}').autocreate = true before load`);
      }
      if (p.expectedAttachType !== null) assertAttachTypeKnown(p.expectedAttachType, `${file.path}: program ${p.name} (section "${p.section}")`);
      // tracing/LSM/freplace: the kernel function or type the section names.
      const target = needsAttachBtf(type) ? resolveAttachTarget(p, type, p.expectedAttachType, file.path, opts.freplace) : null;
      using _targetFd = target?.owned ?? null;
      const { fd } = loadProgram(p, {
        source: file.path,
        attachBtfId: target?.attachBtfId ?? structOpsTarget?.attachBtfId,
        attachBtfObjFd: target?.attachBtfObjFd,
        ...(structOpsTarget ? { expectedAttachType: structOpsTarget.member } : {}),
        littleEndian: file.littleEndian,
        license: file.license ?? '',
        kernelVersion: file.kernelVersion ?? 0,
        type,
        mapFds,
        arenaDataOffset,
        btfFd: progBtfFd,
        core: () => coreFor(p),
        kernelCore,
        externs,
      });
      this.programs.set(p.name, new BpfProgram(fd, p.name, type));
    }

    // Declared contents: prog array slots and map-in-map slots.
    for (const m of file.maps) {
      if (!m.contents || this.reusedPins.has(m.name) || !this.maps.has(m.name)) continue;
      const map = this.maps.get(m.name)!;
      for (const slot of m.contents) {
        const target = slot.kind === 'map' ? this.maps.get(slot.target) : this.programs.get(slot.target);
        if (!target) {
          if (slot.kind === 'program' && !this.programs.has(slot.target) && wanted) continue;
          throw new BpfError('MAP_NOT_FOUND', `${file.path}: map ${m.name} slot ${slot.key} names ${slot.kind} ${slot.target}, which was not loaded`);
        }
        map.set(slot.key, target.fd.value);
      }
    }

    // struct_ops: registered now when all their programs were loaded (libbpf waits for attach:
    // registerStructOps: false, then registerStructOps()); the others wait for registerStructOps(name).
    for (const [name, kernel] of structOps) {
      const m = file.maps.find((x) => x.name === name)!;
      this.#pendingStructOps.set(name, { spec: m, kernel });
      if (opts.registerStructOps !== false && m.structOps!.funcs.every((f) => this.programs.has(f.program))) this.registerStructOps(name);
    }

    if (opts.pinMaps) {
      for (const [name, map] of this.maps) {
        // bpffs refuses dots: ".bss" is pinned as "<object>_bss", like libbpf/bpftool.
        const m = file.maps.find((x) => x.name === name);
        const p = join(opts.pinMaps, mapPinName(file.path, m ?? { name }));
        this.createdDirs.push(...map.pin(p, { mkdir: true }));
        this.createdPins.push(p);
      }
    }
  }

  /**
   * Undo what this load put on bpffs (e.g. when attaching fails): its pins,
   * then the directories it created for them, if nothing else is in them.
   */
  removeCreated(): void {
    for (const p of [...this.createdPins].reverse()) rmSync(p, { force: true });
    this.createdPins.length = 0;
    removeEmptyDirs(this.createdDirs);
    this.createdDirs.length = 0;
  }

  /** Remove a pin this load created (e.g. when a later step fails). */
  unpinCreated(path: string): void {
    const i = this.createdPins.indexOf(path);
    if (i < 0) throw new BpfError('USAGE', `${path} was not pinned by this load`);
    rmSync(path, { force: true });
    this.createdPins.splice(i, 1);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new BpfError('CLOSED', `${this.path}: cannot get ${what}: the collection was closed (its programs and maps with it); load the object again`);
  }

  map(name: string): BpfMap {
    this.#checkOpen(`map ${name}`);
    const m = this.maps.get(name);
    if (!m) throw new BpfError('MAP_NOT_FOUND', `${this.path}: no map named ${name} (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /**
   * A map whose keys and values are plain JS values, encoded and decoded by
   * the object's BTF description of the map (its BTF key/value types).
   */
  typedMap<K = unknown, V = unknown>(name: string): TypedMap<K, V> {
    const m = this.map(name);
    const file = this.#file;
    const spec = file?.maps.find((s) => s.name === name);
    if (!file?.btfForKernel || !spec || (!spec.btfKeyTypeId && !spec.btfValueTypeId)) {
      throw new BpfError('MAP_INVALID', `${this.path}: map ${name} has no BTF key/value types (declare it in .maps with __type(key, …) / __type(value, …))`);
    }
    // The kernel's copy: global data maps need the DATASEC sizes the ELF supplies.
    this.#typesBtf ??= parseBtf(file.btfForKernel, { littleEndian: file.littleEndian, source: `${file.path}: .BTF` });
    return typedMap<K, V>(m, this.#typesBtf, spec.btfKeyTypeId, spec.btfValueTypeId);
  }

  /**
   * The object's global variables (.bss, .data, .rodata, .data.*, …) by name,
   * read and written in place through each data map's mmap: no syscall per
   * access, the same memory the programs use. Types come from the BTF DATASEC:
   * 1/2/4-byte integers are numbers, 8-byte ones bigints, arrays indexable,
   * structs objects. .rodata is frozen at load, so its variables only read
   * (set them with setGlobal() on the spec before load). Every access throws
   * CLOSED once the collection is closed. See docs/api.md.
   */
  get globals(): Globals {
    return this.#globalsBuilt().globals;
  }

  /** `globals` typed as T: what generated code declares for an object. */
  globalsAs<T extends object>(): T {
    return this.#globalsBuilt().globals as T;
  }

  /** Where each global lives and how it reads (section, offset, size, layout): the input for codegen. */
  globalVariables(): GlobalVariableInfo[] {
    return this.#globalsBuilt().info;
  }

  #globalsBuilt(): { globals: Globals; info: GlobalVariableInfo[] } {
    if (this.#closed) throw new BpfError('CLOSED', `${this.path}: the collection is closed`);
    if (this.#globals) return this.#globals;
    const file = this.#file;
    if (!file) throw new BpfError('CLOSED', `${this.path}: the collection is closed`);
    const sections: GlobalSection[] = [];
    for (const spec of file.maps) {
      if (spec.style !== 'data' || !spec.variables?.length) continue;
      const map = this.maps.get(spec.name);
      if (!map) continue;
      sections.push({ section: spec.name, memory: map.memory(), variables: spec.variables });
    }
    this.#globals = buildGlobals(sections, file.btf);
    return this.#globals;
  }

  /** struct_ops maps created and not registered: loaded with registerStructOps: false, or some of their programs were not loaded. */
  get unregisteredStructOps(): string[] {
    return [...this.#pendingStructOps.keys()];
  }

  /**
   * Register struct_ops maps left unregistered at load (all of them, or the
   * one named): the map's value with its programs' fds registers a
   * .struct_ops map; a .struct_ops.link map also gets its bpf_link
   * (structOpsLinks). close() unregisters them again.
   */
  registerStructOps(name?: string): void {
    this.#checkOpen(name === undefined ? 'registerStructOps' : `struct_ops map ${name}`);
    if (name !== undefined && !this.#pendingStructOps.has(name)) {
      const known = this.#file?.maps.some((m) => m.name === name && m.style === 'struct_ops');
      if (!known || !this.maps.has(name))
        throw new BpfError('MAP_NOT_FOUND', `${this.path}: no struct_ops map named ${name} was created (unregistered: ${this.unregisteredStructOps.join(', ') || 'none'})`);
      throw new BpfError('ALREADY_ATTACHED', `${this.path}: struct_ops map ${name} is already registered`);
    }
    for (const n of name === undefined ? [...this.#pendingStructOps.keys()] : [name]) {
      const { spec, kernel } = this.#pendingStructOps.get(n)!;
      const so = spec.structOps!;
      const missing = so.funcs.find((f) => !this.programs.has(f.program));
      if (missing) {
        throw new BpfError(
          'PROGRAM_NOT_FOUND',
          `${this.path}: struct_ops map ${n} needs program ${missing.program} (member ${missing.member}), which was not loaded: load it too (programs option; CLI --program)`,
        );
      }
      const progFds = new Map([...this.programs].map(([p, prog]) => [p, prog.fd.value]));
      const map = this.maps.get(n)!;
      const value = structOpsValue(spec, kernel, this.#file!.btf!, progFds, this.path);
      try {
        try {
          map.set(0, value);
        } catch (e) {
          // A .struct_ops.link map's value is set once: a retry after a failed link finds it set.
          if (!(so.link && e instanceof BpfSyscallError && e.errno === EBUSY)) throw e;
        }
        if (so.link) this.structOpsLinks.set(n, structOpsLink(map, n));
      } catch (e) {
        throw structOpsRegisterError(e, this.path, n, so.typeName);
      }
      if (!so.link) this.#registeredStructOps.push(map);
      this.#pendingStructOps.delete(n);
    }
  }

  /**
   * Leave struct_ops map `name` registered when the collection closes (close()
   * unregisters by default): it stays until its key 0 is deleted (`bpf-ts
   * detach --links DIR` when pinned there, `bpftool struct_ops unregister`).
   * A .struct_ops.link map stays as long as its link: pin that instead.
   */
  keepStructOpsRegistered(name: string): void {
    this.#checkOpen(`struct_ops map ${name}`);
    const map = this.maps.get(name);
    const i = map ? this.#registeredStructOps.indexOf(map) : -1;
    if (i < 0)
      throw new BpfError('NOT_ATTACHED', `${this.path}: struct_ops map ${name} is not registered by its update${this.structOpsLinks.has(name) ? ' (a bpf_link registers it: pin the link)' : ''}`);
    this.#registeredStructOps.splice(i, 1);
  }

  program(name: string): BpfProgram {
    this.#checkOpen(`program ${name}`);
    const p = this.programs.get(name);
    if (!p) throw new BpfError('PROGRAM_NOT_FOUND', `${this.path}: no loaded program named ${name} (loaded: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** Close every fd. Pinned and attached objects stay in the kernel; everything else is freed. */
  close(): void {
    for (const l of this.structOpsLinks.values()) l.close();
    this.structOpsLinks.clear();
    // Closing the fd would not unregister (the kernel keeps registered struct_ops alive): delete key 0.
    for (const m of this.#registeredStructOps.splice(0)) {
      try {
        m.delete(Buffer.alloc(4));
      } catch {
        // already unregistered (e.g. by bpftool struct_ops unregister)
      }
    }
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    this.btf?.close();
    this.programs.clear();
    this.maps.clear();
    this.btf = null;
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
