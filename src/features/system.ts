// The host's BPF settings: the sysctls that decide who may use bpf() and
// how the JIT behaves, and the kernel config options BPF features depend on
// (the ones `bpftool feature probe` reports, and those this project's docs
// name when a feature is missing: kprobes, fprobe, trampolines, BPF LSM).

import { BpfError } from '../errors.js';
import { kernelConfig } from '../sys/kernel-config.js';

const { readFileSync } = process.getBuiltinModule('node:fs');

export interface BpfSysctls {
  /** kernel.unprivileged_bpf_disabled: 0 anyone may, 1 privileged only (until reboot), 2 privileged only (an admin may set 0). */
  unprivilegedBpfDisabled: number | null;
  /** net.core.bpf_jit_enable: 0 off, 1 on, 2 on and dumping JIT images to the kernel log. */
  jitEnable: number | null;
  /** net.core.bpf_jit_harden: 0 off, 1 for unprivileged programs, 2 for all. */
  jitHarden: number | null;
  /** net.core.bpf_jit_kallsyms: JITed programs in /proc/kallsyms (0 off, 1 for root). */
  jitKallsyms: number | null;
  /** net.core.bpf_jit_limit: bytes of JIT memory unprivileged programs may take. */
  jitLimit: number | null;
}

const SYSCTLS: Record<keyof BpfSysctls, string> = {
  unprivilegedBpfDisabled: 'kernel/unprivileged_bpf_disabled',
  jitEnable: 'net/core/bpf_jit_enable',
  jitHarden: 'net/core/bpf_jit_harden',
  jitKallsyms: 'net/core/bpf_jit_kallsyms',
  jitLimit: 'net/core/bpf_jit_limit',
};

/** The sysctls; null for one that cannot be read (not there, or not readable by this user). */
export function bpfSysctls(): BpfSysctls {
  const out = {} as BpfSysctls;
  for (const [k, path] of Object.entries(SYSCTLS) as [keyof BpfSysctls, string][]) {
    try {
      out[k] = Number(readFileSync(`/proc/sys/${path}`, 'utf8').trim());
    } catch {
      out[k] = null;
    }
  }
  return out;
}

/** Config options BPF features depend on. */
export const BPF_CONFIG_OPTIONS = [
  'CONFIG_BPF',
  'CONFIG_BPF_SYSCALL',
  'CONFIG_HAVE_EBPF_JIT',
  'CONFIG_BPF_JIT',
  'CONFIG_BPF_JIT_ALWAYS_ON',
  'CONFIG_DEBUG_INFO_BTF',
  'CONFIG_DEBUG_INFO_BTF_MODULES',
  'CONFIG_CGROUPS',
  'CONFIG_CGROUP_BPF',
  'CONFIG_CGROUP_NET_CLASSID',
  'CONFIG_SOCK_CGROUP_DATA',
  'CONFIG_BPF_EVENTS',
  'CONFIG_KPROBES',
  'CONFIG_KPROBE_EVENTS',
  'CONFIG_UPROBE_EVENTS',
  'CONFIG_FPROBE',
  'CONFIG_TRACING',
  'CONFIG_FTRACE_SYSCALLS',
  'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS',
  'CONFIG_FUNCTION_ERROR_INJECTION',
  'CONFIG_BPF_KPROBE_OVERRIDE',
  'CONFIG_BPF_LSM',
  'CONFIG_NET',
  'CONFIG_XDP_SOCKETS',
  'CONFIG_LWTUNNEL_BPF',
  'CONFIG_NET_ACT_BPF',
  'CONFIG_NET_CLS_BPF',
  'CONFIG_NET_CLS_ACT',
  'CONFIG_NET_SCH_INGRESS',
  'CONFIG_XFRM',
  'CONFIG_IP_ROUTE_CLASSID',
  'CONFIG_IPV6_SEG6_BPF',
  'CONFIG_BPF_LIRC_MODE2',
  'CONFIG_BPF_STREAM_PARSER',
  'CONFIG_NETFILTER_XT_MATCH_BPF',
  'CONFIG_NETFILTER_BPF_LINK',
  'CONFIG_BPFILTER',
  'CONFIG_TEST_BPF',
  'CONFIG_HZ',
] as const;

/**
 * Those options as the running kernel's config has them ("y", "m", a
 * number; null when not set), and the file read; `path` is null (and every
 * value unknown) when the config cannot be found.
 */
export function bpfKernelConfig(): { path: string | null; options: Record<string, string | null> } {
  let cfg: { path: string; values: Map<string, string> };
  try {
    cfg = kernelConfig();
  } catch (e) {
    if (e instanceof BpfError && e.code === 'KCONFIG_UNAVAILABLE') return { path: null, options: {} };
    throw e;
  }
  return { path: cfg.path, options: Object.fromEntries(BPF_CONFIG_OPTIONS.map((o) => [o, cfg.values.get(o) ?? null])) };
}
