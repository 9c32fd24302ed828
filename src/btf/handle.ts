// A BTF object in the kernel: loaded from a blob (BPF_BTF_LOAD), or by id:
// BPF_BTF_GET_FD_BY_ID, then
// BPF_OBJ_GET_INFO_BY_FD with struct bpf_btf_info to copy the raw blob out
// (how bpftool gets the types of a pinned map it did not load).
//
// struct bpf_btf_info { __aligned_u64 btf; __u32 btf_size; __u32 id;
//                       __aligned_u64 name; __u32 name_len; __u32 kernel_btf; }

import { BpfError } from '../errors.js';
import { type Btf, parseBtf } from './btf.js';
import * as cmd from '../sys/bpf-cmd.js';
import { btfLoad } from '../sys/btf-attr.js';
import { ENOENT } from '../sys/errno.js';
import { readU32, writeU32, writeU64 } from '../sys/endian.js';
import * as ffi from '../sys/ffi.js';
import { Fd } from '../sys/fd.js';
import { ids, withIdFd } from '../sys/ids.js';
import { objGetInfo } from '../sys/info.js';
import { GET_FD_BY_ID, getFdById } from '../sys/obj-attr.js';
import { vmlinuxBtf } from './kernel.js';
import { syscallError } from '../sys/wrapper.js';

const BTF = 0;
const BTF_SIZE = 8;
const ID = 12;
const NAME = 16;
const NAME_LEN = 24;
const KERNEL_BTF = 28;
const BTF_INFO_SIZE = 32;

export interface BtfInfo {
  id: number;
  /** "vmlinux" or the module name for kernel BTF; what the loader named it (often "") otherwise. */
  name: string;
  /** BTF the kernel itself provides (vmlinux, modules) rather than a loaded object's. */
  kernelBtf: boolean;
  /** The raw blob, as BPF_BTF_LOAD received it. */
  raw: Uint8Array;
}

/** bpf_btf_info of a BTF fd, raw blob included (two calls: size first, then the bytes). */
export function btfInfo(fd: number, context?: string): BtfInfo {
  const { id, name, kernelBtf, raw } = queryBtfInfo(fd, context, true);
  return { id, name, kernelBtf, raw: raw! };
}

/** What `bpf-ts btf list` shows of a BTF object: no blob copied. */
export interface BtfSummary {
  id: number;
  name: string;
  kernelBtf: boolean;
  /** Bytes of the raw blob. */
  size: number;
}

/** bpf_btf_info without the blob: its size and name. */
export function btfSummary(fd: number, context?: string): BtfSummary {
  const { id, name, kernelBtf, size } = queryBtfInfo(fd, context, false);
  return { id, name, kernelBtf, size };
}

/** Two calls: the sizes first, then with room for the name (and the blob when `withBlob`). */
function queryBtfInfo(fd: number, context: string | undefined, withBlob: boolean): BtfSummary & { raw?: Uint8Array } {
  const first = ffi.allocNative(BTF_INFO_SIZE);
  objGetInfo(fd, first, context);
  const size = readU32(first.bytes, BTF_SIZE);
  const nameLen = readU32(first.bytes, NAME_LEN);
  const blob = withBlob ? ffi.allocNative(Math.max(size, 1)) : null;
  const name = ffi.allocNative(nameLen + 1);
  const mem = ffi.allocNative(BTF_INFO_SIZE);
  if (blob) {
    writeU64(mem.bytes, BTF, blob.address);
    writeU32(mem.bytes, BTF_SIZE, size);
  }
  writeU64(mem.bytes, NAME, name.address);
  writeU32(mem.bytes, NAME_LEN, nameLen + 1);
  objGetInfo(fd, mem, context);
  const got = blob ? readU32(mem.bytes, BTF_SIZE) : size;
  if (got > size) throw new BpfError('SYSCALL', `${context ?? `BTF fd ${fd}`}: BTF grew from ${size} to ${got} bytes while being read`);
  return {
    id: readU32(mem.bytes, ID),
    name: name.bytes.toString('utf8', 0, nameLen),
    kernelBtf: readU32(mem.bytes, KERNEL_BTF) !== 0,
    size,
    ...(blob ? { raw: Uint8Array.from(blob.bytes.subarray(0, got)) } : {}),
  };
}

/** Every BTF object in the kernel (vmlinux, modules, what programs and maps loaded); needs CAP_SYS_ADMIN. */
export function listBtf(): BtfSummary[] {
  const out: BtfSummary[] = [];
  for (const id of ids('btf')) {
    const s = withIdFd('btf', id, (fd) => btfSummary(fd, `BTF id ${id}`));
    if (s !== null) out.push(s);
  }
  return out;
}

/** An fd for the BTF object with kernel id `id`. */
export function btfFdById(id: number): Fd {
  const raw = getFdById(GET_FD_BY_ID.btf, id);
  if (raw === null) throw syscallError(cmd.BPF_BTF_GET_FD_BY_ID, -ENOENT, `BTF id ${id}`);
  return new Fd(raw, `BTF id ${id}`);
}

/**
 * The parsed BTF with kernel id `id`. Module BTF is split BTF and is parsed
 * on top of the running kernel's vmlinux.
 */
export function kernelBtfById(id: number): Btf {
  using fd = btfFdById(id);
  const info = btfInfo(fd.value, `BTF id ${id}`);
  const split = info.kernelBtf && info.name !== 'vmlinux';
  return parseBtf(info.raw, { base: split ? vmlinuxBtf() : undefined, source: `BTF id ${id}${info.name ? ` (${info.name})` : ''}` });
}

/**
 * Hand a BTF blob (e.g. `sanitizeBtf`'s output) to the kernel: the fd owns
 * the kernel's BTF object, which programs and maps point their type ids
 * into. A refusal is a BpfSyscallError naming `label` and the last line of
 * the kernel's BTF log (which names the offending type).
 */
export function loadBtf(bytes: Uint8Array, label = 'BTF'): Fd {
  const r = btfLoad(bytes);
  if (r.result >= 0) return new Fd(r.result, label);
  const withLog = btfLoad(bytes, 1 << 20);
  if (withLog.result >= 0) return new Fd(withLog.result, label);
  const last = withLog.log.trim().split('\n').pop();
  throw syscallError(cmd.BPF_BTF_LOAD, withLog.result, last ? `${label}: ${last}` : label);
}
