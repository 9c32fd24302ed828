// The emulator against the kernel (root): for every fixture program the
// kernel can test-run, a corpus of packets (crafted for each branch, plus
// seeded random and mutated ones) goes through BPF_PROG_TEST_RUN and through
// spec.emulate(); retval, output bytes and every map's contents afterwards
// must agree. A disagreement fails with the packet (hex), what differs and
// the first instruction behind it, found by replaying the packet in the
// emulator with a trace (test/helpers/diverge.ts); the tests at the end
// check that message on a deliberately wrong emulator.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';
import { BPF_F_XDP_HAS_FRAGS } from '../../src/uapi/bpf.js';
import { FIXTURES } from '../helpers/oracle.js';
import { icmpEcho, ipv4, ipv6Stub, tcp, udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { targetBtf } from '../helpers/target-btf.js';
import { compareRun } from '../helpers/diverge.js';
import type { EmulateOptions, EmulatedCollection } from '../../src/vm/emulate.js';
import { ROOT } from '../helpers/cli.js';

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

let seed = 0x1234567;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};

function corpus(): Buffer[] {
  const base = [
    icmpEcho({ seq: 1 }),
    icmpEcho({ seq: 2 }),
    icmpEcho({ seq: 3, type: 0 }),
    icmpEcho({ seq: 4, src: '192.168.7.9' }),
    udp({ dport: 9 }),
    udp({ dport: 53, src: '10.0.0.7' }),
    udp({ dport: 9, src: '10.1.2.3' }),
    tcp({ dport: 80, flags: TCP_SYN }),
    tcp({ dport: 443, flags: TCP_SYN | TCP_ACK }),
    tcp({ dport: 22, flags: TCP_SYN, src: '172.16.0.1' }),
    ipv6Stub(),
  ];
  const out = [...base];
  // Truncated frames: every header boundary and a bit either side.
  for (const cut of [14, 15, 20, 33, 34, 35, 41, 42, 53, 54]) out.push(base[7]!.subarray(0, cut)); // base has 8+ frames, built above
  // ARP-typed and random frames, and single-byte mutations of the crafted ones.
  const arp = Buffer.from(base[0]!);
  arp.writeUInt16BE(0x0806, 12);
  out.push(arp);
  for (let i = 0; i < 20; i++) out.push(Buffer.from(Array.from({ length: 14 + rnd(80) }, () => rnd(256))));
  for (let i = 0; i < 40; i++) {
    const b = Buffer.from(base[rnd(base.length)]!);
    b[rnd(b.length)] = rnd(256);
    out.push(b);
  }
  return out;
}

