// Capabilities: which ones this process holds (CapEff in /proc/self/status),
// which ones a bpf() command needs on this kernel, and the one-line hint that
// names exactly the missing ones. bpf-ts never tells a caller to get a
// capability it already has: when every capability a call needs is there,
// the hint says where else a refusal comes from instead.
//
// The requirements follow kernel/bpf/syscall.c (Linux 6.x): CAP_SYS_ADMIN
// stands in for CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (bpf_token_capable),
// and kernel.unprivileged_bpf_disabled decides whether CAP_BPF is needed for
// the map and program types an unprivileged user may otherwise create.

import { BpfError } from '../errors.js';
import * as cmd from './bpf-cmd.js';
import { BPF_MAP_TYPE } from './map-type.js';
import { BPF_PROG_TYPE } from '../uapi/bpf.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

/** Capability numbers (include/uapi/linux/capability.h). */
export const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  PERFMON: 38,
  BPF: 39,
} as const;

const NAMES: Record<number, string> = {
  0: 'CAP_CHOWN',
  1: 'CAP_DAC_OVERRIDE',
  2: 'CAP_DAC_READ_SEARCH',
  3: 'CAP_FOWNER',
  4: 'CAP_FSETID',
  5: 'CAP_KILL',
  6: 'CAP_SETGID',
  7: 'CAP_SETUID',
  8: 'CAP_SETPCAP',
  9: 'CAP_LINUX_IMMUTABLE',
  10: 'CAP_NET_BIND_SERVICE',
  11: 'CAP_NET_BROADCAST',
  12: 'CAP_NET_ADMIN',
  13: 'CAP_NET_RAW',
  14: 'CAP_IPC_LOCK',
  15: 'CAP_IPC_OWNER',
  16: 'CAP_SYS_MODULE',
  17: 'CAP_SYS_RAWIO',
  18: 'CAP_SYS_CHROOT',
  19: 'CAP_SYS_PTRACE',
  20: 'CAP_SYS_PACCT',
  21: 'CAP_SYS_ADMIN',
  22: 'CAP_SYS_BOOT',
  23: 'CAP_SYS_NICE',
  24: 'CAP_SYS_RESOURCE',
  25: 'CAP_SYS_TIME',
  26: 'CAP_SYS_TTY_CONFIG',
  27: 'CAP_MKNOD',
  28: 'CAP_LEASE',
  29: 'CAP_AUDIT_WRITE',
  30: 'CAP_AUDIT_CONTROL',
  31: 'CAP_SETFCAP',
  32: 'CAP_MAC_OVERRIDE',
  33: 'CAP_MAC_ADMIN',
  34: 'CAP_SYSLOG',
  35: 'CAP_WAKE_ALARM',
  36: 'CAP_BLOCK_SUSPEND',
  37: 'CAP_AUDIT_READ',
  38: 'CAP_PERFMON',
  39: 'CAP_BPF',
  40: 'CAP_CHECKPOINT_RESTORE',
};

/** "CAP_BPF" for 39. */
export function capName(cap: number): string {
  return NAMES[cap] ?? `capability ${cap}`;
}

/** A set of capabilities as the kernel writes it: one bit per capability. */
export type CapSet = bigint;

export const capBit = (cap: number): bigint => 1n << BigInt(cap);

/** Parse "CapEff:\t000001fffeffffff" style hex (as in /proc/PID/status). */
export function parseCapHex(hex: string): CapSet {
  const h = hex.trim();
  if (!/^[0-9a-fA-F]+$/.test(h)) throw new BpfError('INVALID_ARGUMENT', `cannot parse capability set ${JSON.stringify(hex)} (expected hex as in /proc/PID/status CapEff)`);
  return BigInt('0x' + h);
}

/** The CapEff line of a /proc/PID/status text, or null when absent. */
export function capEffFromStatus(status: string): CapSet | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return m ? parseCapHex(m[1]!) : null;
}

/**
 * The calling thread's effective capabilities, read fresh (they can change
 * while the process runs), or null when /proc cannot tell (then hints fall
 * back to naming every capability a call may need).
 */
