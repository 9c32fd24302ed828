// AF_XDP sockets (include/uapi/linux/if_xdp.h). Frames an XDP program
// redirects into a BPF_MAP_TYPE_XSKMAP land in memory this process owns (the
// UMEM) without the kernel's network stack, and frames written there are sent
// out of the interface. One socket here = one UMEM, one interface queue and
// four rings, all mmap'd: fill (frames the kernel may receive into) and
// completion (frames it has sent) belong to the UMEM, rx and tx to the socket.
// A ring is a power-of-two array of descriptors with free-running u32
// producer and consumer indexes: the producer writes descriptors, then its
// index (release); the consumer reads that index (acquire), then the
// descriptors, then moves its own index.
//
// The UMEM is split once: the first half of the frames, at most a ring's
// worth, receive (they cycle through fill -> rx -> back to fill), the rest
// send (free list -> tx -> completion -> free list). Frames never move
// between the two.

import { BpfError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import { CAP, capName, capsHint, NEED_NET_RAW } from '../sys/caps.js';
import { EAGAIN, EBUSY, EINVAL, ENOBUFS, EOPNOTSUPP, EPERM, errnoName } from '../sys/errno.js';
import { Fd } from '../sys/fd.js';
import * as ffi from '../sys/ffi.js';
import { retire, unmapWhenCollected } from '../sys/mapping.js';
import { withNetns } from '../netns.js';
import { type EventStream, pollStream } from '../events/stream.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';

export const AF_XDP = 44;
export const SOL_XDP = 283;

// setsockopt/getsockopt names at SOL_XDP.
const XDP_MMAP_OFFSETS = 1;
const XDP_RX_RING = 2;
const XDP_TX_RING = 3;
const XDP_UMEM_REG = 4;
const XDP_UMEM_FILL_RING = 5;
const XDP_UMEM_COMPLETION_RING = 6;
const XDP_STATISTICS = 7;

/** sockaddr_xdp.sxdp_flags. */
export const XDP_COPY = 1 << 1;
export const XDP_ZEROCOPY = 1 << 2;

// mmap offsets of the four rings.
const XDP_PGOFF_RX_RING = 0;
const XDP_PGOFF_TX_RING = 0x80000000;
const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

/** struct xdp_desc: u64 addr, u32 len, u32 options. */
const DESC_SIZE = 16;
/** struct xdp_umem_reg: u64 addr, u64 len, u32 chunk_size, u32 headroom, u32 flags, u32 tx_metadata_len. */
const UMEM_REG_SIZE = 32;
/** struct xdp_mmap_offsets: rx, tx, fr, cr, each { u64 producer, consumer, desc, flags }. */
const MMAP_OFFSETS_SIZE = 128;
/** struct xdp_statistics: six u64 counters. */
const STATISTICS_SIZE = 48;

/** Loads are not reordered with other loads, nor stores with stores (TSO): plain accesses order as acquire/release. */
const TSO = process.arch === 'x64' || process.arch === 'ia32';

export interface XdpSocketOptions {
  /** Interface name or index (looked up in `netns` when given). */
  iface: string | number;
  /** Queue of the interface to bind (default 0); frames arriving on other queues never reach this socket. */
  queue?: number;
  /** Network namespace (a name under /var/run/netns, or a path) the interface lives in. */
  netns?: string;
  /** UMEM frames (default 1024): half receive, half send. */
  frames?: number;
  /** Bytes per frame (2048 or 4096, default 4096): the largest frame either way. */
  frameSize?: number;
  /** Entries in each of the four rings (a power of two, default 512). */
  ringSize?: number;
  /**
   * 'copy' (XDP_COPY: every driver, the kernel copies each frame) or
   * 'zerocopy' (XDP_ZEROCOPY: drivers with AF_XDP support; refused
   * elsewhere). Default: the kernel's choice (zero-copy when it can).
   */
  mode?: 'copy' | 'zerocopy';
}

/** struct xdp_statistics. */
export interface XdpStatistics {
  /** Frames dropped for reasons other than the two below. */
  rxDropped: bigint;
  rxInvalidDescs: bigint;
  txInvalidDescs: bigint;
  /** Frames dropped because the rx ring was full: the reader fell behind. */
  rxRingFull: bigint;
  /** Times the kernel found no frame in the fill ring to receive into. */
  rxFillRingEmptyDescs: bigint;
  txRingEmptyDescs: bigint;
}

/** A call on an AF_XDP socket the kernel refused (code SYSCALL), with its errno. */
export class XdpSocketError extends BpfError {
  /** Positive errno. */
  readonly errno: number;
  constructor(message: string, errno: number) {
    super('SYSCALL', message);
    this.name = 'XdpSocketError';
    this.errno = errno;
  }
}

/** One mmap'd ring: the shared indexes and the descriptor area, as u32 words. */
interface Ring {
  producer: Uint32Array;
  consumer: Uint32Array;
  /** Descriptors as u32 words: 2 per entry (u64 addr) for fill/completion, 4 per entry (xdp_desc) for rx/tx. */
  desc: Uint32Array;
  mask: number;
}

const load = (a: Uint32Array): number => (TSO ? a[0]! : Atomics.load(a, 0));
const store = (a: Uint32Array, v: number): void => {
  if (TSO) a[0] = v;
  else Atomics.store(a, 0, v);
};

/**
 * An AF_XDP socket bound to one queue of one interface, with its own UMEM.
 * Register it in the XSKMAP the XDP program redirects into (`register(map)`);
 * the kernel takes it out of every map when the socket closes.
 *
 *     using xsk = XdpSocket.open({ iface: 'eth0', queue: 0 });
 *     xsk.register(coll.map('xsks'));
 *     for await (const frame of xsk) console.log(frame.length);
 */
export class XdpSocket implements Disposable, AsyncIterable<Buffer> {
  readonly #fd: Fd;
  readonly ifindex: number;
  readonly queue: number;
  readonly frameSize: number;
  /** The mode asked for; 'auto': the kernel's choice. */
  readonly mode: 'copy' | 'zerocopy' | 'auto';
  readonly #label: string;
  #umem: ffi.Mapping | null = null;
  readonly #bytes: Buffer;
  #mappings: ffi.Mapping[] = [];
  readonly #fill: Ring;
  readonly #comp: Ring;
  readonly #rx: Ring;
  readonly #tx: Ring;
  /** Our own copies of the indexes we produce (the kernel never writes them). */
  #fillProd = 0;
  #txProd = 0;
  /** Free send frames (UMEM offsets), of #sendFrames. */
  readonly #txFree: number[] = [];
  #sendFrames = 0;
  #stream: EventStream<Buffer> | null = null;
  #poll: { close(): void } | null = null;
  #closed = false;

  private constructor(fd: Fd, o: Required<Omit<XdpSocketOptions, 'netns' | 'iface' | 'mode'>> & { ifindex: number; mode: XdpSocket['mode']; label: string }) {
    this.#fd = fd;
    this.ifindex = o.ifindex;
    this.queue = o.queue;
    this.frameSize = o.frameSize;
    this.mode = o.mode;
    this.#label = o.label;
    const s = fd.value;
    try {
      const umem = ffi.mmapAnonymous(o.frames * o.frameSize);
      if (typeof umem === 'number') throw this.#error(`allocating the ${o.frames * o.frameSize}-byte UMEM`, -umem);
      this.#umem = umem;
      unmapWhenCollected(umem);
      this.#bytes = Buffer.from(umem.buffer);

      const reg = Buffer.alloc(UMEM_REG_SIZE);
      reg.writeBigUInt64LE(umem.address, 0);
      reg.writeBigUInt64LE(BigInt(umem.length), 8);
      reg.writeUInt32LE(o.frameSize, 16);
      this.#check(ffi.setsockopt(s, SOL_XDP, XDP_UMEM_REG, reg), 'registering the UMEM (XDP_UMEM_REG)');
      const size = Buffer.alloc(4);
      size.writeUInt32LE(o.ringSize);
      for (const [name, what] of [
        [XDP_UMEM_FILL_RING, 'the fill ring'],
        [XDP_UMEM_COMPLETION_RING, 'the completion ring'],
        [XDP_RX_RING, 'the rx ring'],
        [XDP_TX_RING, 'the tx ring'],
      ] as const) {
        this.#check(ffi.setsockopt(s, SOL_XDP, name, size), `sizing ${what} (${o.ringSize} entries)`);
      }
      const off = Buffer.alloc(MMAP_OFFSETS_SIZE);
      const got = ffi.getsockopt(s, SOL_XDP, XDP_MMAP_OFFSETS, off);
      if (got < 0) throw this.#error('reading the ring offsets (XDP_MMAP_OFFSETS)', -got);
      // rx, tx, fr, cr in that order; fill/completion entries are u64 addresses.
      this.#rx = this.#mapRing(s, off, 0, XDP_PGOFF_RX_RING, o.ringSize, DESC_SIZE, 'rx');
      this.#tx = this.#mapRing(s, off, 32, XDP_PGOFF_TX_RING, o.ringSize, DESC_SIZE, 'tx');
      this.#fill = this.#mapRing(s, off, 64, XDP_UMEM_PGOFF_FILL_RING, o.ringSize, 8, 'fill');
      this.#comp = this.#mapRing(s, off, 96, XDP_UMEM_PGOFF_COMPLETION_RING, o.ringSize, 8, 'completion');

      // Receive frames go to the fill ring before bind, so the kernel can
      // receive at once; no more than the ring holds (a consumed frame goes
      // straight back, so the ring never overflows). The rest send.
      const receive = Math.min(o.frames >>> 1, o.ringSize);
      this.#fillProd = load(this.#fill.producer);
      for (let i = 0; i < receive; i++) this.#putFill(i * o.frameSize);
      store(this.#fill.producer, this.#fillProd);
      for (let i = receive; i < o.frames; i++) this.#txFree.push(i * o.frameSize);
      this.#sendFrames = this.#txFree.length;
      this.#txProd = load(this.#tx.producer);

      const addr = Buffer.alloc(16);
      addr.writeUInt16LE(AF_XDP, 0);
      addr.writeUInt16LE(o.mode === 'copy' ? XDP_COPY : o.mode === 'zerocopy' ? XDP_ZEROCOPY : 0, 2);
      addr.writeUInt32LE(o.ifindex, 4);
      addr.writeUInt32LE(o.queue, 8);
      this.#check(bindRetryingBusy(s, addr), `binding to queue ${o.queue}`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Create the socket (in `netns` when given), its UMEM and rings, and bind it to the interface's queue. */
  static open(options: XdpSocketOptions): XdpSocket {
    const queue = options.queue ?? 0;
    const frameSize = options.frameSize ?? 4096;
    const frames = options.frames ?? 1024;
    const ringSize = options.ringSize ?? 512;
    const label = `AF_XDP socket on ${typeof options.iface === 'number' ? `ifindex ${options.iface}` : options.iface} queue ${queue}${options.netns ? ` (netns ${options.netns})` : ''}`;
    if (!Number.isInteger(queue) || queue < 0) throw new BpfError('USAGE', `${label}: queue must be a non-negative integer`);
    if (frameSize !== 2048 && frameSize !== 4096) throw new BpfError('USAGE', `${label}: frameSize must be 2048 or 4096 (got ${frameSize})`);
    if (!isPowerOfTwo(ringSize)) throw new BpfError('USAGE', `${label}: ringSize must be a power of two (got ${ringSize})`);
    if (!Number.isInteger(frames) || frames < 2 || frames * frameSize > 2 ** 32) {
      throw new BpfError('USAGE', `${label}: frames must be an integer from 2 to ${2 ** 32 / frameSize} (got ${frames})`);
    }
    const mode = options.mode ?? 'auto';
    if (mode !== 'copy' && mode !== 'zerocopy' && mode !== 'auto') throw new BpfError('USAGE', `${label}: mode must be 'copy' or 'zerocopy'`);
    // The socket belongs to the namespace it is created in, and bind finds the ifindex there.
    return withNetns(options.netns, () => {
      const ifindex = typeof options.iface === 'number' ? options.iface : ffi.ifNameToIndex(options.iface);
      if (!ifindex) {
        throw new BpfError('NO_SUCH_INTERFACE', `${label}: no interface "${options.iface}"${options.netns ? ` in netns ${options.netns}` : ''} (see \`ip link\`)`);
      }
      const raw = ffi.socket(AF_XDP, ffi.SOCK_RAW | ffi.SOCK_CLOEXEC, 0);
      if (raw < 0) {
        const hint = -raw === EPERM ? capsHint([NEED_NET_RAW], 'refused by a security module') : 'the kernel needs CONFIG_XDP_SOCKETS';
        throw new XdpSocketError(`${label}: socket(AF_XDP) failed (${errnoName(-raw)}): ${hint}`, -raw);
      }
      return new XdpSocket(new Fd(raw, label), { queue, frameSize, frames, ringSize, ifindex, mode, label });
    });
  }

  /** The socket's fd (what an XSKMAP slot holds). */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Put this socket in `map` (a BPF_MAP_TYPE_XSKMAP) at `key`, by default
   * its queue: the slot `bpf_redirect_map(&map, ctx->rx_queue_index, ...)`
   * looks up. Closing the socket empties the slot.
   */
  register(map: BpfMap, key: number = this.queue): void {
    if (map.type !== BPF_MAP_TYPE.XSKMAP) throw new BpfError('USAGE', `${this.#label}: map ${map.name} is not an XSKMAP`);
    map.set(key, this.fd);
  }

  /**
   * Hand each received frame to `fn` (at most `max`), then give its memory
   * back to the kernel; returns how many. `fn` gets a view of the UMEM that
   * is only valid during the call: copy what you keep.
   */
  consume(fn: (frame: Buffer) => void, max = Infinity): number {
    if (this.#closed) throw this.#closedError();
    const rx = this.#rx;
    const cons = load(rx.consumer);
    const avail = (load(rx.producer) - cons) >>> 0;
    const n = Math.min(avail, Math.floor(max));
    const mask = this.frameSize - 1;
    let i = 0;
    try {
      for (; i < n; i++) {
        const w = ((cons + i) & rx.mask) * 4;
        // In aligned mode the address is the frame's plus the offset the packet starts at.
        const addr = rx.desc[w]!;
        const len = rx.desc[w + 2]!;
        fn(this.#bytes.subarray(addr, addr + len));
        if (this.#closed) return i + 1;
        this.#putFill(addr & ~mask);
      }
    } finally {
      if (!this.#closed && i > 0) {
        store(this.#fill.producer, this.#fillProd);
        store(rx.consumer, (cons + i) >>> 0);
      }
    }
    return n;
  }

  /** The received frames (at most `max`), each copied into a Buffer of its own. */
  read(max = Infinity): Buffer[] {
    const out: Buffer[] = [];
    this.consume((f) => out.push(Buffer.from(f)), max);
    return out;
  }

  /**
   * Queue `frame` (a whole Ethernet frame, at most frameSize bytes) and
   * kick the kernel to send it (in copy mode it is sent within this call;
   * a kernel too busy to take it now sends it with the next kick). Returns
   * false, queueing nothing, when every send frame is still in flight or the
   * tx ring is full.
   */
  send(frame: Uint8Array): boolean {
    if (this.#closed) throw this.#closedError();
    if (frame.byteLength > this.frameSize) {
      throw new BpfError('USAGE', `${this.#label}: a ${frame.byteLength}-byte frame does not fit a ${this.frameSize}-byte UMEM frame`);
    }
    const tx = this.#tx;
    const full = () => {
      this.#reclaim();
      return this.#txFree.length === 0 || (this.#txProd - load(tx.consumer)) >>> 0 >= tx.mask + 1;
    };
    // Full: kick first. The kernel sends a bounded batch per kick, and skips
    // frames while the completion ring is full: what it left must not wait
    // for a send() that never comes because the ring stays full.
    if (full()) {
      this.#kick();
      if (full()) return false;
    }
    const addr = this.#txFree.pop()!;
    this.#bytes.set(frame, addr);
    const w = (this.#txProd & tx.mask) * 4;
    tx.desc[w] = addr;
    tx.desc[w + 1] = 0;
    tx.desc[w + 2] = frame.byteLength;
    tx.desc[w + 3] = 0;
    this.#txProd = (this.#txProd + 1) >>> 0;
    store(tx.producer, this.#txProd);
    this.#kick();
    return true;
  }

  /** Ask the kernel to send what the tx ring holds: copy mode sends inside this call, zero-copy drivers are woken by it. */
  #kick(): void {
    const r = ffi.sendto(this.fd, EMPTY, ffi.MSG_DONTWAIT, null);
    // Busy or out of room now: what is queued goes with the next kick.
    if (r < 0 && -r !== EAGAIN && -r !== EBUSY && -r !== ENOBUFS) throw this.#error('sending (sendto)', -r);
  }

  /** Send frames the kernel has finished with: back on the free list. */
  #reclaim(): void {
    const comp = this.#comp;
    const cons = load(comp.consumer);
    const n = (load(comp.producer) - cons) >>> 0;
    if (n === 0) return;
    for (let i = 0; i < n; i++) this.#txFree.push(comp.desc[((cons + i) & comp.mask) * 2]!);
    store(comp.consumer, (cons + n) >>> 0);
  }

  /** Frames queued by send() that the kernel has not completed yet. */
  get inFlight(): number {
    if (this.#closed) return 0;
    this.#reclaim();
    return this.#sendFrames - this.#txFree.length;
  }

  /** The kernel's counters for this socket (XDP_STATISTICS). */
  stats(): XdpStatistics {
    if (this.#closed) throw this.#closedError();
    const b = Buffer.alloc(STATISTICS_SIZE);
    const got = ffi.getsockopt(this.fd, SOL_XDP, XDP_STATISTICS, b);
    if (got < 0) throw this.#error('reading the statistics (XDP_STATISTICS)', -got);
    const u = (i: number) => (i * 8 + 8 <= got ? b.readBigUInt64LE(i * 8) : 0n);
    return { rxDropped: u(0), rxInvalidDescs: u(1), txInvalidDescs: u(2), rxRingFull: u(3), rxFillRingEmptyDescs: u(4), txRingEmptyDescs: u(5) };
  }

  /** Frames as they arrive (copies), through koffi's poll on the event loop; leaving the loop closes the socket. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.#closed) throw this.#closedError();
    if (!this.#stream) {
      const { stream, poll } = pollStream<Buffer>(
        this.fd,
        (push) => {
          if (!this.#closed) this.consume((f) => push(Buffer.from(f)));
        },
        { close: () => this.close(), pollError: (status) => this.#error('polling', -status) },
      );
      this.#stream = stream;
      this.#poll = poll;
    }
    return this.#stream[Symbol.asyncIterator]();
  }

  /** Close the socket (the kernel empties its XSKMAP slots) and unmap the rings and the UMEM. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Stop readiness callbacks before the fd goes away.
    this.#poll?.close();
    this.#poll = null;
    this.#stream?.end();
    for (const m of this.#mappings) ffi.munmap(m);
    this.#mappings = [];
    this.#fd.close();
    // Views handed to callbacks may still be reachable: zeroed pages in place (see sys/mapping.ts).
    if (this.#umem) retire(this.#umem);
    this.#umem = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #putFill(addr: number): void {
    const fill = this.#fill;
    const w = (this.#fillProd & fill.mask) * 2;
    fill.desc[w] = addr;
    fill.desc[w + 1] = 0;
    this.#fillProd = (this.#fillProd + 1) >>> 0;
  }

  #mapRing(s: number, off: Buffer, at: number, pgoff: number, entries: number, descSize: number, name: string): Ring {
    const producer = Number(off.readBigUInt64LE(at));
    const consumer = Number(off.readBigUInt64LE(at + 8));
    const desc = Number(off.readBigUInt64LE(at + 16));
    const m = ffi.mmap(desc + entries * descSize, ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED, s, pgoff);
    if (typeof m === 'number') throw this.#error(`mapping the ${name} ring`, -m);
    this.#mappings.push(m);
    return {
      producer: new Uint32Array(m.buffer, producer, 1),
      consumer: new Uint32Array(m.buffer, consumer, 1),
      desc: new Uint32Array(m.buffer, desc, (entries * descSize) / 4),
      mask: entries - 1,
    };
  }

  #check(r: number, what: string): void {
    if (r < 0) throw this.#error(what, -r);
  }

  #error(what: string, errno: number): XdpSocketError {
    let hint = '';
    if (errno === EPERM) hint = `: ${capsHint([NEED_NET_RAW], 'refused by a security module')}`;
    else if (errno === ENOBUFS && what.includes('UMEM')) {
      hint = `: the UMEM is locked memory: raise RLIMIT_MEMLOCK (ulimit -l), grant ${capName(CAP.IPC_LOCK)}, or ask for fewer frames`;
    } else if (what.startsWith('binding')) hint = bindHint(errno, this.mode);
    return new XdpSocketError(`${this.#label}: ${what} failed (${errnoName(errno)})${hint}`, errno);
  }

  #closedError(): BpfError {
    return new BpfError('CLOSED', `${this.#label}: socket closed`);
  }
}

const EMPTY = new Uint8Array(0);

/** How long bind keeps retrying EBUSY: a socket closed a moment ago frees its queue in the background (~40 ms here). */
const BUSY_RETRY_MS = 2000;

/**
 * bind(2), retried while it answers EBUSY for up to BUSY_RETRY_MS: the
 * kernel releases a closed socket's queue from a workqueue after an RCU
 * grace period, so closing a socket and opening another on the same queue
 * right away finds it busy. A queue a live socket holds stays EBUSY.
 */
function bindRetryingBusy(fd: number, addr: Uint8Array): number {
  const start = Date.now();
  let pause = 1;
  for (;;) {
    const r = ffi.bind(fd, addr);
    if (r !== -EBUSY || Date.now() - start >= BUSY_RETRY_MS) return r;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    pause = Math.min(pause * 2, 100);
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function bindHint(errno: number, mode: XdpSocket['mode']): string {
  switch (errno) {
    case EINVAL:
      return ': the queue does not exist on this interface (see `ethtool -l`), or the interface is down';
    case EOPNOTSUPP:
      return mode === 'zerocopy' ? ": this driver has no zero-copy AF_XDP support: use mode 'copy'" : '';
    case EBUSY:
      return `: another AF_XDP socket is bound to this queue (still after ${BUSY_RETRY_MS / 1000} s): close it first`;
    default:
      return '';
  }
}
