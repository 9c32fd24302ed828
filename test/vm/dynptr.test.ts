// Packet dynptrs in the emulator: fixtures/dynptr_slices.o takes a dynptr
// over an XDP frame (multi-buffer ones too) or a TC socket buffer, slices it
// at the start and at an offset set before each run, with and without a
// buffer, and (TC) writes through a read-write slice. Random frames and
// offsets — most near the frame's end and an XDP frame's linear part and
// fragment boundaries — go through BPF_PROG_TEST_RUN and the emulator: the
// same return value, output frame and answers. The emulator's answers are
// also checked against the frame itself.
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import type { MapLike } from '../../src/vm/index.js';
import { fixture } from '../helpers/cli.js';
import { caseRng, seedLine, type Rng } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';

const FILE = 'test/vm/dynptr.test.ts';
const NONE = 0xdeadn;
/** An XDP test run's linear part holds this much; the rest is in 4096-byte fragments. */
const LINEAR = 3520;

const u32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer);
const frame = (n: number, salt = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + salt) & 0xff));
const seen = (m: MapLike) => [0, 1, 2, 3, 4].map((i) => (m.get(u32(i)) as Buffer).readBigUInt64LE(0));
const at8 = (b: Buffer, off: number) => (off + 8 <= b.length ? b.readBigUInt64LE(off) : NONE);

describe('dynptr slices in the emulator', () => {
  const emu = () => openObject(fixture('dynptr_slices.o')).emulate();

  it('XDP: in the linear part a pointer; across it into a fragment the buffer, or NULL without one; inside one fragment a pointer; past the end NULL', () => {
    const e = emu();
    const f = frame(9000);
    const run = (off: number) => {
      e.map('ctl').set(u32(0), u32(off));
      expect(e.program('xdp_slices').testRun(f).verdict).toBe('XDP_PASS');
      return seen(e.map('seen'));
    };
    // size, bytes 0-7, bytes off..off+7 with a buffer, without one (slot 4 is TC's)
    expect(run(100)).toEqual([9000n, at8(f, 0), at8(f, 100), at8(f, 100), 0n]);
    expect(run(LINEAR - 4)).toEqual([9000n, at8(f, 0), at8(f, LINEAR - 4), NONE, 0n]);
    expect(run(LINEAR + 10)).toEqual([9000n, at8(f, 0), at8(f, LINEAR + 10), at8(f, LINEAR + 10), 0n]);
    expect(run(LINEAR + 4096 - 2)).toEqual([9000n, at8(f, 0), at8(f, LINEAR + 4094), NONE, 0n]);
    expect(run(8993)).toEqual([9000n, at8(f, 0), NONE, NONE, 0n]);
    // A fragment mapped for a slice is unmapped with its frame, by the next frame or another program's packet.
    const mapped = () => e.memory.regions.filter((r) => r !== undefined).length;
    e.program('tc_slices').testRun(frame(100)); // its machine's stack frames, mapped once
    e.program('xdp_slices').testRun(frame(100));
    const before = mapped();
    for (let i = 0; i < 3; i++) {
      run(LINEAR + 10);
      e.program('xdp_slices').testRun(frame(100));
      run(LINEAR + 10);
      e.program('tc_slices').testRun(frame(100));
    }
    e.program('xdp_slices').testRun(frame(100));
    expect(mapped()).toBe(before);
  });

  it('TC: slices of the socket buffer; a read-write slice writes the frame', () => {
    const e = emu();
    const f = frame(100, 3);
    e.map('ctl').set(u32(0), u32(40));
    e.map('ctl').set(u32(1), u32(96));
    const r = e.program('tc_slices').testRun(f);
    expect(seen(e.map('seen'))).toEqual([100n, at8(f, 0), at8(f, 40), at8(f, 40), 1n]);
    const want = Buffer.from(f);
    want[96] = 0xee;
    want[99] = 0xff;
    expect(r.dataOut.toString('hex')).toBe(want.toString('hex'));
    // A write slice past the end: NULL, the frame unchanged.
    e.map('ctl').set(u32(1), u32(97));
    expect(e.program('tc_slices').testRun(f).dataOut.toString('hex')).toBe(f.toString('hex'));
    expect(seen(e.map('seen'))[4]).toBe(NONE);
  });
});

/** An offset near something that matters for a frame of `len` bytes. */
function offset(rng: Rng, len: number, xdp: boolean): number {
  const marks = [0, len - 8, len - 4, len];
  if (xdp && len > LINEAR) for (let b = LINEAR; b < len; b += 4096) marks.push(b - 8, b - 4, b);
  return rng.chance(0.2) ? rng.int(len + 16) : Math.max(0, rng.pick(marks) + rng.int(9) - 4);
}

describeRoot('dynptr slices: the emulator against BPF_PROG_TEST_RUN', () => {
  it('random frames and offsets: the same retval, frame and answers', () => {
    console.log(seedLine(FILE));
    const spec = openObject(fixture('dynptr_slices.o'));
    using kern = spec.load({ ignorePinning: true });
    const e = spec.emulate();
    const answers = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const rng = caseRng('dynptr', i);
      const xdp = rng.chance(0.5);
      const len = xdp ? rng.pick([14 + rng.int(200), LINEAR - 40 + rng.int(80), 4000 + rng.int(12000)]) : 14 + rng.int(1500);
      const f = frame(len, rng.int(256));
      const ctl = [offset(rng, len, xdp), offset(rng, len, false)];
      const prog = xdp ? 'xdp_slices' : 'tc_slices';
      for (const [k, v] of ctl.entries()) {
        kern.map('ctl').set(u32(k), u32(v));
        e.map('ctl').set(u32(k), u32(v));
      }
      const kr = kern.program(prog).testRun(f);
      const er = e.program(prog).testRun(f);
      const want = { case: i, prog, len, ctl, retval: kr.retval, frame: kr.dataOut.toString('hex'), seen: seen(kern.map('seen')) };
      expect({ case: i, prog, len, ctl, retval: er.retval, frame: er.dataOut.toString('hex'), seen: seen(e.map('seen')) }).toEqual(want);
      answers.add(`${prog} ${want.seen[2] === NONE} ${want.seen[3] === NONE}`);
    }
    // Both programs met slices that worked and slices past the end; XDP also the buffer-only case.
    expect([...answers].sort()).toEqual(['tc_slices false false', 'tc_slices true true', 'xdp_slices false false', 'xdp_slices false true', 'xdp_slices true true']);
  });
});
