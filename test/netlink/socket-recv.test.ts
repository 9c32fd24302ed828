// The socket's receive path without a kernel: sys/ffi is replaced by a fake
// netlink peer that answers each request with datagrams this file builds, so
// a dump split over many datagrams, a dump the kernel flags NLM_F_DUMP_INTR,
// and a receive queue overflow (ENOBUFS) can be produced on demand, exactly.
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** What the fake peer does with one request: the datagrams it queues, or an errno for recv. */
type Answer = (req: { type: number; flags: number; seq: number }) => (Buffer | number)[];

const peer = vi.hoisted(() => ({
  queue: [] as (Buffer | number)[],
  answer: undefined as Answer | undefined,
  sends: 0,
  recvFlags: [] as number[],
}));

vi.mock('../../src/sys/ffi.js', () => ({
  // The socket constants NetlinkSocket takes from ffi, as the real module has them.
  SOCK_RAW: 3,
  SOCK_CLOEXEC: 0o2000000,
  MSG_DONTWAIT: 0x40,
  socket: () => 42,
  close: () => 0,
  setsockopt: () => 0,
  bind: () => 0,
  getsockname: (_fd: number, sa: Uint8Array) => {
    Buffer.from(sa.buffer, sa.byteOffset, sa.byteLength).writeUInt32LE(4711, 4);
    return 0;
  },
  sendto: (_fd: number, buf: Uint8Array) => {
    const b = Buffer.from(buf);
    peer.sends++;
    peer.queue.push(...peer.answer!({ type: b.readUInt16LE(4), flags: b.readUInt16LE(6), seq: b.readUInt32LE(8) }));
    return b.length;
  },
  recv: (_fd: number, buf: Uint8Array, flags: number) => {
    peer.recvFlags.push(flags);
    const next = peer.queue[0];
    if (next === undefined) return -11; // EAGAIN: SO_RCVTIMEO expired
    if (typeof next === 'number') {
      peer.queue.shift();
      return -next;
    }
    const n = Math.min(next.length, buf.byteLength);
    buf.set(next.subarray(0, n));
    const peek = (flags & 0x2) !== 0;
    if (!peek) peer.queue.shift();
    return peek && flags & 0x20 ? next.length : n;
  },
}));

const { BpfError } = await import('../../src/errors.js');
const { dumpLinks, ifinfomsg, setLinkUp, RTM_GETLINK, RTM_NEWLINK, IFLA_IFNAME, IFLA_MTU } = await import('../../src/netlink/link.js');
const { dumpFilters, RTM_NEWTFILTER, TCA_KIND, TCA_OPTIONS, TCA_BPF_ID, tcmsg, clsactParent } = await import('../../src/netlink/tc.js');
const { attrNest, attrString, attrU32, encodeMessage, NLM_F_DUMP_INTR, NLM_F_MULTI, NLMSG_DONE } = await import('../../src/netlink/message.js');
const { NetlinkSocket } = await import('../../src/netlink/socket.js');

const IFLA_PROP_LIST = 52;
const IFLA_ALT_IFNAME = 53;
const ENOBUFS = 105;
const PORT = 4711;

/** An RTM_NEWLINK dump entry the way the kernel writes one: name, MTU, a long altname. */
function linkMsg(seq: number, ifindex: number, flags = NLM_F_MULTI): Buffer {
  return encodeMessage(
    {
      type: RTM_NEWLINK,
      flags,
      header: ifinfomsg(ifindex),
      attrs: [
        attrString(IFLA_IFNAME, `dev${ifindex}`),
        attrU32(IFLA_MTU, 1000 + ifindex),
        attrNest(IFLA_PROP_LIST, [attrString(IFLA_ALT_IFNAME, `an-alternative-name-of-forty-plus-characters-${ifindex}`)]),
      ],
    },
    seq,
    PORT,
  );
}

function doneMsg(seq: number, flags = NLM_F_MULTI): Buffer {
  return encodeMessage({ type: NLMSG_DONE, flags, header: Buffer.alloc(4) }, seq, PORT);
}

/** Pack messages into datagrams of at most `size` bytes, as the kernel fills each dump skb. */
function datagrams(msgs: Buffer[], size: number): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  let len = 0;
  for (const m of msgs) {
    if (len + m.length > size && cur.length) {
      out.push(Buffer.concat(cur));
      cur = [];
      len = 0;
    }
    cur.push(m);
    len += m.length;
  }
  if (cur.length) out.push(Buffer.concat(cur));
  return out;
}

const linkDump = (seq: number, indexes: number[], flags = NLM_F_MULTI, size = 4096): Buffer[] => datagrams([...indexes.map((i) => linkMsg(seq, i, flags)), doneMsg(seq, flags)], size);

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

beforeEach(() => {
  peer.queue = [];
  peer.answer = undefined;
  peer.sends = 0;
  peer.recvFlags = [];
});

