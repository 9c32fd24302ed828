// Externs resolved against the running kernel, once per object load:
//  - kfuncs: a FUNC in vmlinux BTF or a module's BTF; the call becomes
//    BPF_PSEUDO_KFUNC_CALL with the BTF id, and for a module the index of its
//    BTF fd in the program's fd_array (slot 0 stays unused, as in libbpf);
//  - __ksym variables: typed ones by BTF VAR id (BPF_PSEUDO_BTF_ID), typeless
//    ones by address from /proc/kallsyms;
//  - .kconfig values: LINUX_* from the kernel itself, CONFIG_* from its config.
// An unresolved __weak extern reads as 0 (a weak kfunc call is poisoned as
// libbpf poisons it: harmless in dead code); an unresolved strong one is an
// error naming it and the kernel.

import { BpfError } from '../errors.js';
import { BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, CALL, Insns } from '../object/instruction.js';
import type { ExternSpec, MapSpec, ProgramSpec } from '../object/types.js';
import { btfFdById, btfInfo } from '../btf/handle.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import type { Fd } from '../sys/fd.js';
import { ids } from '../sys/ids.js';
import { kallsymsAddresses } from '../sys/kallsyms.js';
import { kernelConfig, kernelVersionCode } from '../sys/kernel-config.js';
import { moduleBtf, moduleBtfNames, vmlinuxBtf } from '../btf/kernel.js';
import { essentialName } from '../object/core/names.js';
import { typesAreCompat } from '../object/core/compat.js';
import type { Btf } from '../btf/btf.js';
const { release } = process.getBuiltinModule('node:os');

/** libbpf's marker for a call of an unresolved __weak kfunc: "invalid func unknown#2002000000+n". */
export const POISON_CALL_KFUNC_BASE = 2002000000;

type Resolved = { kind: 'btf'; btfId: number; module: string | null; fdIndex: number; btfObjFd: number } | { kind: 'addr'; addr: bigint } | { kind: 'missing' };

export class ExternResolver {
  readonly #source: string;
  readonly #externs: Map<string, ExternSpec>;
  readonly #cache = new Map<string, Resolved>();
  readonly #moduleFds = new Map<string, Fd>();
  /** fd_array for BPF_PROG_LOAD: slot 0 unused, then module BTF fds. */
  readonly fdArray: number[] = [0];

  readonly #btf: Btf | null;

  /** `btf`: the object's BTF, to compare a __weak extern's declared type with the kernel's. */
  constructor(source: string, externs: ExternSpec[], btf: Btf | null = null) {
    this.#source = source;
    this.#externs = new Map(externs.map((e) => [e.name, e]));
    this.#btf = btf;
  }

