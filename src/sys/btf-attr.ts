// BPF_BTF_LOAD: hand a BTF blob to the kernel; the fd it returns is what
// programs (prog_btf_fd) and maps (btf_fd) point their type ids into.

import * as cmd from './bpf-cmd.js';
import * as ffi from './ffi.js';
import { readCString, readU32, writeU32, writeU64 } from './endian.js';
import { bpfRaw } from './wrapper.js';

// struct { /* BPF_BTF_LOAD */ __aligned_u64 btf; __aligned_u64 btf_log_buf;
//          __u32 btf_size; __u32 btf_log_size; __u32 btf_log_level; __u32 btf_log_true_size; }
const BTF = 0;
const LOG_BUF = 8;
const SIZE = 16;
const LOG_SIZE = 20;
const LOG_LEVEL = 24;
const LOG_TRUE_SIZE = 28;
const BTF_LOAD_ATTR_SIZE = 32;

/** One BPF_BTF_LOAD; returns the fd or -errno, and the log when one was asked for. */
export function btfLoad(bytes: Uint8Array, logSize = 0): { result: number; log: string; logTrueSize: number } {
  const attr = ffi.allocNative(BTF_LOAD_ATTR_SIZE);
  const blob = ffi.nativeCopy(bytes);
  const b = attr.bytes;
  writeU64(b, BTF, blob.address);
  writeU32(b, SIZE, bytes.byteLength);
  let log: ffi.NativeBuffer | null = null;
  if (logSize > 0) {
    log = ffi.allocNative(logSize);
    writeU64(b, LOG_BUF, log.address);
    writeU32(b, LOG_SIZE, logSize);
    writeU32(b, LOG_LEVEL, 1);
  }
  const result = bpfRaw(cmd.BPF_BTF_LOAD, b, BTF_LOAD_ATTR_SIZE);
  const text = log ? readCString(log.bytes, 0, log.bytes.length) : '';
  return { result, log: text, logTrueSize: readU32(b, LOG_TRUE_SIZE) };
}
