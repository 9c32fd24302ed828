// cgroup sysctl programs (cgroup/sysctl) in the emulator. The kernel has no
// test run for them: it runs them in read(2) and write(2) of a /proc/sys
// file by a process of the cgroup (__cgroup_bpf_run_filter_sysctl), before
// the file's handler, on a struct bpf_sysctl { write, file_pos }. The
// helpers see the rest: the sysctl's name, the value the handler reads at
// position 0 (its "current value"), a write's bytes (the "new value"),
// which bpf_sysctl_set_new_value may replace. The program's 1 lets the call
// go on, 0 fails it with EPERM (or what bpf_set_retval set). Kernels from
// 5.18 until a fix of mid-2026 dropped a replaced value (the write went on
// with the user's bytes); the emulator does what the fixed kernel does, and
// the test against this host's kernel shows which one it runs.

import { BpfError } from '../errors.js';
import { PAGE_SIZE, refuseAccess } from './context.js';
import { E2BIG, EINVAL } from './maps.js';
import type { Memory, Region, RegionHooks } from './memory.js';
import type { HelperContext } from './vm.js';

/** sizeof(struct bpf_sysctl): write (u32) at 0, file_pos (u32) at 4. */
export const SYSCTL_CTX_SIZE = 8;
const BPF_F_SYSCTL_BASE_NAME = 1n;

/** A read or write of a sysctl file, for a cgroup sysctl program's run. */
export interface SysctlAccess {
  /** The sysctl: its path under /proc/sys ('net/ipv4/ip_forward'), or as sysctl(8) writes it ('net.ipv4.ip_forward'). */
  name: string;
  /**
   * What reading the file gives now, at most a page ('0\n': the handler's
   * text, newline included); null when the handler cannot be read (a
   * write-only sysctl: bpf_sysctl_get_current_value is then -EINVAL).
   */
  value: string | Uint8Array | null;
  /** A write's bytes ('1\n'; the kernel hands the program at most a page of them); absent for a read. */
  write?: string | Uint8Array;
  /** The file position of the call (pread/pwrite's offset, or where the last read or write left it; default 0). */
  filePos?: number;
}

/** What a sysctl run leaves for the call (EmulatedTestRun.sysctl). */
export interface SysctlOutcome {
  /** The file position after the run (ctx->file_pos, when the program wrote it: the handler reads or writes from there). */
  filePos: number;
  /**
   * The bytes the handler is given instead of the write's, when the program
   * replaced them (bpf_sysctl_set_new_value) and the call goes on; else null.
   * write(2) then returns their length, not the caller's.
   */
  newValue: Buffer | null;
}

const bytesOf = (v: string | Uint8Array) => (typeof v === 'string' ? Buffer.from(v) : Uint8Array.from(v));

/** A sysctl call as the kernel's bpf_sysctl_kern holds it, and the helpers that read and change it. */
export class SysctlRun {
  readonly write: boolean;
  /** The path's directories, root first ('net', 'ipv4'), and the file's own name. */
  readonly dirs: readonly Uint8Array[];
  readonly procname: Uint8Array;
  /** cur_val: the current value (cur_len 0: null). */
  readonly cur: Uint8Array | null;
  /** new_val: a page holding the write's bytes (null: a read, or a write of nothing), new_len of them in use. */
  readonly newVal: Uint8Array | null;
  newLen: number;
  updated = false;
  /** *ppos, a loff_t. */
  pos: bigint;

