// Neighbour (ARP) table entries with RTM_NEWNEIGH (struct ndmsg + NDA_DST +
// NDA_LLADDR). A NUD_PERMANENT entry means the kernel never sends an ARP
// request for that address, so a test link carries only the packets we send.

import { formatIPv4, parseIPv4, AF_INET } from './addr.js';
import { formatMac, parseMac } from './link.js';
import { attrBytes, getS32, getU16, messageAttrs, NLM_F_CREATE, NLM_F_REPLACE, putS32, putU16 } from './message.js';
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

/** One IPv4 neighbour entry, as RTM_GETNEIGH reports it. */
export interface NeighbourV4 {
  ifindex: number;
  address: string;
  /** Absent while unresolved (NUD_INCOMPLETE, NUD_FAILED). */
  mac?: string;
  /** NUD_* bits (NUD_PERMANENT is 0x80). */
  state: number;
}

/** sizeof(struct ndmsg) */
const NDMSG_LEN = 12;

/** RTM_GETNEIGH dump of the IPv4 neighbour table in the socket's namespace (every interface, or one). */
export function dumpNeighboursV4(sock: NetlinkSocket, ifindex?: number): NeighbourV4[] {
  const out: NeighbourV4[] = [];
  for (const m of sock.dump({ type: RTM_GETNEIGH, flags: 0, header: ndmsg(AF_INET, 0, 0) }, { op: 'list IPv4 neighbours', kind: 'link' })) {
    if (m.type !== RTM_NEWNEIGH || m.payload.length < NDMSG_LEN || m.payload[0] !== AF_INET) continue;
    const index = getS32(m.payload, 4);
    if (ifindex !== undefined && index !== ifindex) continue;
    const attrs = messageAttrs(m, NDMSG_LEN);
    const dst = attrs.get(NDA_DST);
    if (!dst || dst.length < 4) continue;
    const n: NeighbourV4 = { ifindex: index, address: formatIPv4(dst), state: getU16(m.payload, 8) };
    const ll = attrs.get(NDA_LLADDR);
    if (ll && ll.length > 0) n.mac = formatMac(ll);
    out.push(n);
  }
  return out;
}
