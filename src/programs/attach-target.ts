// attach_btf_id for programs whose section names a kernel function or type
// (libbpf's SEC_ATTACH_BTF): tp_btf/<tp> → typedef btf_trace_<tp>,
// fentry/fexit/fmod_ret/<fn> → FUNC <fn>, lsm/<hook> → FUNC bpf_lsm_<hook>,
// iter/<name> → FUNC bpf_iter_<name>; looked up in vmlinux BTF, then in
// module BTF (then attach_btf_obj_fd names the module's BTF object).
// freplace/<fn> replaces function <fn> of a program the caller names.

import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { btfFdById, btfInfo, kernelBtfById } from '../btf/handle.js';
import { progInfo } from '../sys/info.js';
import type { Fd } from '../sys/fd.js';
import { ids } from '../sys/ids.js';
import { moduleBtf, moduleBtfNames, vmlinuxBtf } from '../btf/kernel.js';
import { BPF_ATTACH_TYPE as A, BPF_PROG_TYPE as P, progTypeName } from '../uapi/bpf.js';
const { release } = process.getBuiltinModule('node:os');

export interface AttachTarget {
  attachBtfId: number;
  /** Module BTF fd, or freplace's target program fd; 0 for vmlinux. */
  attachBtfObjFd: number;
  /** Where the target was found: "vmlinux", a module name, or "program <id>". */
  where: string;
  /** Owned fd to close after loading (module BTF); null when none. */
  owned: Fd | null;
}

/** What the kernel's BTF must contain for this program: [kind, name]. */
export function btfTargetName(spec: ProgramSpec, attachType: number | null): { kind: 'func' | 'typedef'; name: string } | null {
  const t = spec.attachTarget;
  if (!t) return null;
  if (spec.type === P.LSM) return { kind: 'func', name: `bpf_lsm_${t}` };
  if (spec.type !== P.TRACING) return null;
  switch (attachType) {
    case A.TRACE_FENTRY_MULTI:
    case A.TRACE_FEXIT_MULTI:
    case A.TRACE_FSESSION_MULTI:
      return null; // a pattern, matched when attaching
    case A.TRACE_RAW_TP:
      return { kind: 'typedef', name: `btf_trace_${t}` };
    case A.TRACE_ITER:
      return { kind: 'func', name: `bpf_iter_${t}` };
    default:
      return { kind: 'func', name: t };
  }
}

function moduleFd(name: string): Fd | null {
  for (const id of ids('btf')) {
    let fd: Fd | undefined;
    try {
      fd = btfFdById(id);
      const info = btfInfo(fd.value);
      if (info.kernelBtf && info.name === name) {
        const keep = fd;
        fd = undefined;
        return keep;
      }
    } catch {
      // gone meanwhile
    } finally {
      fd?.close();
    }
  }
  return null;
}

/** The attach target of a tracing, LSM or freplace program, or an error saying which is missing. */
export function resolveAttachTarget(spec: ProgramSpec, type: number, attachType: number | null, source: string, freplace?: { progFd: number; func?: string }): AttachTarget {
  const prefix = `${source}: ${progTypeName(type)} program ${spec.name} (section "${spec.section}")`;
  if (type === P.EXT) {
    const func = freplace?.func ?? spec.attachTarget;
    if (!freplace) throw new BpfError('ATTACH_TARGET', `${prefix} replaces a function of another program: give the target program (load({ freplace: { progFd } }))`);
    if (!func) throw new BpfError('ATTACH_TARGET', `${prefix}: name the function to replace (section freplace/<function>)`);
    const info = progInfo(freplace.progFd);
    if (!info.btfId) throw new BpfError('ATTACH_TARGET', `${prefix}: target program ${info.id} was loaded without BTF, so its functions cannot be replaced`);
    const f = kernelBtfById(info.btfId).findByName(func, 'func');
    if (!f) throw new BpfError('ATTACH_TARGET', `${prefix}: target program ${info.id} has no function ${func}`);
    return { attachBtfId: f.id, attachBtfObjFd: freplace.progFd, where: `program ${info.id}`, owned: null };
  }
  const want = btfTargetName(spec, attachType);
  const multi = attachType === A.TRACE_FENTRY_MULTI || attachType === A.TRACE_FEXIT_MULTI || attachType === A.TRACE_FSESSION_MULTI;
  if (!want && multi) return { attachBtfId: 0, attachBtfObjFd: 0, where: 'none', owned: null };
  if (!want) throw new BpfError('ATTACH_TARGET', `${prefix} needs an attach target after the section prefix (e.g. fentry/tcp_v4_connect, tp_btf/sched_switch, lsm/file_open, iter/task)`);
  const v = vmlinuxBtf().findByName(want.name, want.kind);
  if (v) return { attachBtfId: v.id, attachBtfObjFd: 0, where: 'vmlinux', owned: null };
  for (const mod of moduleBtfNames()) {
    let t;
    try {
      t = moduleBtf(mod).findByName(want.name, want.kind);
    } catch {
      continue;
    }
    if (!t || t.id < vmlinuxBtf().count) continue;
    const fd = moduleFd(mod);
    if (!fd) continue;
    return { attachBtfId: t.id, attachBtfObjFd: fd.value, where: mod, owned: fd };
  }
  throw new BpfError(
    'ATTACH_TARGET',
    `${prefix}: attach target ${want.kind === 'typedef' ? 'typedef' : 'function'} ${want.name} is not in the BTF of this kernel (${release()})${moduleBtfNames().length ? ' or its modules' : ''}`,
  );
}