  constructor(spec: SysctlAccess, what: string) {
    const refuse = (why: string): never => {
      throw new BpfError('USAGE', `${what}: sysctl ${spec.name}: ${why}`);
    };
    let path = spec.name.replace(/^\/proc\/sys\//, '');
    if (!path.includes('/')) path = path.replace(/\./g, '/');
    const parts = path.split('/');
    if (parts.some((p) => p === '' || p.includes('\0'))) refuse("write its path under /proc/sys, as 'net/ipv4/ip_forward' or 'net.ipv4.ip_forward'");
    if (parts.length < 2) refuse('a sysctl file is in a directory of /proc/sys (kernel/, net/, vm/, …)');
    this.procname = Buffer.from(parts.pop()!);
    this.dirs = parts.map((p) => Buffer.from(p));
    if (spec.value === undefined) refuse("give the value reading the file gives now (value: '0\\n'), or null for a sysctl that cannot be read");
    this.cur = spec.value === null ? null : bytesOf(spec.value);
    if (this.cur && this.cur.length > PAGE_SIZE) refuse(`a ${this.cur.length}-byte current value: the kernel reads at most a page (${PAGE_SIZE} bytes) of it`);
    this.write = spec.write !== undefined;
    const w = spec.write === undefined ? undefined : bytesOf(spec.write);
    // The kernel copies a write into a page of its own only when there are bytes to copy.
    this.newVal = w && w.length > 0 ? new Uint8Array(PAGE_SIZE) : null;
    this.newLen = this.newVal ? Math.min(PAGE_SIZE, w!.length) : 0;
    this.newVal?.set(w!.subarray(0, this.newLen));
    const pos = spec.filePos ?? 0;
    if (!Number.isSafeInteger(pos) || pos < 0) refuse(`filePos ${pos} is not a file position`);
    this.pos = BigInt(pos);
  }

  /** bpf_sysctl_get_name: the path ('net/ipv4/ip_forward'), or with BPF_F_SYSCTL_BASE_NAME the file's name alone. */
  getName(buf: Uint8Array, flags: bigint): number {
    let at = 0;
    if (!(flags & BPF_F_SYSCTL_BASE_NAME)) {
      // sysctl_cpy_dir: the root's empty name first (no slash after it), then each directory and a '/'.
      for (const dir of [new Uint8Array(0), ...this.dirs]) {
        const r = strscpy(buf.subarray(at), dir);
        if (r < 0) return r;
        at += r;
        if (r === 0) continue;
        const slash = strscpy(buf.subarray(at), SLASH);
        if (slash < 0) return slash;
        at += slash;
      }
    }
    const r = strscpy(buf.subarray(at), this.procname);
    return r < 0 ? r : at + r;
  }

  /** bpf_sysctl_get_current_value. */
  getCurrentValue(buf: Uint8Array): number {
    return copySysctlValue(buf, this.cur, this.cur?.length ?? 0);
  }

  /** bpf_sysctl_get_new_value: a read's is -EINVAL, the buffer zeroed. */
  getNewValue(buf: Uint8Array): number {
    if (!this.write) {
      buf.fill(0);
      return -EINVAL;
    }
    return copySysctlValue(buf, this.newVal, this.newLen);
  }

  /** bpf_sysctl_set_new_value: only a write with bytes takes one, of less than a page. */
  setNewValue(buf: Uint8Array): number {
    if (!this.write || !this.newVal || this.newLen === 0 || buf.length === 0) return -EINVAL;
    if (buf.length > PAGE_SIZE - 1) return -E2BIG;
    this.newVal.set(buf);
    this.newLen = buf.length;
    this.updated = true;
    return 0;
  }

  /** What the call goes on with, given the cgroup run's result (0: it goes on). */
  outcome(callRetval: number): SysctlOutcome {
    return { filePos: Number(this.pos), newValue: callRetval === 0 && this.updated ? Buffer.from(this.newVal!.subarray(0, this.newLen)) : null };
  }
}

const SLASH = Buffer.from('/');

/**
 * The kernel's strscpy on x86-64 (lib/string.c): word by word while 8 bytes
 * of room are left, the word with the NUL written with zeros after it, a
 * string that does not fit cut one byte short and NUL-terminated (-E2BIG);
 * the result is the length copied. `src` has no NUL of its own.
 */
export function strscpy(dst: Uint8Array, src: Uint8Array): number {
  let count = dst.length;
  if (count === 0) return -E2BIG;
  let res = 0;
  let max = count;
  while (max >= 8) {
    const left = src.length - res;
    if (left < 8) {
      for (let j = 0; j < 8; j++) dst[res + j] = j < left ? src[res + j]! : 0;
      return res + left;
    }
    dst.set(src.subarray(res, res + 8), res);
    count -= 8;
    if (count === 0) {
      dst[res + 7] = 0;
      return -E2BIG;
    }
    res += 8;
    max -= 8;
  }
  for (; count > 1; res++, count--) {
    const c = res < src.length ? src[res]! : 0;
    dst[res] = c;
    if (c === 0) return res;
  }
  dst[res] = 0;
  return res < src.length ? -E2BIG : res;
}

/** copy_sysctl_value: the value and zeros after it, or cut one byte short with a NUL (-E2BIG); no value: zeros, -EINVAL. */
function copySysctlValue(dst: Uint8Array, src: Uint8Array | null, srcLen: number): number {
  if (dst.length === 0) return -E2BIG;
  if (!src || srcLen === 0) {
    dst.fill(0);
    return -EINVAL;
  }
  dst.set(src.subarray(0, Math.min(dst.length, srcLen)));
  if (dst.length > srcLen) {
    dst.fill(0, srcLen);
    return srcLen;
  }
  dst[dst.length - 1] = 0;
  return -E2BIG;
}

/**
 * struct bpf_sysctl for a run (sysctl_is_valid_access): write read in 1-, 2-
 * or 4-byte loads, never written; file_pos read the same way (the low 32
 * bits of the position) and written as a whole u32 (the low 32 bits).
 */
export function sysctlContext(memory: Memory, run: SysctlRun): Region {
  const refuse = (what: string): never => refuseAccess('bpf_sysctl', what);
  const field = new Uint8Array(4);
  const dv = new DataView(field.buffer);
  const hooks: RegionHooks = {
    load(off, size) {
      if (off < 0 || off + size > SYSCTL_CTX_SIZE || off % size !== 0 || size > 4) refuse(`a ${size}-byte read at offset ${off}`);
      dv.setUint32(0, off < 4 ? (run.write ? 1 : 0) : Number(run.pos & 0xffffffffn), true);
      const at = off % 4;
      return size === 4 ? dv.getUint32(0, true) : size === 2 ? dv.getUint16(at, true) : field[at]!;
    },
    store(off, size, value) {
      if (off !== 4 || size !== 4) refuse(`a ${size}-byte write at offset ${off}${off < 4 ? ' (write is read-only)' : ''}`);
      run.pos = (run.pos & ~0xffffffffn) | BigInt.asUintN(32, value);
    },
  };
  return memory.add('bpf_sysctl', new Uint8Array(SYSCTL_CTX_SIZE), { kind: 'context', writable: true, hooks });
}

/** The ctx a run hands back: write and the low 32 bits of file_pos. */
export function sysctlCtxOut(run: SysctlRun): Buffer {
  const out = Buffer.alloc(SYSCTL_CTX_SIZE);
  out.writeUInt32LE(run.write ? 1 : 0, 0);
  out.writeUInt32LE(Number(run.pos & 0xffffffffn), 4);
  return out;
}

/** The helpers' buffers: `len` bytes at `addr`, writable or not. */
type Bytes = (ctx: HelperContext, addr: bigint, len: number, what: string, write?: boolean) => Uint8Array;

/** bpf_sysctl_get_name, _get_current_value, _get_new_value, _set_new_value on the run's SysctlRun. */
export function sysctlHelpers(run: () => SysctlRun | undefined, bytes: Bytes): [string, (ctx: HelperContext, ...args: bigint[]) => bigint][] {
  const neg = (errno: number) => BigInt.asUintN(64, BigInt(errno));
  const len = (n: bigint) => Number(BigInt.asUintN(32, n));
  const of = (ctx: HelperContext, name: string): SysctlRun => {
    const r = run();
    if (!r) ctx.fault(`${name} outside a cgroup sysctl run`);
    return r!;
  };
  return [
    ['bpf_sysctl_get_name', (ctx, _c, buf, size, flags) => neg(of(ctx, 'bpf_sysctl_get_name').getName(bytes(ctx, buf, len(size), 'buf', true), BigInt.asUintN(64, flags)))],
    ['bpf_sysctl_get_current_value', (ctx, _c, buf, size) => neg(of(ctx, 'bpf_sysctl_get_current_value').getCurrentValue(bytes(ctx, buf, len(size), 'buf', true)))],
    ['bpf_sysctl_get_new_value', (ctx, _c, buf, size) => neg(of(ctx, 'bpf_sysctl_get_new_value').getNewValue(bytes(ctx, buf, len(size), 'buf', true)))],
    ['bpf_sysctl_set_new_value', (ctx, _c, buf, size) => neg(of(ctx, 'bpf_sysctl_set_new_value').setNewValue(bytes(ctx, buf, len(size), 'buf')))],
  ];
}
