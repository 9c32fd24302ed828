// perf_event_open(2) for the events a BPF program attaches to: tracepoints
// (PERF_TYPE_TRACEPOINT), kprobes and uprobes (their dynamic PMUs), and
// software sampling (cpu-clock). struct perf_event_attr is encoded here; the
// ring-buffer side of perf events lives in src/events.

import { BpfError } from '../errors.js';
import * as ffi from './ffi.js';
import { writeU32, writeU64 } from './endian.js';
import { errnoName, EACCES, EPERM, ENOENT, EINVAL } from './errno.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;
export const PERF_COUNT_SW_CPU_CLOCK = 0;
const PERF_FLAG_FD_CLOEXEC = 1 << 3;
// _IO('$', 0) and _IOW('$', 8, u32)
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

// PERF_ATTR_SIZE_VER5 covers every field we set (through config2 and beyond).
const ATTR_SIZE = 112;
// attr.flags bits
const FLAG_DISABLED = 1n << 0n;
const FLAG_FREQ = 1n << 10n;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  /** kprobe_func / uprobe_path / bp_addr: a C string the kernel reads. */
  config1?: string | bigint;
  /** probe_offset / bp_len */
  config2?: bigint;
  /** sample_period, or sample_freq when `freq`. */
  sample?: bigint;
  freq?: boolean;
  disabled?: boolean;
}

/** Encode struct perf_event_attr; returns the bytes and the native strings it points to. */
function encode(a: PerfEventAttr): { attr: Buffer; keep: unknown[] } {
  const attr = Buffer.alloc(ATTR_SIZE);
  const keep: unknown[] = [];
  writeU32(attr, 0, a.type);
  writeU32(attr, 4, ATTR_SIZE);
  writeU64(attr, 8, a.config ?? 0n);
  writeU64(attr, 16, a.sample ?? 0n);
  let flags = 0n;
  if (a.disabled) flags |= FLAG_DISABLED;
  if (a.freq) flags |= FLAG_FREQ;
  writeU64(attr, 40, flags);
  if (typeof a.config1 === 'string') {
    const s = ffi.nativeCopy(a.config1);
    keep.push(s);
    writeU64(attr, 56, s.address);
  } else {
    writeU64(attr, 56, a.config1 ?? 0n);
  }
  writeU64(attr, 64, a.config2 ?? 0n);
  return { attr, keep };
}

/**
 * perf_event_open(attr, pid, cpu, -1, FD_CLOEXEC). pid -1 with a cpu: every
 * task on that cpu; a pid with cpu -1: that task anywhere. Returns an fd.
 */
export function perfEventOpen(a: PerfEventAttr, pid: number, cpu: number, context: string): number {
  const { attr, keep } = encode(a);
  const r = ffi.perfEventOpen(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  void keep;
  if (r < 0) throw perfError('perf_event_open', -r, context);
  return r;
}

/** A failed perf syscall, with what that errno usually means here. */
export function perfError(call: string, errno: number, context: string): BpfError {
  let hint: string;
  switch (errno) {
    case EACCES:
    case EPERM:
      hint = 'needs CAP_PERFMON (or CAP_SYS_ADMIN), or a lower kernel.perf_event_paranoid';
      break;
    case ENOENT:
      hint = 'no such event, probe target or PMU on this kernel';
      break;
    case EINVAL:
      hint = 'invalid event attributes for this kernel (wrong offset, symbol or flags)';
      break;
    default:
      hint = 'the kernel refused the perf event';
  }
  const err = new BpfError('SYSCALL', `${call} (${context}): ${errnoName(errno)}: ${hint}`);
  return Object.defineProperty(err, 'errno', { value: errno, enumerable: true });
}

/** ioctl on a perf event fd; throws on failure. */
export function perfIoctl(fd: number, request: number, arg: number, context: string): void {
  const r = ffi.ioctl(fd, request, arg);
  if (r < 0) throw perfError('ioctl', -r, context);
}

const PMU_DIR = '/sys/bus/event_source/devices';

/**
 * A dynamic PMU's type number and its retprobe bit ("kprobe", "uprobe"), or
 * null when the kernel has no such PMU (e.g. CONFIG_KPROBES off).
 */
export function probePmu(name: 'kprobe' | 'uprobe'): { type: number; retprobeBit: number } | null {
  let type: number;
  try {
    type = Number.parseInt(readFileSync(`${PMU_DIR}/${name}/type`, 'utf8'), 10);
  } catch {
    return null;
  }
  let bit = 0;
  try {
    // "config:0"
    const m = /config:(\d+)/.exec(readFileSync(`${PMU_DIR}/${name}/format/retprobe`, 'utf8'));
    if (m) bit = Number(m[1]);
  } catch {
    // Kernels without the format file use bit 0.
  }
  if (!Number.isInteger(type)) throw new BpfError('KERNEL_UNSUPPORTED', `${PMU_DIR}/${name}/type is not a number`);
  return { type, retprobeBit: bit };
}
