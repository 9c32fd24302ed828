// Minimal XDP programs for the attach tests, loaded with a raw BPF_PROG_LOAD
// so these tests do not depend on the object loader.
import { BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_LOAD } from '../../src/sys/bpf-cmd.js';
import * as ffi from '../../src/sys/ffi.js';

const BPF_PROG_TYPE_XDP = 6;
export const XDP_DROP = 1;
export const XDP_PASS = 2;

function native(bytes: Uint8Array): ffi.NativeBuffer {
  const n = ffi.allocNative(bytes.byteLength);
  n.bytes.set(bytes);
  return n;
}

/** Load `r0 = action; exit` as an XDP program named `name`; returns its fd. */
export function loadXdpReturning(action: number, name: string): number {
  const insns = Buffer.alloc(16);
  insns[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  insns.writeInt32LE(action, 4);
  insns[8] = 0x95; // BPF_JMP | BPF_EXIT
  const code = native(insns);
  const license = native(Buffer.from('GPL\0'));
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(BPF_PROG_TYPE_XDP, 0);
  attr.writeUInt32LE(2, 4); // insn_cnt
  attr.writeBigUInt64LE(code.address, 8);
  attr.writeBigUInt64LE(license.address, 16);
  attr.write(name.slice(0, 15), 48, 'latin1'); // prog_name
  const fd = ffi.bpf(BPF_PROG_LOAD, attr, attr.length);
  if (fd < 0) throw new Error(`BPF_PROG_LOAD of test XDP program failed: errno ${-fd}`);
  return fd;
}

/** The kernel's id for a program fd (bpf_prog_info.id via BPF_OBJ_GET_INFO_BY_FD). */
export function progIdOf(fd: number): number {
  const info = ffi.allocNative(232);
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(info.bytes.length, 4);
  attr.writeBigUInt64LE(info.address, 8);
  const r = ffi.bpf(BPF_OBJ_GET_INFO_BY_FD, attr, attr.length);
  if (r < 0) throw new Error(`BPF_OBJ_GET_INFO_BY_FD failed: errno ${-r}`);
  return info.bytes.readUInt32LE(4);
}