interface Case {
  file: string;
  /** Program type for sections that do not say (default xdp); cgroup_skb: the programs of that section. */
  type?: 'xdp' | 'tc' | 'socket_filter' | 'cgroup_skb' | 'flow_dissector';
  /** Only these programs (default: every one of the type). */
  programs?: string[];
  /** CO-RE: resolve against the committed vmlinux BTF (the kernel resolves against its own). */
  core?: boolean;
  /** Map contents set in both before the packets. */
  setup?: (set: (map: string, key: Buffer, value: Buffer) => void) => void;
  globals?: Record<string, number>;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

const CASES: Case[] = [
  { file: 'drop_all.o' },
  { file: 'icmp_even_drop.o' },
  { file: 'goebpf_protocount.o' },
  { file: 'single_source_filter.o', setup: (set) => set('blocked_src', ipv4('10.0.0.7'), u32(1)) },
  { file: 'lpm_blocklist.o', setup: (set) => set('blocklist', Buffer.concat([u32(24), ipv4('10.0.0.0')]), u64(0)) },
  { file: 'globals.o', globals: { drop_port: 9 } },
  { file: 'syn_reporter.o' },
  { file: 'tailcall.o' },
  { file: 'map_in_map.o' },
  { file: 'ringbuf.o' },
  { file: 'subprogs.o' },
  { file: 'tc_shared_map.o', type: 'tc' },
  { file: 'core_echo_dropper.o', core: true },
  { file: 'kfuncs.o' },
  // samples/bpf's sockex1: LD_ABS loads (load_half, load_byte) and a legacy map.
  { file: 'socket_filter.o', type: 'socket_filter', programs: ['count_protocols'] },
  // A cgroup skb egress filter: the packet from its network header, the test run's socket's addresses.
  { file: 'cgroup_skb_filter.o', type: 'cgroup_skb' },
  // A flow dissector: its output is the struct bpf_flow_keys it fills; truncated headers take bpf_skb_load_bytes, which fails in a test run.
  { file: 'flow_keys.o', type: 'flow_dissector' },
];

// Contents compared: everything but event channels and program/map tables.
const SKIP_TYPES = new Set([3, 4, 12, 13, 27]); // prog_array, perf_event_array, array/hash of maps, ringbuf

describeRoot('emulator vs BPF_PROG_TEST_RUN', () => {
  const packets = corpus();
  for (const c of CASES) {
    it(`${c.file}: every program, ${packets.length} packets: same retval, bytes and maps`, () => {
      const spec = openObject(join(FIXTURES, c.file));
      for (const [name, value] of Object.entries(c.globals ?? {})) spec.setGlobal(name, value);
      const want = { tc: 3, socket_filter: 1, cgroup_skb: 8, flow_dissector: 22, xdp: 6 }[c.type ?? 'xdp']; // BPF_PROG_TYPE_*
      const xdp = spec.programs.filter((p) => (p.type === null || p.type === want) && (!c.programs || c.programs.includes(p.name)));
      expect(xdp.length).toBeGreaterThan(0);
      // The type of programs whose section does not say (a cgroup skb program's and a flow dissector's do).
      const programType = c.type === 'cgroup_skb' || c.type === 'flow_dissector' ? undefined : c.type;
      using kern = spec.load({ programs: xdp.map((p) => p.name), programType: programType ?? 'xdp', ignorePinning: true });
      const make = (extra: EmulateOptions = {}) => spec.emulate({ programType, coreTarget: c.core ? targetBtf() : undefined, ...extra });
      const em = make();
      c.setup?.((map, key, value) => {
        kern.map(map).set(key, value);
        em.map(map).set(key, value);
      });
      const maps = spec.maps.filter((m) => !SKIP_TYPES.has(m.type)).map((m) => m.name);
      let compared = 0;
      let refused = 0;
      for (const p of xdp) {
        for (const pkt of packets) {
          let k;
          try {
            k = kern.program(p.name).testRun(pkt);
          } catch (err) {
            // The kernel refuses some frames for skb programs (IPv4 shorter than its header): nothing to compare.
            if (c.type !== undefined && c.type !== 'xdp' && /EINVAL/.test((err as Error).message)) {
              refused++;
              continue;
            }
            throw err;
          }
          const disagreement = compareRun({ label: c.file, ref: kern, emu: em, make, program: p.name, pkt, maps, refRun: k });
          if (disagreement) expect.fail(disagreement);
          compared++;
        }
      }
      expect(compared + refused).toBe(xdp.length * packets.length);
      expect(refused).toBeLessThan(10 * xdp.length);
    });
  }
});

// ------------------------------------------------ a disagreement, on purpose

/** A bpf_map_lookup_elem that answers every lookup in `counters` with element 0 (the kernel gives element 1 for a drop). */
const wrongLookup = (em: () => EmulatedCollection): EmulateOptions['helpers'] => ({
  bpf_map_lookup_elem: (ctx, map) => {
    const counters = em().map('counters');
    if (Number(BigInt.asUintN(64, map) >> 32n) !== counters.handle.id) ctx.fault('icmp_even_drop looks up nothing but counters');
    return counters.lookupAddress(new Uint8Array(4), 0);
  },
});

const objdumpLine = (file: string, slot: number): string | undefined => {
  const m = new RegExp(`^\\s+${slot}:\\t(.*)$`, 'm').exec(readFileSync(join(FIXTURES, file), 'utf8'));
  // llvm-objdump writes immediates in hex; the emulator as the kernel's verifier log does, in decimal.
  return m?.[1]?.replace(/ <[^>]*>$/, '').replace(/(-?)0x([0-9a-f]+)/g, (_s, sign: string, h: string) => `${sign}${parseInt(h, 16)}`);
};

function checkMessage(msg: string | undefined): void {
  expect(msg).toBeDefined();
  // The packet, in hex, and what differs: counters[0] counts the drop in the emulator, not in the reference.
  expect(msg).toContain(`on packet ${icmpEcho({ seq: 2 }).toString('hex')}`);
  expect(msg).toMatch(/map counters key 00000000: reference 0100000000000000, emulator 0200000000000000/);
  const m = /first differing instruction: xdp_even_drop instruction (\d+) \((.+?)\) at (?:\.\/)?(icmp_even_drop\.c):(\d+): (.*) \(the last write to counters\[00000000\] in the emulator\)/.exec(msg!);
  expect(m, msg).not.toBeNull();
  const [, slot, text, file, line, source] = m!;
  // A real instruction: llvm-objdump shows the same one at that index, a store through the looked-up value.
  expect(objdumpLine('icmp_even_drop.objdump.txt', Number(slot))).toBe(text);
  expect(text).toMatch(/^\*\(u64 \*\)\(r0 \+ 0\) = r1$/);
  // Its C line, as the source file has it: the counter increment in bump().
  const src = readFileSync(join(ROOT, 'bpf', file!), 'utf8').split('\n')[Number(line) - 1];
  expect(src?.trim()).toBe(source);
  expect(source).toBe('*v += 1;');
}

describeRoot('a program that tail-calls itself', () => {
  it('tailcall.o with xdp_entry in its own slot: the kernel and the emulator stop at the tail-call limit and fall through (the emulator re-enters its own machine)', () => {
    const spec = openObject(join(FIXTURES, 'tailcall.o'));
    using coll = spec.load();
    coll.map('jmp_table').set(u32(1), u32(coll.program('xdp_entry').fd.value));
    const kernel = coll.program('xdp_entry').testRun(udp({ dport: 1 }));
    const em = spec.emulate();
    em.map('jmp_table').programs.set(1, 'xdp_entry');
    const emulated = em.program('xdp_entry').testRun(udp({ dport: 1 }));
    // Past the limit bpf_tail_call returns, and the program falls through to XDP_PASS.
    expect([kernel.verdict, emulated.verdict]).toEqual(['XDP_PASS', 'XDP_PASS']);
    expect(emulated.dataOut.equals(kernel.dataOut)).toBe(true);
  });
});

describeRoot('bpf_for_each_map_elem', () => {
  it.each(['for_each.o', 'for_each.clang14.o'])(
    '%s: walks over an array (in order, stopping at .rodata stop_at), a per-CPU array and a hash map: the same return value and contents, run after run',
    (file) => {
      const spec = openObject(join(FIXTURES, file));
      using coll = spec.load({ ignorePinning: true });
      const cpus = coll.map('pcpu').cpus;
      const em = spec.emulate({ cpus });
      for (const k of [3, 9, 1, 200]) for (const m of [coll.map('tbl'), em.map('tbl')]) m.set(u32(k), BigInt(k * 10));
      const dump = (m: { entries(): Iterable<[Buffer, Buffer]> }) => [...m.entries()].map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).sort();
      const retvals: number[] = [];
      for (let run = 0; run < 3; run++) {
        const before = coll
          .map('pcpu')
          .getPerCpu(0)!
          .map((b) => b.readBigUInt64LE(0));
        const k = coll.program('walk').testRun(Buffer.alloc(64)).retval;
        // The CPU the kernel ran on is the one whose per-CPU values the walk changed.
        const cpu = coll
          .map('pcpu')
          .getPerCpu(0)!
          .findIndex((b, c) => b.readBigUInt64LE(0) !== before[c]);
        expect(cpu).toBeGreaterThanOrEqual(0);
        expect(em.program('walk').testRun(Buffer.alloc(64), { cpu }).retval, `run ${run}`).toBe(k);
        expect(dump(em.map('arr'))).toEqual(dump(coll.map('arr')));
        expect(dump(em.map('tbl'))).toEqual(dump(coll.map('tbl')));
        retvals.push(k);
      }
      // The array walk visits indices 0..stop_at (5): six visits, each adding 1; the hash walk all four keys (value += key + 1 each run).
      expect(coll.map('arr').get(u32(5))!.readBigUInt64LE(0)).toBe(3n);
      expect(coll.map('arr').get(u32(6))!.readBigUInt64LE(0)).toBe(0n);
      expect(coll.map('tbl').get(u32(9))!.readBigUInt64LE(0)).toBe(90n + 3n * 10n);
      expect(new Set(retvals).size).toBe(3); // each run's fold differs: the values changed in between
    },
  );
});

