// The socket-buffer helpers that rebuild headers, as net/core/filter.c does
// them on a test run's skb: bpf_skb_adjust_room, bpf_skb_change_proto, the
// VLAN pop, ECN marking and bpf_csum_level. Each returns 0 or a negative
// errno; the Packet keeps the kernel's header offsets, so later helpers
// (change_tail's lower bound, LD_ABS's SKF_NET_OFF, load_bytes_relative)
// see what the kernel's would.

import * as A from './arith.js';
import { ETH_HLEN, type Packet, type SkBuff, VLAN_HLEN, frameProtocol } from './context.js';
import { EINVAL, ENOENT } from './maps.js';

export const ENOMEM = 12;
export const EFAULT = 14;
const EACCES = 13;
const EALREADY = 114;
/** The kernel's internal ENOTSUPP (not EOPNOTSUPP), as helpers return it. */
export const ENOTSUPP = 524;
/** BPF_SKB_MAX_LEN: SKB_MAX_ALLOC, four pages less the skb_shared_info (320 bytes on x86-64). */
export const SKB_MAX_ALLOC = 4 * 4096 - 320;

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const isVlanProto = (p: number): boolean => p === ETH_P_8021Q || p === 0x88a8;

/** IPv6's header is this much longer than IPv4's: what bpf_skb_change_proto inserts or removes. */
const IP_LEN_DIFF = 40 - 20;

// bpf_skb_adjust_room's flags (enum in uapi/linux/bpf.h).
const FIXED_GSO = 1 << 0;
const ENCAP_L3_IPV4 = 1 << 1;
const ENCAP_L3_IPV6 = 1 << 2;
const ENCAP_L4_GRE = 1 << 3;
const ENCAP_L4_UDP = 1 << 4;
const NO_CSUM_RESET = 1 << 5;
const ENCAP_L2_ETH = 1 << 6;
const DECAP_L3_IPV4 = 1 << 7;
const DECAP_L3_IPV6 = 1 << 8;
const DECAP_L3 = DECAP_L3_IPV4 | DECAP_L3_IPV6;
/** The inner L2 header's length sits in the top byte: BPF_F_ADJ_ROOM_ENCAP_L2(len). */
const ENCAP_L2_SHIFT = 56n;
/** Every flag bpf_skb_adjust_room knows, the inner L2 length included. */
const ADJ_ROOM_FLAGS = 0x1ffn | (0xffn << ENCAP_L2_SHIFT);
/** What shrinking takes: the decap flags, fixed GSO, no checksum reset. */
const SHRINK_FLAGS = BigInt(FIXED_GSO | DECAP_L3 | NO_CSUM_RESET);
const BPF_ADJ_ROOM_NET = 0;
const BPF_ADJ_ROOM_MAC = 1;

/** bpf_skb_net_base_len: the network header's length by protocol (~0 for one that is neither IP). */
const netBaseLen = (proto: number): number => (proto === ETH_P_IP ? 20 : proto === ETH_P_IPV6 ? 40 : 0xffffffff);

/** skb_mac_header_len: from the mac header to the network header. */
const macHeaderLen = (pkt: Packet): number => (pkt.net - pkt.mac) & 0xffff;

/**
 * bpf_skb_change_proto: IPv4 to IPv6 puts 20 zero bytes after the mac
 * header (a new head when the headroom is short), IPv6 to IPv4 takes the 20
 * after it out (-ENOMEM when the frame is shorter); the protocol follows and
 * the hash is cleared. Any other pair is -ENOTSUPP, flags -EINVAL. The
 * program writes the new header itself.
 */
export function changeProto(pkt: Packet, skb: SkBuff, proto: number, flags: bigint): number {
  if (flags !== 0n) return -EINVAL;
  const off = macHeaderLen(pkt);
  if (skb.protocol === ETH_P_IP && proto === ETH_P_IPV6) {
    pkt.reserveHead(IP_LEN_DIFF);
    pkt.insertAt(off, IP_LEN_DIFF);
    skb.protocol = ETH_P_IPV6;
  } else if (skb.protocol === ETH_P_IPV6 && proto === ETH_P_IP) {
    if (off + IP_LEN_DIFF > pkt.end - pkt.data) return -ENOMEM;
    pkt.removeAt(off, IP_LEN_DIFF);
    skb.protocol = ETH_P_IP;
  } else return -ENOTSUPP;
  skb.hash = 0;
  return 0;
}

