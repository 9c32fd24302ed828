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

  it('consumeBatch points into the ring without copying; the space is held until the next batch or release()', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    const prog = c.program('xdp_ringbuf');
    const packet = new Uint8Array(60);
    prog.testRun(packet, { repeat: 5 });
    const index = new Uint32Array(2 * 3);
    const seqs: bigint[] = [];
    const read = (n: number) => {
      const d = Buffer.from(reader.data.buffer, reader.data.byteOffset, reader.data.byteLength);
      for (let i = 0; i < n; i++) {
        expect(index[2 * i + 1]).toBe(16);
        expect(index[2 * i]! % 8).toBe(0);
        seqs.push(d.readBigUInt64LE(index[2 * i]!));
        expect(reader.words[(index[2 * i]! >>> 2) + 2]).toBe(60); // len, read through the word view
      }
    };
    let n = reader.consumeBatch(index);
    expect(n).toBe(3);
    read(n);
    // A held batch is not handed out again by the other consumers: release first happens inside them.
    n = reader.consumeBatch(index);
    expect(n).toBe(2);
    read(n);
    expect(reader.consumeBatch(index)).toBe(0);
    reader.releaseBatch();
    expect(seqs).toEqual([1n, 2n, 3n, 4n, 5n]);
    // After release the producer's records continue the sequence, none repeated.
    prog.testRun(packet, { repeat: 2 });
    const after: bigint[] = [];
    expect(reader.consume((v) => after.push(Buffer.from(v).readBigUInt64LE(0)))).toBe(2);
    expect(after).toEqual([6n, 7n]);
    // consumeRaw after an unreleased batch does not see that batch again.
    prog.testRun(packet, { repeat: 2 });
    expect(reader.consumeBatch(index)).toBe(2);
    prog.testRun(packet, { repeat: 1 });
    const raw: bigint[] = [];
    reader.consume((v) => raw.push(Buffer.from(v).readBigUInt64LE(0)));
    expect(raw).toEqual([10n]);
  });
});
