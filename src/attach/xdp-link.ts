// XDP through a bpf_link (BPF_LINK_CREATE, attach type BPF_XDP): the
// attachment is owned by a file descriptor instead of being a property of
// the device. Closing the last fd (or a garbage-collected XdpLink) detaches
// the program; pinning the link on bpffs keeps it attached after we exit.
// Netlink cannot replace or remove a link-owned program (EBUSY), which is
// why detachXdp finds the link here and BPF_LINK_DETACHes it instead.

import { BpfError } from '../errors.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns.js';
import { EBUSY, EEXIST } from '../sys/errno.js';
import { Fd } from '../sys/fd.js';
import { ids, withIdFd } from '../sys/ids.js';
import { linkInfo, progInfo } from '../sys/info.js';
import { BPF_LINK_TYPE } from '../sys/link-type.js';
import { pinFd } from '../sys/bpffs.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { resolveInterface, type InterfaceRef } from './iface.js';
import { linkCreate, linkDetach } from './link-attr.js';
import { xdpModeFlag, type XdpAttachMode, type XdpMode } from './xdp-flags.js';
import { readXdpState, slotOf } from './xdp-state.js';

/** An XDP bpf_link as the kernel's link table describes it. */
export interface XdpLinkInfo {
  linkId: number;
  progId: number;
  /** 0 once the link is detached (its device went away or BPF_LINK_DETACH). */
  ifindex: number;
}

/**
 * Every XDP link in the system (ids are global), by walking
 * BPF_LINK_GET_NEXT_ID and reading each link's info. ifindex is relative to
 * the namespace the device lives in, so callers match on ifindex and
 * program id together.
 */
export function listXdpLinks(): XdpLinkInfo[] {
  const out: XdpLinkInfo[] = [];
  for (const id of ids('link')) {
    const info = withIdFd('link', id, (fd) => linkInfo(fd, `link ${id}`));
    if (info && info.type === BPF_LINK_TYPE.XDP && info.details.kind === 'xdp') {
      out.push({ linkId: info.id, progId: info.progId, ifindex: info.details.ifindex });
    }
  }
  return out;
}

/**
 * XDP links holding program `progId` on ifindex `ifindex`. Usually one or
 * none; several when the same program is linked to devices with the same
 * index in different namespaces, which link info cannot tell apart.
 */
export function xdpLinkCandidates(ifindex: number, progId: number, links: XdpLinkInfo[] = listXdpLinks()): XdpLinkInfo[] {
  return links.filter((l) => l.ifindex === ifindex && l.progId === progId);
}

/** BPF_LINK_DETACH the link with `linkId`; false when it vanished meanwhile. */
export function detachXdpLinkById(linkId: number): boolean {
  return withIdFd('link', linkId, (fd) => linkDetach(fd, `XDP link ${linkId}`)) !== null;
}

export interface AttachXdpLinkOptions {
  ifindex?: number;
  ifname?: string;
  /** Same as ifindex/ifname, in any spelling. */
  iface?: InterfaceRef;
  progFd: number;
  /** Default 'auto'. */
  mode?: XdpMode;
  /** Network namespace (name under /var/run/netns, or a path) the interface lives in. */
  netns?: string;
}

/** An owned XDP link. Keep it referenced, or pin it: dropping it detaches the program. */
export class XdpLink implements Disposable {
  readonly fd: Fd;
  readonly linkId: number;
  readonly progId: number;
  readonly ifindex: number;
  readonly ifname: string;
  /** The mode the kernel attached in. */
  readonly mode: XdpAttachMode;
  readonly netns: string | undefined;

  constructor(fd: Fd, info: { linkId: number; progId: number; ifindex: number; ifname: string; mode: XdpAttachMode; netns?: string }) {
    this.fd = fd;
    this.linkId = info.linkId;
    this.progId = info.progId;
    this.ifindex = info.ifindex;
    this.ifname = info.ifname;
    this.mode = info.mode;
    this.netns = info.netns;
  }

  /**
   * Pin the link at `path` on a bpf filesystem: it then stays attached after
   * this process exits, until the pin is removed (and no fd is open) or
   * detachXdp is called.
   */
  pin(path: string): void {
    // Checked like every pin: bpffs, no symlinks, no other user's directory; 0600, never replaced.
    pinFd(this.fd.value, path, { label: `XDP link ${this.linkId}` });
  }

  /** Detach now (BPF_LINK_DETACH), even if the link is pinned elsewhere; the fd stays open until close(). */
  detach(): void {
    linkDetach(this.fd.value, `XDP link ${this.linkId}`);
  }

  /** Close our fd. Without a pin or another holder, the program is detached. */
  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Attach `progFd` to an interface's XDP hook through BPF_LINK_CREATE. */
export function attachXdpLink(opts: AttachXdpLinkOptions): XdpLink {
  const mode = opts.mode ?? 'auto';
  const ref = opts.iface ?? (opts.ifindex !== undefined ? opts.ifindex : opts.ifname);
  if (ref === undefined) throw new BpfError('USAGE', 'attachXdpLink: give ifindex or ifname');
  return withNetns(opts.netns, () => {
    // LINK_CREATE resolves target_ifindex in the caller's namespace: stay inside for it.
    const { ifindex, ifname } = resolveInterface(ref, opts.netns);
    let raw: number;
    try {
      raw = linkCreate(
        { progFd: opts.progFd, target: ifindex, attachType: BPF_ATTACH_TYPE.XDP, flags: xdpModeFlag(mode) },
        `XDP link on ${ifname}, ${mode} mode`,
      );
    } catch (e) {
      if (e instanceof BpfSyscallError && (e.errno === EBUSY || e.errno === EEXIST)) {
        throw new BpfError(
          'ALREADY_ATTACHED',
          `attach XDP link to ${ifname} (${mode} mode): ${e.errnoName}: an XDP program is already attached to ${ifname}; detach it first`,
          { cause: e },
        );
      }
      throw e;
    }
    const fd = new Fd(raw, `XDP link on ${ifname}`);
    try {
      const info = linkInfo(fd.value, `XDP link on ${ifname}`);
      const progId = progInfo(opts.progFd).id;
      using sock = NetlinkSocket.open();
      const state = readXdpState(sock, ifindex);
      const actual = slotOf(state, progId) ?? (mode === 'auto' ? 'native' : mode);
      return new XdpLink(fd, { linkId: info.id, progId, ifindex, ifname, mode: actual, ...(opts.netns ? { netns: opts.netns } : {}) });
    } catch (e) {
      fd.close();
      throw e;
    }
  });
}
