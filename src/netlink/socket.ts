// A synchronous rtnetlink socket: send a request, then read until the
// kernel's answer for that sequence number (an ACK, a single reply, or a
// multipart dump ending in NLMSG_DONE).
//
// Synchronous on purpose: rtnetlink answers are queued during sendto() (or,
// for dumps, produced during recv()), so a blocking recv never waits on the
// network, and it lets callers run whole operations inside withNetns(), which
// only holds for the current thread. SO_RCVTIMEO bounds any surprise.
//
// A netlink socket stays in the network namespace it was created in, whatever
// the thread does afterwards.

import { BpfError } from '../errors.js';
import { writeU64 } from '../sys/endian.js';
import * as ffi from '../sys/ffi.js';
import { EAGAIN, EINTR, errnoName } from '../sys/errno.js';
import { NetlinkError, netlinkError, parseNlmsgErr, type ExtAck, type NetlinkErrorContext, type NlmsgErr } from './error.js';
import {
  attrTypeAt,
  encodeMessage,
  getS32,
  getU32,
  putS32,
  putU16,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  parseMessages,
  type NlMessage,
  type NlRequest,
} from './message.js';

const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

const MSG_PEEK = 0x2;
const MSG_TRUNC = 0x20;

/** recv: our receive queue overflowed and the kernel dropped messages meant for us. */
const ENOBUFS = 105;

/** How often a dump flagged NLM_F_DUMP_INTR (changed while we read it) is retried. */
export const DUMP_RETRIES = 5;

export interface NetlinkSocketOptions {
  /** NETLINK_ROUTE unless told otherwise. */
  protocol?: number;
  /** Upper bound for one recv; default 5000 ms. */
  timeoutMs?: number;
}

type Context = NetlinkErrorContext | string;

const asContext = (c: Context): NetlinkErrorContext => (typeof c === 'string' ? { op: c } : c);

export class NetlinkSocket implements Disposable {
  #fd: number;
  #seq: number;
  #portId: number;
  #buf: Buffer = Buffer.alloc(32 * 1024);

