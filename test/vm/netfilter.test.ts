// Netfilter programs in the emulator, as BPF_PROG_TEST_RUN runs them:
// fixtures/netfilter_drop.o (ICMP dropped, the rest accepted, read through a
// dynptr over the skb) on IP packets at LOCAL_OUT and Ethernet frames at the
// other hooks, IPv4 and IPv6, crafted and mutated. The kernel and the
// emulator must give the same verdict and counts, and refuse the same inputs.
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { cliOk, fixture } from '../helpers/cli.js';
import { icmpEcho, ipv6Stub, tcp, udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';

const NF_INET_PRE_ROUTING = 0;
const NF_INET_LOCAL_OUT = 3;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;

/** struct nf_hook_state as a test run takes it: hook, pf, the rest zero. */
const hookState = (hook: number, pf = NFPROTO_IPV4) => {
  const b = Buffer.alloc(48);
  b[0] = hook;
  b[1] = pf;
  return b;
};

const frames = (): Buffer[] => {
  const out = [icmpEcho({ seq: 1 }), icmpEcho({ seq: 2, type: 0 }), tcp({ dport: 80, flags: 2 }), udp({ dport: 53 }), udp({ dport: 9, src: '10.9.9.9' })];
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (let i = 0; i < 30; i++) {
    const b = Buffer.from(out[rnd(5)]!);
    b[14 + rnd(b.length - 14)] = rnd(256); // the IP packet mutated, the Ethernet header kept
    out.push(b);
  }
  return out;
};

/** The runs compared: the IP packet at LOCAL_OUT (default and explicit), the frame at PRE_ROUTING. */
const runs = (frame: Buffer): [string, Buffer, Buffer | undefined][] => [
  ['LOCAL_OUT, no context', frame.subarray(14), undefined],
  ['LOCAL_OUT', frame.subarray(14), hookState(NF_INET_LOCAL_OUT)],
  ['PRE_ROUTING', frame, hookState(NF_INET_PRE_ROUTING)],
];

const verdicts = (m: { get(k: Buffer): Buffer | Buffer[] | undefined }) => [0, 1].map((i) => (m.get(Buffer.from([i, 0, 0, 0])) as Buffer).readBigUInt64LE(0));

describe('netfilter programs in the emulator', () => {
  it('drops ICMP and accepts the rest, at LOCAL_OUT (the IP packet) and PRE_ROUTING (the frame)', () => {
    const emu = openObject(fixture('netfilter_drop.o')).emulate();
    const prog = emu.program('nf_drop_icmp');
    expect(prog.testRun(icmpEcho({ seq: 1 }).subarray(14)).verdict).toBe('NF_DROP');
    expect(prog.testRun(tcp({ dport: 80, flags: 2 }).subarray(14)).verdict).toBe('NF_ACCEPT');
    expect(prog.testRun(icmpEcho({ seq: 1 }), { ctx: hookState(NF_INET_PRE_ROUTING) }).verdict).toBe('NF_DROP');
    expect(verdicts(emu.map('verdicts'))).toEqual([2n, 1n]);
  });

  it('refuses what the kernel refuses', () => {
    const prog = openObject(fixture('netfilter_drop.o')).emulate().program('nf_drop_icmp');
    const bad = hookState(NF_INET_LOCAL_OUT);
    bad[8] = 1; // state->in
    expect(codeAndMessage(() => prog.testRun(udp({ dport: 1 }).subarray(14), { ctx: bad }))).toBe(
      'USAGE: program nf_drop_icmp: a netfilter context may set only hook (offset 0) and pf (offset 1) of struct nf_hook_state (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
    expect(codeAndMessage(() => prog.testRun(udp({ dport: 1 }).subarray(14), { ctx: hookState(NF_INET_LOCAL_OUT, 7) }))).toBe(
      'USAGE: program nf_drop_icmp: pf 7: a netfilter test run takes NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10) (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
    expect(codeAndMessage(() => prog.testRun(Buffer.alloc(19)))).toBe('INVALID_ARGUMENT: program nf_drop_icmp: a 19-byte packet is shorter than an IPv4 header (BPF_PROG_TEST_RUN refuses it: EINVAL)');
    const arp = Buffer.from(udp({ dport: 1 }));
    arp.writeUInt16BE(0x0806, 12);
    expect(codeAndMessage(() => prog.testRun(arp, { ctx: hookState(NF_INET_PRE_ROUTING) }))).toBe(
      'INVALID_ARGUMENT: program nf_drop_icmp: EtherType 0x0806 is neither IPv4 nor IPv6 (BPF_PROG_TEST_RUN refuses it: EPROTO)',
    );
    expect(codeAndMessage(() => prog.testRun(ipv6Stub(), { ctx: hookState(NF_INET_PRE_ROUTING) }))).toBe(
      'INVALID_ARGUMENT: program nf_drop_icmp: an IPv6 frame at an IPv4 hook (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
  });
});

describe('bpf-ts test-run on a netfilter program', () => {
  it('prints the verdict and nothing about a packet (a netfilter test run hands none back)', async () => {
    const r = await cliOk('test-run', fixture('netfilter_drop.o'), '--emulate', '--data-hex', icmpEcho({ seq: 1 }).subarray(14).toString('hex'));
    expect(r.stdout).toMatch(/^nf_drop_icmp: NF_DROP \(retval 0\) \(emulated, \d+ instructions\)\n$/);
  });
});

describeRoot('netfilter: the emulator against BPF_PROG_TEST_RUN', () => {
  it('the same verdicts and counts on crafted and mutated packets at LOCAL_OUT and PRE_ROUTING, IPv6 too', () => {
    const spec = openObject(fixture('netfilter_drop.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate();
    const seen = new Set<string>();
    const cases = [...frames().flatMap(runs), ['IPv6 at PRE_ROUTING', ipv6Stub(), hookState(NF_INET_PRE_ROUTING, NFPROTO_IPV6)] as [string, Buffer, Buffer]];
    for (const [where, data, ctx] of cases) {
      const k = kern.program('nf_drop_icmp').testRun(data, ctx ? { ctx } : {});
      const e = emu.program('nf_drop_icmp').testRun(data, ctx ? { ctx } : {});
      expect({ where, data: data.toString('hex'), verdict: e.verdict, retval: e.retval }).toEqual({ where, data: data.toString('hex'), verdict: k.verdict, retval: k.retval });
      expect(k.ctxOut ?? null).toBeNull(); // a netfilter test run hands no context back
      seen.add(k.verdict!);
    }
    expect(verdicts(emu.map('verdicts'))).toEqual(verdicts({ get: (key) => kern.map('verdicts').get(key) }));
    expect([...seen].sort()).toEqual(['NF_ACCEPT', 'NF_DROP']);
  });

  it('the kernel refuses the inputs the emulator refuses, with the errno it names', () => {
    const spec = openObject(fixture('netfilter_drop.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate();
    const bad = hookState(NF_INET_LOCAL_OUT);
    bad[40] = 1; // okfn
    const arp = Buffer.from(udp({ dport: 1 }));
    arp.writeUInt16BE(0x0806, 12);
    const cases: [Buffer, Buffer | undefined, number][] = [
      [udp({ dport: 1 }).subarray(14), bad, 22],
      [udp({ dport: 1 }).subarray(14), hookState(NF_INET_LOCAL_OUT, 7), 22],
      [Buffer.alloc(19), undefined, 22],
      [udp({ dport: 1 }).subarray(0, 33), hookState(NF_INET_PRE_ROUTING), 22],
      [arp, hookState(NF_INET_PRE_ROUTING), 71], // EPROTO
      [ipv6Stub(), hookState(NF_INET_PRE_ROUTING), 22],
      [udp({ dport: 1 }), hookState(NF_INET_PRE_ROUTING, NFPROTO_IPV6), 22],
    ];
    for (const [data, ctx, errno] of cases) {
      expect(() => kern.program('nf_drop_icmp').testRun(data, ctx ? { ctx } : {})).toThrow(expect.objectContaining({ errno }));
      expect(codeAndMessage(() => emu.program('nf_drop_icmp').testRun(data, ctx ? { ctx } : {}))).toMatch(new RegExp(`refuses it: ${errno === 71 ? 'EPROTO' : 'EINVAL'}\\)$`));
    }
  });
});