/**
 * bpf_skb_adjust_room: `lenDiff` bytes of room made (zeroes) or taken out
 * after the mac header (mode BPF_ADJ_ROOM_MAC) or after the network header
 * (BPF_ADJ_ROOM_NET), on IPv4 and IPv6 frames only. With an encap flag the
 * network header becomes the new outer one, the transport header follows
 * for GRE/UDP and the protocol for a change of IP version; decap flags set
 * the protocol when shrinking. CHECKSUM_UNNECESSARY is reset unless
 * BPF_F_ADJ_ROOM_NO_CSUM_RESET. The errors and their order are the kernel's.
 */
export function adjustRoom(pkt: Packet, skb: SkBuff, lenDiff: number, mode: number, flags: bigint): number {
  if (flags & ~ADJ_ROOM_FLAGS) return -EINVAL;
  const abs = Math.abs(lenDiff);
  if (abs > 0xfff) return -EFAULT;
  const proto = skb.protocol;
  if (proto !== ETH_P_IP && proto !== ETH_P_IPV6) return -ENOTSUPP;
  const f = Number(flags & 0x1ffn);
  const shrink = lenDiff < 0;
  let off = macHeaderLen(pkt);
  if (mode === BPF_ADJ_ROOM_NET) off += netBaseLen(proto);
  else if (mode !== BPF_ADJ_ROOM_MAC) return -ENOTSUPP;
  let lenMin = netBaseLen(proto);
  if (f & DECAP_L3) {
    if (!shrink) return -EINVAL;
    if ((f & DECAP_L3) === DECAP_L3_IPV4) lenMin = 20;
    else if ((f & DECAP_L3) === DECAP_L3_IPV6) lenMin = 40;
    else return -EINVAL;
  }
  const len = pkt.end - pkt.data;
  const lenCur = (len - (pkt.net - pkt.data)) >>> 0;
  if (shrink ? abs >= lenCur || lenCur - abs < lenMin : len + abs > SKB_MAX_ALLOC && skb.gsoSize === 0) return -ENOTSUPP;
  const r = shrink ? netShrink(pkt, skb, off, abs, flags) : netGrow(pkt, skb, off, abs, f, Number(flags >> ENCAP_L2_SHIFT));
  if (r === 0 && !(f & NO_CSUM_RESET)) resetChecksumUnnecessary(skb);
  return r;
}

/** bpf_skb_net_grow. A test run's GSO packet has no gso_type (neither TCP nor UDP_L4): -ENOTSUPP. */
function netGrow(pkt: Packet, skb: SkBuff, off: number, n: number, f: number, innerMacLen: number): number {
  if (skb.gsoSize !== 0) return -ENOTSUPP;
  // The head is taken before the encap checks: a refused encap may still have a new head.
  pkt.reserveHead(n);
  const encap = (f & (ENCAP_L3_IPV4 | ENCAP_L3_IPV6)) !== 0;
  const macLen = macHeaderLen(pkt);
  if (encap) {
    if (f & ENCAP_L3_IPV4 && f & ENCAP_L3_IPV6) return -EINVAL;
    if (f & ENCAP_L4_GRE && f & ENCAP_L4_UDP) return -EINVAL;
    if (f & ENCAP_L2_ETH && innerMacLen < ETH_HLEN) return -EINVAL;
    if (skb.encapsulation) return -EALREADY;
    if (innerMacLen > n) return -EINVAL;
  }
  pkt.insertAt(off, n);
  if (!encap) return 0;
  skb.encapsulation = true;
  pkt.net = pkt.data + macLen;
  if (f & (ENCAP_L4_GRE | ENCAP_L4_UDP)) pkt.transport = pkt.net + (f & ENCAP_L3_IPV6 ? 40 : 20);
  if (skb.protocol === ETH_P_IP && f & ENCAP_L3_IPV6) skb.protocol = ETH_P_IPV6;
  else if (skb.protocol === ETH_P_IPV6 && f & ENCAP_L3_IPV4) skb.protocol = ETH_P_IP;
  return 0;
}