describeRoot('bpf_map_lookup_percpu_elem', () => {
  it.each(['for_each.o', 'for_each.clang14.o'])('%s: a per-CPU value on each CPU the host has, NULL past them and past max_entries', (file) => {
    const spec = openObject(join(FIXTURES, file));
    using coll = spec.load({ ignorePinning: true });
    const cpus = coll.map('pcpu').cpus;
    const em = spec.emulate({ cpus });
    const values = Array.from({ length: cpus }, (_, c) => u64(11 * (c + 1)));
    coll.map('pcpu').setPerCpu(u32(1), values);
    em.map('pcpu').set(u32(1), values);
    const k = coll.program('percpu_read').testRun(Buffer.alloc(64)).retval;
    // The fold the program computes, from the values set and the host's CPU count.
    let want = 0n;
    for (let c = 0; c < 4; c++) want = c < cpus ? want * 7n + 11n * BigInt(c + 1) : want + 1000n;
    expect(k).toBe(Number(BigInt.asUintN(32, want + 5n)));
    expect(em.program('percpu_read').testRun(Buffer.alloc(64)).retval).toBe(k);
  });
});

describeRoot('redirect helpers', () => {
  // (program type, call, what the kernel returns for it), each run by both; the emulator also records the target.
  const cases: [string, string, number][] = [
    ['sched_cls', 'r1 = 1\nr2 = 0\ncall bpf_redirect#23', 7],
    ['sched_cls', 'r1 = 1\nr2 = 1\ncall bpf_redirect#23', 7], // BPF_F_INGRESS
    ['sched_cls', 'r1 = 1\nr2 = 2\ncall bpf_redirect#23', 2],
    ['xdp', 'r1 = 1\nr2 = 0\ncall bpf_redirect#23', 4],
    ['xdp', 'r1 = 1\nr2 = 1\ncall bpf_redirect#23', 0],
    ['sched_cls', 'r1 = 1\nr2 = 0\ncall bpf_redirect_peer#155', 7],
    ['sched_cls', 'r1 = 1\nr2 = 1\ncall bpf_redirect_peer#155', 2],
    ['sched_cls', 'r1 = 1\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_redirect_neigh#152', 7],
    ['sched_cls', 'r1 = 1\nr2 = r10\nr2 += -24\nr3 = 20\nr4 = 0\ncall bpf_redirect_neigh#152', 7],
    ['sched_cls', 'r1 = 1\nr2 = r10\nr2 += -24\nr3 = 8\nr4 = 0\ncall bpf_redirect_neigh#152', 2],
    ['sched_cls', 'r1 = 1\nr2 = 0\nr3 = 0\nr4 = 1\ncall bpf_redirect_neigh#152', 2],
  ];
  it.each(cases)('%s, %s: the kernel returns %i, and so does the emulator', (type, call, want) => {
    // A struct bpf_redir_neigh on the stack: AF_INET (2), 10.0.0.2.
    const text = `*(u64 *)(r10 - 24) = 0\n*(u64 *)(r10 - 16) = 0\n*(u32 *)(r10 - 8) = 0\n*(u32 *)(r10 - 24) = 2\n*(u32 *)(r10 - 20) = 0x0200000a\n${call}\nexit`;
    const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: type as 'xdp', name: 'p' });
    using coll = spec.load();
    const k = coll.program('p').testRun(udp({ dport: 9 })).retval;
    const e = spec
      .emulate()
      .program('p')
      .testRun(udp({ dport: 9 }));
    expect([k, e.retval]).toEqual([want, want]);
    const redirected = want === 7 || want === 4;
    expect(e.redirect !== undefined).toBe(redirected);
    if (call.includes('neigh#') && call.includes('r3 = 20')) expect(e.redirect).toMatchObject({ via: 'neigh', nexthop: Buffer.from('02000000' + '0a000002' + '00'.repeat(12), 'hex') });
  });
});

