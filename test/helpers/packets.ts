// Frames for test runs, built byte by byte from the RFCs (not from our code):
// Ethernet II, IPv4 (RFC 791), ICMP echo (RFC 792), TCP (RFC 793), UDP.

export function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

const ETH_SRC = Buffer.from('020000000001', 'hex');
const ETH_DST = Buffer.from('020000000002', 'hex');

/** "02:62:74:..:00:0a" as 6 bytes. */
export function mac(text: string): Buffer {
  return Buffer.from(text.split(':').join(''), 'hex');
}

function ethernet(payload: Buffer, ethertype = 0x0800, src: Buffer = ETH_SRC, dst: Buffer = ETH_DST): Buffer {
  const h = Buffer.alloc(14);
  dst.copy(h, 0);
  src.copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  return Buffer.concat([h, payload]);
}

function ip(proto: number, src: string, dst: string, payload: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(1, 4);
  h[8] = ttl;
  h[9] = proto;
  ipv4(src).copy(h, 12);
  ipv4(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** ICMP echo request (type 8) or reply (type 0) with id and sequence number. */
export function icmpEcho(opts: { seq: number; id?: number; type?: 0 | 8; src?: string; dst?: string; payload?: Buffer; ethSrc?: string; ethDst?: string }): Buffer {
  const payload = opts.payload ?? Buffer.from('bpf-ts-test-data');
  const m = Buffer.alloc(8);
  m[0] = opts.type ?? 8;
  m.writeUInt16BE(opts.id ?? 0x4242, 4);
  m.writeUInt16BE(opts.seq, 6);
  const msg = Buffer.concat([m, payload]);
  msg.writeUInt16BE(checksum(msg), 2);
  const ethSrc = opts.ethSrc ? mac(opts.ethSrc) : ETH_SRC;
  const ethDst = opts.ethDst ? mac(opts.ethDst) : ETH_DST;
  return ethernet(ip(1, opts.src ?? '10.0.0.1', opts.dst ?? '10.0.0.2', msg), 0x0800, ethSrc, ethDst);
}

export function udp(opts: { src?: string; dst?: string; sport?: number; dport: number; payload?: Buffer }): Buffer {
  const payload = opts.payload ?? Buffer.from('hello');
  const h = Buffer.alloc(8);
  h.writeUInt16BE(opts.sport ?? 40000, 0);
  h.writeUInt16BE(opts.dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return ethernet(ip(17, opts.src ?? '10.0.0.1', opts.dst ?? '10.0.0.2', Buffer.concat([h, payload])));
}

/** TCP segment with the given flags (0x02 SYN, 0x10 ACK). */
export function tcp(opts: { src?: string; dst?: string; sport?: number; dport: number; flags: number; payload?: Buffer }): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(opts.sport ?? 40000, 0);
  h.writeUInt16BE(opts.dport, 2);
  h.writeUInt32BE(1000, 4);
  h[12] = 5 << 4;
  h[13] = opts.flags;
  h.writeUInt16BE(65535, 14);
  return ethernet(ip(6, opts.src ?? '10.0.0.1', opts.dst ?? '10.0.0.2', Buffer.concat([h, payload])));
}

/** An IPv6 frame header only (ethertype 0x86dd): programs should pass it untouched. */
export function ipv6Stub(): Buffer {
  return ethernet(Buffer.alloc(40), 0x86dd);
}
