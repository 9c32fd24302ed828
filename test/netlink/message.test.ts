// Netlink wire format and error decoding: pure byte tests, no kernel needed.
import { describe, expect, it } from 'vitest';
import { netlinkError, NetlinkError, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, parseNlmsgErr } from '../../src/netlink/error.js';
import { parseLink, IFLA_IFNAME, IFLA_MTU, IFLA_XDP, IFLA_XDP_ATTACHED, IFLA_XDP_PROG_ID, IFLA_XDP_SKB_PROG_ID, ifinfomsg, RTM_NEWLINK, XDP_ATTACHED_SKB } from '../../src/netlink/link.js';
import {
  attrNest,
  attrS32,
  attrString,
  attrTypeAt,
  attrU8,
  attrU32,
  encodeAttrs,
  encodeMessage,
  messageAttrs,
  NLA_F_NESTED,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_ERROR,
  NlAttrs,
  parseMessages,
} from '../../src/netlink/message.js';

describe('netlink attributes', () => {
  it('pads every attribute to 4 bytes but records the unpadded length', () => {
    const b = encodeAttrs([attrU8(1, 7), attrString(2, 'ab')]);
    // u8: len 5, padded to 8; "ab\0": len 7, padded to 8
    expect(b.length).toBe(16);
    expect(b.readUInt16LE(0)).toBe(5);
    expect(b.readUInt16LE(2)).toBe(1);
    expect(b[4]).toBe(7);
    expect(b.readUInt16LE(8)).toBe(7);
    expect(b.subarray(12, 15).toString()).toBe('ab\0');
  });

  it('encodes nests with NLA_F_NESTED and decodes them back', () => {
    const b = encodeAttrs([attrNest(IFLA_XDP, [attrS32(1, -1), attrU32(3, 0x12)])]);
    expect(b.readUInt16LE(2)).toBe(IFLA_XDP | NLA_F_NESTED);
    expect(b.readUInt16LE(0)).toBe(4 + 8 + 8);
    const top = new NlAttrs(b);
    expect(top.has(IFLA_XDP)).toBe(true); // flag bits masked off
    const inner = top.nested(IFLA_XDP)!;
    expect(inner.s32(1)).toBe(-1);
    expect(inner.u32(3)).toBe(0x12);
  });

  it('stops at a truncated attribute instead of reading past the buffer', () => {
    const b = encodeAttrs([attrU32(1, 1), attrU32(2, 2)]);
    const cut = b.subarray(0, 10);
    const a = new NlAttrs(cut);
    expect(a.u32(1)).toBe(1);
    expect(a.has(2)).toBe(false);
  });
});

describe('netlink messages', () => {
  it('frames header, family header and attributes; splits a datagram back', () => {
    const m1 = encodeMessage({ type: RTM_NEWLINK, flags: 5, header: ifinfomsg(3), attrs: [attrString(IFLA_IFNAME, 'veth0')] }, 42, 7);
    const m2 = encodeMessage({ type: NLMSG_ERROR, flags: 0, header: Buffer.alloc(3) }, 43);
    expect(m1.readUInt32LE(0)).toBe(m1.length);
    expect(m1.length % 4).toBe(0);
    expect(m2.length).toBe(16 + 4); // a 3-byte header is padded to 4
    const msgs = parseMessages(Buffer.concat([m1, m2]));
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid])).toEqual([
      [RTM_NEWLINK, 5, 42, 7],
      [NLMSG_ERROR, 0, 43, 0],
    ]);
    expect(messageAttrs(msgs[0]!, 16).string(IFLA_IFNAME)).toBe('veth0');
  });

  it('rejects a bad nlmsg_len', () => {
    const m = encodeMessage({ type: 16, flags: 0, header: Buffer.alloc(0) }, 1);
    m.writeUInt32LE(999, 0);
    expect(() => parseMessages(m)).toThrowError(expect.objectContaining({ code: 'NETLINK', message: expect.stringContaining('malformed netlink reply') }));
  });

  it('parses an RTM_NEWLINK with its IFLA_XDP nest', () => {
    const msg = encodeMessage(
      {
        type: RTM_NEWLINK,
        flags: 0,
        header: ifinfomsg(5, 0x1),
        attrs: [
          attrString(IFLA_IFNAME, 'eth9'),
          attrU32(IFLA_MTU, 1500),
          attrNest(IFLA_XDP, [attrU8(IFLA_XDP_ATTACHED, XDP_ATTACHED_SKB), attrU32(IFLA_XDP_SKB_PROG_ID, 77), attrU32(IFLA_XDP_PROG_ID, 77)]),
        ],
      },
      1,
    );
    const link = parseLink(parseMessages(msg)[0]!);
    expect(link).toMatchObject({ ifindex: 5, ifname: 'eth9', mtu: 1500, up: true });
    expect(link.xdp).toEqual({ attached: XDP_ATTACHED_SKB, progId: 77, skbProgId: 77, drvProgId: 0, hwProgId: 0 });
  });

  it('finds which attribute an ext-ack offset points at', () => {
    const req = encodeMessage({ type: 19, flags: 0, header: ifinfomsg(1), attrs: [attrU32(IFLA_MTU, 1), attrString(IFLA_IFNAME, 'x')] }, 1);
    expect(attrTypeAt(req, 16 + 16)).toBe(IFLA_MTU);
    expect(attrTypeAt(req, 16 + 16 + 8)).toBe(IFLA_IFNAME);
    expect(attrTypeAt(req, 3)).toBeUndefined();
  });
});

