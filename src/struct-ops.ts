// struct_ops at load: the kernel struct a .struct_ops map implements
// (`tcp_congestion_ops`) and the map value type the kernel wraps it in
// (`bpf_struct_ops_tcp_congestion_ops`), both from vmlinux BTF; each
// program is loaded against the struct (attach_btf_id) with its member's
// index as expected_attach_type; the value is the object's bytes moved to
// the kernel's member offsets with program fds in the function pointers;
// updating the map registers it (or, for .struct_ops.link, a bpf_link does).

import { BpfError } from './errors.js';
import type { Btf } from './btf/btf.js';
import type { BtfComposite } from './btf/kinds.js';
import type { MapSpec } from './object/types.js';
import { BpfMap, sanitizeMapName } from './maps/map.js';
import { Fd } from './sys/fd.js';
import { vmlinuxBtf } from './btf/kernel.js';
import { essentialName } from './object/core/names.js';
import { mapCreate } from './sys/map-attr.js';
import { linkCreate } from './sys/link-attr.js';
import { BPF_ATTACH_TYPE, BPF_MAP_TYPE } from './uapi/bpf.js';
import { BpfSyscallError } from './sys/syscall-error.js';
import { EACCES, EEXIST, EINVAL, EPERM, isNotSupported } from './sys/errno.js';
const { release } = process.getBuiltinModule('node:os');

export interface StructOpsKernel {
  /** The kernel struct (tcp_congestion_ops) and its id: programs' attach_btf_id. */
  struct: BtfComposite;
  /** bpf_struct_ops_<name>: the map's value (btf_vmlinux_value_type_id). */
  value: BtfComposite;
  /** Byte offset of the `data` member (the struct itself) inside the value. */
  dataOffset: number;
}

export function structOpsKernel(spec: MapSpec, source: string): StructOpsKernel {
  const so = spec.structOps!;
  const btf = vmlinuxBtf();
  // struct tcp_congestion_ops___mine is the kernel's tcp_congestion_ops (a flavor, as libbpf reads it).
  const name = essentialName(so.typeName);
  const st = btf.findByName(name, 'struct');
  const value = btf.findByName(`bpf_struct_ops_${name}`, 'struct');
  if (!st || st.kind !== 'struct' || !value || value.kind !== 'struct') {
    throw new BpfError(
      'ATTACH_TARGET',
      `${source}: struct_ops map ${spec.name} implements struct ${so.typeName}, which this kernel (${release()}) does not offer as struct_ops (no bpf_struct_ops_${name} in its BTF)`,
    );
  }
  const data = value.members.find((m) => m.name === 'data');
  if (!data) throw new BpfError('ATTACH_TARGET', `${source}: bpf_struct_ops_${name} in kernel BTF has no data member`);
  return { struct: st, value, dataOffset: data.bitOffset / 8 };
}

/** Index of `member` in the kernel struct: the program's expected_attach_type. */
export function structOpsMemberIndex(k: StructOpsKernel, member: string, source: string, map: string): number {
  const i = k.struct.members.findIndex((m) => m.name === member);
  if (i < 0) throw new BpfError('ATTACH_TARGET', `${source}: struct_ops map ${map} sets ${member}, which the kernel's struct ${k.struct.name} does not have`);
  return i;
}

/** `btfFd`: the object's BTF in the kernel, which the kernel insists on for struct_ops maps. */
export function createStructOpsMap(spec: MapSpec, k: StructOpsKernel, btfFd: number | undefined): BpfMap {
  if (btfFd === undefined) throw new BpfError('MAP_INVALID', `struct_ops map ${spec.name}: the kernel needs the object's BTF loaded to create it, and it was not`);
  const raw = mapCreate(
    {
      mapType: BPF_MAP_TYPE.STRUCT_OPS,
      keySize: 4,
      valueSize: k.value.size,
      maxEntries: 1,
      mapFlags: spec.flags,
      mapName: sanitizeMapName(spec.name),
      btfFd,
      btfVmlinuxValueTypeId: k.value.id,
    },
    `struct_ops map "${spec.name}" (${spec.structOps!.typeName})`,
  );
  return BpfMap.fromFd(new Fd(raw, `map ${spec.name}`));
}

