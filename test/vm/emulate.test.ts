// spec.emulate(): the seed programs' behaviours with no kernel (what the
// kernel-side tests check, emulated), helpers that change the packet, events,
// tail calls, TC context fields, and the CLI as an unprivileged user.
// Expected values come from the C sources (bpf/*.c) and RFC header layouts.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { openObject } from '../../src/collection.js';
import type { BpfObjectFile, MapSpec } from '../../src/object/types.js';
import { BPF_MAP_TYPE } from '../../src/uapi/bpf.js';
import { emulateObject } from '../../src/vm/emulate.js';
import { Vm } from '../../src/vm/vm.js';
import { cliOk, cliProcess, ensureDist, unprivilegedWrapper, worldReadablePackage } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/oracle.js';
import { programSpec } from '../helpers/program-spec.js';
import { checksum, icmpEcho, ipv4, tcp, udp } from '../helpers/packets.js';

const fx = (f: string) => openObject(join(FIXTURES, f));
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

describe('seed programs, emulated', () => {
  // Set by test/vm/emulate-unprivileged.test.ts, which runs this describe as
  // uid 65534 with no capabilities and requires this test to have passed.
  // Defined only there (not skipped elsewhere: CI as root allows no skips).
  if (process.env.BPF_TS_EXPECT_NO_PRIVILEGES === '1')
    it('runs as uid 65534 with no capabilities at all', () => {
      expect([process.getuid?.(), process.geteuid?.(), process.getgid?.()]).toEqual([65534, 65534, 65534]);
      const status = readFileSync('/proc/self/status', 'utf8');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
    });

  it('icmp_even_drop: even echo sequence numbers dropped, counters per verdict', () => {
    const em = fx('icmp_even_drop.o').emulate();
    const p = em.program('xdp_even_drop');
    const verdicts = [1, 2, 3, 4, 6].map((seq) => p.testRun(icmpEcho({ seq })).verdict);
    expect(verdicts).toEqual(['XDP_PASS', 'XDP_DROP', 'XDP_PASS', 'XDP_DROP', 'XDP_DROP']);
    // counters: [0] passed, [1] dropped (per-CPU u64)
    const c = (i: number) => (em.map('counters').get(u32(i)) as Buffer[])[0]?.readBigUInt64LE(0);
    expect([c(0), c(1)]).toEqual([2n, 3n]);
  });

  it('per-CPU maps: N virtual CPUs, each run on the CPU it names', () => {
    const em = fx('icmp_even_drop.o').emulate({ cpus: 3 });
    const p = em.program('xdp_even_drop');
    p.testRun(icmpEcho({ seq: 2 }), { cpu: 2 });
    p.testRun(icmpEcho({ seq: 4 }), { cpu: 0 });
    expect((em.map('counters').get(1) as Buffer[]).map((b) => b.readBigUInt64LE(0))).toEqual([1n, 0n, 1n]);
    expect(() => p.testRun(icmpEcho({ seq: 2 }), { cpu: 3 })).toThrow(/cpu 3: the emulation has 3 CPU/);
  });

  it('single_source_filter: only the blocked source is dropped and counted', () => {
    const em = fx('single_source_filter.o').emulate();
    em.map('blocked_src').set(ipv4('10.0.0.7'), u32(1));
    const p = em.program('xdp_filter');
    expect(p.testRun(udp({ dport: 53, src: '10.0.0.7' })).verdict).toBe('XDP_DROP');
    expect(p.testRun(udp({ dport: 53, src: '10.0.0.8' })).verdict).toBe('XDP_PASS');
    expect(p.testRun(udp({ dport: 53, src: '10.0.0.7' })).verdict).toBe('XDP_DROP');
    const v = em.map('drop_count').get(u32(0));
    expect((Array.isArray(v) ? v[0] : v)?.readBigUInt64LE(0)).toBe(2n);
  });

  it('lpm_blocklist: the longest stored prefix decides', () => {
    const em = fx('lpm_blocklist.o').emulate();
    const key = (len: number, a: string) => Buffer.concat([u32(len), ipv4(a)]);
    em.map('blocklist').set(key(24, '10.0.0.0'), Buffer.alloc(8));
    const p = em.program('xdp_blocklist');
    expect(p.testRun(udp({ dport: 9, src: '10.0.0.200' })).verdict).toBe('XDP_DROP');
    expect(p.testRun(udp({ dport: 9, src: '10.0.1.1' })).verdict).toBe('XDP_PASS');
    // The trie entry for 10.0.0.0/24 counted its hit.
    expect((em.map('blocklist').get(key(24, '10.0.0.0')) as Buffer).readBigUInt64LE(0)).toBe(1n);
  });

  it('goebpf_protocount: one count per IP protocol number', () => {
    const em = fx('goebpf_protocount.o').emulate();
    const p = em.program(em.file.programs[0]!.name);
    p.testRun(tcp({ dport: 80, flags: 2 }));
    p.testRun(udp({ dport: 9 }));
    p.testRun(udp({ dport: 10 }));
    const count = (proto: number) => {
      const v = em.map('protocols').get(u32(proto));
      return (Array.isArray(v) ? v[0] : v)?.readBigUInt64LE(0);
    };
    expect([count(6), count(17), count(1)]).toEqual([1n, 2n, 0n]);
  });

  it('cgroup_skb_filter (a cgroup skb egress program): DNS dropped unless to 10.0.0.53, TCP marked, packets and bytes counted per protocol from the network header', () => {
    const em = fx('cgroup_skb_filter.o').emulate();
    const p = em.program('egress_filter');
    const dns = udp({ dport: 53 });
    const ctx = Buffer.alloc(192);
    expect(p.testRun(dns).retval).toBe(0);
    expect(p.testRun(udp({ dport: 53, dst: '10.0.0.53' })).retval).toBe(1);
    const t = p.testRun(tcp({ dport: 443, flags: 2 }), { ctx });
    expect(t.retval).toBe(1);
    expect(t.ctxOut!.readUInt32LE(8)).toBe(0x1000 | (443 & 0xff)); // mark
    const count = (proto: number) => {
      const v = em.map('by_proto').get(u32(proto)) as Buffer;
      return [v.readBigUInt64LE(0), v.readBigUInt64LE(8)];
    };
    // skb->len counts from the network header: the frame less its 14-byte Ethernet header.
    expect(count(17)).toEqual([2n, BigInt(2 * (dns.length - 14))]);
    expect(count(6)).toEqual([1n, BigInt(tcp({ dport: 443, flags: 2 }).length - 14)]);
  });

  it('syn_reporter: a SYN becomes one perf event, meta then the packet; SYN+ACK does not', () => {
    const em = fx('syn_reporter.o').emulate();
    const p = em.program('xdp_syn');
    const syn = tcp({ dport: 443, sport: 40000, flags: 0x02, src: '10.0.0.1', dst: '10.0.0.2' });
    const r = p.testRun(syn);
    expect(p.testRun(tcp({ dport: 443, flags: 0x12 })).events).toEqual([]);
    expect(r.events).toHaveLength(1);
    const ev = r.events[0]!.data; // one, checked above
    // struct syn_meta { saddr, daddr (network order), sport, dport (network order), pkt_len (host) } then pkt_len bytes
    expect(ev.subarray(0, 4)).toEqual(ipv4('10.0.0.1'));
    expect(ev.subarray(4, 8)).toEqual(ipv4('10.0.0.2'));
    expect(ev.readUInt16BE(8)).toBe(40000);
    expect(ev.readUInt16BE(10)).toBe(443);
    expect(ev.readUInt32LE(12)).toBe(syn.length);
    expect(ev.subarray(16)).toEqual(syn);
    expect(em.map('syn_events').events).toHaveLength(1);
  });

  it('ringbuf: one record per packet, seq counting up, len the packet length', () => {
    const em = fx('ringbuf.o').emulate();
    const p = em.program('xdp_ringbuf');
    const a = p.testRun(udp({ dport: 1 }));
    const b = p.testRun(icmpEcho({ seq: 1 }));
    expect(a.events[0]?.data.readBigUInt64LE(0)).toBe(1n);
    expect(b.events[0]?.data.readBigUInt64LE(0)).toBe(2n);
    expect(b.events[0]?.data.readUInt32LE(8)).toBe(icmpEcho({ seq: 1 }).length);
    expect(em.map('events').events).toHaveLength(2);
  });

  it('tailcall: the declared jmp_table slot runs tail_drop; an empty slot falls through', () => {
    const em = fx('tailcall.o').emulate();
    const r = em.program('xdp_entry').testRun(udp({ dport: 1 }));
    expect(r.verdict).toBe('XDP_DROP');
    expect(r.instructions).toBeGreaterThan(0); // counted up to the tail call
    em.map('jmp_table').programs.delete(1);
    expect(em.program('xdp_entry').testRun(udp({ dport: 1 })).verdict).toBe('XDP_PASS');
  });

  it('icmp_reflector: fib_lookup answers from the given routes; redirect_map to the devmap slot; TTL and checksum updated', () => {
    const routes = { '10.0.0.2': { ifindex: 5, smac: '02:00:00:00:00:aa', dmac: '02:00:00:00:00:bb' } };
    const em = fx('icmp_reflector.o').emulate({ routes });
    const p = em.program('xdp_fib_redirect');
    const pkt = icmpEcho({ seq: 1, dst: '10.0.0.2' });
    // No tx_ports slot 5 yet: bpf_redirect_map with flags 0 gives XDP_ABORTED.
    expect(p.testRun(pkt).verdict).toBe('XDP_ABORTED');
    em.map('tx_ports').set(u32(5), u32(5));
    const r = p.testRun(pkt);
    expect(r.verdict).toBe('XDP_REDIRECT');
    expect(r.redirect).toEqual({ map: 'tx_ports', key: 5, flags: 0 });
    expect(r.dataOut.subarray(0, 12).toString('hex')).toBe('0200000000bb' + '0200000000aa');
    const ip = r.dataOut.subarray(14, 34);
    expect(ip[8]).toBe(pkt.readUInt8(14 + 8) - 1);
    expect(checksum(ip)).toBe(0);
    // A destination with no route: the stack's business.
    expect(p.testRun(icmpEcho({ seq: 1, dst: '10.9.9.9' })).verdict).toBe('XDP_PASS');
  });

  it('globals: setGlobal before emulate() applies, as it does before load()', () => {
    const spec = fx('globals.o');
    spec.setGlobal('drop_port', 9);
    const em = spec.emulate();
    expect(em.program('xdp_globals').testRun(udp({ dport: 9 })).verdict).toBe('XDP_DROP');
    expect(em.program('xdp_globals').testRun(udp({ dport: 10 })).verdict).toBe('XDP_PASS');
  });
});

