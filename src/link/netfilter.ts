// Netfilter hooks in BPF (BPF_PROG_TYPE_NETFILTER, Linux 6.4+): a program
// hooked into one family and hook of a network namespace's netfilter with a
// bpf_link, beside iptables/nftables and ordered by priority like them. It
// returns the verdict (NF_DROP 0, NF_ACCEPT 1). The link lives in the
// namespace it was made in; closing it unhooks the program.

import { BpfError } from '../errors.js';
import { withNetns } from '../netns.js';
import { EINVAL, ENOENT, EOPNOTSUPP, ERANGE } from '../sys/errno.js';
import { Fd } from '../sys/fd.js';
import { linkCreate } from '../sys/link-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { BpfLink, progFdOf, type ProgramRef } from './link.js';

/** Protocol families (NFPROTO_*) a BPF netfilter link takes. */
export const NFPROTO = { ipv4: 2, ipv6: 10 } as const;
/** The IP hooks (enum nf_inet_hooks). */
export const NF_INET_HOOK = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;
/** Defragment before the program runs (BPF_F_NETFILTER_IP_DEFRAG, 6.6+): the priority must then come after defrag's (-400). */
const BPF_F_NETFILTER_IP_DEFRAG = 1;
const NF_IP_PRI_FIRST = -(2 ** 31);
const NF_IP_PRI_LAST = 2 ** 31 - 1;

export type NetfilterFamily = keyof typeof NFPROTO;
export type NetfilterHook = keyof typeof NF_INET_HOOK;

export interface NetfilterOptions {
  family: NetfilterFamily;
  hook: NetfilterHook;
  /** Order among the hook's functions (iptables' filter table is 0, conntrack -200); the two extremes are reserved. */
  priority: number;
  /** Hand the program reassembled packets (BPF_F_NETFILTER_IP_DEFRAG). */
  defrag?: boolean;
  /** The network namespace to hook into (name under /var/run/netns, or a path); default: the caller's. */
  netns?: string;
}

/** Hook `program` (a netfilter program) into netfilter; close the link to unhook it. */
export function attachNetfilter(program: ProgramRef, opts: NetfilterOptions): BpfLink {
  const what = `netfilter ${opts.family} ${opts.hook} priority ${opts.priority}${opts.netns ? ` (netns ${opts.netns})` : ''}`;
  if (!(opts.family in NFPROTO)) throw new BpfError('INVALID_ARGUMENT', `${what}: the family must be ${Object.keys(NFPROTO).join(' or ')}`);
  if (!(opts.hook in NF_INET_HOOK)) throw new BpfError('INVALID_ARGUMENT', `${what}: the hook must be one of ${Object.keys(NF_INET_HOOK).join(', ')}`);
  if (!Number.isInteger(opts.priority) || opts.priority <= NF_IP_PRI_FIRST || opts.priority >= NF_IP_PRI_LAST) {
    throw new BpfError('INVALID_ARGUMENT', `${what}: the priority must be an integer between ${NF_IP_PRI_FIRST} and ${NF_IP_PRI_LAST}, both excluded (netfilter keeps them)`);
  }
  return withNetns(opts.netns, () => {
    let raw: number;
    try {
      raw = linkCreate(
        {
          progFd: progFdOf(program),
          target: 0,
          attachType: BPF_ATTACH_TYPE.NETFILTER,
          netfilter: { pf: NFPROTO[opts.family], hooknum: NF_INET_HOOK[opts.hook], priority: opts.priority, flags: opts.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0 },
        },
        what,
      );
    } catch (e) {
      throw explain(e, what, opts);
    }
    return new BpfLink(new Fd(raw, what));
  });
}

/** The kernel's errno, in words where it means one thing here. */
function explain(e: unknown, what: string, opts: NetfilterOptions): unknown {
  if (!(e instanceof BpfSyscallError)) return e;
  if (e.errno === ERANGE && opts.defrag) return new BpfError('INVALID_ARGUMENT', `${what}: with defrag the priority must come after IP defragmentation's (greater than -400)`, { cause: e });
  if (e.errno === EOPNOTSUPP || e.errno === ENOENT)
    return new BpfError(
      'KERNEL_UNSUPPORTED',
      `${what}: this kernel has no ${opts.defrag ? 'IP defragmentation for BPF netfilter links (6.6+, nf_defrag modules)' : 'BPF netfilter links (Linux 6.4+ with CONFIG_NETFILTER_BPF_LINK)'}`,
      { cause: e },
    );
  if (e.errno === EINVAL) return new BpfError('SYSCALL', `${e.message} (the program must be a netfilter program, from a "netfilter" section)`, { cause: e });
  return e;
}