/** The kernel value: the object's non-pointer members at the kernel's offsets, program fds in the function pointers. */
export function structOpsValue(spec: MapSpec, k: StructOpsKernel, objBtf: Btf, progFds: ReadonlyMap<string, number>, source: string): Uint8Array {
  const so = spec.structOps!;
  const local = objBtf.typeById(so.btfTypeId);
  if (local.kind !== 'struct') throw new BpfError('MAP_INVALID', `${source}: struct_ops map ${spec.name}: type ${so.btfTypeId} is not a struct`);
  const out = new Uint8Array(k.value.size);
  const dv = new DataView(out.buffer);
  const kernelBtf = vmlinuxBtf();
  for (const m of local.members) {
    const km = k.struct.members.find((x) => x.name === m.name);
    const fn = so.funcs.find((f) => f.member === m.name);
    const at = k.dataOffset + (km ? km.bitOffset / 8 : 0);
    if (fn) {
      const fd = progFds.get(fn.program);
      if (fd === undefined) throw new BpfError('PROGRAM_NOT_FOUND', `${source}: struct_ops map ${spec.name}: program ${fn.program} (member ${m.name}) was not loaded`);
      if (!km) throw new BpfError('ATTACH_TARGET', `${source}: struct_ops map ${spec.name} sets ${m.name}, which the kernel's struct ${so.typeName} does not have`);
      dv.setBigUint64(at, BigInt(fd), true);
      continue;
    }
    if (m.bitfieldSize || m.bitOffset % 8) throw new BpfError('MAP_INVALID', `${source}: struct_ops map ${spec.name}: bitfield member ${m.name} is not supported`);
    const size = objBtf.resolveSize(m.type);
    const bytes = so.data.subarray(m.bitOffset / 8, m.bitOffset / 8 + size);
    if (bytes.every((b) => b === 0)) continue; // unset: the kernel's zero
    if (!km) throw new BpfError('ATTACH_TARGET', `${source}: struct_ops map ${spec.name} sets ${m.name}, which the kernel's struct ${so.typeName} does not have`);
    const ksize = kernelBtf.resolveSize(km.type);
    if (ksize !== size) throw new BpfError('MAP_INVALID', `${source}: struct_ops map ${spec.name}: member ${m.name} is ${size} bytes here and ${ksize} in the kernel`);
    out.set(bytes, at);
  }
  return out;
}

/** Register a .struct_ops.link map through BPF_LINK_CREATE; returns the owned link fd. */
export function structOpsLink(map: BpfMap, name: string): Fd {
  const raw = linkCreate({ progFd: map.fd.value, target: 0, attachType: BPF_ATTACH_TYPE.STRUCT_OPS }, `struct_ops map ${name}`);
  return new Fd(raw, `struct_ops link ${name}`);
}

/**
 * Registering a struct_ops map failed (its update, or its link): say what the
 * kernel's answer means and how to load without registering. Permission
 * errors keep their own message, which names the capability.
 */
export function structOpsRegisterError(e: unknown, source: string, map: string, struct: string): unknown {
  if (!(e instanceof BpfSyscallError) || e.errno === EPERM || e.errno === EACCES) return e;
  const why =
    e.errno === EEXIST
      ? `the kernel already has a struct ${struct} of that name registered (another object's, or this one loaded twice)`
      : isNotSupported(e.errno)
        ? `this kernel lets BPF programs implement struct ${struct} but does not register it (e.g. bpf_dummy_ops, which exists for test runs)`
        : e.errno === EINVAL
          ? `the kernel's checks of struct ${struct} refused it (e.g. a member it requires is not set)`
          : e.message;
  return new BpfError(
    e.errno === EEXIST ? 'ALREADY_ATTACHED' : 'SYSCALL',
    `${source}: the kernel would not register struct_ops map ${map} (${e.errnoName}): ${why}; to load its programs without registering it, pass registerStructOps: false`,
    { cause: e },
  );
}
