// TC netlink messages as bytes, without a kernel: struct tcmsg, clsact
// handles, the cls_bpf filter request `tc filter add dev X ingress bpf da`
// sends, and decoding of filter dumps. Expected values come from
// pkt_sched.h / pkt_cls.h / rtnetlink.h, not from the code under test.
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { addBpfFilter, addClsactQdisc, clsactParent, deleteFilter, dumpFilters, filterInfo, parseFilter, tcmsg } from '../../src/netlink/tc.js';
import { attrNest, attrString, attrU32, encodeMessage, NLA_F_NESTED, NlAttrs, parseMessages, type NlMessage, type NlRequest } from '../../src/netlink/message.js';
import type { NetlinkSocket } from '../../src/netlink/socket.js';
import { directionFromSection, parseUint } from '../../src/cli/tc-select.js';
import type { ProgramSpec } from '../../src/object/types.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';

const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A NetlinkSocket stand-in that records requests and answers dumps with canned messages. */
function fakeSocket(dumpReply: NlMessage[] = []) {
  const sent: NlRequest[] = [];
  const sock = {
    ack(req: NlRequest) {
      sent.push(req);
      return { errno: 0, seq: 1, ext: {} };
    },
    dump(req: NlRequest) {
      sent.push(req);
      return dumpReply;
    },
  } as unknown as NetlinkSocket;
  return { sock, sent };
}

/** The request as the kernel would receive it, split back into header fields and attributes. */
function wire(req: NlRequest) {
  const [m] = parseMessages(encodeMessage(req, 1));
  const p = m!.payload;
  return {
    type: m!.type,
    flags: m!.flags,
    ifindex: p.readInt32LE(4),
    handle: p.readUInt32LE(8),
    parent: p.readUInt32LE(12),
    info: p.readUInt32LE(16),
    attrs: new NlAttrs(p.subarray(20)),
    rawTypes: (() => {
      const out: number[] = [];
      for (let off = 20; off + 4 <= p.length; off += (p.readUInt16LE(off) + 3) & ~3) out.push(p.readUInt16LE(off + 2));
      return out;
    })(),
  };
}