/** bpf_skb_net_shrink: only the shrinking flags; the frame must hold off + n bytes (-ENOMEM). */
function netShrink(pkt: Packet, skb: SkBuff, off: number, n: number, flags: bigint): number {
  if (flags & ~SHRINK_FLAGS) return -EINVAL;
  if (skb.gsoSize !== 0) return -ENOTSUPP;
  if (off + n > pkt.end - pkt.data) return -ENOMEM;
  pkt.removeAt(off, n);
  const f = Number(flags);
  if (skb.protocol === ETH_P_IP && f & DECAP_L3_IPV6) skb.protocol = ETH_P_IPV6;
  else if (skb.protocol === ETH_P_IPV6 && f & DECAP_L3_IPV4) skb.protocol = ETH_P_IP;
  return 0;
}

/** __skb_reset_checksum_unnecessary: back to CHECKSUM_NONE (bpf_csum_level's RESET, and bpf_skb_adjust_room unless told not to). */
function resetChecksumUnnecessary(skb: SkBuff): void {
  skb.csumUnnecessary = false;
  skb.csumLevel = 0;
}

/** SKB_MAX_CSUM_LEVEL */
const MAX_CSUM_LEVEL = 3;

/** bpf_csum_level: BPF_CSUM_LEVEL_QUERY (0), _INC (1), _DEC (2), _RESET (3) on CHECKSUM_NONE / CHECKSUM_UNNECESSARY. */
export function csumLevel(skb: SkBuff, level: bigint): number {
  switch (level) {
    case 0n:
      return skb.csumUnnecessary ? skb.csumLevel : -EACCES;
    case 1n:
      if (!skb.csumUnnecessary) [skb.csumUnnecessary, skb.csumLevel] = [true, 0];
      else if (skb.csumLevel < MAX_CSUM_LEVEL) skb.csumLevel++;
      return 0;
    case 2n:
      if (skb.csumUnnecessary && skb.csumLevel === 0) skb.csumUnnecessary = false;
      else if (skb.csumUnnecessary) skb.csumLevel--;
      return 0;
    case 3n:
      resetChecksumUnnecessary(skb);
      return 0;
    default:
      return -EINVAL;
  }
}

/**
 * __skb_vlan_pop: the tag in the frame after the MAC addresses taken out
 * (data must be at the mac header: -EINVAL; the frame must hold it: -ENOMEM);
 * skb->protocol becomes the encapsulated one (vlan_set_encap_proto: an
 * EtherType from 0x600 up, else 802.3 or 802.2 by the two bytes after).
 */
export function vlanPop(pkt: Packet, skb: SkBuff): { tci: number } | number {
  if (pkt.data !== pkt.mac) return -EINVAL;
  if (pkt.end - pkt.data < ETH_HLEN + VLAN_HLEN) return -ENOMEM;
  const tci = (pkt.buf[pkt.data + 14]! << 8) | pkt.buf[pkt.data + 15]!;
  const protocol = frameProtocol(pkt, 16);
  pkt.removeVlan();
  skb.protocol = protocol;
  return { tci };
}

/**
 * bpf_skb_ecn_set_ce: an ECN-capable IPv4 or IPv6 header (at the network
 * header, whole in the frame) marked Congestion Experienced, the IPv4
 * checksum updated as the kernel's IP_ECN_set_ce adds to it; 1 when the
 * header is (now) CE, 0 when it is not ECN-capable or not there.
 */
export function ecnSetCe(pkt: Packet, skb: SkBuff): number {
  const proto = skb.protocol;
  const net = pkt.net;
  const dv = new DataView(pkt.buf.buffer, pkt.buf.byteOffset, pkt.buf.byteLength);
  if (proto === ETH_P_IP) {
    if (net + 20 > pkt.end) return 0;
    const tos = pkt.buf[net + 1]!;
    const ecn = (tos + 1) & 3; // not-ECT 01, ECT(1) 10, ECT(0) 11, CE 00
    if (!(ecn & 2)) return ecn === 0 ? 1 : 0;
    // csum16_add of htons(0xfffb) + htons(ecn) on the check field as stored, end-around carry.
    const add = (A.bswap16(0xfffb) + A.bswap16(ecn)) & 0xffff;
    let sum = (dv.getUint16(net + 10, true) + add) & 0xffff;
    sum = (sum + (sum < add ? 1 : 0)) & 0xffff;
    dv.setUint16(net + 10, sum, true);
    pkt.buf[net + 1] = tos | 3;
    return 1;
  }
  if (proto === ETH_P_IPV6) {
    if (net + 40 > pkt.end) return 0;
    // The traffic class spans bytes 0-1; its ECN bits are bits 4-5 of byte 1.
    if (((pkt.buf[net + 1]! >> 4) & 3) === 0) return 0;
    pkt.buf[net + 1] = pkt.buf[net + 1]! | 0x30;
    return 1;
  }
  return 0;
}

