// The XDP state of one interface as rtnetlink reports it (the IFLA_XDP nest
// of RTM_GETLINK): which modes hold which program id.

import { NetlinkError } from '../netlink/error.js';
import { getLink, ifinfomsg, IFLA_XDP, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD, IFLA_XDP_FLAGS, RTM_SETLINK, type Link, type LinkXdp } from '../netlink/link.js';
import { attrNest, attrS32, attrU32, type NlAttr } from '../netlink/message.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import { EACCES, EBUSY, EEXIST, EPERM } from '../sys/errno.js';
import { XDP_FLAGS_REPLACE, xdpAttachedState, xdpModeFlag, type XdpAttachedState, type XdpAttachMode } from './xdp-flags.js';

export interface XdpState extends LinkXdp {
  ifindex: number;
  ifname: string;
  state: XdpAttachedState;
}

/** The IFLA_XDP nest of an RTM_SETLINK: program fd (-1 detaches), flags, and the expected current program's fd. */
export function xdpSetAttrs(fd: number, flags: number, expectedFd?: number): NlAttr[] {
  const inner: NlAttr[] = [attrS32(IFLA_XDP_FD, fd)];
  if (flags) inner.push(attrU32(IFLA_XDP_FLAGS, flags));
  if (expectedFd !== undefined) inner.push(attrS32(IFLA_XDP_EXPECTED_FD, expectedFd));
  return [attrNest(IFLA_XDP, inner)];
}

/**
 * Whether the program in `mode`'s slot of this device is owned by a bpf_link,
 * asked of the kernel without changing anything: a "detach, but only if
 * nothing is attached" request (IFLA_XDP_FD -1, XDP_FLAGS_REPLACE, expected
 * fd -1). dev_xdp_attach() checks for a link first (EBUSY), then refuses the
 * replace because a program is there (EEXIST). Link info alone cannot say
 * this: it carries an ifindex but no namespace.
 */
export function slotOwnedByLink(sock: NetlinkSocket, ifindex: number, mode: XdpAttachMode): boolean | undefined {
  try {
    sock.ack(
      { type: RTM_SETLINK, flags: 0, header: ifinfomsg(ifindex), attrs: xdpSetAttrs(-1, xdpModeFlag(mode) | XDP_FLAGS_REPLACE, -1) },
      { op: `probe XDP ${mode} slot of ifindex ${ifindex}`, kind: 'xdp' },
    );
    return false; // empty slot: nothing to own
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === EBUSY) return true;
    if (e instanceof NetlinkError && e.errno === EEXIST) return false;
    // Without CAP_NET_ADMIN the question cannot be asked this way.
    if (e instanceof NetlinkError && (e.errno === EPERM || e.errno === EACCES)) return undefined;
    throw e;
  }
}

export function xdpStateOf(link: Link): XdpState {
  return { ...link.xdp, ifindex: link.ifindex, ifname: link.ifname, state: xdpAttachedState(link.xdp.attached) };
}

/** RTM_GETLINK for `ifindex` in the socket's namespace, reduced to its XDP part. */
export function readXdpState(sock: NetlinkSocket, ifindex: number): XdpState {
  return xdpStateOf(getLink(sock, { ifindex }));
}

/** The program id in each occupied mode slot. */
export function occupiedSlots(s: LinkXdp): { mode: XdpAttachMode; progId: number }[] {
  const out: { mode: XdpAttachMode; progId: number }[] = [];
  if (s.drvProgId) out.push({ mode: 'native', progId: s.drvProgId });
  if (s.skbProgId) out.push({ mode: 'skb', progId: s.skbProgId });
  if (s.hwProgId) out.push({ mode: 'hw', progId: s.hwProgId });
  return out;
}

/** The program id in one mode's slot (0 when empty). */
export function slotProgId(s: LinkXdp, mode: XdpAttachMode): number {
  return mode === 'native' ? s.drvProgId : mode === 'skb' ? s.skbProgId : s.hwProgId;
}

/** Which mode slot holds `progId`, if any. */
export function slotOf(s: LinkXdp, progId: number): XdpAttachMode | undefined {
  return occupiedSlots(s).find((x) => x.progId === progId)?.mode;
}
