// Program contexts in the emulator against the kernel (root). struct
// __sk_buff: every load and store a TC, socket filter, cgroup skb or
// light-weight tunnel (lwt_in/out/xmit) program can make at every offset and width — which ones the verifier takes, and what they read
// (narrow loads included). struct xdp_md and __sk_buff: the context
// BPF_PROG_TEST_RUN takes as bytes, what it refuses, and what it hands back.
// The kernel is the oracle: each program is loaded and run by it and by the
// emulator on the same packet and context.

import { expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { BpfObjectSpec } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';
import { describeRoot } from '../helpers/root.js';

type Kind = 'sched_cls' | 'socket_filter' | 'cgroup_skb' | 'lwt_in' | 'lwt_out' | 'lwt_xmit' | 'xdp';
type SkbKind = Exclude<Kind, 'xdp'>;
const KINDS: SkbKind[] = ['sched_cls', 'socket_filter', 'cgroup_skb', 'lwt_in', 'lwt_out', 'lwt_xmit'];
/** data, data_end, data_meta and sk: [from, to) in __sk_buff. */
const POINTERS = [
  [76, 80],
  [80, 84],
  [140, 144],
  [168, 176],
] as const;
/** What the verifier takes, counted from the kernel's answers on Linux 6.18: loads, stores, and the frame's length from where the program sees it. */
const TAKEN: Record<Exclude<Kind, 'xdp'>, { loads: number; stores: number; len: number }> = {
  sched_cls: { loads: 166, stores: 43, len: 258 },
  socket_filter: { loads: 149, stores: 37, len: 244 },
  cgroup_skb: { loads: 182, stores: 40, len: 244 },
  lwt_in: { loads: 149, stores: 39, len: 244 },
  lwt_out: { loads: 149, stores: 39, len: 244 },
  lwt_xmit: { loads: 149, stores: 39, len: 244 },
};

/** `text` leaving its result in r2, then: returned (r0), or for a cgroup skb program (which returns 0 or 1) stored in cb[0] and 1 returned. */
const result = (text: string, kind: Kind) =>
  kind === 'cgroup_skb'
    ? `${text}
*(u32 *)(r1 + 48) = r2
r0 = 1
exit`
    : `${text}
r0 = r2
exit`;

/** A 258-byte frame (len 0x102: two non-zero bytes) with EtherType 0x8a4b. */
const FRAME = (() => {
  const b = Buffer.alloc(258);
  b.writeUInt16BE(0x8a4b, 12);
  b[14] = 0x45;
  return b;
})();

/** A context whose every field a test run takes holds distinct bytes. */
const CTX = (() => {
  const c = Buffer.alloc(192);
  c.writeUInt32LE(0x0a0b0c0d, 8); // mark
  c.writeUInt32LE(0x11121314, 32); // priority
  c.writeUInt32LE(0x21222324, 36); // ingress_ifindex
  c.writeUInt32LE(1, 40); // ifindex: lo, the one device every namespace has
  for (let i = 0; i < 20; i++) c[48 + i] = 0x30 + i; // cb[]
  c.writeBigUInt64LE(0x4142434445464748n, 152); // tstamp
  c.writeUInt32LE(0x0506, 164); // gso_segs
  c.writeUInt32LE(0x0708, 176); // gso_size
  c.writeBigUInt64LE(0x5152535455565758n, 184); // hwtstamp
  return c;
})();

/** The kernel's run, or the errno name of its refusal (load or run). */
function kernelRun(text: string, kind: Kind, ctx: Uint8Array = CTX, frame: Buffer = FRAME): { retval: number; ctxOut: string; dataOut?: string } | string {
  let coll;
  try {
    coll = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: kind, name: 'p' }).load();
  } catch (e) {
    if (e instanceof BpfError && e.code === 'VERIFIER') return 'verifier';
    throw e;
  }
  try {
    const r = coll.program('p').testRun(frame, { ctx });
    return { retval: r.retval, ctxOut: r.ctxOut!.toString('hex'), ...(kind === 'xdp' ? { dataOut: r.dataOut.toString('hex') } : {}) };
  } catch (e) {
    if (e instanceof BpfSyscallError) return e.errnoName;
    throw e;
  } finally {
    coll.close();
  }
}