const EOPNOTSUPP = 95;

/**
 * bpf_skb_set_tstamp: on IPv4 and IPv6 socket buffers only (-EOPNOTSUPP),
 * BPF_SKB_CLOCK_REALTIME (0) with any time, MONOTONIC (1) and TAI (2) with
 * a non-zero one; any other clock -EINVAL.
 */
export function setTstamp(skb: SkBuff, tstamp: bigint, type: number): number {
  if (skb.protocol !== ETH_P_IP && skb.protocol !== ETH_P_IPV6) return -EOPNOTSUPP;
  if (type > 2 || (type !== 0 && tstamp === 0n)) return -EINVAL;
  skb.setTstamp(tstamp, type);
  return 0;
}

// ---------------------------------------------------------------- tunnel metadata

/**
 * What bpf_skb_set_tunnel_key attaches to the socket buffer (the kernel's
 * per-CPU metadata dst) and bpf_skb_get_tunnel_key/_opt read back: a test
 * run's skb has none until the program sets it.
 */
export interface TunnelInfo {
  ipv6: boolean;
  /** tun_id: the program's u32. */
  id: number;
  /** key.u.ip*.src and .dst: 16 bytes, an IPv4 address (network order) in the first 4. */
  src: Uint8Array;
  dst: Uint8Array;
  tos: number;
  ttl: number;
  /** The IPv6 flow label (20 bits). */
  label: number;
  /** IP_TUNNEL_*_BIT flags. */
  flags: number;
  options: Uint8Array;
}

const EPROTO = 71;
/** sizeof(struct bpf_tunnel_key), and the older layouts the helpers take (up to local_ipv6, tunnel_label, tunnel_ext, remote_ipv4). */
const TUNNEL_KEY_SIZE = 44;
const TUNNEL_KEY_COMPAT = [28, 24, 22, 8];
// BPF_F_TUNINFO_IPV6, BPF_F_ZERO_CSUM_TX, BPF_F_DONT_FRAGMENT, BPF_F_SEQ_NUMBER, BPF_F_NO_TUNNEL_KEY / BPF_F_TUNINFO_FLAGS.
const TUNINFO_IPV6 = 1n;
const ZERO_CSUM_TX = 2n;
const DONT_FRAGMENT = 4n;
const SEQ_NUMBER = 8n;
const NO_TUNNEL_KEY = 16n;
const TUNINFO_FLAGS = 16n;
// IP_TUNNEL_*_BIT
const TUN_CSUM = 1 << 0;
const TUN_KEY = 1 << 2;
const TUN_SEQ = 1 << 3;
const TUN_DONT_FRAGMENT = 1 << 8;
const TUN_NOCACHE = 1 << 13;
/** ip_tunnel_set_options_present: GENEVE, VXLAN, ERSPAN, GTP and PFCP options. */
const TUN_OPTIONS = (1 << 11) | (1 << 12) | (1 << 14) | (1 << 15) | (1 << 17);
/** IP_TUNNEL_OPTS_MAX: options_len is a u8. */
const TUNNEL_OPTS_MAX = 255;

/** bpf_skb_set_tunnel_key: `from` is the program's struct bpf_tunnel_key (`size` bytes of it). */
export function setTunnelKey(skb: SkBuff, from: Uint8Array, flags: bigint): number {
  if (flags & ~(TUNINFO_IPV6 | ZERO_CSUM_TX | DONT_FRAGMENT | SEQ_NUMBER | NO_TUNNEL_KEY)) return -EINVAL;
  if (from.length !== TUNNEL_KEY_SIZE && !TUNNEL_KEY_COMPAT.includes(from.length)) return -EINVAL;
  const key = new Uint8Array(TUNNEL_KEY_SIZE);
  key.set(from);
  const dv = new DataView(key.buffer);
  const ipv6 = (flags & TUNINFO_IPV6) !== 0n;
  if ((!ipv6 && dv.getUint32(24, true)) || dv.getUint16(22, true)) return -EINVAL;
  const info: TunnelInfo = {
    ipv6,
    id: dv.getUint32(0, true),
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
    tos: key[20]!,
    ttl: key[21]!,
    label: ipv6 ? dv.getUint32(24, true) & 0xfffff : 0,
    flags: TUN_NOCACHE | (flags & DONT_FRAGMENT ? TUN_DONT_FRAGMENT : 0) | (flags & ZERO_CSUM_TX ? 0 : TUN_CSUM) | (flags & SEQ_NUMBER ? TUN_SEQ : 0) | (flags & NO_TUNNEL_KEY ? 0 : TUN_KEY),
    options: new Uint8Array(0),
  };
  // The remote address goes to dst, the local one to src (the kernel's transmit side).
  if (ipv6) {
    info.dst.set(key.subarray(4, 20));
    info.src.set(key.subarray(28, 44));
  } else {
    new DataView(info.dst.buffer).setUint32(0, dv.getUint32(4, true));
    new DataView(info.src.buffer).setUint32(0, dv.getUint32(28, true));
  }
  skb.tunnel = info;
  return 0;
}

