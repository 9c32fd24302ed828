// The socket-buffer helpers that rebuild headers — bpf_skb_adjust_room,
// bpf_skb_change_proto, bpf_csum_level, bpf_set_hash — on sequences where one
// call's state decides the next one's answer: an encapsulated skb refusing a
// second encap and a change of tail, the transport header an encap sets,
// CHECKSUM_UNNECESSARY raised and reset, the hash cleared. Each sequence runs
// in the kernel (root) and in the emulator; every call's result goes to cb[]
// and must be what the table says, in both, with the same frame out. The
// random TC sequences in kernel-random.test.ts cover the rest at random.

import { expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { helperId } from '../../src/asm/helpers.js';
import { BpfObjectSpec } from '../../src/collection.js';
import { describeRoot } from '../helpers/root.js';

/** A frame of `len` bytes with this EtherType, an IP version nibble where it goes, and counting bytes after. */
function frame(etherType: number, len = 100): Buffer {
  const b = Buffer.from(Array.from({ length: len }, (_, i) => i & 0xff));
  b.writeUInt16BE(etherType, 12);
  if (etherType === 0x0800) b[14] = 0x45;
  if (etherType === 0x86dd) b[14] = 0x60;
  return b;
}
const IPV4 = frame(0x0800);
const IPV6 = frame(0x86dd);

// bpf_skb_adjust_room's flags and modes, bpf_skb_change_proto's protocols as a program passes them (big-endian).
const F = { encapV4: 2n, encapV6: 4n, gre: 8n, udp: 16n, noCsumReset: 32n, l2Eth: 64n, decapV4: 128n, decapV6: 256n, innerL2: (n: number) => BigInt(n) << 56n };
const NET = 0;
const MAC = 1;
const PROTO_IP = 0x0008;
const PROTO_IPV6 = 0xdd86;
const CSUM = { query: 0, inc: 1, dec: 2, reset: 3 };

/**
 * A helper call with constant arguments after the skb, a field of __sk_buff
 * read (by offset and size; its low 32 bits kept), or instructions of its own
 * that leave a result in r0.
 */
type Step = { call: string; args: bigint[] } | { field: number; size?: 1 | 4 | 8 } | { raw: string[] };
const call = (name: string, ...args: (number | bigint)[]): Step => ({ call: name, args: args.map(BigInt) });
const PROTOCOL: Step = { field: 16 };
const HASH: Step = { field: 68 };
const LEN: Step = { field: 0 };
const TSTAMP: Step = { field: 152, size: 8 };
const TSTAMP_TYPE: Step = { field: 180, size: 1 };

// The tunnel steps' buffers on the stack: what a set call reads, what a get call writes.
const IN_AT = -48;
const OUT_AT = -96;
const callOf = (name: string) => `call ${name}#${helperId(name.replace(/^bpf_/, ''))}`;
/** Stores of `b` (padded to 4 bytes) at r10 + at. */
const stackBytes = (b: Buffer, at: number) => {
  const p = Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  return Array.from({ length: p.length / 4 }, (_, k) => `*(u32 *)(r10 - ${-(at + 4 * k)}) = ${p.readInt32LE(4 * k)}`);
};

/** struct bpf_tunnel_key (44 bytes): tunnel_id, remote_ipv4/6, tos, ttl, tunnel_ext, tunnel_label, local_ipv4/6. */
function tunnelKey(k: { id: number; remote: number | string; local: number | string; tos?: number; ttl?: number; ext?: number; label?: number }): Buffer {
  const b = Buffer.alloc(44);
  b.writeUInt32LE(k.id, 0);
  const addr = (a: number | string, at: number) => (typeof a === 'number' ? b.writeUInt32LE(a, at) : Buffer.from(a, 'hex').copy(b, at));
  addr(k.remote, 4);
  b[20] = k.tos ?? 0;
  b[21] = k.ttl ?? 0;
  b.writeUInt16LE(k.ext ?? 0, 22);
  b.writeUInt32LE(k.label ?? 0, 24);
  addr(k.local, 28);
  return b;
}
const setKey = (key: Buffer, size: number, flags: number): Step => ({
  raw: [...stackBytes(key.subarray(0, Math.max(size, 4)), IN_AT), 'r1 = r6', 'r2 = r10', `r2 += ${IN_AT}`, `r3 = ${size}`, `r4 = ${flags}`, callOf('bpf_skb_set_tunnel_key')],
});
const getKey = (size: number, flags: number): Step => ({ raw: ['r1 = r6', 'r2 = r10', `r2 += ${OUT_AT}`, `r3 = ${size}`, `r4 = ${flags}`, callOf('bpf_skb_get_tunnel_key')] });
const setOpt = (opts: Buffer): Step => ({ raw: [...stackBytes(opts, IN_AT), 'r1 = r6', 'r2 = r10', `r2 += ${IN_AT}`, `r3 = ${opts.length}`, callOf('bpf_skb_set_tunnel_opt')] });
const getOpt = (size: number): Step => ({ raw: ['r1 = r6', 'r2 = r10', `r2 += ${OUT_AT}`, `r3 = ${size}`, callOf('bpf_skb_get_tunnel_opt')] });
const TUN = { ipv6: 1, zeroCsum: 2, dontFragment: 4, seq: 8, noKey: 16, flags: 16 };

/**
 * Each step's result into cb[0..4]; the program returns TC_ACT_OK. With
 * steps of its own it first zeroes 96 bytes of stack and at the end writes
 * the 48 a get call writes to over the frame's first bytes, so the frame out
 * shows them.
 */
function program(steps: Step[]): string {
  if (steps.length > 5) throw new Error('at most 5 steps: cb[] has 5 slots');
  const raw = steps.some((s) => 'raw' in s);
  const lines = ['r6 = r1'];
  if (raw) for (let at = -8; at >= OUT_AT; at -= 8) lines.push(`*(u64 *)(r10 - ${-at}) = 0`);
  steps.forEach((s, i) => {
    if ('field' in s) lines.push(`r0 = *(u${(s.size ?? 4) * 8} *)(r6 + ${s.field})`);
    else if ('raw' in s) lines.push(...s.raw);
    else {
      lines.push('r1 = r6');
      s.args.forEach((a, k) => lines.push(`r${k + 2} = ${BigInt.asIntN(64, a)} ll`));
      lines.push(`call ${s.call}#${helperId(s.call.replace(/^bpf_/, ''))}`);
    }
    lines.push(`*(u32 *)(r6 + ${48 + 4 * i}) = r0`);
  });
  if (raw) lines.push('r1 = r6', 'r2 = 0', 'r3 = r10', `r3 += ${OUT_AT}`, 'r4 = 48', 'r5 = 0', callOf('bpf_skb_store_bytes'));
  lines.push('r0 = 0', 'exit');
  return lines.join('\n');
}

/** A context the test run takes: zero but for gso_size. */
function context(gsoSize = 0): Buffer {
  const c = Buffer.alloc(192);
  c.writeUInt32LE(gsoSize, 176);
  return c;
}

interface Run {
  results: number[];
  dataOut: string;
}
const results = (ctxOut: Buffer, n: number) => Array.from({ length: n }, (_, i) => ctxOut.readInt32LE(48 + 4 * i));

const E = { ENOENT: -2, EFAULT: -14, EINVAL: -22, ENOMEM: -12, EACCES: -13, EPROTO: -71, EALREADY: -114, ENOTSUPP: -524 };
const V4_KEY = tunnelKey({ id: 0x12345678, remote: 0x0a000001, local: 0x0a000002, tos: 3, ttl: 64 });
const V6_KEY = tunnelKey({ id: 7, remote: '20010db8000000000000000000000001', local: 'fe800000000000000000000000000002', tos: 0x10, ttl: 9, label: 0xfff12345 });

/** [what, frame, steps, the results the kernel gives, gso_size] */
const SEQUENCES: [string, Buffer, Step[], number[], number?][] = [
  [
    'an IPv4-in-GRE encap of 24 bytes; a second encap is EALREADY; the tail cannot cut into the transport header the encap set (EINVAL) and cannot move on an encapsulated skb (ENOTSUPP)',
    IPV4,
    [call('bpf_skb_adjust_room', 24, MAC, F.encapV4 | F.gre), call('bpf_skb_adjust_room', 24, MAC, F.encapV4 | F.gre), call('bpf_skb_change_tail', 20, 0), call('bpf_skb_change_tail', 60, 0), LEN],
    [0, E.EALREADY, E.EINVAL, E.ENOTSUPP, 124],
  ],
  [
    'IPv6 over IPv4 (ENCAP_L3_IPV6 on an IPv4 skb): the protocol becomes the outer IPv6; UDP sets the transport header 40 bytes after the network header',
    IPV4,
    [call('bpf_skb_adjust_room', 48, MAC, F.encapV6 | F.udp), PROTOCOL, call('bpf_skb_change_tail', 60, 0), call('bpf_skb_change_tail', 40, 0), LEN],
    [0, 0xdd86, E.ENOTSUPP, E.EINVAL, 148],
  ],
  [
    'encap flags the kernel refuses: an inner L2 header longer than the room, an inner Ethernet header under 14 bytes, GRE with UDP, both IP versions',
    IPV4,
    [
      call('bpf_skb_adjust_room', 8, MAC, F.encapV4 | F.innerL2(20)),
      call('bpf_skb_adjust_room', 24, MAC, F.encapV4 | F.l2Eth | F.innerL2(4)),
      call('bpf_skb_adjust_room', 24, MAC, F.encapV4 | F.gre | F.udp),
      call('bpf_skb_adjust_room', 24, MAC, F.encapV4 | F.encapV6),
      call('bpf_skb_adjust_room', 38, MAC, F.encapV4 | F.gre | F.l2Eth | F.innerL2(14)),
    ],
    [E.EINVAL, E.EINVAL, E.EINVAL, E.EINVAL, 0],
  ],
  [
    'shrinking: encap flags refused, growing with a decap flag refused, a decap to IPv6 sets the protocol, more than the frame holds is ENOTSUPP',
    IPV4,
    [
      call('bpf_skb_adjust_room', -8, MAC, F.encapV4),
      call('bpf_skb_adjust_room', 8, MAC, F.decapV4),
      call('bpf_skb_adjust_room', -20, MAC, F.decapV6),
      PROTOCOL,
      call('bpf_skb_adjust_room', -90, NET, 0),
    ],
    [E.EINVAL, E.EINVAL, 0, 0xdd86, E.ENOTSUPP],
  ],
  [
    'a frame that is not IP: ENOTSUPP for room and protocol (whatever the mode), but more than 0xfff bytes (EFAULT) and an unknown flag (EINVAL) are refused first',
    frame(0x0806),
    [
      call('bpf_skb_adjust_room', 8, MAC, 0),
      call('bpf_skb_change_proto', PROTO_IPV6, 0),
      call('bpf_skb_adjust_room', 8, 2, 0),
      call('bpf_skb_adjust_room', 0x1000, MAC, 0),
      call('bpf_skb_adjust_room', 8, MAC, 1n << 9n),
    ],
    [E.ENOTSUPP, E.ENOTSUPP, E.ENOTSUPP, E.EFAULT, E.EINVAL],
  ],
  [
    'modes: NET makes the room after the 40-byte IPv6 header, MAC after the Ethernet header; any other mode is ENOTSUPP',
    IPV6,
    [call('bpf_skb_adjust_room', 8, NET, 0), call('bpf_skb_adjust_room', 4, MAC, 0), call('bpf_skb_adjust_room', 4, 2, 0), call('bpf_skb_adjust_room', -4, 0xffffffff, 0), LEN],
    [0, 0, E.ENOTSUPP, E.ENOTSUPP, 112],
  ],
  [
    'a GSO packet (gso_size from the context, no gso_type) cannot grow or shrink',
    IPV6,
    [call('bpf_skb_adjust_room', 8, NET, 0), call('bpf_skb_adjust_room', -8, NET, 0), call('bpf_skb_change_proto', PROTO_IP, 0), LEN],
    [E.ENOTSUPP, E.ENOTSUPP, 0, 80],
    1400,
  ],
  [
    'bpf_skb_change_head past SKB_MAX_ALLOC: EINVAL, but a GSO packet may grow that far',
    IPV4,
    [call('bpf_skb_change_head', 16000, 0), LEN, call('bpf_skb_change_head', 0x80000000, 0), call('bpf_skb_change_head', 5000000, 0), LEN],
    [0, 16100, E.EINVAL, E.ENOMEM, 16100],
    1400,
  ],
  [
    'the checksum level: CHECKSUM_NONE answers EACCES; raised it counts up to 3',
    IPV4,
    [call('bpf_csum_level', CSUM.query), call('bpf_csum_level', CSUM.inc), call('bpf_csum_level', CSUM.inc), call('bpf_csum_level', CSUM.query), call('bpf_csum_level', 4)],
    [E.EACCES, 0, 0, 1, E.EINVAL],
  ],
  [
    'bpf_skb_adjust_room resets CHECKSUM_UNNECESSARY unless BPF_F_ADJ_ROOM_NO_CSUM_RESET',
    IPV6,
    [
      call('bpf_csum_level', CSUM.inc),
      call('bpf_skb_adjust_room', 8, NET, F.noCsumReset),
      call('bpf_csum_level', CSUM.query),
      call('bpf_skb_adjust_room', -8, NET, 0),
      call('bpf_csum_level', CSUM.query),
    ],
    [0, 0, 0, 0, E.EACCES],
  ],
  [
    'IPv4 to IPv6 and back; asking for the protocol it has is ENOTSUPP; flags are EINVAL',
    IPV4,
    [call('bpf_skb_change_proto', PROTO_IPV6, 0), LEN, call('bpf_skb_change_proto', PROTO_IPV6, 0), call('bpf_skb_change_proto', PROTO_IP, 1), call('bpf_skb_change_proto', PROTO_IP, 0)],
    [0, 120, E.ENOTSUPP, E.EINVAL, 0],
  ],
  [
    'IPv6 to IPv4 on a frame cut to less than the mac header and 20 bytes: ENOMEM, nothing moved',
    IPV6,
    [call('bpf_skb_change_tail', 30, 0), call('bpf_skb_change_proto', PROTO_IP, 0), PROTOCOL, LEN],
    [0, E.ENOMEM, 0xdd86, 30],
  ],
  [
    'bpf_skb_set_tstamp: MONOTONIC with a time, then TAI without one (EINVAL) and a clock that is not one (EINVAL)',
    IPV4,
    [call('bpf_skb_set_tstamp', 1000, 1), TSTAMP, TSTAMP_TYPE, call('bpf_skb_set_tstamp', 0, 2), call('bpf_skb_set_tstamp', 7, 3)],
    [0, 1000, 1, E.EINVAL, E.EINVAL],
  ],
  [
    'bpf_skb_set_tstamp: REALTIME takes 0; TAI; on a frame that is not IP, EOPNOTSUPP',
    IPV6,
    [call('bpf_skb_set_tstamp', 0, 0), TSTAMP_TYPE, call('bpf_skb_set_tstamp', 9, 2), TSTAMP_TYPE, TSTAMP],
    [0, 0, 0, 2, 9],
  ],
  ['bpf_skb_set_tstamp on ARP: EOPNOTSUPP, nothing set; one NUMA node', frame(0x0806), [call('bpf_skb_set_tstamp', 5, 1), TSTAMP, TSTAMP_TYPE, call('bpf_get_numa_node_id')], [-95, 0, 0, 0]],
  [
    'tunnel key (IPv4): set, then read back with the remote and local addresses swapped as the kernel stores them; the other IP version EPROTO, a size that is no layout EINVAL, no options ENOENT',
    IPV4,
    [setKey(V4_KEY, 44, 0), getKey(44, TUN.ipv6), getKey(40, 0), getOpt(8), getKey(44, 0)],
    [0, E.EPROTO, E.EINVAL, E.ENOENT, 0],
  ],
  [
    'tunnel key (IPv6) with its label cut to 20 bits and the flags read back (BPF_F_TUNINFO_FLAGS); options: too small a buffer ENOMEM, else their length',
    IPV6,
    [setKey(V6_KEY, 44, TUN.ipv6 | TUN.dontFragment | TUN.seq), setOpt(Buffer.from('0102030405060708', 'hex')), getOpt(4), getOpt(16), getKey(44, TUN.ipv6 | TUN.flags)],
    [0, 0, E.ENOMEM, 8, 0],
  ],
  [
    'what bpf_skb_set_tunnel_key and _opt refuse: options before a key, a size that is no layout, an IPv4 key with a label, tunnel_ext, an unknown flag',
    IPV4,
    [
      setOpt(Buffer.alloc(8, 1)),
      setKey(V4_KEY, 40, 0),
      setKey(tunnelKey({ id: 1, remote: 1, local: 2, label: 5 }), 44, 0),
      setKey(tunnelKey({ id: 1, remote: 1, local: 2, ext: 1 }), 44, 0),
      setKey(V4_KEY, 44, 32),
    ],
    [E.EINVAL, E.EINVAL, E.EINVAL, E.EINVAL, E.EINVAL],
  ],
  [
    'the older struct layouts: a key of 8 bytes (id and IPv4 address) set and read, read as 24; options of 6 bytes EINVAL; flags without the key, checksum off',
    IPV4,
    [setKey(V4_KEY, 8, TUN.zeroCsum | TUN.noKey), getKey(8, 0), setOpt(Buffer.alloc(6, 1)), getKey(24, TUN.flags), getKey(22, 0)],
    [0, 0, E.EINVAL, 0, 0],
  ],
  ['an IPv6 key read with the 8-byte IPv4 layout: EINVAL, the buffer zeroed', IPV6, [setKey(V6_KEY, 44, TUN.ipv6), getKey(44, TUN.ipv6), getKey(8, TUN.ipv6)], [0, 0, E.EINVAL]],
  [
    'bpf_set_hash, then bpf_skb_change_proto clears the hash; bpf_set_hash_invalid clears it too',
    IPV4,
    [call('bpf_set_hash', 0x1234), HASH, call('bpf_skb_change_proto', PROTO_IPV6, 0), HASH, call('bpf_set_hash_invalid')],
    [0, 0x1234, 0, 0, 0],
  ],
];

describeRoot('header-rebuilding skb helpers, in sequence: the kernel and the emulator', () => {
  it.each(SEQUENCES)('%s', (_what, input, steps, want, gsoSize) => {
    const text = program(steps);
    const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'sched_cls', name: 'p' });
    const ctx = context(gsoSize);
    let kernel: Run;
    {
      using coll = spec.load();
      const r = coll.program('p').testRun(input, { ctx });
      kernel = { results: results(r.ctxOut!, steps.length), dataOut: r.dataOut.toString('hex') };
    }
    const e = spec.emulate().program('p').testRun(input, { ctx });
    const emulated: Run = { results: results(e.ctxOut!, steps.length), dataOut: e.dataOut.toString('hex') };
    expect(kernel.results).toEqual(want);
    expect(emulated.results).toEqual(kernel.results);
    // The frames out (16 KiB for some): their lengths, then whether they are the same bytes.
    expect(emulated.dataOut.length).toBe(kernel.dataOut.length);
    expect(emulated.dataOut === kernel.dataOut, 'the frames out are the same bytes').toBe(true);
  });
});
