// The attachment of `bpf-ts run`: a foreground command, so the program must
// not outlive the process however it ends. An unpinned bpf_link gives that
// for free — the kernel detaches when the last fd closes, also on SIGKILL,
// the OOM killer or a crash in native code. Netlink (what `ip link set …
// xdp` does) is used only where the kernel has no XDP links, or when asked
// for with --netlink; then only our own cleanup can detach it.

import { attachXdp, attachXdpLink, detachXdp, queryXdp } from '../attach/xdp.js';
import type { XdpAttachMode, XdpMode } from '../attach/xdp-flags.js';
import { EINVAL, EOPNOTSUPP, ENOSYS, ENOTSUPP } from '../sys/errno.js';
import { linkInfo } from '../sys/info.js';
import { BpfSyscallError } from '../sys/syscall-error.js';

export interface ForegroundXdp {
  ifname: string;
  ifindex: number;
  mode: XdpAttachMode;
  progId: number;
  via: 'link' | 'netlink';
  linkId?: number;
  /** Detach our program if it is still attached; false when it was already gone. */
  detach(): boolean;
}

/**
 * BPF_LINK_CREATE failing like this means "no XDP links in this kernel"
 * (before 5.9 the attach type is unknown: EINVAL; some builds say
 * EOPNOTSUPP/ENOTSUPP). A real problem with the request fails the same way
 * over netlink, which then reports it with the kernel's extended ack.
 */
export function linksUnavailable(e: unknown): e is BpfSyscallError {
  return e instanceof BpfSyscallError && [EINVAL, EOPNOTSUPP, ENOTSUPP, ENOSYS].includes(e.errno);
}

export interface ForegroundXdpOptions {
  iface: string;
  progFd: number;
  mode: XdpMode;
  netns?: string;
  /** Attach through netlink even where links exist. */
  netlink?: boolean;
  /** One line for stderr when links were wanted but unavailable. */
  warn(line: string): void;
}

function viaNetlink(opts: ForegroundXdpOptions): ForegroundXdp {
  const att = attachXdp({ iface: opts.iface, progFd: opts.progFd, mode: opts.mode, netns: opts.netns });
  return {
    ...att,
    via: 'netlink',
    detach() {
      // Only what we attached: another tool may have replaced it meanwhile.
      const ours = queryXdp(att.ifindex, { netns: opts.netns }).programs.find((p) => p.progId === att.progId && !p.viaLink);
      if (ours) detachXdp(att.ifindex, { mode: ours.mode, netns: opts.netns });
      return Boolean(ours);
    },
  };
}

export function attachForeground(opts: ForegroundXdpOptions): ForegroundXdp {
  if (opts.netlink) return viaNetlink(opts);
  let link;
  try {
    link = attachXdpLink({ iface: opts.iface, progFd: opts.progFd, mode: opts.mode, netns: opts.netns });
  } catch (e) {
    if (!linksUnavailable(e)) throw e;
    const att = viaNetlink(opts);
    opts.warn(
      `bpf-ts: this kernel has no XDP bpf_link (${e.command}: ${e.errnoName}); attached through netlink instead: ` +
        `every exit path but SIGKILL detaches it (after a SIGKILL: bpf-ts detach --xdp ${att.ifname}${opts.netns ? ` --netns ${opts.netns}` : ''})`,
    );
    return att;
  }
  const l = link;
  return {
    ifname: l.ifname,
    ifindex: l.ifindex,
    mode: l.mode,
    progId: l.progId,
    via: 'link',
    linkId: l.id,
    detach() {
      if (l.fd.closed) return false;
      try {
        // ifindex 0: already cut from its device (the device went away, or someone
        // BPF_LINK_DETACHed it). Else detach now, so the hook is empty when we say so.
        const info = linkInfo(l.fd.value, `XDP link ${l.id}`);
        if (info.details.kind !== 'xdp' || info.details.ifindex === 0) return false;
        l.detach();
        return true;
      } finally {
        // Closing our only fd would detach it as well.
        l.close();
      }
    },
  };
}
