// cgroup device programs (cgroup/dev) in the emulator: what container
// runtimes (runc, crun, systemd's DeviceAllow=) attach to a cgroup v2 to say
// which device nodes its processes may open or make. The kernel has no test
// run for them: it runs them when a process of the cgroup opens a character
// or block device node (read and/or write) or makes one with mknod, on a
// struct bpf_cgroup_dev_ctx { access_type, major, minor }, access_type being
// (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*. 1 lets the call go on, 0 fails
// it with EPERM (or what bpf_set_retval set).

import { BpfError } from '../errors.js';
import { refuseAccess } from './context.js';
import type { Memory, Region, RegionHooks } from './memory.js';

/** sizeof(struct bpf_cgroup_dev_ctx). */
export const DEV_CTX_SIZE = 12;
const DEV_TYPE = { block: 1, char: 2 } as const;
const ACC = { mknod: 1, read: 2, write: 4 } as const;

/** A device access, for cgroupDevCtx(). */
export interface CgroupDevSpec {
  /** A character or block device node. */
  type: 'char' | 'block';
  major: number;
  minor: number;
  /** What the call asks: an open for reading and/or writing ('read', 'write'), or mknod. */
  access: readonly ('read' | 'write' | 'mknod')[];
}

/** The struct bpf_cgroup_dev_ctx the kernel makes for an access. */
export function cgroupDevCtx(spec: CgroupDevSpec): Buffer {
  const what = `device ${spec.type} ${spec.major}:${spec.minor}`;
  if (!(spec.type in DEV_TYPE)) throw new BpfError('USAGE', `${what}: type is 'char' or 'block'`);
  for (const n of [spec.major, spec.minor]) if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BpfError('USAGE', `${what}: ${n} is not a device number`);
  if (spec.access.length === 0 || spec.access.some((a) => !(a in ACC))) throw new BpfError('USAGE', `${what}: access is one or more of 'read', 'write', 'mknod'`);
  const access = spec.access.reduce((m, a) => m | ACC[a], 0);
  const b = Buffer.alloc(DEV_CTX_SIZE);
  b.writeUInt32LE(((access << 16) | DEV_TYPE[spec.type]) >>> 0, 0);
  b.writeUInt32LE(spec.major, 4);
  b.writeUInt32LE(spec.minor, 8);
  return b;
}

/** The ctx of a run: exactly a struct bpf_cgroup_dev_ctx (12 bytes). */
export function devCtxFromCtx(program: string, ctx: Uint8Array | undefined, data: Uint8Array): Uint8Array {
  const refuse = (why: string): never => {
    throw new BpfError('USAGE', `program ${program}: ${why}`);
  };
  if (data.byteLength > 0) refuse('a cgroup device program runs on its struct bpf_cgroup_dev_ctx alone (testRun(new Uint8Array(0), { ctx: cgroupDevCtx(…) }))');
  if (!ctx) refuse("it needs a struct bpf_cgroup_dev_ctx: the device and the access (cgroupDevCtx({ type: 'char', major: 1, minor: 3, access: ['read'] }))");
  if (ctx!.byteLength !== DEV_CTX_SIZE) refuse(`a struct bpf_cgroup_dev_ctx is ${DEV_CTX_SIZE} bytes, not ${ctx!.byteLength}`);
  return Uint8Array.from(ctx!);
}

/**
 * struct bpf_cgroup_dev_ctx for a run (cgroup_dev_is_valid_access):
 * access_type read in 1-, 2- or 4-byte loads, major and minor in 4-byte
 * loads, nothing written.
 */
export function devContext(memory: Memory, bytes: Uint8Array): Region {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const refuse = (what: string): never => refuseAccess('bpf_cgroup_dev_ctx', what);
  const hooks: RegionHooks = {
    load(off, size) {
      if (off < 0 || off + size > DEV_CTX_SIZE || off % size !== 0 || size > 4 || (off >= 4 && size !== 4)) refuse(`a ${size}-byte read at offset ${off}`);
      return size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : bytes[off]!;
    },
    store(off, size) {
      refuse(`a ${size}-byte write at offset ${off} (the struct is read-only)`);
    },
  };
  return memory.add('bpf_cgroup_dev_ctx', bytes, { kind: 'context', writable: false, hooks });
}
