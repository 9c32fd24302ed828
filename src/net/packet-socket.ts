// A packet socket (AF_PACKET, SOCK_RAW) on one interface: every frame the
// interface receives and sends, from the Ethernet header on, as tcpdump and
// samples/bpf's sockex programs see them. What a socket filter is for: its
// verdict decides which frames the socket queues (and how much of each),
// and it can count in maps what it sees.
//
// The socket is made with protocol 0, so it receives nothing until it is
// bound; the filter goes on first, then the bind to the interface: no frame
// reaches it unfiltered.

import { BpfError } from '../errors.js';
import { withNetns } from '../netns.js';
import type { BpfProgram } from '../programs/program.js';
import { attachSocketFilter } from '../attach/socket.js';
import { capsHint, NEED_NET_RAW } from '../sys/caps.js';
import { EAGAIN, EINTR, EPERM, errnoName } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { Fd } from '../sys/fd.js';
import { type EventStream, pollStream } from '../events/stream.js';

const AF_PACKET = 17;
const ETH_P_ALL = 0x0003;
const SOL_PACKET = 263;
const PACKET_IGNORE_OUTGOING = 23;
const SOCKADDR_LL_SIZE = 20;
// Room for the largest frame a 64 KiB-MTU interface (loopback, veth with GRO) hands up.
const MAX_FRAME = 65_536 + 64;

export interface PacketSocketOptions {
  /** Namespace the interface is in (name under /var/run/netns, or a path). */
  netns?: string;
  /** The socket filter to attach before any frame arrives. */
  filter?: BpfProgram | number;
  /** Leave out the frames the interface sends (PACKET_IGNORE_OUTGOING, Linux 4.20+). */
  ignoreOutgoing?: boolean;
}

export class PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  readonly #fd: Fd;
  readonly #buf = Buffer.allocUnsafe(MAX_FRAME);
  #stream: EventStream<Buffer> | null = null;
  #poll: { close(): void } | null = null;

  private constructor(fd: Fd, ifname: string, ifindex: number) {
    this.#fd = fd;
    this.ifname = ifname;
    this.ifindex = ifindex;
  }

  /** Open a packet socket on `iface` (in `netns`), with `filter` attached before it is bound. Needs CAP_NET_RAW. */
  static open(iface: string, opts: PacketSocketOptions = {}): PacketSocket {
    const label = `packet socket on ${iface}${opts.netns ? ` (netns ${opts.netns})` : ''}`;
    return withNetns(opts.netns, () => {
      const ifindex = ffi.ifNameToIndex(iface);
      if (!ifindex) throw new BpfError('NO_SUCH_INTERFACE', `${label}: no interface "${iface}"${opts.netns ? ` in netns ${opts.netns}` : ''} (see \`ip link\`)`);
      const raw = ffi.socket(AF_PACKET, ffi.SOCK_RAW | ffi.SOCK_CLOEXEC, 0);
      if (raw < 0) throw new BpfError('SYSCALL', `${label}: socket(AF_PACKET) failed (${errnoName(-raw)})${-raw === EPERM ? `: ${capsHint([NEED_NET_RAW], 'refused by a security module')}` : ''}`);
      const fd = new Fd(raw, label);
      try {
        if (opts.filter !== undefined) attachSocketFilter(fd, opts.filter);
        if (opts.ignoreOutgoing) {
          const one = Buffer.alloc(4);
          one.writeInt32LE(1, 0);
          const r = ffi.setsockopt(raw, SOL_PACKET, PACKET_IGNORE_OUTGOING, one);
          if (r < 0) throw new BpfError('SYSCALL', `${label}: PACKET_IGNORE_OUTGOING failed (${errnoName(-r)})`);
        }
        const addr = Buffer.alloc(SOCKADDR_LL_SIZE);
        addr.writeUInt16LE(AF_PACKET, 0);
        addr.writeUInt16BE(ETH_P_ALL, 2);
        addr.writeInt32LE(ifindex, 4);
        const r = ffi.bind(raw, addr);
        if (r < 0) throw new BpfError('SYSCALL', `${label}: bind failed (${errnoName(-r)})`);
        return new PacketSocket(fd, iface, ifindex);
      } catch (e) {
        fd.close();
        throw e;
      }
    });
  }

  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** The next queued frame (a copy), or null when none is waiting. Never blocks. */
  read(): Buffer | null {
    for (;;) {
      const n = ffi.recv(this.#fd.value, this.#buf, ffi.MSG_DONTWAIT);
      if (n >= 0) return Buffer.from(this.#buf.subarray(0, n));
      if (-n === EINTR) continue;
      if (-n === EAGAIN) return null;
      throw new BpfError('SYSCALL', `${this.#fd.label}: recv failed (${errnoName(-n)})`);
    }
  }

  /** Frames as they arrive, until the socket closes (leaving the loop closes it). */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (!this.#stream) {
      const { stream, poll } = pollStream<Buffer>(
        this.fd,
        (push) => {
          for (let f = this.closed ? null : this.read(); f; f = this.read()) push(f);
        },
        { close: () => this.close(), pollError: (status) => new BpfError('SYSCALL', `${this.#fd.label}: polling failed (${errnoName(-status)})`) },
      );
      this.#stream = stream;
      this.#poll = poll;
    }
    return this.#stream[Symbol.asyncIterator]();
  }

  /** Close the socket; its filter goes with it. */
  close(): void {
    if (this.#fd.closed) return;
    this.#poll?.close();
    this.#poll = null;
    this.#stream?.end();
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
