// Netlink wire format: struct nlmsghdr framing and the TLV attributes
// (struct nlattr, which rtnetlink calls rtattr: same layout) that follow a
// family header such as struct ifinfomsg. Pure byte work, no syscalls.
//
// Headers and integer attributes are in host byte order; addresses inside
// attributes are plain network-order bytes.

import { BpfError } from '../errors.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';

/** sizeof(struct nlmsghdr); already 4-aligned. */
export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
/** sizeof(struct nlattr). */
export const NLA_HDRLEN = 4;
export const NLA_ALIGNTO = 4;

// nlmsg_type values below NLMSG_MIN_TYPE are control messages.
export const NLMSG_NOOP = 0x1;
export const NLMSG_ERROR = 0x2;
export const NLMSG_DONE = 0x3;
export const NLMSG_OVERRUN = 0x4;

// nlmsg_flags
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
// on NLMSG_ERROR acks
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

// nla_type carries two flag bits above the type number.
export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const nlmsgAlign = (n: number): number => (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
export const nlaAlign = (n: number): number => (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);

// Host-order integer access for netlink structs (C structs, native endian).
export function putU16(b: Buffer, off: number, v: number): void {
  if (LITTLE_ENDIAN) b.writeUInt16LE(v & 0xffff, off);
  else b.writeUInt16BE(v & 0xffff, off);
}
export function putU32(b: Buffer, off: number, v: number): void {
  if (LITTLE_ENDIAN) b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}
export function putS32(b: Buffer, off: number, v: number): void {
  if (LITTLE_ENDIAN) b.writeInt32LE(v | 0, off);
  else b.writeInt32BE(v | 0, off);
}
export const getU16 = (b: Buffer, off: number): number => (LITTLE_ENDIAN ? b.readUInt16LE(off) : b.readUInt16BE(off));
export const getU32 = (b: Buffer, off: number): number => (LITTLE_ENDIAN ? b.readUInt32LE(off) : b.readUInt32BE(off));
export const getS32 = (b: Buffer, off: number): number => (LITTLE_ENDIAN ? b.readInt32LE(off) : b.readInt32BE(off));

// ---------------------------------------------------------------- encoding

/** An attribute to encode: raw payload bytes, or child attributes (a nest). */
export interface NlAttr {
  type: number;
  value: Uint8Array | readonly NlAttr[];
}

export const attrBytes = (type: number, value: Uint8Array): NlAttr => ({ type, value });

export function attrU8(type: number, v: number): NlAttr {
  return { type, value: Uint8Array.of(v & 0xff) };
}

export function attrU16(type: number, v: number): NlAttr {
  const b = Buffer.alloc(2);
  putU16(b, 0, v);
  return { type, value: b };
}

export function attrU32(type: number, v: number): NlAttr {
  const b = Buffer.alloc(4);
  putU32(b, 0, v);
  return { type, value: b };
}

/** A signed 32-bit attribute (fds, where -1 means "none"). */
export function attrS32(type: number, v: number): NlAttr {
  const b = Buffer.alloc(4);
  putS32(b, 0, v);
  return { type, value: b };
}

/** A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING both accept it). */
export function attrString(type: number, s: string): NlAttr {
  return { type, value: Buffer.from(`${s}\0`) };
}

/**
 * A nested attribute. NLA_F_NESTED is set because strictly validated
 * policies require it and older (deprecated) parsers ignore it.
 */
export function attrNest(type: number, children: readonly NlAttr[]): NlAttr {
  return { type: type | NLA_F_NESTED, value: children };
}

function attrSize(a: NlAttr): number {
  return NLA_HDRLEN + payloadSize(a.value);
}

function payloadSize(v: Uint8Array | readonly NlAttr[]): number {
  if (v instanceof Uint8Array) return v.byteLength;
  let n = 0;
  for (const c of v) n += nlaAlign(attrSize(c));
  return n;
}

function writeAttrs(out: Buffer, off: number, attrs: readonly NlAttr[]): number {
  for (const a of attrs) {
    const len = attrSize(a);
    // nla_len counts header + payload but not the trailing padding.
    putU16(out, off, len);
    putU16(out, off + 2, a.type);
    if (a.value instanceof Uint8Array) out.set(a.value, off + NLA_HDRLEN);
    else writeAttrs(out, off + NLA_HDRLEN, a.value);
    off += nlaAlign(len);
  }
  return off;
}

/** Encode a list of attributes, each padded to 4 bytes. */
export function encodeAttrs(attrs: readonly NlAttr[]): Buffer {
  const out = Buffer.alloc(payloadSize(attrs));
  writeAttrs(out, 0, attrs);
  return out;
}

export interface NlRequest {
  type: number;
  flags: number;
  /** The family header (struct ifinfomsg, ifaddrmsg, ndmsg, …). */
  header: Uint8Array;
  attrs?: readonly NlAttr[];
}

/** Encode one netlink message: nlmsghdr + family header (padded) + attributes. */
export function encodeMessage(req: NlRequest, seq: number, pid = 0): Buffer {
  const attrs = req.attrs ?? [];
  const headerLen = nlmsgAlign(req.header.byteLength);
  const len = NLMSG_HDRLEN + headerLen + payloadSize(attrs);
  const out = Buffer.alloc(len);
  putU32(out, 0, len);
  putU16(out, 4, req.type);
  putU16(out, 6, req.flags);
  putU32(out, 8, seq);
  putU32(out, 12, pid);
  out.set(req.header, NLMSG_HDRLEN);
  writeAttrs(out, NLMSG_HDRLEN + headerLen, attrs);
  return out;
}

// ---------------------------------------------------------------- decoding

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the nlmsghdr, up to nlmsg_len (a view, not a copy). */
  payload: Buffer;
}

