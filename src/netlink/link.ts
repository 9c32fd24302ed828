// Network interfaces over rtnetlink (RTM_*LINK with struct ifinfomsg):
// get one by index or name, dump all, set up/down, delete, and read the
// IFLA_XDP nest that reports attached XDP programs.

import { BpfError } from '../errors.js';
import { ENODEV } from '../sys/errno.js';
import { NetlinkError } from './error.js';
import { attrString, attrU32, getS32, getU16, getU32, messageAttrs, NlAttrs, putS32, putU32, type NlAttr, type NlMessage } from './message.js';
import type { NetlinkSocket } from './socket.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;

export const AF_UNSPEC = 0;
/** sizeof(struct ifinfomsg) */
export const IFINFOMSG_LEN = 16;

// enum IFLA_* (include/uapi/linux/if_link.h)
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_NUM_RX_QUEUES = 32;
export const IFLA_XDP = 43;

// IFLA_LINKINFO nest
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;

// IFLA_XDP nest
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_ATTACHED = 2;
export const IFLA_XDP_FLAGS = 3;
export const IFLA_XDP_PROG_ID = 4;
export const IFLA_XDP_DRV_PROG_ID = 5;
export const IFLA_XDP_SKB_PROG_ID = 6;
export const IFLA_XDP_HW_PROG_ID = 7;
export const IFLA_XDP_EXPECTED_FD = 8;

// IFLA_XDP_ATTACHED values
export const XDP_ATTACHED_NONE = 0;
export const XDP_ATTACHED_DRV = 1;
export const XDP_ATTACHED_SKB = 2;
export const XDP_ATTACHED_HW = 3;
export const XDP_ATTACHED_MULTI = 4;

/** Skip the (large) statistics blocks in replies: we never read them. */
const RTEXT_FILTER_SKIP_STATS = 1 << 3;

export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;

/** What IFLA_XDP reports. Program ids are 0 when that slot is empty. */
export interface LinkXdp {
  /** XDP_ATTACHED_* */
  attached: number;
  /** IFLA_XDP_PROG_ID: the one program when exactly one mode is in use. */
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface Link {
  ifindex: number;
  ifname: string;
  mtu: number;
  /** IFF_* flags */
  flags: number;
  up: boolean;
  /** ARPHRD_* */
  type: number;
  /** Link-layer address as aa:bb:cc:dd:ee:ff, when the device has one. */
  address?: string;
  /** IFLA_INFO_KIND: "veth", "bridge", …; absent for physical devices. */
  kind?: string;
  /** IFLA_NUM_RX_QUEUES: receive queues (an AF_XDP socket binds to one). */
  rxQueues?: number;
  xdp: LinkXdp;
}

/** Encode a struct ifinfomsg. */
export function ifinfomsg(ifindex = 0, flags = 0, change = 0, family = AF_UNSPEC): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(family, 0);
  putS32(b, 4, ifindex);
  putU32(b, 8, flags);
  putU32(b, 12, change);
  return b;
}

export function parseLinkXdp(attrs: NlAttrs | undefined): LinkXdp {
  return {
    attached: attrs?.u8(IFLA_XDP_ATTACHED) ?? XDP_ATTACHED_NONE,
    progId: attrs?.u32(IFLA_XDP_PROG_ID) ?? 0,
    drvProgId: attrs?.u32(IFLA_XDP_DRV_PROG_ID) ?? 0,
    skbProgId: attrs?.u32(IFLA_XDP_SKB_PROG_ID) ?? 0,
    hwProgId: attrs?.u32(IFLA_XDP_HW_PROG_ID) ?? 0,
  };
}

