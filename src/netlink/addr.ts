// IPv4 interface addresses with RTM_NEWADDR (struct ifaddrmsg + IFA_LOCAL /
// IFA_ADDRESS). IFA_LOCAL is the address itself; on a non-point-to-point
// link IFA_ADDRESS is the same value.

import { BpfError } from '../errors.js';
import { attrBytes, NLM_F_CREATE, NLM_F_REPLACE, putU32 } from './message.js';
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