describe('NLMSGERR and extended ACK', () => {
  function errorMessage(errno: number, tlvs: Buffer, capped = true): Buffer {
    const orig = encodeMessage({ type: 19, flags: 5, header: ifinfomsg(2) }, 99);
    const body = Buffer.alloc(4);
    body.writeInt32LE(-errno);
    const payload = Buffer.concat([body, capped ? orig.subarray(0, 16) : orig, tlvs]);
    return encodeMessage({ type: NLMSG_ERROR, flags: (capped ? NLM_F_CAPPED : 0) | (tlvs.length ? NLM_F_ACK_TLVS : 0), header: payload }, 99);
  }

  it('reads errno, the request seq and the ext-ack text/offset (capped and uncapped)', () => {
    const tlvs = encodeAttrs([attrString(NLMSGERR_ATTR_MSG, 'veth: Peer MTU is too large to set XDP'), attrU32(NLMSGERR_ATTR_OFFS, 36)]);
    for (const capped of [true, false]) {
      const e = parseNlmsgErr(parseMessages(errorMessage(34, tlvs, capped))[0]!);
      expect(e).toEqual({ errno: 34, seq: 99, ext: { msg: 'veth: Peer MTU is too large to set XDP', offset: 36 } });
    }
  });

  it('an ACK is errno 0 with no ext-ack', () => {
    expect(parseNlmsgErr(parseMessages(errorMessage(0, Buffer.alloc(0)))[0]!)).toEqual({ errno: 0, seq: 99, ext: {} });
  });

  it('shows the kernel text verbatim plus a hint, with XDP-specific codes', () => {
    const busy = netlinkError(16, { op: 'attach XDP program 5 on eth0 (skb mode)', kind: 'xdp' }, { msg: 'XDP program already attached' });
    expect(busy).toBeInstanceOf(NetlinkError);
    expect(busy.code).toBe('ALREADY_ATTACHED');
    expect(busy.message).toContain('EBUSY: XDP program already attached');
    expect(busy.message).toContain('use --replace');

    const range = netlinkError(34, { op: 'attach', kind: 'xdp' }, { msg: 'veth: Peer MTU is too large to set XDP' });
    expect(range.message).toContain('veth: Peer MTU is too large to set XDP');
    expect(range.message).toMatch(/MTU too large for native XDP/);

    expect(netlinkError(95, { op: 'attach', kind: 'xdp' }).message).toContain('driver has no native XDP: try --mode skb');
    expect(netlinkError(524, { op: 'attach', kind: 'xdp' }).message).toContain('try --mode skb');
    expect(netlinkError(1, { op: 'attach', kind: 'xdp' }).message).toMatch(/CAP_NET_ADMIN/);
    const nodev = netlinkError(19, { op: 'attach', kind: 'xdp', ifname: 'eth7' });
    expect(nodev.code).toBe('NO_SUCH_INTERFACE');
    expect(nodev.message).toContain('"eth7"');
    expect(nodev.message).toContain('if it is in another network namespace, give its netns: --netns NAME');
    // outside XDP, EEXIST is not "already attached"
    expect(netlinkError(17, { op: 'create veth', kind: 'link' }).code).toBe('NETLINK');
  });
});