describe('NetlinkSocket: dumps over several datagrams', () => {
  it('keeps every entry of a 130-link dump spread over many datagrams intact and in order', () => {
    let parts = 0;
    peer.answer = (req) => {
      expect(req.type).toBe(RTM_GETLINK);
      const d = linkDump(req.seq, range(1, 130), NLM_F_MULTI, 1024);
      parts = d.length;
      return d;
    };
    using sock = NetlinkSocket.open();
    const links = dumpLinks(sock);
    expect(parts).toBeGreaterThanOrEqual(10); // the dump really spans many datagrams
    expect(links.map((l) => [l.ifindex, l.ifname, l.mtu])).toEqual(range(1, 130).map((i) => [i, `dev${i}`, 1000 + i]));
    expect(peer.sends).toBe(1);
  });

  it('keeps entries intact with one message per datagram and with datagrams larger than the first buffer', () => {
    for (const size of [1, 200_000]) {
      peer.answer = (req) => linkDump(req.seq, range(1, 300), NLM_F_MULTI, size);
      using sock = NetlinkSocket.open();
      const links = dumpLinks(sock);
      expect(links).toHaveLength(300);
      expect(new Set(links.map((l) => l.ifname)).size).toBe(300);
      expect(links.every((l) => l.ifname === `dev${l.ifindex}` && l.mtu === 1000 + l.ifindex)).toBe(true);
    }
  });

  it('keeps the filters of a multi-datagram RTM_GETTFILTER dump intact', () => {
    peer.answer = (req) =>
      datagrams(
        [
          ...range(1, 200).map((prio) =>
            encodeMessage(
              {
                type: RTM_NEWTFILTER,
                flags: NLM_F_MULTI,
                header: tcmsg({ ifindex: 7, handle: prio, parent: clsactParent('ingress'), info: ((prio << 16) | 0x0300) >>> 0 }),
                attrs: [attrString(TCA_KIND, 'bpf'), attrNest(TCA_OPTIONS, [attrU32(TCA_BPF_ID, 5000 + prio)])],
              },
              req.seq,
              PORT,
            ),
          ),
          doneMsg(req.seq),
        ],
        4096,
      );
    using sock = NetlinkSocket.open();
    const filters = dumpFilters(sock, 7, clsactParent('ingress'), { op: 'list filters' });
    expect(filters.map((f) => [f.priority, f.handle, f.progId])).toEqual(range(1, 200).map((p) => [p, p, 5000 + p]));
  });

  it('skips datagrams answering an earlier request (other sequence numbers)', () => {
    peer.answer = (req) => [...linkDump(req.seq - 1, range(500, 40)), ...linkDump(req.seq, range(1, 40))];
    using sock = NetlinkSocket.open();
    expect(dumpLinks(sock).map((l) => l.ifindex)).toEqual(range(1, 40));
  });
});

describe('NetlinkSocket: NLM_F_DUMP_INTR and ENOBUFS', () => {
  it('reads an interrupted dump again and returns the consistent one', () => {
    let n = 0;
    peer.answer = (req) => (n++ === 0 ? linkDump(req.seq, range(1, 90), NLM_F_MULTI | NLM_F_DUMP_INTR) : linkDump(req.seq, range(1, 60)));
    using sock = NetlinkSocket.open();
    expect(dumpLinks(sock).map((l) => l.ifindex)).toEqual(range(1, 60));
    expect(peer.sends).toBe(2);
  });

  it('notices NLM_F_DUMP_INTR when only the final NLMSG_DONE carries it', () => {
    let n = 0;
    peer.answer = (req) => {
      if (n++ > 0) return linkDump(req.seq, range(1, 3));
      return datagrams([...range(1, 50).map((i) => linkMsg(req.seq, i)), doneMsg(req.seq, NLM_F_MULTI | NLM_F_DUMP_INTR)], 4096);
    };
    using sock = NetlinkSocket.open();
    expect(dumpLinks(sock).map((l) => l.ifindex)).toEqual([1, 2, 3]);
    expect(peer.sends).toBe(2);
  });

  it('gives up with a BpfError after a bounded number of interrupted dumps', () => {
    peer.answer = (req) => linkDump(req.seq, range(1, 30), NLM_F_MULTI | NLM_F_DUMP_INTR);
    using sock = NetlinkSocket.open();
    let err: unknown;
    try {
      dumpLinks(sock);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'NETLINK' });
    expect((err as Error).message).toMatch(/^list interfaces: .*changed .* \d+ times/);
    expect(peer.sends).toBeGreaterThan(1);
    expect(peer.sends).toBeLessThanOrEqual(10);
  });

  it('turns ENOBUFS in the middle of a dump into a BpfError that says answers were lost', () => {
    peer.answer = (req) => {
      const d = linkDump(req.seq, range(1, 80));
      return [d[0]!, ENOBUFS, ...d.slice(1)];
    };
    using sock = NetlinkSocket.open();
    let err: unknown;
    try {
      dumpLinks(sock);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'NETLINK', errno: ENOBUFS });
    expect((err as Error).message).toMatch(/^list interfaces: ENOBUFS: .*receive buffer.*lost/);
  });

  it('stays usable after ENOBUFS: the stale rest of the failed answer is skipped', () => {
    let n = 0;
    peer.answer = (req) => {
      const d = linkDump(req.seq, range(1, 80));
      return n++ === 0 ? [d[0]!, ENOBUFS, ...d.slice(1)] : d;
    };
    using sock = NetlinkSocket.open();
    expect(() => dumpLinks(sock)).toThrow(BpfError);
    expect(dumpLinks(sock).map((l) => l.ifindex)).toEqual(range(1, 80));
  });

  it('an ENOBUFS while waiting for an ACK says the outcome is unknown, and does not wait on', () => {
    peer.answer = () => [ENOBUFS];
    using sock = NetlinkSocket.open();
    let err: unknown;
    try {
      setLinkUp(sock, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'NETLINK', errno: ENOBUFS });
    expect((err as Error).message).toMatch(/^set ifindex 3 up: ENOBUFS: .*whether the request took effect is unknown/);
    expect(peer.recvFlags.length).toBeLessThanOrEqual(2);
  });
});
