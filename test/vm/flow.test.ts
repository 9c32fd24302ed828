// Flow dissector programs in the emulator, as BPF_PROG_TEST_RUN runs them:
// fixtures/flow_keys.o on crafted frames (VLAN and QinQ tags, IPv4 with
// options, fragments and tunnels, IPv6 with a flow label and a fragment
// header, TCP and UDP, headers cut short) under every combination of the
// BPF_FLOW_DISSECTOR_F_* flags. The kernel and the emulator must return the
// same verdict, struct bpf_flow_keys, context and stats; a few keys are also
// checked against the frame they were built from.
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { cliOk, fixture } from '../helpers/cli.js';
import { codeAndMessage } from '../helpers/thrown.js';
import { describeRoot } from '../helpers/root.js';

const PARSE_1ST_FRAG = 1;
const STOP_AT_FLOW_LABEL = 2;
const STOP_AT_ENCAP = 4;

const mac = '020000000002' + '020000000001';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const be16 = (n: number) => n.toString(16).padStart(4, '0');

/** IPv4 header (20 bytes, or more with ihl) from 10.0.0.1 to 10.0.0.2. */
const ip4 = (proto: number, opts: { ihl?: number; frag?: number; options?: string } = {}) =>
  `${(0x40 | (opts.ihl ?? 5)).toString(16)}00 0028 0001 ${be16(opts.frag ?? 0)} 40${proto.toString(16).padStart(2, '0')} 0000 0a000001 0a000002 ${opts.options ?? ''}`;
/** IPv6 header from fd00::1 to fd00::2 with a flow label. */
const ip6 = (next: number, label = 0) => `${(0x60000000 | label).toString(16)} 0014 ${next.toString(16).padStart(2, '0')}40 fd000000000000000000000000000001 fd000000000000000000000000000002`;
const tcp = (sport: number, dport: number, doff = 5) => `${be16(sport)} ${be16(dport)} 00000000 00000000 ${(doff << 4).toString(16)}02 ffff 0000 0000`;
const udp = (sport: number, dport: number) => `${be16(sport)} ${be16(dport)} 0010 0000`;

const FRAMES: [string, Buffer][] = [
  ['IPv4 TCP', hex(mac + '0800' + ip4(6) + tcp(4660, 80))],
  ['IPv4 UDP', hex(mac + '0800' + ip4(17) + udp(53, 5353))],
  ['IPv4 ICMP', hex(mac + '0800' + ip4(1) + '0800f7ff00000000')],
  ['IPv4 with options, TCP', hex(mac + '0800' + ip4(6, { ihl: 6, options: '01010101' }) + tcp(1, 2))],
  ['IPv4 claiming 60 bytes of header in a 40-byte frame', hex(mac + '0800' + ip4(6, { ihl: 15 }) + '000000000000')],
  ['IPv4 TCP with a data offset below 5', hex(mac + '0800' + ip4(6) + tcp(7, 8, 4))],
  ['IPv4 first fragment, UDP', hex(mac + '0800' + ip4(17, { frag: 0x2000 }) + udp(1000, 2000))],
  ['IPv4 later fragment', hex(mac + '0800' + ip4(17, { frag: 0x00b9 }) + udp(1000, 2000))],
  ['IPv4 in IPv4', hex(mac + '0800' + ip4(4) + ip4(6) + tcp(1, 2))],
  ['IPv6 TCP, flow label', hex(mac + '86dd' + ip6(6, 0xabcde) + tcp(443, 51000))],
  ['IPv6 UDP, no label', hex(mac + '86dd' + ip6(17) + udp(123, 123))],
  ['IPv6 first fragment, TCP', hex(mac + '86dd' + ip6(44, 7) + '06000001 00000001' + tcp(22, 2222))],
  ['IPv6 later fragment', hex(mac + '86dd' + ip6(44) + '06000100 00000001' + tcp(22, 2222))],
  ['802.1Q IPv4 TCP', hex(mac + '8100 0064 0800' + ip4(6) + tcp(9, 10))],
  ['QinQ IPv6 UDP', hex(mac + '88a8 00c8 8100 0064 86dd' + ip6(17) + udp(11, 12))],
  ['three tags', hex(mac + '8100 0001 8100 0002 8100 0003 0800' + ip4(6) + tcp(1, 2))],
  ['ARP', hex(mac + '0806 0001080006040001 020000000001 0a000001 000000000000 0a000002')],
  ['IPv4 cut inside its header', hex(mac + '0800' + ip4(6)).subarray(0, 30)],
  ['IPv4 TCP cut inside the ports', hex(mac + '0800' + ip4(6) + tcp(1, 2)).subarray(0, 36)],
  ['IPv6 cut inside its header', hex(mac + '86dd' + ip6(6)).subarray(0, 50)],
  ['Ethernet header alone', hex(mac + '0800')],
];
const FLAGS = [0, PARSE_1ST_FRAG, STOP_AT_FLOW_LABEL, STOP_AT_ENCAP, PARSE_1ST_FRAG | STOP_AT_FLOW_LABEL | STOP_AT_ENCAP];