export function effectiveCaps(): CapSet | null {
  for (const path of ['/proc/thread-self/status', '/proc/self/status']) {
    try {
      return capEffFromStatus(readFileSync(path, 'utf8'));
    } catch {
      // try the next one
    }
  }
  return null;
}

export function hasCap(caps: CapSet, cap: number): boolean {
  return (caps & capBit(cap)) !== 0n;
}

/** Names of every capability in `caps`, lowest number first. */
export function capNames(caps: CapSet): string[] {
  const out: string[] = [];
  for (let c = 0; c < 64; c++) if (hasCap(caps, c)) out.push(capName(c));
  return out;
}

/**
 * One requirement: any one of these capabilities satisfies it. The first is
 * the least-privileged choice, the one a hint names.
 */
export type CapNeed = readonly number[];

export const NEED_BPF: CapNeed = [CAP.BPF, CAP.SYS_ADMIN];
export const NEED_NET_ADMIN: CapNeed = [CAP.NET_ADMIN, CAP.SYS_ADMIN];
export const NEED_PERFMON: CapNeed = [CAP.PERFMON, CAP.SYS_ADMIN];
export const NEED_SYS_ADMIN: CapNeed = [CAP.SYS_ADMIN];
/** rtnetlink (veths, addresses, XDP and TC through netlink) and net sysctls: CAP_SYS_ADMIN does not stand in. */
export const NEED_NETLINK_ADMIN: CapNeed = [CAP.NET_ADMIN];
export const NEED_NET_RAW: CapNeed = [CAP.NET_RAW];

/** kernel.unprivileged_bpf_disabled (0 allows unprivileged map/program creation); 1 when unreadable. */
export function unprivilegedBpfDisabled(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim());
  } catch {
    return 1;
  }
}

// Map types any user may create when unprivileged BPF is enabled (map_create()).
const UNPRIVILEGED_MAPS = new Set<number>([
  BPF_MAP_TYPE.ARRAY,
  BPF_MAP_TYPE.PERCPU_ARRAY,
  BPF_MAP_TYPE.PROG_ARRAY,
  BPF_MAP_TYPE.PERF_EVENT_ARRAY,
  BPF_MAP_TYPE.CGROUP_ARRAY,
  BPF_MAP_TYPE.ARRAY_OF_MAPS,
  BPF_MAP_TYPE.HASH,
  BPF_MAP_TYPE.PERCPU_HASH,
  BPF_MAP_TYPE.HASH_OF_MAPS,
  BPF_MAP_TYPE.RINGBUF,
  BPF_MAP_TYPE.USER_RINGBUF,
  BPF_MAP_TYPE.CGROUP_STORAGE,
  BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE,
]);
const NET_ADMIN_MAPS = new Set<number>([BPF_MAP_TYPE.SOCKMAP, BPF_MAP_TYPE.SOCKHASH, BPF_MAP_TYPE.DEVMAP, BPF_MAP_TYPE.DEVMAP_HASH, BPF_MAP_TYPE.XSKMAP]);

const T = BPF_PROG_TYPE as Record<string, number>;
const progTypes = (...names: string[]) => new Set(names.map((n) => T[n]).filter((v): v is number => v !== undefined));
// is_net_admin_prog_type() and is_perfmon_prog_type() in kernel/bpf/syscall.c.
const NET_ADMIN_PROGS = progTypes(
  'SCHED_CLS',
  'SCHED_ACT',
  'XDP',
  'LWT_IN',
  'LWT_OUT',
  'LWT_XMIT',
  'LWT_SEG6LOCAL',
  'SK_SKB',
  'SK_MSG',
  'FLOW_DISSECTOR',
  'CGROUP_DEVICE',
  'CGROUP_SOCK',
  'CGROUP_SOCK_ADDR',
  'CGROUP_SOCKOPT',
  'CGROUP_SYSCTL',
  'SOCK_OPS',
  'EXT',
  'NETFILTER',
);
const PERFMON_PROGS = progTypes('KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE', 'TRACING', 'LSM', 'STRUCT_OPS', 'EXT');
const UNPRIVILEGED_PROGS = progTypes('SOCKET_FILTER', 'CGROUP_SKB');