  #spec(name: string, program: string): ExternSpec {
    const e = this.#externs.get(name);
    if (!e || e.kind === 'unknown') {
      throw new BpfError(
        'EXTERN_UNRESOLVED',
        `${this.#source}: program ${program} uses extern ${name}, which the object's BTF does not describe as a kfunc, __ksym or __kconfig (build with -g, declare it with __ksym or __kconfig)`,
      );
    }
    return e;
  }

  #moduleFd(module: string): { index: number; fd: number } {
    let fd = this.#moduleFds.get(module);
    if (!fd) {
      for (const id of ids('btf')) {
        let candidate: Fd | undefined;
        try {
          candidate = btfFdById(id);
          const info = btfInfo(candidate.value);
          if (info.kernelBtf && info.name === module) {
            fd = candidate;
            candidate = undefined;
            break;
          }
        } catch {
          // freed meanwhile
        } finally {
          candidate?.close();
        }
      }
      if (!fd) throw new BpfError('EXTERN_UNRESOLVED', `${this.#source}: BTF of module ${module} has no kernel object any more (module unloaded?)`);
      this.#moduleFds.set(module, fd);
      this.fdArray.push(fd.value);
    }
    return { index: this.fdArray.indexOf(fd.value), fd: fd.value };
  }

  /**
   * Where a kfunc or typed ksym lives in the kernel's BTF. A __weak one whose
   * declared type (the FUNC's prototype, the VAR's type) is not compatible
   * with the kernel's counts as missing, as libbpf has it: that is how an
   * object declares one kfunc under two flavors (bpf_x___v1, bpf_x___v2) with
   * different prototypes and asks bpf_ksym_exists() which this kernel has.
   * A strong one is left to the verifier, which checks every argument.
   */
  #findBtf(e: ExternSpec, name: string, kind: 'func' | 'var'): Resolved {
    const v = vmlinuxBtf().findByName(name, kind);
    if (v) return this.#compatible(e, vmlinuxBtf(), v.id) ? { kind: 'btf', btfId: v.id, module: null, fdIndex: 0, btfObjFd: 0 } : { kind: 'missing' };
    for (const mod of moduleBtfNames()) {
      let t;
      let btf;
      try {
        btf = moduleBtf(mod);
        t = btf.findByName(name, kind);
      } catch {
        continue;
      }
      if (t && t.id >= vmlinuxBtf().count) {
        if (!this.#compatible(e, btf, t.id)) return { kind: 'missing' };
        const { index, fd } = this.#moduleFd(mod);
        return { kind: 'btf', btfId: t.id, module: mod, fdIndex: index, btfObjFd: fd };
      }
    }
    return { kind: 'missing' };
  }

  /** A __weak extern's declared type against the kernel's FUNC or VAR `kernId` (strong ones: always). */
  #compatible(e: ExternSpec, kernBtf: Btf, kernId: number): boolean {
    if (!e.weak || !this.#btf || !e.btfTypeId) return true;
    const local = this.#btf.typeById(e.btfTypeId);
    const kern = kernBtf.typeById(kernId);
    if ((local.kind !== 'func' && local.kind !== 'var') || (kern.kind !== 'func' && kern.kind !== 'var')) return true;
    return typesAreCompat(this.#btf, local.type, kernBtf, kern.type);
  }

  #resolve(e: ExternSpec): Resolved {
    let r = this.#cache.get(e.name);
    if (r) return r;
    // A flavor suffix (bpf_task_acquire___v2) names the same kernel symbol, as libbpf reads it:
    // one object can declare a kfunc twice with different prototypes and test which one loaded.
    const name = essentialName(e.name);
    if (e.kind === 'kfunc') r = this.#findBtf(e, name, 'func');
    else if (e.typeless) {
      const addr = kallsymsAddresses([name]).get(name);
      if (addr === 0n) {
        throw new BpfError('EXTERN_UNRESOLVED', `${this.#source}: /proc/kallsyms shows address 0 for ${name} (kptr_restrict hides addresses from this user: load as root)`);
      }
      r = addr === undefined ? { kind: 'missing' } : { kind: 'addr', addr };
    } else r = this.#findBtf(e, name, 'var');
    if (r.kind === 'missing' && !e.weak) {
      const where = e.kind === 'kfunc' ? 'kfunc' : e.typeless ? '__ksym symbol' : '__ksym variable';
      const looked = e.typeless ? '/proc/kallsyms' : `vmlinux BTF${moduleBtfNames().length ? ' or any module BTF' : ''}`;
      const as = name === e.name ? '' : ` (as ${name}: a ___ suffix is a flavor)`;
      throw new BpfError('EXTERN_UNRESOLVED', `${this.#source}: ${where} ${e.name}${as} is not in this kernel (${release()}): not found in ${looked}; declare it __weak to load without it`);
    }
    this.#cache.set(e.name, r);
    return r;
  }

  /**
   * An extern's index in libbpf's sorted extern table (cmp_externs: .kconfig
   * ones first, then kfuncs and __ksym by name), which its poisoned calls
   * carry: the same number, so the same instructions and program tag.
   */
  #libbpfIndex(e: ExternSpec): number {
    const all = [...this.#externs.values()];
    const kconfig = all.filter((x) => x.kind === 'kconfig').length;
    const ksyms = all.filter((x) => x.kind === 'kfunc' || x.kind === 'ksym').map((x) => x.name);
    return kconfig + ksyms.filter((n) => n < e.name).length;
  }

  /** Patch the program's kfunc calls and __ksym loads into `bytes` (its relocated instructions). */
  apply(spec: ProgramSpec, bytes: Uint8Array, littleEndian: boolean): void {
    const insns = new Insns(bytes, littleEndian);
    for (const rel of spec.relocations) {
      if (rel.kind !== 'kfunc' && rel.kind !== 'extern') continue;
      const e = this.#spec(rel.symbol, spec.name);
      const r = this.#resolve(e);
      const i = rel.insnIndex;
      if (rel.kind === 'kfunc') {
        if (e.kind !== 'kfunc') throw new BpfError('PROGRAM_INVALID', `${this.#source}: program ${spec.name} calls ${e.name}, which is declared as a variable, not a function`);
        if (r.kind === 'btf') {
          insns.setSrc(i, BPF_PSEUDO_KFUNC_CALL);
          insns.setImm(i, r.btfId);
          insns.setOff(i, r.fdIndex);
        } else {
          // libbpf's poison: an invalid helper call the verifier names if it is reachable.
          const idx = this.#libbpfIndex(e);
          bytes[i * 8] = CALL;
          bytes[i * 8 + 1] = 0;
          insns.setOff(i, 0);
          insns.setImm(i, POISON_CALL_KFUNC_BASE + idx);
        }
        continue;
      }
      // ld_imm64 of a __ksym variable or of a kfunc's address (bpf_ksym_exists).
      if (r.kind === 'btf') {
        insns.setSrc(i, BPF_PSEUDO_BTF_ID);
        insns.setImm(i, r.btfId);
        insns.setImm(i + 1, r.btfObjFd);
      } else {
        const addr = r.kind === 'addr' ? r.addr : 0n;
        insns.setSrc(i, 0);
        insns.setImm(i, Number(BigInt.asIntN(32, addr & 0xffffffffn)));
        insns.setImm(i + 1, Number(BigInt.asIntN(32, addr >> 32n)));
      }
    }
  }

  /** Module BTF ids the program's kfuncs came from (for messages and tests). */
  modulesUsed(): string[] {
    return [...this.#moduleFds.keys()];
  }

  close(): void {
    for (const fd of this.#moduleFds.values()) fd.close();
    this.#moduleFds.clear();
    this.fdArray.length = 1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function writeInt(out: Uint8Array, offset: number, size: number, value: bigint): void {
  const v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) out[offset + (LITTLE_ENDIAN ? i : size - 1 - i)] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function kconfigNumber(name: string, raw: string, source: string): bigint {
  const t = raw.trim();
  if (/^-?(0x[0-9a-f]+|\d+)$/i.test(t)) return t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t);
  throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${name}=${raw} in the kernel config is not a number, but the object declares it as an integer`);
}

/** LINUX_* values libbpf provides. Undefined for names it does not know. */
function linuxValue(name: string): bigint | undefined {
  switch (name) {
    case 'LINUX_KERNEL_VERSION':
      return BigInt(kernelVersionCode());
    case 'LINUX_HAS_BPF_COOKIE':
      // bpf_get_attach_cookie() exists since 5.15.
      return kernelVersionCode() >= (5 << 16) + (15 << 8) ? 1n : 0n;
    case 'LINUX_HAS_SYSCALL_WRAPPER': {
      const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : process.arch;
      return kallsymsAddresses([`__${arch}_sys_bpf`]).has(`__${arch}_sys_bpf`) ? 1n : 0n;
    }
    default:
      return undefined;
  }
}

/** The initial bytes of the ".kconfig" map: every .kconfig extern's value from the running kernel. */
export function kconfigValue(map: MapSpec, externs: ExternSpec[], source: string): Uint8Array {
  const out = new Uint8Array(map.valueSize);
  let config: Map<string, string> | undefined;
  let configPath = '';
  for (const e of externs) {
    if (e.kind !== 'kconfig' || !e.kconfig) continue;
    const { offset, size, type } = e.kconfig;
    if (type === 'unsupported') {
      throw new BpfError('EXTERN_UNRESOLVED', `${source}: .kconfig extern ${e.name} has a type bpf-ts cannot fill (use bool, enum libbpf_tristate, char, an integer or a char array)`);
    }
    if (e.name.startsWith('LINUX_')) {
      const v = linuxValue(e.name);
      if (v === undefined) {
        if (e.weak) continue;
        throw new BpfError(
          'EXTERN_UNRESOLVED',
          `${source}: .kconfig extern ${e.name} is not one the loader knows (LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER); declare it __weak to read 0`,
        );
      }
      if (type === 'string') throw new BpfError('EXTERN_UNRESOLVED', `${source}: .kconfig extern ${e.name} is a number, declared as a char array`);
      writeInt(out, offset, size, v);
      continue;
    }
    if (!config) {
      try {
        ({ values: config, path: configPath } = kernelConfig());
      } catch (err) {
        if (externs.every((x) => x.kind !== 'kconfig' || x.weak || x.name.startsWith('LINUX_'))) {
          config = new Map();
        } else throw err;
      }
    }
    const raw = config.get(e.name);
    if (raw === undefined) {
      if (e.weak) continue;
      throw new BpfError('EXTERN_UNRESOLVED', `${source}: .kconfig extern ${e.name} is not set in ${configPath || 'the kernel config'} (kernel ${release()}); declare it __weak to read 0`);
    }
    const tri = raw === 'y' || raw === 'n' || raw === 'm';
    switch (type) {
      case 'bool':
        if (raw === 'm') throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=m (a module) but the object declares it bool; use enum libbpf_tristate`);
        if (!tri) throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} is not y/n, but the object declares it bool`);
        out[offset] = raw === 'y' ? 1 : 0;
        break;
      case 'tristate':
        if (!tri) throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} is not y/n/m, but the object declares it a tristate`);
        writeInt(out, offset, size, raw === 'y' ? 1n : raw === 'm' ? 2n : 0n);
        break;
      case 'char':
        if (!tri) throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} is not y/n/m, but the object declares it char`);
        out[offset] = raw.charCodeAt(0);
        break;
      case 'int': {
        if (tri) throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} is not a number, but the object declares it an integer`);
        const v = kconfigNumber(e.name, raw, source);
        const bits = BigInt(size * 8);
        const fits = e.kconfig.signed ? v >= -(1n << (bits - 1n)) && v < 1n << (bits - 1n) : v >= 0n && v < 1n << bits;
        if (!fits) throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} does not fit the ${size}-byte integer the object declares`);
        writeInt(out, offset, size, v);
        break;
      }
      case 'string': {
        if (!(raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"'))) {
          throw new BpfError('EXTERN_UNRESOLVED', `${source}: ${e.name}=${raw} is not a string, but the object declares it a char array`);
        }
        const text = Buffer.from(raw.slice(1, -1).replace(/\\(.)/g, '$1'), 'utf8');
        // As libbpf: truncated to the array, always NUL-terminated.
        out.set(text.subarray(0, size - 1), offset);
        break;
      }
    }
  }
  return out;
}
