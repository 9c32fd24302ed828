// ICMP echo ("ping") from inside a network namespace, for tests and demos:
// a raw IPPROTO_ICMP socket created inside the namespace (it stays bound to
// it afterwards), N echo requests with sequence numbers 1..N, and replies
// collected with non-blocking recv polled every few ms until all are in or a
// deadline passes. Meant for test networks only (see testenv.ts): the
// namespace is mandatory so nothing is ever sent from the host's own.

import { BpfError } from '../errors.js';
import { parseIPv4 } from '../netlink/addr.js';
import { withNetns } from '../netns.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import { EAGAIN, EINTR, errnoName } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
const { setTimeout: sleep } = process.getBuiltinModule('node:timers/promises');

const AF_INET = 2;
const IPPROTO_ICMP = 1;

const ICMP_ECHOREPLY = 0;
const ICMP_ECHO = 8;

export interface PingOptions {
  /** The namespace to send from (name under /var/run/netns or a path). */
  netns: string;
  /** IPv4 destination. */
  to: string;
  /** Echo requests to send; default 10. */
  count?: number;
  /** Give up waiting for replies after this long; default 2000 ms. */
  timeoutMs?: number;
  /** Poll period for replies; default 5 ms. */
  pollMs?: number;
  /** Bytes of payload after the 8-byte ICMP header; default 56 (like ping). */
  payloadSize?: number;
}

export interface PingResult {
  sent: number;
  received: number;
  /** Sequence numbers answered, ascending, each once. */
  receivedSeqs: number[];
}

let identCounter = 0;

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function echoRequest(id: number, seq: number, payloadSize: number): Buffer {
  const pkt = Buffer.alloc(8 + payloadSize);
  pkt[0] = ICMP_ECHO;
  pkt.writeUInt16BE(id, 4);
  pkt.writeUInt16BE(seq, 6);
  for (let i = 0; i < payloadSize; i++) pkt[8 + i] = i & 0xff;
  pkt.writeUInt16BE(inetChecksum(pkt), 2);
  return pkt;
}

/** Send `count` echo requests from `netns` to `to` and count the replies. */
export async function ping(opts: PingOptions): Promise<PingResult> {
  const count = opts.count ?? 10;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const pollMs = opts.pollMs ?? 5;
  const payloadSize = opts.payloadSize ?? 56;
  if (!opts.netns) throw new BpfError('USAGE', 'ping: a network namespace is required');
  if (!Number.isInteger(count) || count < 1 || count > 0xffff) throw new BpfError('USAGE', `ping: bad count ${count}`);
  const dst = parseIPv4(opts.to);
  // Our identifier: raw sockets see every ICMP packet of the namespace.
  const id = (process.pid * 31 + ++identCounter) & 0xffff;

  const fd = withNetns(opts.netns, () => ffi.socket(AF_INET, ffi.SOCK_RAW | ffi.SOCK_CLOEXEC, IPPROTO_ICMP));
  if (fd < 0) throw new BpfError('SYSCALL', `ping: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) failed: ${errnoName(-fd)}`);
  try {
    const sa = Buffer.alloc(16); // struct sockaddr_in
    // sin_family is host order; sin_port (0) and sin_addr network order.
    if (LITTLE_ENDIAN) sa.writeUInt16LE(AF_INET, 0);
    else sa.writeUInt16BE(AF_INET, 0);
    sa.set(dst, 4);

    let sent = 0;
    for (let seq = 1; seq <= count; seq++) {
      let r: number;
      do r = ffi.sendto(fd, echoRequest(id, seq, payloadSize), 0, sa);
      while (r === -EINTR);
      if (r < 0) throw new BpfError('SYSCALL', `ping ${opts.to} from ${opts.netns}: sendto failed: ${errnoName(-r)}`);
      sent++;
    }

    const seen = new Set<number>();
    const buf = Buffer.alloc(65536);
    const deadline = Date.now() + timeoutMs;
    while (seen.size < count) {
      const n = ffi.recv(fd, buf, ffi.MSG_DONTWAIT);
      if (n === -EAGAIN || n === -EINTR) {
        if (Date.now() >= deadline) break;
        await sleep(pollMs);
        continue;
      }
      if (n < 0) throw new BpfError('SYSCALL', `ping: recv failed: ${errnoName(-n)}`);
      const seq = matchReply(buf.subarray(0, n), id, dst);
      if (seq !== undefined && seq >= 1 && seq <= count) seen.add(seq);
    }
    const receivedSeqs = [...seen].sort((a, b) => a - b);
    return { sent, received: receivedSeqs.length, receivedSeqs };
  } finally {
    ffi.close(fd);
  }
}

/** The sequence number of an echo reply to us from `from`, else undefined. Raw IPv4 sockets deliver the IP header too. */
function matchReply(pkt: Buffer, id: number, from: Uint8Array): number | undefined {
  if (pkt.length < 20) return undefined;
  const ihl = (pkt[0]! & 0x0f) * 4;
  if (pkt.length < ihl + 8) return undefined;
  if (!pkt.subarray(12, 16).equals(from)) return undefined;
  const icmp = pkt.subarray(ihl);
  if (icmp[0] !== ICMP_ECHOREPLY || icmp.readUInt16BE(4) !== id) return undefined;
  return icmp.readUInt16BE(6);
}
