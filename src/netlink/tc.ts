// Traffic control over rtnetlink: struct tcmsg, the clsact qdisc
// (RTM_NEWQDISC / RTM_DELQDISC / RTM_GETQDISC) and cls_bpf filters
// (RTM_NEWTFILTER / RTM_DELTFILTER / RTM_GETTFILTER), as iproute2's
// `tc qdisc add dev X clsact` and `tc filter add dev X ingress bpf da …` send
// them. Byte work and single requests only; policy lives in attach/tc.ts.

import { BpfError } from '../errors.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import { attrNest, attrString, attrU32, getS32, getU32, messageAttrs, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, putS32, putU32, type NlAttr, type NlMessage } from './message.js';
import type { NetlinkErrorContext } from './error.js';
import type { NetlinkSocket } from './socket.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

/** sizeof(struct tcmsg) */
export const TCMSG_LEN = 20;

// enum TCA_* (rtnetlink.h)
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_CHAIN = 11;

// enum TCA_BPF_* (pkt_cls.h): the cls_bpf options nest
export const TCA_BPF_CLASSID = 3;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_FLAGS_GEN = 9;
export const TCA_BPF_TAG = 10;
export const TCA_BPF_ID = 11;
/** The program's return value is the verdict (TC_ACT_*); no separate action needed. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1 << 0;

// Handles (pkt_sched.h): 16-bit major:minor halves of a u32.
export const TC_H_MAJ_MASK = 0xffff0000;
export const TC_H_MIN_MASK = 0x0000ffff;
export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
/** clsact sits where the ingress qdisc does. */
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;

export const ETH_P_ALL = 0x0003;

export const tcHMake = (maj: number, min: number): number => ((maj & TC_H_MAJ_MASK) | (min & TC_H_MIN_MASK)) >>> 0;
export const tcHMaj = (h: number): number => (h & TC_H_MAJ_MASK) >>> 0;
export const tcHMin = (h: number): number => h & TC_H_MIN_MASK;

/** The two hooks clsact gives a device. */
export type TcDirection = 'ingress' | 'egress';