/** What a call was about, where the requirement depends on it. */
export interface CapCallInfo {
  mapType?: number;
  progType?: number;
}

/** The capabilities `command` needs on this kernel (each entry: any one of its capabilities). */
export function capsForCommand(command: number, info: CapCallInfo = {}, sysctl = unprivilegedBpfDisabled()): CapNeed[] {
  switch (command) {
    case cmd.BPF_MAP_CREATE: {
      const needs: CapNeed[] = [];
      const t = info.mapType;
      if (sysctl !== 0 || t === undefined || !UNPRIVILEGED_MAPS.has(t)) needs.push(NEED_BPF);
      if (t !== undefined && NET_ADMIN_MAPS.has(t)) needs.push(NEED_NET_ADMIN);
      return needs;
    }
    case cmd.BPF_PROG_LOAD: {
      const needs: CapNeed[] = [];
      const t = info.progType;
      if (sysctl !== 0 || t === undefined || !UNPRIVILEGED_PROGS.has(t)) needs.push(NEED_BPF);
      if (t !== undefined && NET_ADMIN_PROGS.has(t)) needs.push(NEED_NET_ADMIN);
      if (t !== undefined && PERFMON_PROGS.has(t)) needs.push(NEED_PERFMON);
      return needs;
    }
    case cmd.BPF_BTF_LOAD:
      return [NEED_BPF];
    case cmd.BPF_PROG_GET_NEXT_ID:
    case cmd.BPF_MAP_GET_NEXT_ID:
    case cmd.BPF_LINK_GET_NEXT_ID:
    case cmd.BPF_BTF_GET_NEXT_ID:
    case cmd.BPF_PROG_GET_FD_BY_ID:
    case cmd.BPF_MAP_GET_FD_BY_ID:
    case cmd.BPF_LINK_GET_FD_BY_ID:
    case cmd.BPF_BTF_GET_FD_BY_ID:
    case cmd.BPF_ENABLE_STATS:
    case cmd.BPF_TASK_FD_QUERY:
      return [NEED_SYS_ADMIN];
    case cmd.BPF_PROG_QUERY:
    case cmd.BPF_PROG_ATTACH:
    case cmd.BPF_PROG_DETACH:
    case cmd.BPF_LINK_CREATE:
      return [NEED_NET_ADMIN];
    case cmd.BPF_RAW_TRACEPOINT_OPEN:
      return [NEED_PERFMON];
    default:
      return [];
  }
}

/** The least-privileged capability of each requirement `caps` does not meet. */
export function missingCaps(needs: readonly CapNeed[], caps: CapSet | null): number[] {
  const out: number[] = [];
  for (const need of needs) {
    if (caps !== null && need.some((c) => hasCap(caps, c))) continue;
    if (!out.includes(need[0]!)) out.push(need[0]!);
  }
  return out;
}

/** "CAP_BPF", "CAP_BPF and CAP_NET_ADMIN", "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON". */
export function joinCaps(caps: readonly number[]): string {
  const n = caps.map(capName);
  return n.length <= 1 ? (n[0] ?? '') : `${n.slice(0, -1).join(', ')} and ${n[n.length - 1]}`;
}

/**
 * The hint for a refusal of something that needs `needs`: the missing
 * capabilities by name, or, when the caller has them all, `otherwise`.
 */
export function capsHint(needs: readonly CapNeed[], otherwise: string, caps: CapSet | null = effectiveCaps()): string {
  const missing = missingCaps(needs, caps);
  if (missing.length === 0) return otherwise;
  const unknown = caps === null ? " (could not read this process's capabilities)" : '';
  return `needs ${joinCaps(missing)}, which this process lacks${unknown}: run as root or grant ${missing.length === 1 ? 'it' : 'them'} (e.g. setcap, systemd AmbientCapabilities, a pod securityContext)`;
}

/** Whether the caller has at least one capability of every requirement. */
export function meetsAll(needs: readonly CapNeed[], caps: CapSet | null = effectiveCaps()): boolean {
  return caps !== null && missingCaps(needs, caps).length === 0;
}
