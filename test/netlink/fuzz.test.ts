// Fuzzing netlink reply parsing with mutations of real replies: the root
// namespace's link, address, neighbour and qdisc dumps (read only), plus a
// cls_bpf filter dump and an NLMSG_ERROR with extended-ack TLVs built with our
// encoder (the root namespace has no BPF filters, and nothing is attached
// here). Only a BpfError may escape the parsers; the seed changes every run
// and is printed (test/helpers/fuzz.ts says how to replay a case).
import { describe, expect, it } from 'vitest';
import { AF_INET, dumpAddressesV4, RTM_GETADDR } from '../../src/netlink/addr.js';
import { NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, parseNlmsgErr } from '../../src/netlink/error.js';
import { ifinfomsg, parseLink, RTM_GETLINK, RTM_NEWLINK } from '../../src/netlink/link.js';
import {
  attrNest,
  attrString,
  attrU32,
  encodeAttrs,
  encodeMessage,
  messageAttrs,
  type NlMessage,
  NLM_F_ACK_TLVS,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NlAttrs,
  parseMessages,
} from '../../src/netlink/message.js';
import { dumpNeighboursV4, RTM_GETNEIGH } from '../../src/netlink/neigh.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import {
  dumpFilters,
  listQdiscs,
  parseFilter,
  parseTcmsg,
  RTM_NEWQDISC,
  RTM_NEWTFILTER,
  TCA_BPF_FLAGS,
  TCA_BPF_ID,
  TCA_BPF_NAME,
  TCA_BPF_TAG,
  TCA_CHAIN,
  TCA_KIND,
  TCA_OPTIONS,
  tcmsg,
} from '../../src/netlink/tc.js';
import { cases, REPLAYING, type Rng, runCases, seedLine, summary } from '../helpers/fuzz.js';

const FILE = 'test/netlink/fuzz.test.ts';
const RTM_GETQDISC = 38;

/** A message back on the wire: nlmsghdr + payload, padded to 4. */
function wire(m: NlMessage): Buffer {
  const len = 16 + m.payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(m.type, 4);
  b.writeUInt16LE(m.flags, 6);
  b.writeUInt32LE(m.seq, 8);
  b.writeUInt32LE(m.pid, 12);
  m.payload.copy(b, 16);
  return b;
}

/** Datagrams of real replies from the root namespace (reads only), and built ones. */
function captureReplies(): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  using sock = NetlinkSocket.open();
  const ctx = { op: 'fuzz capture', kind: 'link' as const };
  const dumps: [string, number, Buffer][] = [
    ['links', RTM_GETLINK, ifinfomsg()],
    ['addresses', RTM_GETADDR, Buffer.from([AF_INET, 0, 0, 0, 0, 0, 0, 0])],
    ['neighbours', RTM_GETNEIGH, Buffer.from([AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
    ['qdiscs', RTM_GETQDISC, tcmsg({ ifindex: 0, handle: 0, parent: 0, info: 0 })],
  ];
  for (const [name, type, header] of dumps) {
    const msgs = sock.dump({ type, flags: 0, header }, ctx);
    // One datagram per message and one with them all (as the kernel packs a dump).
    const all = msgs.map(wire);
    out.push({ name, bytes: Buffer.concat(all) });
    for (const m of all.slice(0, 4)) out.push({ name: `${name}[1]`, bytes: m });
  }
  // A cls_bpf filter dump entry and the classifier entry without a handle, as `tc filter show` gets them.
  const filter = (handle: number) =>
    encodeMessage(
      {
        type: RTM_NEWTFILTER,
        flags: NLM_F_MULTI,
        header: tcmsg({ ifindex: 7, handle, parent: 0xfffffff2, info: (1 << 16) | 0x0300 }),
        attrs: [
          attrString(TCA_KIND, 'bpf'),
          attrU32(TCA_CHAIN, 0),
          attrNest(
            TCA_OPTIONS,
            handle ? [attrU32(TCA_BPF_ID, 42), attrString(TCA_BPF_NAME, 'prog.o:[tc]'), { type: TCA_BPF_TAG, value: Buffer.from('0123456789abcdef', 'hex') }, attrU32(TCA_BPF_FLAGS, 1)] : [],
          ),
        ],
      },
      9,
    );
  const done = encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, header: Buffer.alloc(4) }, 9);
  out.push({ name: 'filters', bytes: Buffer.concat([filter(0), filter(1), done]) });
  // An error reply with extended ack: errno, the request's header, then TLVs.
  const req = encodeMessage({ type: RTM_NEWLINK, flags: 5, header: ifinfomsg(3), attrs: [attrString(3, 'veth0')] }, 5);
  const errPayload = Buffer.concat([
    Buffer.from(Int32Array.of(-22).buffer),
    req.subarray(0, 16),
    encodeAttrs([attrString(NLMSGERR_ATTR_MSG, 'Invalid argument here'), attrU32(NLMSGERR_ATTR_OFFS, 36), attrU32(NLMSGERR_ATTR_MISS_TYPE, 3)]),
  ]);
  out.push({ name: 'error', bytes: wire({ type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS | 0x100, seq: 5, pid: 0, payload: errPayload }) });
  return out;
}

/** A stand-in socket whose dump answers with the given messages: the dump consumers' parsing, without the kernel. */
function fakeSocket(msgs: NlMessage[]): NetlinkSocket {
  return { dump: () => msgs } as unknown as NetlinkSocket;
}