describeRoot('bpf_check_mtu', () => {
  it('XDP and TC, on lo and on a device that is not there, every edge of *mtu_len, len_diff and flags: the same result and the same *mtu_len as the kernel', () => {
    const diffs: string[] = [];
    const outcomes = new Map<number, number>();
    for (const type of ['xdp', 'sched_cls'] as const)
      for (const ifindex of [0, 1, 999])
        for (const mtuLen of [0, 1, 100, 65536, 65537, 0xffffffff])
          for (const lenDiff of [0, -100, 65449, 65450, 65451, 0x7fffffff, -0x80000000])
            for (const flags of [0, 1, 2]) {
              // r0 = the result's low byte << 24 | *mtu_len's low 24 bits afterwards.
              const text = `*(u32 *)(r10 - 4) = ${mtuLen | 0}\nr2 = ${ifindex}\nr3 = r10\nr3 += -4\nr4 = ${lenDiff}\nr5 = ${flags}\ncall bpf_check_mtu#163\nr0 &= 0xff\nr0 <<= 24\nr1 = *(u32 *)(r10 - 4)\nr1 &= 0xffffff\nr0 |= r1\nexit`;
              const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type, name: 'p' });
              const frame = udp({ dport: 9, payload: Buffer.alloc(58) }); // 100 bytes
              using coll = spec.load();
              const k = coll.program('p').testRun(frame).retval;
              const e = spec.emulate().program('p').testRun(frame).retval;
              outcomes.set(k >>> 24, (outcomes.get(k >>> 24) ?? 0) + 1);
              if (k !== e) diffs.push(`${type} ifindex ${ifindex} *mtu_len ${mtuLen} len_diff ${lenDiff} flags ${flags}: kernel 0x${k.toString(16)}, emulator 0x${e.toString(16)}`);
            }
    expect(diffs).toEqual([]);
    // Every outcome was compared: SUCCESS (0), FRAG_NEEDED (1), -EINVAL (0xea), -ENODEV (0xed).
    expect([...outcomes.keys()].sort((a, b) => a - b)).toEqual([0, 1, 0xea, 0xed]);
  });
});