/** The filter parent for a clsact direction: ffff:fff2 (ingress) or ffff:fff3 (egress). */
export function clsactParent(direction: TcDirection): number {
  return tcHMake(TC_H_CLSACT, direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

/** 16-bit host to network order (the protocol half of tcm_info is big-endian); its own inverse. */
export const htons = (v: number): number => (LITTLE_ENDIAN ? ((v & 0xff) << 8) | ((v >> 8) & 0xff) : v & 0xffff);

/** tcm_info of a filter: priority in the upper half, protocol (network order) in the lower. */
export const filterInfo = (priority: number, protocol = ETH_P_ALL): number => (((priority & 0xffff) << 16) | htons(protocol)) >>> 0;

export interface TcMsg {
  ifindex: number;
  handle: number;
  parent: number;
  info: number;
}

/** Encode struct tcmsg (family AF_UNSPEC). */
export function tcmsg(m: TcMsg): Buffer {
  const b = Buffer.alloc(TCMSG_LEN);
  putS32(b, 4, m.ifindex);
  putU32(b, 8, m.handle);
  putU32(b, 12, m.parent);
  putU32(b, 16, m.info);
  return b;
}

export function parseTcmsg(msg: NlMessage): TcMsg {
  const p = msg.payload;
  if (p.length < TCMSG_LEN) throw new BpfError('NETLINK', `netlink: short tcmsg (${p.length} bytes)`);
  return { ifindex: getS32(p, 4), handle: getU32(p, 8), parent: getU32(p, 12), info: getU32(p, 16) };
}

// ------------------------------------------------------------------ qdiscs

export interface Qdisc {
  ifindex: number;
  handle: number;
  parent: number;
  kind: string;
}

/** RTM_GETQDISC dump, kept to one device (the kernel dumps every device of the namespace). */
export function listQdiscs(sock: NetlinkSocket, ifindex: number): Qdisc[] {
  return sock
    .dump({ type: RTM_GETQDISC, flags: 0, header: tcmsg({ ifindex, handle: 0, parent: 0, info: 0 }) }, { op: `list qdiscs of ifindex ${ifindex}`, kind: 'generic' })
    .filter((m) => m.type === RTM_NEWQDISC)
    .map((m) => {
      const t = parseTcmsg(m);
      return { ifindex: t.ifindex, handle: t.handle, parent: t.parent, kind: messageAttrs(m, TCMSG_LEN).string(TCA_KIND) ?? '' };
    })
    .filter((q) => q.ifindex === ifindex);
}

/** The qdisc in the ingress slot (clsact or the older ingress qdisc), if any. */
export function ingressSlotQdisc(sock: NetlinkSocket, ifindex: number): Qdisc | undefined {
  return listQdiscs(sock, ifindex).find((q) => q.parent === TC_H_INGRESS);
}

const clsactMsg = (ifindex: number): Buffer => tcmsg({ ifindex, handle: tcHMake(TC_H_CLSACT, 0), parent: TC_H_CLSACT, info: 0 });

/**
 * RTM_NEWQDISC clsact with NLM_F_EXCL: never replaces what is there. Throws
 * the kernel's EEXIST when the ingress slot is taken; the caller decides
 * whether that is fine.
 */
export function addClsactQdisc(sock: NetlinkSocket, ifindex: number, ctx: NetlinkErrorContext): void {
  sock.ack({ type: RTM_NEWQDISC, flags: NLM_F_CREATE | NLM_F_EXCL, header: clsactMsg(ifindex), attrs: [attrString(TCA_KIND, 'clsact')] }, ctx);
}

/** RTM_DELQDISC clsact: removes every filter on both of its hooks with it. */
export function deleteClsactQdisc(sock: NetlinkSocket, ifindex: number, ctx: NetlinkErrorContext): void {
  sock.ack({ type: RTM_DELQDISC, flags: 0, header: clsactMsg(ifindex), attrs: [attrString(TCA_KIND, 'clsact')] }, ctx);
}

// ----------------------------------------------------------------- filters

export interface BpfFilterSpec {
  ifindex: number;
  parent: number;
  priority: number;
  handle: number;
  progFd: number;
  /** TCA_BPF_NAME, shown by `tc filter show` (iproute2 writes "<object>:[<section>]"). */
  name: string;
  directAction: boolean;
  /** Swap the filter at priority/handle if there is one (NLM_F_REPLACE) instead of failing (NLM_F_EXCL). */
  replace: boolean;
  protocol?: number;
}

/** RTM_NEWTFILTER for a cls_bpf filter. EEXIST when one is at priority/handle and replace is off. */
export function addBpfFilter(sock: NetlinkSocket, f: BpfFilterSpec, ctx: NetlinkErrorContext): void {
  const options: NlAttr[] = [attrU32(TCA_BPF_FD, f.progFd), attrString(TCA_BPF_NAME, f.name)];
  if (f.directAction) options.push(attrU32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT));
  sock.ack(
    {
      type: RTM_NEWTFILTER,
      flags: NLM_F_CREATE | (f.replace ? NLM_F_REPLACE : NLM_F_EXCL),
      header: tcmsg({ ifindex: f.ifindex, handle: f.handle, parent: f.parent, info: filterInfo(f.priority, f.protocol) }),
      attrs: [attrString(TCA_KIND, 'bpf'), attrNest(TCA_OPTIONS, options)],
    },
    ctx,
  );
}

/** One filter as RTM_GETTFILTER reports it; the cls_bpf fields are set when kind is "bpf". */
export interface TcFilter {
  ifindex: number;
  parent: number;
  priority: number;
  /** Host order (3 is ETH_P_ALL). */
  protocol: number;
  handle: number;
  kind: string;
  chain: number;
  progId?: number;
  name?: string;
  /** TCA_BPF_TAG as hex. */
  tag?: string;
  directAction?: boolean;
}

export function parseFilter(msg: NlMessage): TcFilter {
  const t = parseTcmsg(msg);
  const attrs = messageAttrs(msg, TCMSG_LEN);
  const f: TcFilter = {
    ifindex: t.ifindex,
    parent: t.parent,
    priority: t.info >>> 16,
    protocol: htons(t.info & 0xffff),
    handle: t.handle,
    kind: attrs.string(TCA_KIND) ?? '',
    chain: attrs.u32(TCA_CHAIN) ?? 0,
  };
  const opts = f.kind === 'bpf' ? attrs.nested(TCA_OPTIONS) : undefined;
  if (opts) {
    const id = opts.u32(TCA_BPF_ID);
    if (id !== undefined) f.progId = id;
    const name = opts.string(TCA_BPF_NAME);
    if (name !== undefined) f.name = name;
    const tag = opts.get(TCA_BPF_TAG);
    if (tag) f.tag = tag.toString('hex');
    f.directAction = ((opts.u32(TCA_BPF_FLAGS) ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0;
  }
  return f;
}

/**
 * RTM_GETTFILTER dump of one parent (a clsact hook). The kernel also sends
 * one entry per priority without a handle (the classifier instance itself);
 * those are dropped, leaving the filters.
 */
export function dumpFilters(sock: NetlinkSocket, ifindex: number, parent: number, ctx: NetlinkErrorContext): TcFilter[] {
  return sock
    .dump({ type: RTM_GETTFILTER, flags: 0, header: tcmsg({ ifindex, handle: 0, parent, info: 0 }) }, ctx)
    .filter((m) => m.type === RTM_NEWTFILTER)
    .map(parseFilter)
    .filter((f) => f.handle !== 0);
}

/** RTM_DELTFILTER of the filter at priority/handle (handle 0: the whole priority). */
export function deleteFilter(sock: NetlinkSocket, f: { ifindex: number; parent: number; priority: number; handle: number; kind: string; protocol?: number }, ctx: NetlinkErrorContext): void {
  sock.ack(
    {
      type: RTM_DELTFILTER,
      flags: 0,
      header: tcmsg({ ifindex: f.ifindex, handle: f.handle, parent: f.parent, info: filterInfo(f.priority, f.protocol) }),
      attrs: [attrString(TCA_KIND, f.kind)],
    },
    ctx,
  );
}