  private constructor(fd: number, portId: number) {
    this.#fd = fd;
    this.#portId = portId;
    // Start from a time-derived number, as iproute2 does, so replies meant
    // for an earlier socket that reused this port id are not mistaken for ours.
    this.#seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  /** Open a socket in the calling thread's network namespace. */
  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const fd = ffi.socket(AF_NETLINK, ffi.SOCK_RAW | ffi.SOCK_CLOEXEC, options.protocol ?? NETLINK_ROUTE);
    if (fd < 0) throw new BpfError('NETLINK', `netlink: socket(AF_NETLINK) failed: ${errnoName(-fd)}`);
    try {
      const one = int32(1);
      // Extended ACKs carry the kernel's explanation (e.g. "veth: Peer MTU is too large to set XDP").
      setopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 'NETLINK_EXT_ACK');
      // Error replies then carry only our header, not a copy of our whole request.
      setopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 'NETLINK_CAP_ACK');
      setopt(fd, SOL_SOCKET, SO_SNDBUF, int32(32 * 1024), 'SO_SNDBUF');
      setopt(fd, SOL_SOCKET, SO_RCVBUF, int32(1024 * 1024), 'SO_RCVBUF');
      setopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(options.timeoutMs ?? 5000), 'SO_RCVTIMEO');
      const sa = Buffer.alloc(12);
      putU16(sa, 0, AF_NETLINK); // nl_pid 0: let the kernel pick our port id
      let r = ffi.bind(fd, sa);
      if (r < 0) throw new BpfError('NETLINK', `netlink: bind failed: ${errnoName(-r)}`);
      r = ffi.getsockname(fd, sa);
      if (r < 0) throw new BpfError('NETLINK', `netlink: getsockname failed: ${errnoName(-r)}`);
      return new NetlinkSocket(fd, getU32(sa, 4));
    } catch (e) {
      ffi.close(fd);
      throw e;
    }
  }

  get fd(): number {
    return this.#fd;
  }

  /** Our netlink port id (nl_pid), assigned by the kernel at bind. */
  get portId(): number {
    return this.#portId;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Send a request that changes something and wait for its ACK. Returns the ACK (it may carry a warning in ext.msg). */
  ack(req: NlRequest, ctx: Context): NlmsgErr {
    const { seq, wire } = this.#send({ ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_ACK }, ctx);
    let ack: NlmsgErr | undefined;
    this.#receive(seq, wire, ctx, (m) => {
      if (m.type === NLMSG_ERROR) {
        ack = parseNlmsgErr(m);
        return true;
      }
      return false; // a reply before the ACK (e.g. NLM_F_ECHO): not asked for, skip
    });
    return ack!;
  }

  /** Send a GET for one object and return the kernel's reply message. */
  get(req: NlRequest, ctx: Context): NlMessage {
    const { seq, wire } = this.#send({ ...req, flags: req.flags | NLM_F_REQUEST }, ctx);
    let reply: NlMessage | undefined;
    this.#receive(seq, wire, ctx, (m) => {
      if (m.type === NLMSG_ERROR) return true; // errno 0 without a reply: treated below
      reply = m;
      return true;
    });
    if (!reply) throw new BpfError('NETLINK', `${asContext(ctx).op}: the kernel acknowledged but sent no reply`);
    return reply;
  }

  /**
   * Send a dump request and collect every message up to NLMSG_DONE. A dump
   * the kernel flags NLM_F_DUMP_INTR (the table changed while it was being
   * walked, so entries may be missing or doubled) is read again, up to
   * DUMP_RETRIES times, then refused.
   */
  dump(req: NlRequest, ctx: Context): NlMessage[] {
    for (let attempt = 0; ; attempt++) {
      const { seq, wire } = this.#send({ ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_DUMP }, ctx);
      const out: NlMessage[] = [];
      let interrupted = false;
      this.#receive(
        seq,
        wire,
        ctx,
        (m) => {
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_DONE) return true;
          if (m.type === NLMSG_ERROR) return true; // an ACK ends it too
          out.push(m);
          return false;
        },
        true,
      );
      if (!interrupted) return out;
      if (attempt >= DUMP_RETRIES) {
        throw new BpfError(
          'NETLINK',
          `${asContext(ctx).op}: the kernel's table changed while it was being read, ${attempt + 1} times in a row (NLM_F_DUMP_INTR), so the list would be inconsistent — try again when the system is quieter`,
        );
      }
    }
  }

  close(): void {
    if (this.#fd >= 0) {
      ffi.close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #send(req: NlRequest, ctx: Context): { seq: number; wire: Buffer } {
    if (this.#fd < 0) throw new BpfError('CLOSED', 'netlink: socket is closed');
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const seq = this.#seq;
    const wire = encodeMessage(req, seq);
    const sa = Buffer.alloc(12);
    putU16(sa, 0, AF_NETLINK); // to the kernel: nl_pid 0
    let r: number;
    do r = ffi.sendto(this.#fd, wire, 0, sa);
    while (r === -EINTR);
    if (r < 0) throw netlinkError(-r, { ...asContext(ctx), op: `${asContext(ctx).op}: sendto` });
    return { seq, wire };
  }

  /**
   * Read datagrams until `onMessage` says the answer to `seq` is complete.
   * Messages for other sequence numbers (late answers to a request that
   * timed out earlier) are skipped. NLMSG_ERROR with an errno, or an
   * NLMSG_DONE carrying one, throws.
   *
   * ENOBUFS means the kernel dropped messages for us: the answer is
   * incomplete. A dump is still read to its end first (the kernel goes on
   * producing it as we read, and refuses a new dump on this socket until
   * then), so the socket stays usable; then the error is thrown.
   */
  #receive(seq: number, wire: Buffer, ctx: Context, onMessage: (m: NlMessage) => boolean, isDump = false): void {
    let lost = false;
    for (;;) {
      let data: Buffer | typeof ENOBUFS;
      try {
        data = this.#recvDatagram(ctx);
      } catch (e) {
        // Nothing more came after the loss (the kernel ended the dump): report the loss.
        if (lost) throw lostError(ctx, true);
        throw e;
      }
      if (data === ENOBUFS) {
        if (!isDump) throw lostError(ctx, false);
        lost = true;
        continue;
      }
      for (const m of parseMessages(data)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_NOOP) continue;
        if (m.type === NLMSG_OVERRUN) throw new BpfError('NETLINK', `${asContext(ctx).op}: netlink overrun (data lost)`);
        if (m.type === NLMSG_ERROR || (m.type === NLMSG_DONE && m.payload.length >= 4 && getS32(m.payload, 0) < 0)) {
          const err: { errno: number; ext: ExtAck } = m.type === NLMSG_ERROR ? parseNlmsgErr(m) : { errno: -getS32(m.payload, 0), ext: {} };
          if (err.errno !== 0) {
            const at = err.ext.offset !== undefined ? attrTypeAt(wire, err.ext.offset) : undefined;
            throw netlinkError(err.errno, asContext(ctx), err.ext, at);
          }
        }
        if (lost) {
          if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) throw lostError(ctx, true);
          continue;
        }
        if (onMessage(m)) return;
      }
    }
  }

  /**
   * One datagram, as a buffer of its own: messages parsed from it are views
   * into it and may be kept after the next recv (a dump collects them all).
   * ENOBUFS is returned as the number, for #receive to decide.
   */
  #recvDatagram(ctx: Context): Buffer | typeof ENOBUFS {
    // Peek with MSG_TRUNC for the datagram's real size first, so a large dump
    // part is never cut short by our buffer. The buffer stays large (32 KiB):
    // the kernel sizes later dump parts by the largest recv we offered.
    let n: number;
    do n = ffi.recv(this.#fd, this.#buf, MSG_PEEK | MSG_TRUNC);
    while (n === -EINTR);
    if (n >= 0 && n > this.#buf.length) this.#buf = Buffer.alloc(n);
    if (n >= 0) {
      do n = ffi.recv(this.#fd, this.#buf, 0);
      while (n === -EINTR);
    }
    if (n < 0) {
      const c = asContext(ctx);
      if (-n === EAGAIN) throw new BpfError('NETLINK', `${c.op}: no answer from the kernel (netlink recv timed out)`);
      if (-n === ENOBUFS) return ENOBUFS;
      throw netlinkError(-n, { ...c, op: `${c.op}: recv` });
    }
    return Buffer.from(this.#buf.subarray(0, n));
  }
}

/** The receive queue overflowed while an answer was on its way (recv said ENOBUFS). */
function lostError(ctx: Context, isDump: boolean): NetlinkError {
  const what = isDump ? 'part of the list was lost, so nothing is reported — run it again' : 'the answer was lost, so whether the request took effect is unknown — check, then retry';
  return new NetlinkError('NETLINK', `${asContext(ctx).op}: ENOBUFS: the netlink socket's receive buffer overflowed and the kernel dropped messages; ${what}`, ENOBUFS, {});
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  putS32(b, 0, v);
  return b;
}

/** struct timeval as the ABI of this arch lays it out (two longs). */
function timeval(ms: number): Buffer {
  const narrow = process.arch === 'ia32' || process.arch === 'arm';
  const b = Buffer.alloc(narrow ? 8 : 16);
  const sec = Math.floor(ms / 1000);
  const usec = (ms % 1000) * 1000;
  if (narrow) {
    putS32(b, 0, sec);
    putS32(b, 4, usec);
  } else {
    writeU64(b, 0, BigInt(sec));
    writeU64(b, 8, BigInt(usec));
  }
  return b;
}

function setopt(fd: number, level: number, name: number, value: Buffer, what: string): void {
  const r = ffi.setsockopt(fd, level, name, value);
  // EXT_ACK/CAP_ACK are optional niceties on old kernels; buffer sizes too.
  if (r < 0 && what === 'SO_RCVTIMEO') throw new BpfError('NETLINK', `netlink: setsockopt(${what}) failed: ${errnoName(-r)}`);
}