describeRoot('TC helpers on the socket buffer', () => {
  /** Frames: IPv4 with every TOS byte and a random checksum, IPv6 with every traffic class, and ARP. */
  const frames = (() => {
    const out: Buffer[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let tos = 0; tos < 256; tos++) {
      const b = udp({ dport: 9 });
      b[15] = tos;
      b.writeUInt16BE(rnd(), 24);
      out.push(b);
    }
    for (let tc = 0; tc < 256; tc++) {
      const b = Buffer.concat([ipv6Stub(), Buffer.alloc(8)]);
      b.writeUInt16BE(0x6000 | (tc << 4) | (rnd() & 0xf), 14);
      out.push(b);
    }
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    out.push(arp);
    return out;
  })();

  it('frames a test run refuses (EINVAL) are refused by the emulator: shorter than Ethernet, IP without its whole header', () => {
    const eth = (n: number, type: number) => {
      const b = Buffer.alloc(n);
      if (n >= 14) b.writeUInt16BE(type, 12);
      return b;
    };
    for (const type of ['sched_cls', 'socket_filter', 'xdp'] as const) {
      const spec = BpfObjectSpec.fromInstructions(assemble('r0 = 0\nexit').bytes, { type, name: 'p' });
      using coll = spec.load();
      const em = spec.emulate().program('p');
      const answers = [
        [0, 0],
        [13, 0],
        [14, 0x0800],
        [33, 0x0800],
        [34, 0x0800],
        [53, 0x86dd],
        [54, 0x86dd],
        [20, 0x8100],
        [3520, 0x0806],
        // Past 3,520 bytes an XDP frame has fragments (the test below).
        ...(type === 'xdp'
          ? []
          : [
              [3712, 0x0806],
              [3713, 0x0806],
            ]),
      ].map(([n, t]) => {
        const f = eth(n!, t!);
        const k = (() => {
          try {
            return String(coll.program('p').testRun(f).retval);
          } catch (e) {
            return (e as BpfSyscallError).errnoName;
          }
        })();
        const e = (() => {
          try {
            return String(em.testRun(f).retval);
          } catch (x) {
            return /refuses it: (E\w+)\)$/.exec((x as Error).message)?.[1] ?? (x as Error).message;
          }
        })();
        return `${type} ${n} bytes 0x${t!.toString(16)}: kernel ${k}, emulator ${e}`;
      });
      for (const a of answers) expect(a.replace(/kernel (\S+), emulator \1$/, 'same')).toMatch(/same$/);
      expect(answers.filter((a) => a.includes('EINVAL')).length).toBe(type === 'xdp' ? 2 : 6);
    }
  });

  it('an XDP frame longer than 3,520 bytes: 3,520 in the buffer, the rest in fragments of a page (17 at most, then ENOMEM), in the kernel and the emulator', () => {
    // r0 = (data_end - data) << 17 | bpf_xdp_get_buff_len(): the linear part and the whole frame.
    const text = 'r6 = r1\ncall bpf_xdp_get_buff_len#188\nr2 = *(u32 *)(r6 + 4)\nr3 = *(u32 *)(r6 + 0)\nr2 -= r3\nr2 <<= 17\nr0 |= r2\nexit';
    const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'xdp', name: 'p', progFlags: BPF_F_XDP_HAS_FRAGS });
    using coll = spec.load();
    const em = spec.emulate().program('p');
    const run = (f: (b: Buffer) => { retval: number; dataOut: Uint8Array }, n: number) => {
      const frame = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
      try {
        const r = f(frame);
        expect(Buffer.from(r.dataOut).equals(frame), `${n} bytes come back whole`).toBe(true);
        return `${r.retval >>> 17} + ${(r.retval & 0x1ffff) - (r.retval >>> 17)}`;
      } catch (e) {
        return e instanceof BpfSyscallError ? e.errnoName : (/refuses it: (E\w+)\)$/.exec((e as Error).message)?.[1] ?? (e as Error).message);
      }
    };
    const sizes = [3520, 3521, 7616, 7617, 3520 + 17 * 4096, 3520 + 17 * 4096 + 1];
    const kernel = sizes.map((n) => run((b) => coll.program('p').testRun(b), n));
    expect(kernel).toEqual(['3520 + 0', '3520 + 1', '3520 + 4096', '3520 + 4097', '3520 + 69632', 'ENOMEM']);
    expect(sizes.map((n) => run((b) => em.testRun(b), n))).toEqual(kernel);
  });

  it.each([
    ['bpf_skb_ecn_set_ce', 'call bpf_skb_ecn_set_ce#97\nexit'],
    ['bpf_skb_change_type then pkt_type', 'r6 = r1\nr2 = *(u32 *)(r6 + 16)\nr2 &= 7\ncall bpf_skb_change_type#32\nr7 = r0\nr0 = *(u32 *)(r6 + 4)\nr0 <<= 8\nr0 |= r7\nr0 &= 0xffff\nexit'],
    ['bpf_get_cgroup_classid and bpf_get_route_realm', 'r6 = r1\ncall bpf_get_cgroup_classid#17\nr7 = r0\nr1 = r6\ncall bpf_get_route_realm#24\nr0 += r7\nexit'],
  ])('%s: the same result and packet as the kernel on %# 500-odd frames', (_name, text) => {
    const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'sched_cls', name: 'p' });
    using coll = spec.load();
    const em = spec.emulate().program('p');
    const diffs: string[] = [];
    const retvals = new Set<number>();
    for (const f of frames) {
      const k = coll.program('p').testRun(f);
      const e = em.testRun(f);
      retvals.add(k.retval);
      if (k.retval !== e.retval || !k.dataOut.equals(e.dataOut)) diffs.push(`${f.toString('hex')}: kernel ${k.retval} ${k.dataOut.toString('hex')}, emulator ${e.retval} ${e.dataOut.toString('hex')}`);
    }
    expect(diffs).toEqual([]);
    expect(retvals.size).toBeGreaterThan(text.includes('classid') ? 0 : 1);
  });
});