/**
 * bpf_skb_get_tunnel_key: the key as the kernel reads its metadata back —
 * src as the remote address, dst as the local one — into `to` (zeroed on
 * every error: no tunnel or an unknown flag -EINVAL, the other IP version
 * -EPROTO, a size that is no layout -EINVAL).
 */
export function getTunnelKey(skb: SkBuff, to: Uint8Array, flags: bigint): number {
  const info = skb.tunnel;
  const fail = (errno: number) => (to.fill(0), -errno);
  if (!info || flags & ~(TUNINFO_IPV6 | TUNINFO_FLAGS)) return fail(EINVAL);
  if (info.ipv6 !== ((flags & TUNINFO_IPV6) !== 0n)) return fail(EPROTO);
  if (to.length !== TUNNEL_KEY_SIZE && (!TUNNEL_KEY_COMPAT.includes(to.length) || (to.length === 8 && info.ipv6))) return fail(EINVAL);
  const key = new Uint8Array(TUNNEL_KEY_SIZE);
  const dv = new DataView(key.buffer);
  dv.setUint32(0, info.id, true);
  key[20] = info.tos;
  key[21] = info.ttl;
  // tunnel_flags is __be16: the low 16 flag bits as stored.
  if (flags & TUNINFO_FLAGS) dv.setUint16(22, info.flags & 0xffff, false);
  if (info.ipv6) {
    key.set(info.src, 4);
    key.set(info.dst, 28);
    dv.setUint32(24, info.label, true);
  } else {
    dv.setUint32(4, new DataView(info.src.buffer).getUint32(0), true);
    dv.setUint32(28, new DataView(info.dst.buffer).getUint32(0), true);
  }
  to.set(key.subarray(0, to.length));
  return 0;
}

/** bpf_skb_set_tunnel_opt: only after bpf_skb_set_tunnel_key in this run, a multiple of 4 bytes (-EINVAL), at most 255 (-ENOMEM). */
export function setTunnelOpt(skb: SkBuff, from: Uint8Array): number {
  const info = skb.tunnel;
  if (!info || from.length & 3) return -EINVAL;
  if (from.length > TUNNEL_OPTS_MAX) return -ENOMEM;
  info.options = from.slice();
  if (from.length) info.flags |= TUN_OPTIONS;
  return 0;
}

/** bpf_skb_get_tunnel_opt: the options and their length; none (-ENOENT) or more than `to` holds (-ENOMEM) zero `to`. */
export function getTunnelOpt(skb: SkBuff, to: Uint8Array): number {
  const info = skb.tunnel;
  if (!info || !(info.flags & TUN_OPTIONS)) return (to.fill(0), -ENOENT);
  if (to.length < info.options.length) return (to.fill(0), -ENOMEM);
  to.fill(0);
  to.set(info.options);
  return info.options.length;
}

/** BPF_HDR_START_MAC, BPF_HDR_START_NET */
const HDR_START_MAC = 0;
const HDR_START_NET = 1;

/**
 * bpf_skb_load_bytes_relative: `len` bytes from `offset` past the mac or
 * network header into `to`; an offset past 0xffff, another start or a range
 * past the frame's end is -EFAULT with `to` zeroed.
 */
export function loadBytesRelative(pkt: Packet, offset: number, to: Uint8Array, start: number): number {
  const base = start === HDR_START_MAC ? pkt.mac : start === HDR_START_NET ? pkt.net : undefined;
  if (offset > 0xffff || base === undefined || base + offset + to.length > pkt.end) {
    to.fill(0);
    return -EFAULT;
  }
  to.set(pkt.buf.subarray(base + offset, base + offset + to.length));
  return 0;
}
