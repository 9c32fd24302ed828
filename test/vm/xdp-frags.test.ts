// Multi-buffer XDP frames (fixtures/xdp_frags.o, SEC("xdp.frags")): a test
// run keeps 3,520 bytes in the buffer and the rest in fragments of a page,
// which the program reaches through bpf_xdp_get_buff_len, load/store_bytes,
// perf_event_output's packet bytes and adjust_tail. The emulator against the
// kernel (root), and the emulator alone on what the kernel does not hand
// back (the perf event), checked against the input frame itself.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BPF_F_XDP_HAS_FRAGS } from '../../src/uapi/bpf.js';
import { FIXTURES } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';

const OBJ = join(FIXTURES, 'xdp_frags.o');
/** struct stats: frames, bytes (u64), linear, len (u32), tail[8]. */
const STATS_SIZE = 32;
const LINEAR_MAX = 3520;

/** A frame of `n` bytes that says where each byte is: (i * 7 + i >> 8) & 0xff. */
const frame = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

/** The helpers take offsets up to 0xffff: past 64 KiB bpf_xdp_load_bytes/store_bytes are -EFAULT. */
const reaches = (offset: number) => offset <= 0xffff;

/** What the program leaves: the frame with its last 4 bytes the length (big-endian), cut to `trim` when shorter. */
function expectedOut(input: Buffer, trim = 0): Buffer {
  const out = Buffer.from(input);
  if (reaches(input.length - 4)) out.writeUInt32BE(input.length, input.length - 4);
  return trim && trim < input.length ? out.subarray(0, trim) : out;
}

function statsOf(v: Buffer) {
  return { frames: v.readBigUInt64LE(0), bytes: v.readBigUInt64LE(8), linear: v.readUInt32LE(16), len: v.readUInt32LE(20), tail: v.subarray(24, 32).toString('hex') };
}

describe('xdp.frags in the emulator', () => {
  it('the section name loads the program with BPF_F_XDP_HAS_FRAGS', () => {
    expect(openObject(OBJ).programs[0]!.progFlags & BPF_F_XDP_HAS_FRAGS).toBe(BPF_F_XDP_HAS_FRAGS);
  });

  it.each([100, 3521, 9000, LINEAR_MAX + 17 * 4096])('a %i-byte frame: the length, the last bytes (not past 64 KiB), the linear part, the event carrying the frame across fragments', (n) => {
    const spec = openObject(OBJ).setGlobal('report', 5000);
    const em = spec.emulate();
    const input = frame(n);
    const r = em.program('xdp_frags').testRun(input);
    expect(r.verdict).toBe('XDP_PASS');
    expect(r.dataOut.equals(expectedOut(input))).toBe(true);
    const s = statsOf(em.map('stats').get(Buffer.alloc(4)) as Buffer);
    const tail = reaches(n - 8) ? input.subarray(n - 8) : Buffer.alloc(8);
    expect(s).toEqual({ frames: 1n, bytes: BigInt(n), linear: Math.min(n, LINEAR_MAX), len: n, tail: tail.toString('hex') });
    // The event: the stats record, then the frame's first bytes as they are then (the length stored at the end).
    expect(r.events).toHaveLength(1);
    const ev = r.events[0]!.data;
    expect(ev.length).toBe(STATS_SIZE + Math.min(5000, n));
    expect(ev.subarray(STATS_SIZE).equals(expectedOut(input).subarray(0, Math.min(5000, n)))).toBe(true);
  });

  it('trim_to cuts the fragments first, then the linear part; past the frame it leaves it', () => {
    for (const [n, trim] of [
      [9000, 4000],
      [9000, 3000],
      [9000, 7616],
      [200, 150],
    ] as const) {
      const em = openObject(OBJ).setGlobal('trim_to', trim).emulate();
      const input = frame(n);
      const r = em.program('xdp_frags').testRun(input);
      expect(r.dataOut.equals(expectedOut(input, trim)), `${n} bytes cut to ${trim}`).toBe(true);
    }
  });

  it('a frame needing more than 17 fragments is refused as the kernel refuses it (ENOMEM)', () => {
    const p = openObject(OBJ).emulate().program('xdp_frags');
    expect(() => p.testRun(frame(LINEAR_MAX + 17 * 4096 + 1))).toThrow(
      /needs 18 fragments of a page after its 3520-byte linear part, more than the 17 a frame has \(BPF_PROG_TEST_RUN refuses it: ENOMEM\)$/,
    );
  });
});

describeRoot('xdp.frags: the kernel and the emulator', () => {
  it.each([
    [100, 0],
    [3521, 0],
    [9000, 0],
    [9000, 4000],
    [9000, 3000],
    [12000, 7616],
    [LINEAR_MAX + 17 * 4096, 0],
    [LINEAR_MAX + 17 * 4096, 20],
  ])('a %i-byte frame, trim_to %i: the same verdict, frame out and stats', (n, trim) => {
    const spec = openObject(OBJ).setGlobal('trim_to', trim);
    const input = frame(n);
    using coll = spec.load();
    const k = coll.program('xdp_frags').testRun(input);
    const kStats = statsOf(coll.map('stats').get(Buffer.alloc(4))!);
    // The kernel's answer, from the input: what the program leaves.
    expect(Buffer.from(k.dataOut).equals(expectedOut(input, trim))).toBe(true);
    expect(kStats).toMatchObject({ linear: Math.min(n, LINEAR_MAX), len: n });
    const em = spec.emulate();
    const e = em.program('xdp_frags').testRun(input);
    expect(e.retval).toBe(k.retval);
    expect(Buffer.from(e.dataOut).equals(Buffer.from(k.dataOut))).toBe(true);
    expect(statsOf(em.map('stats').get(Buffer.alloc(4)) as Buffer)).toEqual(kStats);
  });
});