describeRoot('a disagreement with the kernel names the packet and the instruction', () => {
  it('icmp_even_drop with a wrong bpf_map_lookup_elem: counters[0] differs, blamed on the store of *v += 1', () => {
    const spec = openObject(join(FIXTURES, 'icmp_even_drop.o'));
    using kern = spec.load({ ignorePinning: true });
    const make = (extra: EmulateOptions = {}) => {
      const c: EmulatedCollection = spec.emulate({ helpers: wrongLookup(() => c), ...extra });
      return c;
    };
    const em = make();
    // seq 1 bumps counters[0] on both sides: they agree.
    expect(compareRun({ label: 'icmp_even_drop.o', ref: kern, emu: em, make, program: 'xdp_even_drop', pkt: icmpEcho({ seq: 1 }), maps: ['counters'] })).toBeUndefined();
    checkMessage(compareRun({ label: 'icmp_even_drop.o', ref: kern, emu: em, make, program: 'xdp_even_drop', pkt: icmpEcho({ seq: 2 }), maps: ['counters'] }));
  });
});

describe('a disagreement names the packet and the instruction (reference: a correct emulator, no root)', () => {
  it('icmp_even_drop with a wrong bpf_map_lookup_elem against the plain emulator', () => {
    const spec = openObject(join(FIXTURES, 'icmp_even_drop.o'));
    const ref = spec.emulate();
    const make = (extra: EmulateOptions = {}) => {
      const c: EmulatedCollection = spec.emulate({ helpers: wrongLookup(() => c), ...extra });
      return c;
    };
    const em = make();
    expect(compareRun({ label: 'icmp_even_drop.o', ref, emu: em, make, program: 'xdp_even_drop', pkt: icmpEcho({ seq: 1 }), maps: ['counters'] })).toBeUndefined();
    checkMessage(compareRun({ label: 'icmp_even_drop.o', ref, emu: em, make, program: 'xdp_even_drop', pkt: icmpEcho({ seq: 2 }), maps: ['counters'] }));
  });
});

