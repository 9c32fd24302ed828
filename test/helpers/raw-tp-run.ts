// BPF_PROG_TEST_RUN for raw tracepoint programs. The kernel wants no packet
// (data_in/out NULL), no repeat and no duration, only ctx_in (the tracepoint
// arguments, up to 12 u64): a different shape from the packet test runs
// BpfProgram.testRun issues, so tests build the attr themselves.
import { BPF_PROG_TEST_RUN } from '../../src/sys/bpf-cmd.js';
import * as ffi from '../../src/sys/ffi.js';
import { readU32, writeU32, writeU64 } from '../../src/sys/endian.js';
import { bpfSyscall } from '../../src/sys/wrapper.js';

const PROG_FD = 0;
const RETVAL = 4;
const CTX_SIZE_IN = 40;
const CTX_IN = 48;
const ATTR_SIZE = 80;

/** Run a raw tracepoint program once on the calling thread; returns its return value. */
export function rawTracepointTestRun(progFd: number, ctx: Uint8Array): number {
  const attr = ffi.allocNative(ATTR_SIZE);
  const ctxMem = ffi.allocNative(Math.max(ctx.byteLength, 8));
  ctxMem.bytes.set(ctx);
  writeU32(attr.bytes, PROG_FD, progFd);
  writeU32(attr.bytes, CTX_SIZE_IN, ctx.byteLength);
  writeU64(attr.bytes, CTX_IN, ctxMem.address);
  bpfSyscall(BPF_PROG_TEST_RUN, attr.bytes, ATTR_SIZE, 'raw tracepoint test run');
  // The attr holds only ctx's address: keep its memory reachable until here.
  ctxMem.bytes.fill(0);
  return readU32(attr.bytes, RETVAL);
}
