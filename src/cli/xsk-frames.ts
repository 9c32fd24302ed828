// AF_XDP frames for `bpf-ts run --xdp`: when the object has an XSKMAP, its
// program redirects frames to sockets that must exist, or they take the
// redirect's fallback (often a drop). One socket per receive queue of the
// interface, registered in every XSKMAP of the object at its queue's index,
// and each frame printed as it arrives, like ring buffer events.

import type { BpfCollection } from '../collection.js';
import { withNetns } from '../netns.js';
import { getLink } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { EINVAL } from '../sys/errno.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import { XdpSocket, XdpSocketError } from '../xsk/socket.js';
import type { CommandContext } from './command.js';
import { hexDump, printEach } from './events.js';

// Printing frames needs no deep rings, and a NIC may have dozens of queues:
// 1 MiB of locked UMEM per socket (128 receive frames), not the library's 4 MiB.
const FRAMES = 256;
const RING_SIZE = 128;

/** Names of the object's XSKMAPs. */
export function xskMapNames(coll: BpfCollection): string[] {
  return [...coll.maps].filter(([, m]) => m.type === BPF_MAP_TYPE.XSKMAP).map(([n]) => n);
}

export interface XskStream {
  queues: number[];
  maps: string[];
  stop(): void;
}

/**
 * Open and register the sockets (before the program is attached, so no frame
 * meets an empty slot), print frames as they arrive; stop() closes them (the
 * kernel empties the XSKMAP slots). Null when the object has no XSKMAP.
 */
export function streamXskFrames(coll: BpfCollection, ctx: CommandContext, where: { ifname: string; netns?: string }): XskStream | null {
  const maps = xskMapNames(coll);
  if (maps.length === 0) return null;
  const link = withNetns(where.netns, () => {
    using nl = NetlinkSocket.open();
    return getLink(nl, { ifname: where.ifname });
  });
  // An XSKMAP holds as many queues as its max_entries.
  const slots = Math.min(...maps.map((n) => coll.map(n).maxEntries));
  const count = Math.min(link.rxQueues ?? 1, slots);
  const sockets: XdpSocket[] = [];
  const stop = () => {
    for (const s of sockets) s.close();
  };
  try {
    for (let queue = 0; queue < count; queue++) {
      let xsk: XdpSocket;
      try {
        xsk = XdpSocket.open({ iface: where.ifname, queue, frames: FRAMES, ringSize: RING_SIZE, ...(where.netns ? { netns: where.netns } : {}) });
      } catch (e) {
        // Netlink counts the queues allocated; bind accepts only those in use
        // (veth allocates one per CPU and uses one). They are numbered from 0.
        if (queue > 0 && e instanceof XdpSocketError && e.errno === EINVAL) break;
        throw e;
      }
      sockets.push(xsk);
      for (const m of maps) xsk.register(coll.map(m), queue);
    }
  } catch (e) {
    stop();
    throw e;
  }
  for (const xsk of sockets) printEach(xsk, (frame) => formatFrame(where.ifname, xsk.queue, frame, ctx), ctx, `AF_XDP frames from ${where.ifname} queue ${xsk.queue}`);
  return { queues: sockets.map((s) => s.queue), maps, stop };
}

export function formatFrame(ifname: string, queue: number, frame: Uint8Array, ctx: CommandContext): string {
  if (ctx.json) return JSON.stringify({ xsk: { interface: ifname, queue }, data: Buffer.from(frame).toString('hex') });
  return `[AF_XDP ${ifname} queue ${queue}] ${frame.length} bytes\n${hexDump(frame)}`;
}