/** A one-program object from assembler text, for helper tests. */
function asmObject(text: string, type: number): BpfObjectFile {
  const prog = programSpec({ name: 'p', section: 'test', type, instructions: assemble(text).bytes });
  return { path: 'asm', littleEndian: true, license: 'GPL', kernelVersion: null, programs: [prog], maps: [], btf: null, btfExt: null, btfForKernel: null, externs: [], warnings: [] };
}

describe('helpers that change the packet, and contexts', () => {
  const frame = udp({ dport: 9, payload: Buffer.from('hello') });

  it('bpf_xdp_adjust_head: pops 14 bytes; data out starts later; too far is -EINVAL', () => {
    const em = emulateObject(asmObject('r6 = r1\nr2 = 14\ncall bpf_xdp_adjust_head#44\nr0 = 2\nexit', 6));
    const r = em.program('p').testRun(frame);
    expect(r.dataOut).toEqual(frame.subarray(14));
    const em2 = emulateObject(asmObject('r2 = -300\ncall bpf_xdp_adjust_head#44\nexit', 6));
    expect(em2.program('p').testRun(frame).retval).toBe(2 ** 32 - 22); // -EINVAL as the u32 test_run reports
  });

  it('bpf_xdp_adjust_tail: grows with zeroes, shrinks; reads past the new end fault', () => {
    const grow = emulateObject(asmObject('r2 = 4\ncall bpf_xdp_adjust_tail#65\nr0 = 2\nexit', 6)).program('p').testRun(frame);
    expect(grow.dataOut).toEqual(Buffer.concat([frame, Buffer.alloc(4)]));
    const shrink = emulateObject(asmObject('r2 = -5\ncall bpf_xdp_adjust_tail#65\nr0 = 2\nexit', 6)).program('p').testRun(frame);
    expect(shrink.dataOut).toEqual(frame.subarray(0, frame.length - 5));
    // data_end - data after shrinking, then a read at the old last byte faults
    const text = `r6 = r1\nr2 = -5\ncall bpf_xdp_adjust_tail#65\nr1 = *(u32 *)(r6 + 0)\nr0 = *(u8 *)(r1 + ${frame.length - 1})\nexit`;
    expect(() => emulateObject(asmObject(text, 6)).program('p').testRun(frame)).toThrow(/instruction 4 \(r0 = \*\(u8 \*\)\(r1 \+ \d+\)\): read of 1 bytes .*outside packet/);
  });

  it('bpf_xdp_adjust_meta: metadata room before data, 4-byte multiples only', () => {
    const text = 'r6 = r1\nr2 = -8\ncall bpf_xdp_adjust_meta#54\nif r0 != 0x0 goto +5\nr2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 8)\nr2 -= r3\nr0 = r2\nexit\nr0 = 99\nexit';
    const r = emulateObject(asmObject(text.replace('goto +5', 'goto +5'), 6))
      .program('p')
      .testRun(frame);
    expect(r.retval).toBe(8); // data - data_meta
    // test_run returns data_meta .. data_end: the 8 bytes of (zeroed) metadata, then the frame unchanged.
    expect(r.dataOut).toEqual(Buffer.concat([Buffer.alloc(8), frame]));
    // A length that is not a multiple of 4 is -EACCES; meta beyond the headroom's xdp_frame is -EINVAL
    // (what Linux 6.18 returns for both programs: test/vm/kernel-random.test.ts compares at random).
    const odd = emulateObject(asmObject('r2 = -3\ncall bpf_xdp_adjust_meta#54\nexit', 6)).program('p').testRun(frame);
    expect(odd.retval).toBe(2 ** 32 - 13);
    const far = emulateObject(asmObject('r2 = -220\ncall bpf_xdp_adjust_meta#54\nexit', 6)).program('p').testRun(frame);
    expect(far.retval).toBe(2 ** 32 - 22);
  });

  it('xdp_md fields: data_end - data is the frame length; ingress_ifindex from the run options', () => {
    const text = 'r2 = *(u32 *)(r1 + 4)\nr3 = *(u32 *)(r1 + 0)\nr2 -= r3\nr0 = *(u32 *)(r1 + 12)\nr0 <<= 16\nr0 += r2\nexit';
    const r = emulateObject(asmObject(text, 6))
      .program('p')
      .testRun(frame, { xdp: { ingressIfindex: 7 } });
    expect(r.retval).toBe((7 << 16) + frame.length);
  });

  it('__sk_buff for TC: len, protocol as stored (big-endian u16), mark writable, data pointers', () => {
    const text = 'r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 16)\nr4 = 0x2a\n*(u32 *)(r1 + 8) = r4\nr0 = r3\nr0 <<= 16\nr0 += r2\nexit';
    const r = emulateObject(asmObject(text, 3)).program('p').testRun(frame);
    expect(r.retval).toBe((0x0008 << 16) + frame.length); // ETH_P_IP 0x0800 read as a little-endian u16 is 0x0008
    expect(r.skb?.mark).toBe(0x2a);
    expect(r.verdict).toBeNull(); // retval is no TC_ACT_* value
    expect(() => emulateObject(asmObject('r2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit', 3)).program('p').testRun(frame)).toThrow(
      /__sk_buff: len cannot be written \(the kernel's verifier refuses it to TC programs\)/,
    );
  });

  it('skb_load_bytes / skb_store_bytes / l3_csum_replace: rewrite the IPv4 destination, the header checksum stays valid', () => {
    // daddr (frame offset 30) 10.0.0.2 -> 10.0.0.3; bytes 0a 00 00 03 read as a little-endian u32 are 0x0300000a.
    const text = [
      'r6 = r1',
      'r2 = 30',
      'r3 = r10',
      'r3 += -8',
      'r4 = 4',
      'call bpf_skb_load_bytes#26',
      'r7 = *(u32 *)(r10 - 8)',
      'r1 = 0x0300000a',
      '*(u32 *)(r10 - 16) = r1',
      'r1 = r6',
      'r2 = 30',
      'r3 = r10',
      'r3 += -16',
      'r4 = 4',
      'r5 = 0',
      'call bpf_skb_store_bytes#9',
      'r1 = r6',
      'r2 = 24',
      'r3 = r7',
      'r4 = 0x0300000a',
      'r5 = 4',
      'call bpf_l3_csum_replace#10',
      'r0 = 0',
      'exit',
    ].join('\n');
    const r = emulateObject(asmObject(text, 3)).program('p').testRun(frame);
    const ip = r.dataOut.subarray(14, 34);
    expect(ip.subarray(16, 20)).toEqual(ipv4('10.0.0.3'));
    expect(checksum(ip)).toBe(0); // a header with a correct checksum sums to 0 (RFC 1071)
    expect(ip.readUInt16BE(10)).not.toBe(frame.readUInt16BE(24));
    // Out of the packet: -EFAULT, nothing written.
    const oob = emulateObject(asmObject('r2 = 1000\nr3 = r10\nr3 += -8\nr4 = 4\ncall bpf_skb_load_bytes#26\nexit', 3)).program('p').testRun(frame);
    expect(oob.retval).toBe(2 ** 32 - 14);
  });

  it('bpf_skb_change_tail / bpf_skb_change_head: grown with zeroes, the mac header moved to the new front, the network header kept', () => {
    const tail = emulateObject(
      asmObject('r6 = r1\nr2 = 100\nr3 = 0\ncall bpf_skb_change_tail#38\nr7 = r0\nr1 = r6\nr2 = 13\nr3 = 0\ncall bpf_skb_change_tail#38\nr0 <<= 8\nr0 |= r7\nr0 &= 0xffff\nexit', 3),
    )
      .program('p')
      .testRun(frame);
    expect(tail.dataOut).toEqual(Buffer.concat([frame, Buffer.alloc(100 - frame.length)]));
    expect(tail.retval).toBe(0xea00); // the second call: -EINVAL (0xea) for a length inside the Ethernet header
    // Pushing 4 bytes: data_end - data grows by 4; SKF_LL_OFF now reads a pushed zero, SKF_NET_OFF still the IPv4 header.
    const text =
      'r6 = r1\nr2 = 4\nr3 = 0\ncall bpf_skb_change_head#43\nr7 = *(u32 *)(r6 + 0)\nr0 = *(u8 *)skb[-2097152]\nr8 = r0\nr0 = *(u8 *)skb[-1048576]\nr0 <<= 8\nr0 |= r8\nr0 <<= 16\nr0 |= r7\nexit';
    const head = emulateObject(asmObject(text, 3)).program('p').testRun(frame);
    expect(head.dataOut).toEqual(Buffer.concat([Buffer.alloc(4), frame]));
    expect(head.retval).toBe(((0x45 << 8) << 16) | (frame.length + 4));
  });

  it('bpf_check_mtu on a device of the devices option: its MTU written back; a frame past it FRAG_NEEDED; a device not there -ENODEV, and a context naming one refused', () => {
    const text = (ifindex: number) => `*(u32 *)(r10 - 4) = 0\nr2 = ${ifindex}\nr3 = r10\nr3 += -4\nr4 = 0\nr5 = 0\ncall bpf_check_mtu#163\nr0 <<= 24\nr1 = *(u32 *)(r10 - 4)\nr0 |= r1\nexit`;
    const p = emulateObject(asmObject(text(0), 6), { devices: { 7: { mtu: 1500 } } }).program('p');
    const ctx = Buffer.alloc(24);
    ctx.writeUInt32LE(7, 12); // ingress_ifindex
    const big = Buffer.alloc(1515);
    ctx.writeUInt32LE(1514, 4);
    expect(p.testRun(big.subarray(0, 1514), { ctx }).retval).toBe(1500); // 1500 + the Ethernet header fits
    ctx.writeUInt32LE(1515, 4);
    expect(p.testRun(big, { ctx }).retval).toBe((1 << 24) | 1500); // BPF_MTU_CHK_RET_FRAG_NEEDED
    const other = emulateObject(asmObject(text(9), 6), { devices: { 7: {} } }).program('p');
    expect(other.testRun(big, { ctx }).retval).toBe(((-19 & 0xff) << 24) >>> 0); // -ENODEV, nothing written
    ctx.writeUInt32LE(8, 12);
    expect(() => p.testRun(big, { ctx })).toThrow(/^xdp_md context: ingress_ifindex 8 is no device \(give it in emulate\(\{ devices \}\)\) \(BPF_PROG_TEST_RUN refuses it: ENODEV\)$/);
  });

  it('bpf_redirect: XDP_REDIRECT for XDP, TC_ACT_REDIRECT for TC, with the target recorded', () => {
    const text = 'r1 = 4\nr2 = 0\ncall bpf_redirect#23\nexit';
    const x = emulateObject(asmObject(text, 6)).program('p').testRun(frame);
    expect([x.verdict, x.redirect]).toEqual(['XDP_REDIRECT', { ifindex: 4, flags: 0 }]);
    const t = emulateObject(asmObject(text, 3)).program('p').testRun(frame);
    expect([t.verdict, t.redirect]).toEqual(['TC_ACT_REDIRECT', { ifindex: 4, flags: 0 }]);
  });

  it('socket filter: the skb starts at the network header; no direct packet access (as the verifier has it)', () => {
    const r = emulateObject(asmObject('r6 = r1\nr7 = *(u32 *)(r6 + 0)\nr0 = *(u8 *)skb[0]\nr0 <<= 16\nr0 += r7\nexit', 1)).program('p').testRun(frame);
    expect(r.retval).toBe((0x45 << 16) + frame.length - 14); // first byte is the IPv4 version/IHL, len excludes Ethernet
    expect(() => emulateObject(asmObject('r3 = *(u32 *)(r1 + 76)\nr0 = 0\nexit', 1)).program('p').testRun(frame)).toThrow(
      /__sk_buff: data is not readable \(the kernel's verifier refuses it to socket filters\)/,
    );
  });

  it('bpf_trace_printk lines are captured; unknown helpers are named', () => {
    // "n=%d\n\0" on the stack, little-endian words
    const text = [
      'r1 = 0x0a64253d6e ll', // "n=%d\n"
      '*(u64 *)(r10 - 8) = r1',
      'r1 = r10',
      'r1 += -8',
      'r2 = 6',
      'r3 = -5',
      'call bpf_trace_printk#6',
      'r0 = 2',
      'exit',
    ].join('\n');
    const em = emulateObject(asmObject(text, 6));
    expect(em.program('p').testRun(frame).printk).toEqual(['n=-5']);
    expect(() => emulateObject(asmObject('call bpf_get_socket_cookie#46\nexit', 6)).program('p').testRun(frame)).toThrow(/calls helper bpf_get_socket_cookie#46, which this emulator does not provide/);
  });
});

describe('externs the emulator is given', () => {
  it("a __ksym address: refused naming the option until given; then the program stores it (.bss offset 0x20, from llvm-readelf's symbol table)", () => {
    const spec = fx('externs.o');
    expect(() =>
      spec
        .emulate()
        .program('xdp_externs')
        .testRun(udp({ dport: 9 })),
    ).toThrow(
      /^xdp_externs: instruction \d+ \(r2 = 0x0 ll\) refers to extern tcp_v4_connect, which this emulator was not given \(emulate\(\{ externs: \{ tcp_v4_connect: value \} \}\) gives it\) at \.\/externs\.c:42/,
    );
    const em = spec.emulate({ externs: { tcp_v4_connect: 0xffffffff81a0c0d0n } });
    expect(em.program('xdp_externs').testRun(udp({ dport: 9 })).verdict).toBe('XDP_PASS');
    expect((em.map('.bss').get(u32(0)) as Buffer).readBigUInt64LE(0x20)).toBe(0xffffffff81a0c0d0n);
  });
});

describe('contexts given as bytes, as BPF_PROG_TEST_RUN takes them (no kernel)', () => {
  const frame = udp({ dport: 9 });

  it('__sk_buff: mark and cb from the bytes; a byte stored into cb[1] and the fields taken come back in ctxOut', () => {
    const ctx = Buffer.alloc(192);
    ctx.writeUInt32LE(0x1234, 8); // mark
    ctx.writeUInt32LE(0xaabbccdd, 52); // cb[1]
    ctx.writeUInt32LE(0x99, 24); // vlan_tci: not a field a test run takes
    const p = emulateObject(asmObject('r2 = 0x77\n*(u8 *)(r1 + 53) = r2\nr0 = *(u16 *)(r1 + 8)\nexit', 3)).program('p');
    expect(() => p.testRun(frame, { ctx })).toThrow(/^__sk_buff context: vlan_tci must be zero .*\(BPF_PROG_TEST_RUN refuses it: EINVAL\)$/);
    ctx.writeUInt32LE(0, 24);
    const r = p.testRun(frame, { ctx });
    expect(r.retval).toBe(0x1234);
    const want = Buffer.alloc(192);
    want.writeUInt32LE(0x1234, 8);
    want.writeUInt32LE(1, 40); // ifindex 0 is lo
    want.writeUInt32LE(0xaabb77dd, 52); // byte 53 of cb[1] (little-endian) replaced
    want.writeUInt32LE(frame.length, 160); // wire_len 0 is the frame's length
    expect(r.ctxOut).toEqual(want);
    expect(r.skb?.['cb[1]']).toBe(0xaabb77dd);
  });

  it('xdp_md: data = the metadata at the front of the input; dataOut starts with it; ctxOut counts from data_meta', () => {
    const ctx = Buffer.alloc(24);
    ctx.writeUInt32LE(8, 0);
    ctx.writeUInt32LE(frame.length, 4);
    const p = emulateObject(asmObject('r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 8)\nr2 -= r3\nr0 = r2\nexit', 6)).program('p');
    const r = p.testRun(frame, { ctx });
    expect(r.retval).toBe(8);
    expect(r.dataOut).toEqual(frame);
    expect([r.ctxOut!.readUInt32LE(0), r.ctxOut!.readUInt32LE(4)]).toEqual([8, frame.length]);
    ctx.writeUInt32LE(6, 0);
    expect(() => p.testRun(frame, { ctx })).toThrow(/^xdp_md context: data 6: the metadata length must be a multiple of 4/);
    expect(() => p.testRun(frame, { ctx: Buffer.alloc(24), xdp: {} })).toThrow(/give the context as ctx bytes or as xdp fields, not both/);
  });
});

describe('bpf_map_lookup_elem on array maps (done on the registers) and helpers that read fewer arguments', () => {
  const frame = udp({ dport: 9 });
  const map = (name: string, type: number, keySize: number, maxEntries: number): MapSpec => ({
    name,
    type,
    keySize,
    valueSize: 8,
    maxEntries,
    flags: 0,
    pinning: 'none',
    style: 'btf',
    section: '.maps',
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    freeze: false,
  });
  // key at r10-4 (or `keyAt` off r10), lookup in `m`; r0 = the u64 value, or 0xdead for NULL.
  const lookup = (m: string, index: number, keyAt = -4) => {
    const text = [
      `*(u32 *)(r10 - 4) = ${index}`,
      'r1 = map_fd(0) ll',
      'r2 = r10',
      `r2 += ${keyAt}`,
      'call bpf_map_lookup_elem#1',
      'if r0 == 0x0 goto +2',
      'r0 = *(u64 *)(r0 + 0)',
      'exit',
      'r0 = 0xdead',
      'exit',
    ].join('\n');
    const obj = asmObject(text, 6);
    obj.maps = [map('arr', BPF_MAP_TYPE.ARRAY, 4, 4), map('pcpu', BPF_MAP_TYPE.PERCPU_ARRAY, 4, 4), map('h', BPF_MAP_TYPE.HASH, 4, 4)];
    obj.programs[0]!.relocations = [{ kind: 'map_fd', insnIndex: 1, map: m }];
    const em = emulateObject(obj, { cpus: 2 });
    const le = (n: number) => Buffer.from(new BigUint64Array([BigInt(n)]).buffer);
    for (let i = 0; i < 4; i++) em.map('arr').set(u32(i), le(100 + i));
    for (let i = 0; i < 4; i++) em.map('pcpu').set(u32(i), [le(200 + i), le(300 + i)]);
    em.map('h').set(u32(3), le(7));
    return (cpu = 0) => em.program('p').testRun(frame, { cpu }).retval;
  };

  it('the value at the index; NULL at max_entries and beyond (as array_map_lookup_elem)', () => {
    expect([0, 3].map((i) => lookup('arr', i)())).toEqual([100, 103]);
    expect([4, -1].map((i) => lookup('arr', i)())).toEqual([0xdead, 0xdead]);
  });

  it('per-CPU arrays: the copy of the CPU the run is on', () => {
    const run = lookup('pcpu', 2);
    expect([run(0), run(1)]).toEqual([202, 302]);
  });

  it('other maps and bad key pointers take the helper: hash hits and misses, the key outside the stack faults', () => {
    expect([lookup('h', 3)(), lookup('h', 2)()]).toEqual([7, 0xdead]);
    // r10 - 2: the key's last two bytes lie past the top of the stack.
    expect(() => lookup('arr', 1, -2)()).toThrow(/bpf_map_lookup_elem: key: 4 bytes at 0x[0-9a-f]+ \(stack\[frame 0\]\+510, region of 512 bytes\) are not all in one region/);
  });

  it('HelperDef.args: the registers past it reach the helper as 0n; without it all five do', () => {
    const text = 'r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall bpf_get_prandom_u32#7\nexit';
    const seen: bigint[][] = [];
    const vm = (args?: number) => new Vm({ instructions: assemble(text).bytes, name: 'p' }, { helpers: new Map([[7, { name: 'bpf_get_prandom_u32', fn: (_c, ...r) => (seen.push(r), 0n), args }]]) });
    vm(2).run();
    vm().run();
    expect(seen).toEqual([
      [1n, 2n, 0n, 0n, 0n],
      [1n, 2n, 3n, 4n, 5n],
    ]);
  });
});

describe('CLI', () => {
  it('test-run OBJ --emulate --trace: every executed instruction (as llvm-objdump spells it), registers changed, C line', async () => {
    const pkt = icmpEcho({ seq: 2 });
    const j = (await cliOk('test-run', join(FIXTURES, 'icmp_even_drop.o'), '--emulate', '--trace', '--json', '--data-hex', pkt.toString('hex'))).json();
    expect(j.verdict).toBe('XDP_DROP');
    const dump = readFileSync(join(FIXTURES, 'icmp_even_drop.objdump.txt'), 'utf8');
    // llvm-objdump: "1: r2 = *(u32 *)(r1 + 0x0)"
    expect(dump).toMatch(/^\s+1:\tr2 = \*\(u32 \*\)\(r1 \+ 0x0\)$/m);
    expect(j.trace[1]).toMatchObject({ insn: 1, text: 'r2 = *(u32 *)(r1 + 0)' });
    expect(Object.keys(j.trace[1].changed)).toEqual(['r2']);
    expect(j.trace[1].source).toMatch(/icmp_even_drop\.c:\d+$/);
    expect(j.trace.at(-1).text).toBe('exit');
    expect(j.trace.at(-1).changed).toEqual({});
    // Without --trace the run is the same and reports the same count of instructions.
    const plain = await cliOk('test-run', join(FIXTURES, 'icmp_even_drop.o'), '--emulate', '--data-hex', pkt.toString('hex'));
    expect(plain.stdout).toContain(`(emulated, ${j.trace.length} instructions)`);
    // One emulated run's time is the engine's first pass over new code: no "ns per run" without --repeat.
    expect(plain.stdout).toMatch(/^xdp_even_drop: XDP_DROP \(retval 1\) \(emulated, \d+ instructions\)$/m);
    const repeated = await cliOk('test-run', join(FIXTURES, 'icmp_even_drop.o'), '--emulate', '--repeat', '3', '--data-hex', pkt.toString('hex'));
    expect(repeated.stdout).toMatch(/^xdp_even_drop: XDP_DROP \(retval 1\), \d+ ns per run over 3 runs \(emulated, \d+ instructions\)$/m);
  });

  it('test-run --emulate --json: a bpf_redirect_neigh next hop as hex', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-neigh-'));
    try {
      const file = join(dir, 'neigh.txt');
      // struct bpf_redir_neigh on the stack: AF_INET (2), 10.0.0.2; then bpf_redirect_neigh(5, &it, 20, 0).
      writeFileSync(
        file,
        '*(u64 *)(r10 - 24) = 0\n*(u64 *)(r10 - 16) = 0\n*(u32 *)(r10 - 8) = 0\n*(u32 *)(r10 - 24) = 2\n*(u32 *)(r10 - 20) = 0x0200000a\nr1 = 5\nr2 = r10\nr2 += -24\nr3 = 20\nr4 = 0\ncall bpf_redirect_neigh#152\nexit\n',
      );
      const j = (await cliOk('test-run', '--asm', file, '--type', 'tc', '--emulate', '--json', '--data-hex', udp({ dport: 9 }).toString('hex'))).json();
      expect(j.verdict).toBe('TC_ACT_REDIRECT');
      expect(j.redirect).toEqual({ ifindex: 5, flags: 0, via: 'neigh', nexthop: '020000000a000002000000000000000000000000' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const wrap = unprivilegedWrapper();
  const asNobody = !!wrap && process.getuid?.() === 0;
  beforeAll(() => {
    if (asNobody) ensureDist();
  }, 300_000);
  it.skipIf(!asNobody)('test-run OBJ --emulate as an unprivileged user prints the kernel-shaped JSON', async () => {
    const pkt = icmpEcho({ seq: 2 }).toString('hex');
    // The unprivileged child reads the object from the world-readable copy: the checkout may be under a 0700 directory.
    const r = await cliProcess(['test-run', join(worldReadablePackage(), 'fixtures', 'icmp_even_drop.o'), '--emulate', '--json', '--data-hex', pkt], { wrap });
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ retval: 1, verdict: 'XDP_DROP', dataOutHex: pkt });
    expect(typeof j.durationNs).toBe('number');
  });
});