function mutate(rng: Rng, base: Buffer, others: Buffer[]): { bytes: Buffer; desc: string } {
  const how = rng.int(100);
  const b = Buffer.from(base);
  if (how < 30) {
    // A length or type field: nlmsg_len / nla_len / nla_type are u16/u32 at 4-aligned offsets.
    const at = 4 * rng.int(Math.max(1, b.length / 4));
    const v = rng.pick([0, 1, 3, 4, 5, 8, 15, 16, 17, 20, 0xffff, 0x7fff, b.length, b.length - at, b.length - at + 4, rng.int(0x10000)]);
    const half = at + 2 * rng.int(2);
    if (rng.chance(0.5) && at + 4 <= b.length) b.writeUInt32LE(v, at);
    else if (half + 2 <= b.length) b.writeUInt16LE(v & 0xffff, half);
    return { bytes: b, desc: `u16/u32 at ${at} = ${v}` };
  }
  if (how < 55) {
    const n = 1 + rng.int(8);
    const at: number[] = [];
    for (let i = 0; i < n && b.length; i++) {
      const p = rng.int(b.length);
      b[p] = rng.chance(0.5) ? b[p]! ^ (1 << rng.int(8)) : rng.int(256);
      at.push(p);
    }
    return { bytes: b, desc: `flip ${at.join(',')}` };
  }
  if (how < 70) {
    const len = rng.int(b.length + 1);
    return { bytes: b.subarray(0, len), desc: `truncate to ${len}` };
  }
  if (how < 85) {
    // Splice: a piece of another reply into this one.
    const o = rng.pick(others);
    const from = rng.int(Math.max(1, o.length));
    const len = 4 * rng.int(16);
    const at = rng.int(b.length + 1);
    return { bytes: Buffer.concat([b.subarray(0, at), o.subarray(from, from + len), b.subarray(at + (rng.chance(0.5) ? len : 0))]), desc: `splice ${len} bytes of another reply at ${at}` };
  }
  const n = rng.int(512);
  return { bytes: Buffer.from(rng.bytes(n)), desc: `${n} random bytes` };
}

/** Everything that reads a reply: splitting, each message by its type, and the dump consumers. */
function readAll(bytes: Buffer): void {
  const msgs = parseMessages(bytes);
  for (const m of msgs) {
    switch (m.type) {
      case RTM_NEWLINK:
        JSON.stringify(parseLink(m));
        break;
      case RTM_NEWTFILTER:
        JSON.stringify(parseFilter(m));
        break;
      case RTM_NEWQDISC:
        parseTcmsg(m);
        break;
      case NLMSG_ERROR:
        parseNlmsgErr(m);
        break;
      default:
        for (const a of messageAttrs(m, 8).list) new NlAttrs(a.value).string(1);
    }
  }
  const sock = fakeSocket(msgs);
  dumpAddressesV4(sock);
  dumpNeighboursV4(sock);
  listQdiscs(sock, msgs[0] && msgs[0].payload.length >= 8 ? msgs[0].payload.readInt32LE(4) : 1);
  dumpFilters(sock, 7, 0xfffffff2, { op: 'fuzz', kind: 'tc' } as never);
}

describe('fuzz netlink replies', () => {
  const replies = captureReplies();

  it('captured real replies of each kind', () => {
    console.log(seedLine(FILE));
    const names = new Set(replies.map((r) => r.name));
    for (const n of ['links', 'addresses', 'neighbours', 'qdiscs', 'filters', 'error']) expect(names.has(n), n).toBe(true);
    // The root namespace has a loopback at least: the real link dump parses, and names it.
    const links = parseMessages(replies.find((r) => r.name === 'links')!.bytes)
      .filter((m) => m.type === RTM_NEWLINK)
      .map(parseLink);
    expect(links.some((l) => l.ifname === 'lo' && l.ifindex === 1)).toBe(true);
    for (const r of replies) readAll(r.bytes);
  });

  it('mutated replies: parsed, or a BpfError', () => {
    const all = replies.map((r) => r.bytes);
    const r = runCases(FILE, 'netlink', cases(8000), (rng, note) => {
      const base = rng.pick(replies);
      let { bytes, desc } = mutate(rng, base.bytes, all);
      if (rng.chance(0.3)) {
        const again = mutate(rng, bytes, all);
        bytes = again.bytes;
        desc += `, ${again.desc}`;
      }
      note(`${base.name}: ${desc} (${bytes.toString('hex').slice(0, 400)})`);
      readAll(bytes);
    });
    console.log(summary('netlink', r));
    expect(r.failures, seedLine(FILE)).toEqual([]);
    // 54-56% parse (24 seeds); a quarter is > 40 sigma below that at 8000 cases.
    if (!REPLAYING) expect(r.ok).toBeGreaterThan(r.cases / 4);
  });
});

// The fuzzer found no parser bug here so far; these pin the short-header checks it relies on.
describe('netlink parsing, by hand', () => {
  it('a payload shorter than its family header is NETLINK, not a RangeError', () => {
    for (const type of [RTM_NEWLINK, RTM_NEWTFILTER, RTM_NEWQDISC]) {
      const m: NlMessage = { type, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(3) };
      expect(() => (type === RTM_NEWLINK ? parseLink(m) : parseTcmsg(m))).toThrowError(expect.objectContaining({ code: 'NETLINK' }));
    }
  });
});
