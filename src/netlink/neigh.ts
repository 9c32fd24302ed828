// Neighbour (ARP) table entries with RTM_NEWNEIGH (struct ndmsg + NDA_DST +
// NDA_LLADDR). A NUD_PERMANENT entry means the kernel never sends an ARP
// request for that address, so a test link carries only the packets we send.

import { parseIPv4, AF_INET } from './addr.js';
import { parseMac } from './link.js';
import { attrBytes, NLM_F_CREATE, NLM_F_REPLACE, putS32, putU16 } from './message.js';
import type { NetlinkSocket } from './socket.js';

export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;

export const NUD_PERMANENT = 0x80;

/** struct ndmsg */
function ndmsg(family: number, ifindex: number, state: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  putS32(b, 4, ifindex);
  putU16(b, 8, state);
  return b;
}

/** Add (or overwrite) a permanent IPv4 neighbour entry: `address` is at `mac` on `ifindex`. */
export function addPermanentNeighbourV4(sock: NetlinkSocket, ifindex: number, address: string, mac: string): void {
  sock.ack(
    {
      type: RTM_NEWNEIGH,
      flags: NLM_F_CREATE | NLM_F_REPLACE,
      header: ndmsg(AF_INET, ifindex, NUD_PERMANENT),
      attrs: [attrBytes(NDA_DST, parseIPv4(address)), attrBytes(NDA_LLADDR, parseMac(mac))],
    },
    { op: `add neighbour ${address} lladdr ${mac} on ifindex ${ifindex}`, kind: 'link' },
  );
}