describe('a return value disagreement is blamed on the last instruction that set r0', () => {
  it('single_source_filter whose lookups all miss: XDP_PASS where the reference drops', () => {
    const spec = openObject(join(FIXTURES, 'single_source_filter.o'));
    const ref = spec.emulate();
    const make = (extra: EmulateOptions = {}) => spec.emulate({ helpers: { bpf_map_lookup_elem: () => 0n }, ...extra });
    const em = make();
    for (const c of [ref, em]) c.map('blocked_src').set(ipv4('10.0.0.7'), u32(1));
    const pkt = udp({ dport: 53, src: '10.0.0.7' });
    const msg = compareRun({ label: 'single_source_filter.o', ref, emu: em, make, program: 'xdp_filter', pkt, maps: ['blocked_src', 'drop_count'] });
    expect(msg).toContain(`on packet ${pkt.toString('hex')}: retval: reference 1, emulator 2;`);
    const m = /first differing instruction: xdp_filter instruction (\d+) \((.+?)\) at (?:\.\/)?(single_source_filter\.c):(\d+): (.*) \(the last instruction to set r0 in the emulator\)$/.exec(msg!);
    expect(m, msg).not.toBeNull();
    const [, slot, text, file, line, source] = m!;
    expect(objdumpLine('single_source_filter.objdump.txt', Number(slot))).toBe(text);
    expect(text).toBe('r0 = 2'); // XDP_PASS
    expect(
      readFileSync(join(ROOT, 'bpf', file!), 'utf8')
        .split('\n')
        [Number(line) - 1]?.trim(),
    ).toBe(source);
  });
});
