// Creating a veth pair with RTM_NEWLINK: IFLA_LINKINFO { kind "veth",
// IFLA_INFO_DATA { VETH_INFO_PEER: struct ifinfomsg + the peer's own IFLA_*
// attributes } }. IFLA_NET_NS_FD in the peer part creates the peer directly
// inside another network namespace, so it never appears in ours.

import { attrBytes, attrNest, attrString, attrU32, encodeAttrs, NLM_F_CREATE, NLM_F_EXCL, type NlAttr } from './message.js';
import { IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU, IFLA_NET_NS_FD, ifinfomsg, parseMac, RTM_NEWLINK } from './link.js';
import type { NetlinkSocket } from './socket.js';

/** enum { VETH_INFO_PEER = 1 } (include/uapi/linux/veth.h) */
export const VETH_INFO_PEER = 1;

export interface VethEnd {
  ifname: string;
  /** aa:bb:cc:dd:ee:ff; the kernel picks a random one when absent. */
  mac?: string;
  mtu?: number;
  /** An open network-namespace fd: create this end there instead of in the socket's namespace. */
  netnsFd?: number;
}

function endAttrs(end: VethEnd): NlAttr[] {
  const attrs: NlAttr[] = [attrString(IFLA_IFNAME, end.ifname)];
  if (end.mac) attrs.push(attrBytes(IFLA_ADDRESS, parseMac(end.mac)));
  if (end.mtu) attrs.push(attrU32(IFLA_MTU, end.mtu));
  if (end.netnsFd !== undefined) attrs.push(attrU32(IFLA_NET_NS_FD, end.netnsFd));
  return attrs;
}

/** Create a veth pair; fails (EEXIST) rather than reuse an existing name. */
export function createVeth(sock: NetlinkSocket, end: VethEnd, peer: VethEnd): void {
  // The peer's payload is not a plain nest: an ifinfomsg comes first.
  const peerPayload = Buffer.concat([ifinfomsg(), encodeAttrs(endAttrs(peer))]);
  const attrs: NlAttr[] = [...endAttrs(end), attrNest(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, 'veth'), attrNest(IFLA_INFO_DATA, [attrBytes(VETH_INFO_PEER, peerPayload)])])];
  sock.ack({ type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, header: ifinfomsg(), attrs }, { op: `create veth pair ${end.ifname} <-> ${peer.ifname}`, kind: 'link' });
}