/** The emulator's run, 'refused' when it faults on the context access, or the errno it names for a context the kernel refuses. */
function emulatedRun(text: string, kind: Kind, ctx: Uint8Array = CTX, frame: Buffer = FRAME): { retval: number; ctxOut: string; dataOut?: string } | string {
  const p = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: kind, name: 'p' }).emulate().program('p');
  try {
    const r = p.testRun(frame, { ctx });
    return { retval: r.retval, ctxOut: r.ctxOut!.toString('hex'), ...(kind === 'xdp' ? { dataOut: r.dataOut.toString('hex') } : {}) };
  } catch (e) {
    if (e instanceof BpfError && e.code === 'EMU_FAULT' && /__sk_buff: /.test(e.message)) return 'refused';
    if (e instanceof BpfError && e.code === 'INVALID_ARGUMENT') return /refuses it: (E[A-Z0-9]+)\)$/.exec(e.message)?.[1] ?? e.message;
    throw e;
  }
}

/** A load of `size` bytes at `off`, folded into a u32 (an 8-byte value's halves XORed): the retval, or cb[0] (result()). */
const loadProgram = (off: number, size: number, kind: Kind) => result(`r2 = *(u${size * 8} *)(r1 + ${off})\nr3 = r2\nr3 >>= 32\nr2 ^= r3`, kind);

