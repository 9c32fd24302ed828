// The XDP state of one interface as rtnetlink reports it (the IFLA_XDP nest
// of RTM_GETLINK): which modes hold which program id.

import { getLink, type Link, type LinkXdp } from '../netlink/link.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import { xdpAttachedState, type XdpAttachedState, type XdpAttachMode } from './xdp-flags.js';

export interface XdpState extends LinkXdp {
  ifindex: number;
  ifname: string;
  state: XdpAttachedState;
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
