// XDP through a bpf_link (BPF_LINK_CREATE, attach type BPF_XDP): the
// attachment is owned by a file descriptor instead of being a property of
// the device. Closing the last fd (or a garbage-collected XdpLink) detaches
// the program; pinning the link on bpffs keeps it attached after we exit.
// Netlink cannot replace or remove a link-owned program (EBUSY), which is
// why detachXdp finds the link here and BPF_LINK_DETACHes it instead.

import { BpfError } from '../errors.js';
import { BpfLink, programOptionFd, type ProgramOption } from '../link/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns.js';
import { EBUSY, EEXIST } from '../sys/errno.js';
import { Fd } from '../sys/fd.js';
import { ids, withIdFd } from '../sys/ids.js';
import { linkInfo, progInfo } from '../sys/info.js';
import { BPF_LINK_TYPE } from '../sys/link-type.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { resolveInterface, type InterfaceRef } from './iface.js';
import { linkCreate, linkDetach } from '../sys/link-attr.js';
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

export type AttachXdpLinkOptions = ProgramOption & {
  /** The interface, by name or index. */
  iface: InterfaceRef;
  /** Default 'auto'. */
  mode?: XdpMode;
  /** Network namespace (name under /var/run/netns, or a path) the interface lives in. */
  netns?: string;
};

/** An owned XDP link. Keep it referenced, or pin it: dropping it detaches the program. */
export class XdpLink extends BpfLink {
  readonly ifindex: number;
  readonly ifname: string;
  /** The mode the kernel attached in. */
  readonly mode: XdpAttachMode;
  readonly netns: string | undefined;

  constructor(fd: Fd, info: { ifindex: number; ifname: string; mode: XdpAttachMode; netns?: string | undefined }) {
    super(fd);
    this.ifindex = info.ifindex;
    this.ifname = info.ifname;
    this.mode = info.mode;
    this.netns = info.netns;
  }
}

/** Attach a program to an interface's XDP hook through BPF_LINK_CREATE. */
export function attachXdpLink(opts: AttachXdpLinkOptions): XdpLink {
  const mode = opts.mode ?? 'auto';
  const progFd = programOptionFd(opts, 'attachXdpLink');
  if (opts.iface === undefined) throw new BpfError('USAGE', 'attachXdpLink: give iface (an interface name or index)');
  return withNetns(opts.netns, () => {
    // LINK_CREATE resolves target_ifindex in the caller's namespace: stay inside for it.
    const { ifindex, ifname } = resolveInterface(opts.iface, opts.netns);
    let raw: number;
    try {
      raw = linkCreate({ progFd, target: ifindex, attachType: BPF_ATTACH_TYPE.XDP, flags: xdpModeFlag(mode) }, `XDP link on ${ifname}, ${mode} mode`);
    } catch (e) {
      if (e instanceof BpfSyscallError && (e.errno === EBUSY || e.errno === EEXIST)) {
        throw new BpfError('ALREADY_ATTACHED', `attach XDP link to ${ifname} (${mode} mode): ${e.errnoName}: an XDP program is already attached to ${ifname}; detach it first`, { cause: e });
      }
      throw e;
    }
    const fd = new Fd(raw, `XDP link on ${ifname}`);
    try {
      const progId = progInfo(progFd).id;
      using sock = NetlinkSocket.open();
      const state = readXdpState(sock, ifindex);
      const actual = slotOf(state, progId) ?? (mode === 'auto' ? 'native' : mode);
      return new XdpLink(fd, { ifindex, ifname, mode: actual, netns: opts.netns });
    } catch (e) {
      fd.close();
      throw e;
    }
  });
}
