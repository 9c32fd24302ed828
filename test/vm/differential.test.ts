// The emulator against the kernel (root): for every fixture program the
// kernel can test-run, a corpus of packets (crafted for each branch, plus
// seeded random and mutated ones) goes through BPF_PROG_TEST_RUN and through
// spec.emulate(); retval, output bytes and every map's contents afterwards
// must agree. A disagreement names the packet and the emulator's path.

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { FIXTURES } from '../helpers/oracle.js';
import { icmpEcho, ipv4, ipv6Stub, tcp, udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { targetBtf } from '../helpers/target-btf.js';

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

let seed = 0x1234567;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};

function corpus(): Buffer[] {
  const base = [
    icmpEcho({ seq: 1 }), icmpEcho({ seq: 2 }), icmpEcho({ seq: 3, type: 0 }), icmpEcho({ seq: 4, src: '192.168.7.9' }),
    udp({ dport: 9 }), udp({ dport: 53, src: '10.0.0.7' }), udp({ dport: 9, src: '10.1.2.3' }),
    tcp({ dport: 80, flags: TCP_SYN }), tcp({ dport: 443, flags: TCP_SYN | TCP_ACK }), tcp({ dport: 22, flags: TCP_SYN, src: '172.16.0.1' }),
    ipv6Stub(),
  ];
  const out = [...base];
  // Truncated frames: every header boundary and a bit either side.
  for (const cut of [14, 15, 20, 33, 34, 35, 41, 42, 53, 54]) out.push(base[7].subarray(0, cut));
  // ARP-typed and random frames, and single-byte mutations of the crafted ones.
  const arp = Buffer.from(base[0]);
  arp.writeUInt16BE(0x0806, 12);
  out.push(arp);
  for (let i = 0; i < 20; i++) out.push(Buffer.from(Array.from({ length: 14 + rnd(80) }, () => rnd(256))));
  for (let i = 0; i < 40; i++) {
    const b = Buffer.from(base[rnd(base.length)]);
    b[rnd(b.length)] = rnd(256);
    out.push(b);
  }
  return out;
}

interface Case {
  file: string;
  /** Program type for sections that do not say (default xdp). */
  type?: 'xdp' | 'tc';
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
];

// Contents compared: everything but event channels and program/map tables.
const SKIP_TYPES = new Set([3, 4, 12, 13, 27]); // prog_array, perf_event_array, array/hash of maps, ringbuf

/** One normal form for a value: per-CPU values summed word by word (u64 when they divide evenly). */
function norm(v: Buffer | Buffer[]): string {
  if (!Array.isArray(v)) return v.toString('hex');
  const size = v[0].length;
  const sum = Buffer.alloc(size);
  if (size % 8 === 0) for (let o = 0; o < size; o += 8) sum.writeBigUInt64LE(v.reduce((a, b) => a + b.readBigUInt64LE(o), 0n) & ((1n << 64n) - 1n), o);
  else for (const b of v) for (let i = 0; i < size; i++) sum[i] |= b[i];
  return sum.toString('hex');
}

function dump(map: { entries(): Iterable<[Buffer, Buffer | Buffer[]]> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of map.entries()) out[k.toString('hex')] = norm(v);
  return out;
}

describeRoot('emulator vs BPF_PROG_TEST_RUN', () => {
  const packets = corpus();
  for (const c of CASES) {
    it(`${c.file}: every program, ${packets.length} packets: same retval, bytes and maps`, () => {
      const spec = openObject(join(FIXTURES, c.file));
      for (const [name, value] of Object.entries(c.globals ?? {})) spec.setGlobal(name, value);
      const want = c.type === 'tc' ? 3 : 6; // BPF_PROG_TYPE_SCHED_CLS / XDP
      const xdp = spec.programs.filter((p) => p.type === null || p.type === want);
      expect(xdp.length).toBeGreaterThan(0);
      using kern = spec.load({ programs: xdp.map((p) => p.name), programType: c.type ?? 'xdp', ignorePinning: true });
      const em = spec.emulate({ programType: c.type, coreTarget: c.core ? targetBtf() : undefined });
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
            // The kernel refuses some frames for TC (IPv4 shorter than its header): nothing to compare.
            if (c.type === 'tc' && /EINVAL/.test((err as Error).message)) {
              refused++;
              continue;
            }
            throw err;
          }
          const e = em.program(p.name).testRun(pkt);
          const where = `${c.file} ${p.name} on ${pkt.toString('hex')}`;
          expect(e.retval, `${where}: retval`).toBe(k.retval);
          expect(e.dataOut.toString('hex'), `${where}: data out`).toBe(Buffer.from(k.dataOut).toString('hex'));
          for (const m of maps) expect(dump(em.map(m)), `${where}: map ${m}`).toEqual(dump(kern.map(m)));
          compared++;
        }
      }
      expect(compared + refused).toBe(xdp.length * packets.length);
      expect(refused).toBeLessThan(10 * xdp.length);
    });
  }
});