describe.skipIf(!le)('tc netlink messages (little-endian host)', () => {
  it('struct tcmsg is 20 bytes: family, pads, ifindex, handle, parent, info', () => {
    const b = tcmsg({ ifindex: 7, handle: 0x10001, parent: 0xfffffff2, info: 0x00010300 });
    expect(b.length).toBe(20);
    expect([...b]).toEqual([0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 1, 0, 0xf2, 0xff, 0xff, 0xff, 0x00, 0x03, 0x01, 0x00]);
  });

  it('clsact hooks are ffff:fff2 (ingress) and ffff:fff3 (egress); tcm_info is prio<<16 | htons(ETH_P_ALL)', () => {
    expect(clsactParent('ingress')).toBe(0xfffffff2);
    expect(clsactParent('egress')).toBe(0xfffffff3);
    expect(filterInfo(1)).toBe(0x00010300);
    expect(filterInfo(49152)).toBe(0xc0000300);
    expect(filterInfo(1, 0x0800)).toBe(0x00010008);
  });

  it('clsact qdisc: RTM_NEWQDISC, NLM_F_CREATE|NLM_F_EXCL, handle ffff:0, parent ffff:fff1, kind "clsact"', () => {
    const { sock, sent } = fakeSocket();
    addClsactQdisc(sock, 5, { op: 'test' });
    const w = wire(sent[0]!);
    expect(w).toMatchObject({ type: 36, flags: 0x400 | 0x200, ifindex: 5, handle: 0xffff0000, parent: 0xfffffff1, info: 0 });
    expect(w.attrs.string(1)).toBe('clsact');
  });

  it('cls_bpf filter: RTM_NEWTFILTER, kind "bpf", options { fd, name, flags = ACT_DIRECT } nested', () => {
    const { sock, sent } = fakeSocket();
    addBpfFilter(sock, { ifindex: 3, parent: clsactParent('egress'), priority: 1, handle: 1, progFd: 42, name: 'obj.o:[egress]', directAction: true, replace: false }, { op: 'test' });
    const w = wire(sent[0]!);
    expect(w).toMatchObject({ type: 44, flags: 0x400 | 0x200, ifindex: 3, handle: 1, parent: 0xfffffff3, info: 0x00010300 });
    expect(w.rawTypes).toEqual([1, 2 | NLA_F_NESTED]);
    expect(w.attrs.string(1)).toBe('bpf');
    const opts = w.attrs.nested(2)!;
    expect(opts.u32(6)).toBe(42); // TCA_BPF_FD
    expect(opts.string(7)).toBe('obj.o:[egress]'); // TCA_BPF_NAME
    expect(opts.u32(8)).toBe(1); // TCA_BPF_FLAGS: TCA_BPF_FLAG_ACT_DIRECT
  });

  it('replace swaps NLM_F_EXCL for NLM_F_REPLACE; without direct action there is no flags attribute', () => {
    const { sock, sent } = fakeSocket();
    addBpfFilter(sock, { ifindex: 3, parent: clsactParent('ingress'), priority: 9, handle: 4, progFd: 1, name: 'x', directAction: false, replace: true }, { op: 'test' });
    const w = wire(sent[0]!);
    expect(w.flags).toBe(0x400 | 0x100);
    expect(w.info).toBe(0x00090300);
    expect(w.attrs.nested(2)!.has(8)).toBe(false);
  });

  it('delete: RTM_DELTFILTER at priority/handle with the filter protocol and kind', () => {
    const { sock, sent } = fakeSocket();
    deleteFilter(sock, { ifindex: 3, parent: 0xfffffff2, priority: 7, handle: 2, kind: 'bpf', protocol: 3 }, { op: 'test' });
    const w = wire(sent[0]!);
    expect(w).toMatchObject({ type: 45, flags: 0, handle: 2, parent: 0xfffffff2, info: 0x00070300 });
    expect(w.attrs.string(1)).toBe('bpf');
  });

  const filterMsg = (handle: number, withOptions: boolean): NlMessage => {
    const attrs = [attrString(1, 'bpf'), attrU32(11, 0)]; // TCA_KIND, TCA_CHAIN
    if (withOptions) {
      // TCA_OPTIONS { TCA_BPF_ID, TCA_BPF_NAME, TCA_BPF_FLAGS, TCA_BPF_TAG }
      attrs.push(attrNest(2, [attrU32(11, 321), attrString(7, 'tc_shared_map.o:[ingress]'), attrU32(8, 1), { type: 10, value: Buffer.from('0102030405060708', 'hex') }]));
    }
    const [m] = parseMessages(encodeMessage({ type: 44, flags: 0x2, header: tcmsg({ ifindex: 4, handle, parent: 0xfffffff2, info: 0x00010300 }), attrs }, 9));
    return m!;
  };

  it('decodes a dumped cls_bpf filter: priority, protocol, handle, program id, name, tag, direct action', () => {
    expect(parseFilter(filterMsg(1, true))).toEqual({
      ifindex: 4,
      parent: 0xfffffff2,
      priority: 1,
      protocol: 3,
      handle: 1,
      kind: 'bpf',
      chain: 0,
      progId: 321,
      name: 'tc_shared_map.o:[ingress]',
      tag: '0102030405060708',
      directAction: true,
    });
  });

  it('a dump drops the per-priority entries that carry no handle', () => {
    const { sock, sent } = fakeSocket([filterMsg(0, false), filterMsg(1, true)]);
    const out = dumpFilters(sock, 4, clsactParent('ingress'), { op: 'test' });
    expect(out.map((f) => f.handle)).toEqual([1]);
    expect(wire(sent[0]!)).toMatchObject({ type: 46, ifindex: 4, parent: 0xfffffff2, handle: 0, info: 0 });
  });
});

describe('load --tc helpers', () => {
  const spec = (section: string, expectedAttachType: number | null = null) => ({ section, expectedAttachType }) as ProgramSpec;

  it('the direction comes from the section name or the tcx attach type, else is unknown', () => {
    expect(directionFromSection(spec('ingress'))).toBe('ingress');
    expect(directionFromSection(spec('egress'))).toBe('egress');
    expect(directionFromSection(spec('tc/ingress', BPF_ATTACH_TYPE.TCX_INGRESS))).toBe('ingress');
    expect(directionFromSection(spec('tcx/egress', BPF_ATTACH_TYPE.TCX_EGRESS))).toBe('egress');
    expect(directionFromSection(spec('classifier/egress'))).toBe('egress');
    expect(directionFromSection(spec('tc'))).toBeUndefined();
    expect(directionFromSection(spec('classifier'))).toBeUndefined();
    expect(directionFromSection(spec('prog'))).toBeUndefined();
    expect(directionFromSection(spec('noningress'))).toBeUndefined();
  });

  it('--priority/--handle take decimal or 0x hex within range', () => {
    expect(parseUint('7', '--priority', 0xffff)).toBe(7);
    expect(parseUint('0x10', '--handle', 0xffffffff)).toBe(16);
    expect(parseUint(undefined, '--handle', 0xffffffff)).toBeUndefined();
    for (const bad of ['-1', '1.5', 'abc', '65536']) {
      expect(() => parseUint(bad, '--priority', 0xffff)).toThrow(BpfError);
    }
  });
});