describeRoot('__sk_buff, emulated as the kernel has it', () => {
  it('cgroup_skb: the socket a test run makes — family and addresses from the IP header (remote: the destination), AF_UNSPEC otherwise', () => {
    const v4 = Buffer.alloc(100);
    v4.writeUInt16BE(0x0800, 12);
    v4[14] = 0x45;
    Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(v4, 26);
    const v6 = Buffer.alloc(100);
    v6.writeUInt16BE(0x86dd, 12);
    v6[14] = 0x60;
    for (let i = 0; i < 32; i++) v6[22 + i] = i + 1; // saddr 01..10, daddr 11..20
    const read = (offs: number[]) => result(offs.map((o, i) => `r3 = *(u32 *)(r1 + ${o})\n*(u32 *)(r1 + ${48 + 4 * i}) = r3`).join('\n') + '\nr2 = *(u32 *)(r1 + 48)', 'cgroup_skb');
    const cases: [string, Buffer, number[], number[]][] = [
      // family, remote_ip4, local_ip4, remote_port, local_port
      ['IPv4', v4, [88, 92, 96, 132, 136], [2, v4.readUInt32LE(30), v4.readUInt32LE(26), 0, 0]],
      // family, remote_ip6[0], remote_ip6[3], local_ip6[0], local_ip6[3]
      ['IPv6', v6, [88, 100, 112, 116, 128], [10, v6.readUInt32LE(38), v6.readUInt32LE(50), v6.readUInt32LE(22), v6.readUInt32LE(34)]],
      ['ARP', Buffer.from(v4).fill(0x06, 13, 14), [88, 92, 96, 100, 116], [0, 0, 0, 0, 0]],
    ];
    for (const [what, frame, offs, want] of cases) {
      const text = read(offs);
      const k = kernelRun(text, 'cgroup_skb', CTX, frame);
      if (typeof k === 'string') throw new Error(`${what}: ${k}`);
      const cb = Buffer.from(k.ctxOut, 'hex');
      expect(
        offs.map((_, i) => cb.readUInt32LE(48 + 4 * i)),
        what,
      ).toEqual(want);
      expect(emulatedRun(text, 'cgroup_skb', CTX, frame)).toEqual(k);
    }
  });

  for (const kind of KINDS) {
    it(`${kind}: every load at every offset and width is taken or refused as by the verifier, and reads what the kernel reads`, () => {
      const diffs: string[] = [];
      let taken = 0;
      for (let off = 0; off < 192; off++) {
        for (const size of [1, 2, 4, 8]) {
          if (off % size !== 0) continue;
          // Packet pointers (data, data_end, data_meta) and skb->sk take no arithmetic: checked below.
          const overlaps = ([from, to]: readonly [number, number]) => off < to && off + size > from;
          if (POINTERS.some(overlaps)) continue;
          const text = loadProgram(off, size, kind);
          const k = kernelRun(text, kind);
          const e = emulatedRun(text, kind);
          if (k === 'verifier' ? e !== 'refused' : typeof e === 'string' || typeof k === 'string' || e.retval !== k.retval || e.ctxOut !== k.ctxOut)
            diffs.push(`${size} bytes at ${off}: kernel ${JSON.stringify(k)}, emulator ${JSON.stringify(e)}`);
          if (k !== 'verifier') taken++;
        }
      }
      expect(diffs).toEqual([]);
      // Counted from the kernel's answers on Linux 6.18: what the comparison covered.
      expect(taken).toBe(TAKEN[kind].loads);
    });

    it(`${kind}: data_end - data is the frame the program sees (from the network header for a cgroup skb program; a socket filter has no packet pointers)`, () => {
      const text = result('r2 = *(u32 *)(r1 + 80)\nr3 = *(u32 *)(r1 + 76)\nr2 -= r3', kind);
      const k = kernelRun(text, kind);
      const e = emulatedRun(text, kind);
      if (kind === 'socket_filter') [k, e].forEach((r, i) => expect(r).toBe(['verifier', 'refused'][i]));
      else {
        const got = typeof k === 'string' ? k : kind === 'cgroup_skb' ? Buffer.from(k.ctxOut, 'hex').readUInt32LE(48) : k.retval;
        expect(got).toBe(TAKEN[kind].len);
        expect(e).toEqual(k);
      }
    });

    it(`${kind}: every store at every offset and width is taken or refused as by the verifier, and the context handed back is the kernel's`, () => {
      const diffs: string[] = [];
      let taken = 0;
      for (let off = 0; off < 192; off++) {
        for (const size of [1, 2, 4, 8]) {
          if (off % size !== 0) continue;
          const text = `r2 = 0x6162636465666768 ll\n*(u${size * 8} *)(r1 + ${off}) = r2\nr0 = 0\nexit`;
          const k = kernelRun(text, kind);
          const e = emulatedRun(text, kind);
          if (k === 'verifier' ? e !== 'refused' : JSON.stringify(e) !== JSON.stringify(k)) diffs.push(`${size} bytes at ${off}: kernel ${JSON.stringify(k)}, emulator ${JSON.stringify(e)}`);
          if (k !== 'verifier') taken++;
        }
      }
      expect(diffs).toEqual([]);
      expect(taken).toBe(TAKEN[kind].stores);
    });

    it(`${kind}: the context a test run takes — what it refuses, and what it hands back`, () => {
      const with_ = (f: (c: Buffer) => void, size = 192) => {
        const c = Buffer.alloc(size);
        f(c);
        return c;
      };
      const len = TAKEN[kind].len;
      const cases: [string, Buffer][] = [
        ['zeroes', with_(() => {})],
        ['the fields it takes', CTX],
        ['a short one (mark and priority only)', with_((c) => (c.writeUInt32LE(7, 8), c.writeUInt32LE(9, 32)), 36)],
        ['a longer one, zero past the struct', with_(() => {}, 200)],
        ['a longer one, not zero past the struct', with_((c) => (c[199] = 1), 200)],
        ['len given', with_((c) => c.writeUInt32LE(5, 0))],
        ['tc_index given', with_((c) => c.writeUInt32LE(5, 44))],
        ['hash given', with_((c) => c.writeUInt32LE(5, 68))],
        ['a byte of napi_id given', with_((c) => (c[85] = 1))],
        ['tstamp_type given', with_((c) => (c[180] = 1))],
        ['wire_len below len', with_((c) => c.writeUInt32LE(len - 1, 160))],
        ['wire_len len', with_((c) => c.writeUInt32LE(len, 160))],
        ['wire_len 65536', with_((c) => c.writeUInt32LE(65536, 160))],
        ['wire_len 65537', with_((c) => c.writeUInt32LE(65537, 160))],
        ['gso_segs 65535', with_((c) => c.writeUInt32LE(65535, 164))],
        ['gso_segs 65536', with_((c) => c.writeUInt32LE(65536, 164))],
        ['gso_size 2^32-1', with_((c) => c.writeUInt32LE(0xffffffff, 176))],
        ['ifindex of no device', with_((c) => c.writeUInt32LE(999, 40))],
        ['ingress_ifindex of no device', with_((c) => c.writeUInt32LE(999, 36))],
      ];
      const text = 'r0 = *(u32 *)(r1 + 160)\nexit'; // wire_len, TC only
      const program = kind === 'sched_cls' ? text : result('r2 = *(u32 *)(r1 + 0)', kind);
      const answers = cases.map(([what, ctx]) => [what, kernelRun(program, kind, ctx), emulatedRun(program, kind, ctx)] as const);
      expect(answers.filter(([, k, e]) => JSON.stringify(k) !== JSON.stringify(e))).toEqual([]);
      // Both outcomes were exercised: refusals and runs.
      expect(answers.filter(([, k]) => typeof k === 'string').map(([w, k]) => `${w}: ${String(k)}`)).toEqual(
        expect.arrayContaining(['a longer one, not zero past the struct: E2BIG', 'tc_index given: EINVAL', 'wire_len 65537: EINVAL', 'gso_segs 65536: EINVAL', 'ifindex of no device: ENODEV']),
      );
    });
  }

  it('xdp_md: the context a test run takes (metadata, ingress device and queue) — what it refuses, what the program reads, and what it hands back after the packet moved', () => {
    const frame = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const md = (data: number, dataEnd: number, more: (c: Buffer) => void = () => {}, size = 24) => {
      const c = Buffer.alloc(size);
      c.writeUInt32LE(data, 0);
      c.writeUInt32LE(dataEnd, 4);
      more(c);
      return c;
    };
    // r0 = (data - data_meta) | (data_end - data) << 8 | ingress_ifindex << 20 | rx_queue_index << 28, after `call`.
    const reads =
      'r2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 8)\nr2 -= r3\nr4 = *(u32 *)(r6 + 4)\nr3 = *(u32 *)(r6 + 0)\nr4 -= r3\nr4 <<= 8\nr2 |= r4\nr4 = *(u32 *)(r6 + 12)\nr4 <<= 20\nr2 |= r4\nr4 = *(u32 *)(r6 + 16)\nr4 <<= 28\nr2 |= r4\nr0 = r2\nexit';
    const programs: [string, string][] = [
      ['reads the fields', `r6 = r1\n${reads}`],
      ['adjust_head +4', `r6 = r1\nr2 = 4\ncall bpf_xdp_adjust_head#44\n${reads}`],
      ['adjust_meta -8', `r6 = r1\nr2 = -8\ncall bpf_xdp_adjust_meta#54\n${reads}`],
      ['adjust_tail -10', `r6 = r1\nr2 = -10\ncall bpf_xdp_adjust_tail#65\n${reads}`],
    ];
    const cases: [string, Buffer][] = [
      ['the whole frame', md(0, 100)],
      ['4 bytes of metadata', md(4, 100)],
      ['216 bytes of metadata (the most)', md(216, 300, () => {}, 24)],
      ['220 bytes of metadata', md(220, 300)],
      ['6 bytes of metadata', md(6, 100)],
      ['data past data_end', md(8, 4)],
      ['data_end past the input', md(0, 101)],
      ['data_meta given', md(0, 100, (c) => c.writeUInt32LE(1, 8))],
      ['ingress lo, queue 0', md(0, 100, (c) => c.writeUInt32LE(1, 12))],
      ['a queue without an ingress device', md(0, 100, (c) => c.writeUInt32LE(1, 16))],
      ['ingress lo, queue 1 (lo has one)', md(0, 100, (c) => (c.writeUInt32LE(1, 12), c.writeUInt32LE(1, 16)))],
      ['an ingress device that is not there', md(0, 100, (c) => c.writeUInt32LE(999, 12))],
      ['egress_ifindex given', md(0, 100, (c) => c.writeUInt32LE(1, 20))],
      ['a short context (data and data_end only)', md(4, 100, () => {}, 8)],
      ['a longer one, zero past the struct', md(0, 100, () => {}, 32)],
      ['a longer one, not zero past the struct', md(0, 100, (c) => (c[30] = 1), 32)],
    ];
    const answers: string[] = [];
    const diffs: string[] = [];
    for (const [what, ctx] of cases) {
      const input = what.includes('216') || what.includes('220') ? Buffer.concat([frame, frame, frame]) : frame;
      for (const [prog, text] of programs) {
        const k = kernelRun(text, 'xdp', ctx, input);
        const e = emulatedRun(text, 'xdp', ctx, input);
        if (JSON.stringify(k) !== JSON.stringify(e)) diffs.push(`${what}, ${prog}: kernel ${JSON.stringify(k)}, emulator ${JSON.stringify(e)}`);
        answers.push(`${what}, ${prog}: ${typeof k === 'string' ? k : (k.retval >>> 0).toString(16)}`);
      }
    }
    expect(diffs).toEqual([]);
    // Both outcomes were compared; the values as the fields' meaning gives them.
    expect(answers).toEqual(
      expect.arrayContaining([
        // ingress_ifindex 0 reads as 1 (lo), 100 bytes of frame (0x64 << 8), no metadata
        'the whole frame, reads the fields: 106400',
        '4 bytes of metadata, reads the fields: 106004',
        '4 bytes of metadata, adjust_meta -8: 10600c',
        'the whole frame, adjust_head +4: 106000',
        '216 bytes of metadata (the most), reads the fields: 1054d8',
        '220 bytes of metadata, reads the fields: EINVAL',
        'egress_ifindex given, reads the fields: EINVAL',
        'ingress lo, queue 1 (lo has one), reads the fields: EINVAL',
        'an ingress device that is not there, reads the fields: ENODEV',
        'a longer one, not zero past the struct, reads the fields: E2BIG',
      ]),
    );
  });

  it('xdp_md with metadata: the frame still grows to 3,520 bytes (the metadata comes out of the headroom, not the frame)', () => {
    const ctx = Buffer.alloc(24);
    ctx.writeUInt32LE(8, 0);
    ctx.writeUInt32LE(108, 4);
    const frame = Buffer.alloc(108, 1);
    // r0 = bpf_xdp_adjust_tail(ctx, N) + 100 (100: done, 78: -EINVAL)
    for (const [grow, want] of [
      [3420, 100],
      [3421, 78],
    ] as const) {
      const text = `r2 = ${grow}\ncall bpf_xdp_adjust_tail#65\nr0 += 100\nexit`;
      const k = kernelRun(text, 'xdp', ctx, frame);
      expect(k, `adjust_tail(${grow})`).toMatchObject({ retval: want });
      expect(emulatedRun(text, 'xdp', ctx, frame)).toEqual(k);
    }
  });

  it('xdp_md: data_end short of the input makes a multi-buffer frame (the rest in fragments), in the kernel and the emulator', () => {
    // r0 = (data_end - data) << 16 | bpf_xdp_get_buff_len()
    const text = 'r6 = r1\ncall bpf_xdp_get_buff_len#188\nr2 = *(u32 *)(r6 + 4)\nr3 = *(u32 *)(r6 + 0)\nr2 -= r3\nr2 <<= 16\nr0 |= r2\nexit';
    const frame = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    for (const [meta, dataEnd] of [
      [0, 0],
      [0, 60],
      [8, 40],
    ] as const) {
      const ctx = Buffer.alloc(24);
      ctx.writeUInt32LE(meta, 0);
      ctx.writeUInt32LE(dataEnd, 4);
      const k = kernelRun(text, 'xdp', ctx, frame);
      expect(k, `data ${meta}, data_end ${dataEnd}`).toMatchObject({ retval: ((dataEnd - meta) << 16) | (100 - meta) });
      expect(emulatedRun(text, 'xdp', ctx, frame)).toEqual(k);
    }
  });
});
