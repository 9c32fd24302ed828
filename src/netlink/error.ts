// Netlink failures: decode an NLMSG_ERROR (struct nlmsgerr plus the extended
// ACK attributes the kernel adds when NETLINK_EXT_ACK is on) and turn it into
// a BpfError whose message carries the kernel's own words verbatim, followed
// by a hint about what to do.

import { BpfError, type BpfErrorCode } from '../errors.js';
import { capsHint, NEED_NETLINK_ADMIN } from '../sys/caps.js';
import { EACCES, EBUSY, EEXIST, ENODEV, EPERM, ERANGE, errnoName, isNotSupported } from '../sys/errno.js';
import { getS32, getU32, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_HDRLEN, NlAttrs, nlmsgAlign, type NlMessage } from './message.js';

// enum nlmsgerr_attrs
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

/** What the kernel said beyond the errno (extended ACK). */
export interface ExtAck {
  /** NLMSGERR_ATTR_MSG, verbatim. */
  msg?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in our request. */
  offset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE: a required attribute that was missing. */
  missingType?: number;
}

export interface NlmsgErr {
  /** 0 for an ACK, else a positive errno. */
  errno: number;
  /** The sequence number of the request this answers. */
  seq: number;
  ext: ExtAck;
}

/**
 * Decode the payload of an NLMSG_ERROR message: `int error`, the header of
 * the request (and, unless NLM_F_CAPPED, its payload), then TLVs when
 * NLM_F_ACK_TLVS is set.
 */
export function parseNlmsgErr(msg: NlMessage): NlmsgErr {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) return { errno: p.length >= 4 ? -getS32(p, 0) | 0 : 0, seq: msg.seq, ext: {} };
  const errno = -getS32(p, 0) | 0; // "| 0": no -0 for an ACK
  const origLen = getU32(p, 4);
  const seq = getU32(p, 12);
  const ext: ExtAck = {};
  if (msg.flags & NLM_F_ACK_TLVS) {
    const tlvStart = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : nlmsgAlign(origLen));
    if (tlvStart <= p.length) {
      const attrs = new NlAttrs(p.subarray(tlvStart));
      const text = attrs.string(NLMSGERR_ATTR_MSG);
      if (text) ext.msg = text;
      const offs = attrs.u32(NLMSGERR_ATTR_OFFS);
      if (offs !== undefined) ext.offset = offs;
      const miss = attrs.u32(NLMSGERR_ATTR_MISS_TYPE);
      if (miss !== undefined) ext.missingType = miss;
    }
  }
  return { errno, seq, ext };
}

/**
 * What the failing request was, so the error can name it and pick hints.
 * `kind: 'xdp'` turns the XDP-specific errnos into specific codes.
 */
export interface NetlinkErrorContext {
  /** e.g. `attach XDP program to eth0 (native mode)` */
  op: string;
  kind?: 'xdp' | 'link' | 'generic';
  /** The interface, so ENODEV can name it. */
  ifname?: string;
  /** Caller-specific reading of an errno, tried before the generic one. */
  override?: (errno: number) => { code: BpfErrorCode; hint?: string } | undefined;
}

export class NetlinkError extends BpfError {
  /** Positive errno. */
  readonly errno: number;
  readonly extack: ExtAck;
  /** The attribute type NLMSGERR_ATTR_OFFS pointed at, when known. */
  readonly attrType?: number;

  constructor(code: BpfErrorCode, message: string, errno: number, extack: ExtAck, attrType?: number) {
    super(code, message);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.extack = extack;
    if (attrType !== undefined) this.attrType = attrType;
  }
}

/** Build the error for a failed request: kernel text verbatim, then our hint. */
export function netlinkError(errno: number, ctx: NetlinkErrorContext, ext: ExtAck = {}, attrType?: number): NetlinkError {
  const e = Math.abs(errno);
  const { code, hint } = classify(e, ctx);
  let text = `${ctx.op}: ${errnoName(e)}`;
  if (ext.msg) text += `: ${ext.msg}`;
  if (attrType !== undefined) text += ` (at attribute type ${attrType})`;
  if (ext.missingType !== undefined) text += ` (missing attribute type ${ext.missingType})`;
  if (hint) text += ` — ${hint}`;
  return new NetlinkError(code, text, e, ext, attrType);
}

function classify(errno: number, ctx: NetlinkErrorContext): { code: BpfErrorCode; hint?: string } {
  const special = ctx.override?.(errno);
  if (special) return special;
  const xdp = ctx.kind === 'xdp';
  if (isNotSupported(errno)) {
    return {
      code: 'NETLINK',
      hint: xdp ? 'driver has no native XDP: try --mode skb' : 'operation not supported by this device or kernel',
    };
  }
  switch (errno) {
    case ENODEV:
      return { code: 'NO_SUCH_INTERFACE', hint: `${ctx.ifname ? `no such interface "${ctx.ifname}"` : 'no such interface'} (if it is in another network namespace, give its netns: --netns NAME)` };
    case EPERM:
    case EACCES:
      return {
        code: 'NETLINK',
        hint: capsHint([NEED_NETLINK_ADMIN], 'this process has CAP_NET_ADMIN; the refusal comes from elsewhere (a security module, or a namespace owned by another user namespace)'),
      };
    case ERANGE:
      return xdp ? { code: 'NETLINK', hint: 'MTU too large for native XDP on this device: lower the MTU or try --mode skb' } : { code: 'NETLINK' };
    case EBUSY:
    case EEXIST:
      return xdp ? { code: 'ALREADY_ATTACHED', hint: 'a program is already attached: use --replace' } : { code: 'NETLINK', hint: errno === EEXIST ? 'it already exists' : 'device or resource busy' };
    default:
      return { code: 'NETLINK' };
  }
}
