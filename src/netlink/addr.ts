// IPv4 interface addresses with RTM_NEWADDR (struct ifaddrmsg + IFA_LOCAL /
// IFA_ADDRESS). IFA_LOCAL is the address itself; on a non-point-to-point
// link IFA_ADDRESS is the same value.

import { BpfError } from '../errors.js';
import { attrBytes, getS32, messageAttrs, NLM_F_CREATE, NLM_F_REPLACE, putU32 } from './message.js';
import type { NetlinkSocket } from './socket.js';

export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

export const AF_INET = 2;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_BROADCAST = 4;

/** Dotted quad to its 4 network-order bytes. */
export function parseIPv4(s: string): Buffer {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new BpfError('USAGE', `not an IPv4 address: "${s}"`);
  }
  return Buffer.from(parts.map(Number));
}

export function formatIPv4(b: Uint8Array): string {
  return Array.from(b.subarray(0, 4)).join('.');
}

/** struct ifaddrmsg */
function ifaddrmsg(family: number, prefixlen: number, ifindex: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixlen, 1);
  // ifa_flags 0, ifa_scope 0 (RT_SCOPE_UNIVERSE)
  putU32(b, 4, ifindex);
  return b;
}

/** Add `address/prefixlen` to an interface (replacing an identical one). */
export function addAddressV4(sock: NetlinkSocket, ifindex: number, address: string, prefixlen: number): void {
  const ip = parseIPv4(address);
  const mask = prefixlen === 0 ? 0 : (~0 << (32 - prefixlen)) >>> 0;
  const bcast = Buffer.alloc(4);
  bcast.writeUInt32BE(((ip.readUInt32BE(0) & mask) | (~mask >>> 0)) >>> 0);
  sock.ack(
    {
      type: RTM_NEWADDR,
      flags: NLM_F_CREATE | NLM_F_REPLACE,
      header: ifaddrmsg(AF_INET, prefixlen, ifindex),
      attrs: [attrBytes(IFA_LOCAL, ip), attrBytes(IFA_ADDRESS, ip), attrBytes(IFA_BROADCAST, bcast)],
    },
    { op: `add address ${address}/${prefixlen} to ifindex ${ifindex}`, kind: 'link' },
  );
}

/** One IPv4 address of an interface, as RTM_GETADDR reports it. */
export interface AddressV4 {
  ifindex: number;
  /** IFA_LOCAL (the address itself); IFA_ADDRESS when there is no IFA_LOCAL. */
  address: string;
  prefixlen: number;
  /** IFA_LABEL, e.g. "eth0" or "eth0:1". */
  label?: string;
}

const IFA_LABEL = 3;
/** sizeof(struct ifaddrmsg) */
const IFADDRMSG_LEN = 8;

/** RTM_GETADDR dump of the IPv4 addresses in the socket's namespace (every interface, or one). */
export function dumpAddressesV4(sock: NetlinkSocket, ifindex?: number): AddressV4[] {
  const out: AddressV4[] = [];
  for (const m of sock.dump({ type: RTM_GETADDR, flags: 0, header: ifaddrmsg(AF_INET, 0, 0) }, { op: 'list IPv4 addresses', kind: 'link' })) {
    if (m.type !== RTM_NEWADDR || m.payload.length < IFADDRMSG_LEN || m.payload[0] !== AF_INET) continue;
    const index = getS32(m.payload, 4);
    // Without strict checking the kernel dumps every interface: keep the one asked for.
    if (ifindex !== undefined && index !== ifindex) continue;
    const attrs = messageAttrs(m, IFADDRMSG_LEN);
    const ip = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    if (!ip || ip.length < 4) continue;
    const a: AddressV4 = { ifindex: index, address: formatIPv4(ip), prefixlen: m.payload[1]! };
    const label = attrs.string(IFA_LABEL);
    if (label) a.label = label;
    out.push(a);
  }
  return out;
}