/** Decode an RTM_NEWLINK message (a GETLINK reply or dump entry). */
export function parseLink(msg: NlMessage): Link {
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) throw new BpfError('NETLINK', `netlink: short RTM_NEWLINK (${p.length} bytes)`);
  const attrs = messageAttrs(msg, IFINFOMSG_LEN);
  const ifindex = getS32(p, 4);
  const flags = getU32(p, 8);
  const link: Link = {
    ifindex,
    ifname: attrs.string(IFLA_IFNAME) ?? '',
    mtu: attrs.u32(IFLA_MTU) ?? 0,
    flags,
    up: (flags & IFF_UP) !== 0,
    type: getU16(p, 2),
    xdp: parseLinkXdp(attrs.nested(IFLA_XDP)),
  };
  const addr = attrs.get(IFLA_ADDRESS);
  if (addr && addr.length > 0) link.address = formatMac(addr);
  const kind = attrs.nested(IFLA_LINKINFO)?.string(IFLA_INFO_KIND);
  if (kind) link.kind = kind;
  const rxQueues = attrs.u32(IFLA_NUM_RX_QUEUES);
  if (rxQueues !== undefined) link.rxQueues = rxQueues;
  return link;
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) {
    throw new BpfError('USAGE', `not a MAC address: "${s}"`);
  }
  return Buffer.from(parts.map((x) => parseInt(x, 16)));
}

export type LinkRef = { ifindex: number } | { ifname: string };

const refText = (ref: LinkRef): string => ('ifname' in ref ? `"${ref.ifname}"` : `ifindex ${ref.ifindex}`);

/**
 * RTM_GETLINK for one interface, in the socket's namespace. Throws BpfError
 * 'NO_SUCH_INTERFACE' when it does not exist.
 */
export function getLink(sock: NetlinkSocket, ref: LinkRef): Link {
  const byName = 'ifname' in ref;
  const attrs: NlAttr[] = [attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)];
  if (byName) attrs.push(attrString(IFLA_IFNAME, ref.ifname));
  try {
    const reply = sock.get(
      { type: RTM_GETLINK, flags: 0, header: ifinfomsg(byName ? 0 : ref.ifindex), attrs },
      { op: `get interface ${refText(ref)}`, kind: 'link', ...(byName ? { ifname: ref.ifname } : {}) },
    );
    return parseLink(reply);
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENODEV) {
      throw new BpfError('NO_SUCH_INTERFACE', `no such interface ${refText(ref)}`, { cause: e });
    }
    throw e;
  }
}

/** RTM_GETLINK dump: every interface in the socket's namespace. */
export function dumpLinks(sock: NetlinkSocket): Link[] {
  return sock
    .dump({ type: RTM_GETLINK, flags: 0, header: ifinfomsg(), attrs: [attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)] }, { op: 'list interfaces', kind: 'link' })
    .filter((m) => m.type === RTM_NEWLINK)
    .map(parseLink);
}

/** Bring an interface up (or down): IFF_UP in ifi_flags, masked by ifi_change. */
export function setLinkUp(sock: NetlinkSocket, ifindex: number, up = true): void {
  sock.ack({ type: RTM_NEWLINK, flags: 0, header: ifinfomsg(ifindex, up ? IFF_UP : 0, IFF_UP) }, { op: `set ifindex ${ifindex} ${up ? 'up' : 'down'}`, kind: 'link' });
}

/** RTM_DELLINK. Deleting one end of a veth pair deletes both. */
export function deleteLink(sock: NetlinkSocket, ifindex: number): void {
  sock.ack({ type: RTM_DELLINK, flags: 0, header: ifinfomsg(ifindex) }, { op: `delete ifindex ${ifindex}`, kind: 'link' });
}

/** Set an interface's MTU (IFLA_MTU). */
export function setLinkMtu(sock: NetlinkSocket, ifindex: number, mtu: number): void {
  sock.ack({ type: RTM_NEWLINK, flags: 0, header: ifinfomsg(ifindex), attrs: [attrU32(IFLA_MTU, mtu)] }, { op: `set MTU of ifindex ${ifindex} to ${mtu}`, kind: 'link' });
}
