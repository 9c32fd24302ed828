// RingBufferReader.consumeInto: records copied in batches into the caller's
// buffer with an offset/length index, in order, none lost, none twice; the
// ring space is given back so the producer can go on. Records come from
// fixtures/ringbuf.o under BPF_PROG_TEST_RUN: {u64 seq; u32 len} per run.
import { expect, it } from 'vitest';
import { loadObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('ring buffer batch consumption (consumeInto)', () => {
  it('copies records in order into the buffer, stops when the index is full, resumes where it stopped', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    const prog = c.program('xdp_ringbuf');
    const packet = new Uint8Array(60);
    prog.testRun(packet, { repeat: 10 });
    const out = Buffer.alloc(256);
    const index = new Uint32Array(2 * 4); // room for 4 records per call
    const seen: { seq: bigint; len: number; size: number; at: number }[] = [];
    const calls: number[] = [];
    for (;;) {
      const n = reader.consumeInto(out, index);
      calls.push(n);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const at = index[2 * i]!;
        seen.push({ seq: out.readBigUInt64LE(at), len: out.readUInt32LE(at + 8), size: index[2 * i + 1]!, at });
      }
    }
    expect(calls).toEqual([4, 4, 2, 0]);
    expect(seen.map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(seen.every((r) => r.len === 60 && r.size === 16)).toBe(true);
    // Back to back, 8-byte aligned, from the start of the buffer on each call.
    expect(seen.slice(0, 4).map((r) => r.at)).toEqual([0, 16, 32, 48]);
    // The space was returned: the kernel's producer and our consumer position agree with a fresh drain.
    prog.testRun(packet, { repeat: 3 });
    expect(reader.consumeInto(out, index)).toBe(3);
    expect(out.readBigUInt64LE(index[4]!)).toBe(13n);
  });

  it('a buffer too small for one record is a USAGE error and the record stays in the ring', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    c.program('xdp_ringbuf').testRun(new Uint8Array(60));
    const e = (() => {
      try {
        reader.consumeInto(new Uint8Array(8), new Uint32Array(2));
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(BpfError);
    expect((e as BpfError).code).toBe('USAGE');
    const index = new Uint32Array(2);
    const out = new Uint8Array(16);
    expect(reader.consumeInto(out, index)).toBe(1);
    expect(Buffer.from(out).readBigUInt64LE(0)).toBe(1n);
    reader.close();
    expect(() => reader.consumeInto(out, index)).toThrow(/closed/);
  });
});