const flowCtx = (flags: number) => {
  const b = Buffer.alloc(56);
  b.writeUInt32LE(flags, 48);
  return b;
};

/** struct bpf_flow_keys, the fields the fixture fills. */
function keys(b: Buffer) {
  return {
    nhoff: b.readUInt16LE(0),
    thoff: b.readUInt16LE(2),
    addrProto: b.readUInt16LE(4),
    isFrag: b[6],
    isFirstFrag: b[7],
    isEncap: b[8],
    ipProto: b[9],
    nProto: b.readUInt16BE(10),
    sport: b.readUInt16BE(12),
    dport: b.readUInt16BE(14),
    flags: b.readUInt32LE(48),
    flowLabel: b.readUInt32BE(52),
  };
}

const stats = (m: { get(k: Buffer): Buffer | Buffer[] | undefined }) => [0, 1, 2, 3].map((i) => (m.get(Buffer.from([i, 0, 0, 0])) as Buffer).readBigUInt64LE(0));

describe('flow dissector in the emulator', () => {
  const run = (frame: Buffer, flags = 0) => {
    const emu = openObject(fixture('flow_keys.o')).emulate();
    const r = emu.program('dissect').testRun(frame, { ctx: flowCtx(flags) });
    return { r, k: keys(r.dataOut), stats: stats(emu.map('stats')) };
  };
  const frame = (name: string) => FRAMES.find(([n]) => n === name)![1];

  it('IPv4 TCP: the offsets, protocols, addresses and ports of the frame', () => {
    const { r, k } = run(frame('IPv4 TCP'));
    expect(r.verdict).toBe('BPF_OK');
    expect(r.dataOut.length).toBe(56);
    expect(k).toEqual({ nhoff: 14, thoff: 34, addrProto: 0x0800, isFrag: 0, isFirstFrag: 0, isEncap: 0, ipProto: 6, nProto: 0x0800, sport: 4660, dport: 80, flags: 0, flowLabel: 0 });
    expect(r.dataOut.subarray(16, 24).toString('hex')).toBe('0a0000010a000002');
    expect(r.ctxOut?.toString('hex')).toBe(flowCtx(0).toString('hex'));
  });

  it('tags move the network header; a header longer than the frame leaves thoff at its end (the kernel clamps it)', () => {
    expect(run(frame('802.1Q IPv4 TCP')).k).toMatchObject({ nhoff: 18, thoff: 38, nProto: 0x0800, sport: 9, dport: 10 });
    expect(run(frame('QinQ IPv6 UDP')).k).toMatchObject({ nhoff: 22, thoff: 62, nProto: 0x86dd, addrProto: 0x86dd, sport: 11, dport: 12 });
    const short = frame('IPv4 claiming 60 bytes of header in a 40-byte frame');
    expect(short.length).toBe(40);
    expect(run(short).k).toMatchObject({ nhoff: 14, thoff: 40 });
  });

  it('fragments and flow labels stop where the flags say', () => {
    expect(run(frame('IPv4 first fragment, UDP')).k).toMatchObject({ isFrag: 1, isFirstFrag: 1, sport: 0, dport: 0 });
    expect(run(frame('IPv4 first fragment, UDP'), PARSE_1ST_FRAG).k).toMatchObject({ isFrag: 1, isFirstFrag: 1, sport: 1000, dport: 2000, flags: PARSE_1ST_FRAG });
    expect(run(frame('IPv6 TCP, flow label')).k).toMatchObject({ flowLabel: 0xabcde, sport: 443, dport: 51000 });
    expect(run(frame('IPv6 TCP, flow label'), STOP_AT_FLOW_LABEL).k).toMatchObject({ flowLabel: 0xabcde, sport: 0, dport: 0 });
  });

  it('bpf_skb_load_bytes fails in a test run (there is no skb): a cut header drops the frame', () => {
    const { r, stats: s } = run(frame('IPv4 TCP cut inside the ports'));
    expect(r.verdict).toBe('BPF_DROP');
    // runs, BPF_OK, BPF_DROP, failed loads (the EtherType probe and the ports)
    expect(s).toEqual([1n, 0n, 1n, 2n]);
  });

  it('bpf-ts test-run prints the keys in words', async () => {
    const r = await cliOk('test-run', fixture('flow_keys.o'), '--emulate', '--data-hex', frame('IPv4 TCP').toString('hex'));
    expect(r.stdout).toMatch(/^dissect: BPF_OK \(retval 0\) \(emulated, \d+ instructions\)\nflow keys: nhoff 14 thoff 34 n_proto 0x0800 ip_proto 6 10\.0\.0\.1 -> 10\.0\.0\.2 ports 4660 -> 80\n$/);
    const v6 = await cliOk('test-run', fixture('flow_keys.o'), '--emulate', '--data-hex', frame('IPv6 first fragment, TCP').toString('hex'), '--ctx-hex', flowCtx(PARSE_1ST_FRAG).toString('hex'));
    expect(v6.stdout.split('\n')[1]).toBe('flow keys: nhoff 14 thoff 62 n_proto 0x86dd ip_proto 6 fd00:0:0:0:0:0:0:1 -> fd00:0:0:0:0:0:0:2 ports 22 -> 2222 frag first_frag flow_label 0x7 flags 0x1');
  });

  it('refuses what the kernel refuses', () => {
    const emu = openObject(fixture('flow_keys.o')).emulate();
    const codeOf = codeAndMessage;
    const bad = flowCtx(0);
    bad[0] = 1;
    expect(codeOf(() => emu.program('dissect').testRun(frame('IPv4 TCP'), { ctx: bad }))).toBe(
      'USAGE: program dissect: a flow dissector context may set only flags (offset 48) of struct bpf_flow_keys (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
    expect(codeOf(() => emu.program('dissect').testRun(Buffer.alloc(13)))).toBe(
      'INVALID_ARGUMENT: program dissect: a 13-byte frame is shorter than its 14-byte Ethernet header (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
    expect(codeOf(() => emu.program('dissect').testRun(Buffer.alloc(4097)))).toBe(
      'INVALID_ARGUMENT: program dissect: a 4097-byte frame is longer than the page a test run takes (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
  });
});

describeRoot('flow dissector: the emulator against BPF_PROG_TEST_RUN', () => {
  it(`${FRAMES.length} frames under ${FLAGS.length} flag sets: the same verdict, keys, context and stats`, () => {
    const spec = openObject(fixture('flow_keys.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate();
    const seen = new Set<string>();
    for (const [name, frame] of FRAMES) {
      for (const flags of FLAGS) {
        const k = kern.program('dissect').testRun(frame, { ctx: flowCtx(flags) });
        const e = emu.program('dissect').testRun(frame, { ctx: flowCtx(flags) });
        const want = { verdict: k.verdict, keys: k.dataOut.toString('hex'), ctx: k.ctxOut?.toString('hex') };
        expect({ frame: name, flags, verdict: e.verdict, keys: e.dataOut.toString('hex'), ctx: e.ctxOut?.toString('hex') }).toEqual({ frame: name, flags, ...want });
        seen.add(`${k.verdict}`);
      }
      expect(stats(emu.map('stats')), name).toEqual(stats({ get: (key) => kern.map('stats').get(key) }));
    }
    expect([...seen].sort()).toEqual(['BPF_DROP', 'BPF_OK']);
    // What the kernel refuses, it refuses in the emulator too.
    const bad = flowCtx(0);
    bad[10] = 8;
    expect(() => kern.program('dissect').testRun(FRAMES[0]![1], { ctx: bad })).toThrow(expect.objectContaining({ errno: 22 }));
    expect(() => kern.program('dissect').testRun(Buffer.alloc(13))).toThrow(expect.objectContaining({ errno: 22 }));
    expect(() => kern.program('dissect').testRun(Buffer.alloc(4097))).toThrow(expect.objectContaining({ errno: 22 }));
  });

  it('bpf-ts test-run: the kernel and the emulator print the same keys', async () => {
    for (const [, frame] of FRAMES.slice(0, 12)) {
      const argv = ['test-run', fixture('flow_keys.o'), '--data-hex', frame.toString('hex')];
      const kernel = (await cliOk(...argv)).stdout.split('\n');
      const emulated = (await cliOk(...argv, '--emulate')).stdout.split('\n');
      expect(emulated[1]).toBe(kernel[1]);
      expect(kernel[0]!.replace(/, \d+ ns per run$/, '')).toBe(emulated[0]!.replace(/ \(emulated, \d+ instructions\)$/, ''));
    }
  });
});