/** Split one datagram into its messages. Throws on a malformed length. */
export function parseMessages(data: Uint8Array): NlMessage[] {
  const buf = toBuffer(data);
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = getU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new BpfError('NETLINK', `malformed netlink reply: nlmsg_len ${len} at offset ${off} of a ${buf.length}-byte datagram`);
    }
    out.push({
      type: getU16(buf, off + 4),
      flags: getU16(buf, off + 6),
      seq: getU32(buf, off + 8),
      pid: getU32(buf, off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += nlmsgAlign(len);
  }
  return out;
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Decoded attributes of one level. Types are stored with the NESTED /
 * NET_BYTEORDER flag bits masked off; the last occurrence of a type wins
 * for `get`, `all` keeps every occurrence (some attributes repeat).
 */
export class NlAttrs {
  readonly list: { type: number; value: Buffer }[] = [];
  private readonly byType = new Map<number, Buffer>();

  constructor(data: Uint8Array) {
    const buf = toBuffer(data);
    let off = 0;
    while (off + NLA_HDRLEN <= buf.length) {
      const len = getU16(buf, off);
      if (len < NLA_HDRLEN || off + len > buf.length) break; // truncated tail: stop, as the kernel's nla_ok does
      const type = getU16(buf, off + 2) & NLA_TYPE_MASK;
      const value = buf.subarray(off + NLA_HDRLEN, off + len);
      this.list.push({ type, value });
      this.byType.set(type, value);
      off += nlaAlign(len);
    }
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  get(type: number): Buffer | undefined {
    return this.byType.get(type);
  }

  all(type: number): Buffer[] {
    return this.list.filter((a) => a.type === type).map((a) => a.value);
  }

  u8(type: number): number | undefined {
    const v = this.get(type);
    return v && v.length >= 1 ? v.readUInt8(0) : undefined;
  }

  u16(type: number): number | undefined {
    const v = this.get(type);
    return v && v.length >= 2 ? getU16(v, 0) : undefined;
  }

  u32(type: number): number | undefined {
    const v = this.get(type);
    return v && v.length >= 4 ? getU32(v, 0) : undefined;
  }

  s32(type: number): number | undefined {
    const v = this.get(type);
    return v && v.length >= 4 ? getS32(v, 0) : undefined;
  }

  /** A string attribute, without its NUL terminator. */
  string(type: number): string | undefined {
    const v = this.get(type);
    if (!v) return undefined;
    const end = v.indexOf(0);
    return v.subarray(0, end < 0 ? v.length : end).toString('utf8');
  }

  /** The children of a nested attribute. */
  nested(type: number): NlAttrs | undefined {
    const v = this.get(type);
    return v ? new NlAttrs(v) : undefined;
  }
}

/** Attributes that follow a family header of `headerLen` bytes in a message payload. */
export function messageAttrs(msg: NlMessage, headerLen: number): NlAttrs {
  return new NlAttrs(msg.payload.subarray(Math.min(nlmsgAlign(headerLen), msg.payload.length)));
}

/** Find which attribute an ext-ack NLMSGERR_ATTR_OFFS points at in a request we sent. */
export function attrTypeAt(request: Uint8Array, offset: number): number | undefined {
  if (offset < NLMSG_HDRLEN || offset + NLA_HDRLEN > request.byteLength) return undefined;
  return getU16(toBuffer(request), offset + 2) & NLA_TYPE_MASK;
}
