// RingBufferReader.consumeInto: records copied in batches into the caller's
// buffer with an offset/length index, in order, none lost, none twice; the
// ring space is given back so the producer can go on. Records come from
// fixtures/ringbuf.o under BPF_PROG_TEST_RUN: {u64 seq; u32 len} per run.
import { expect, it } from 'vitest';
import { loadObject, openObject } from '../../src/collection.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { seqIn } from '../helpers/ring.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';

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
    expect(thrown(() => reader.consumeInto(new Uint8Array(8), new Uint32Array(2))).code).toBe('USAGE');
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
  it('consumeBatch and consumeInto follow the positions past the end of the ring (several laps), none lost or repeated', () => {
    using c = loadObject('fixtures/ringbuf.o');
    const map = c.map('events');
    using reader = new RingBufferReader(map);
    const prog = c.program('xdp_ringbuf');
    const packet = new Uint8Array(60);
    const perRun = 4096;
    // Each record takes 8 (header) + 16 bytes: this many runs go round the ring three times.
    const runs = Math.ceil((3 * map.maxEntries) / (perRun * 24));
    const index = new Uint32Array(2 * 1000);
    const out = Buffer.alloc(1000 * 24);
    const words = reader.words;
    let next = 1;
    let bad = 0;
    for (let r = 0; r < runs; r++) {
      prog.testRun(packet, { repeat: perRun });
      let got = 0;
      for (;;) {
        // Alternate the two batch forms, so each meets the wrap at some point.
        const n = r % 2 === 0 ? reader.consumeBatch(index) : reader.consumeInto(out, index);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const at = index[2 * i]!;
          const seq = r % 2 === 0 ? seqIn(words, at) : Number(out.readBigUInt64LE(at));
          if (seq !== next || index[2 * i + 1] !== 16) bad++;
          next++;
        }
        got += n;
      }
      reader.releaseBatch();
      expect(got).toBe(perRun);
    }
    expect(bad).toBe(0);
    expect(next - 1).toBe(runs * perRun);
    expect(runs * perRun * 24).toBeGreaterThan(2 * map.maxEntries);
  });

  it('nextRecord walks committed records in place, one per call, across laps; -1 gives the space back', () => {
    using c = loadObject('fixtures/ringbuf.o');
    const map = c.map('events');
    const reader = new RingBufferReader(map);
    const prog = c.program('xdp_ringbuf');
    const packet = new Uint8Array(60);
    const words = reader.words;
    const seqAt = (o: number) => seqIn(words, o);
    // Small: three records, then -1; the next call opens a new batch.
    prog.testRun(packet, { repeat: 3 });
    const first: number[] = [];
    for (let o; (o = reader.nextRecord()) >= 0;) {
      expect(o % 8).toBe(0);
      expect(reader.recordLength).toBe(16);
      expect(words[(o >>> 2) + 2]).toBe(60);
      first.push(seqAt(o));
    }
    expect(first).toEqual([1, 2, 3]);
    expect(reader.nextRecord()).toBe(-1);
    // Stopping mid-batch, then another consumer: it starts after the last record handed out, none twice.
    prog.testRun(packet, { repeat: 4 });
    expect(seqAt(reader.nextRecord())).toBe(4);
    const rest: bigint[] = [];
    expect(reader.consume((v) => rest.push(Buffer.from(v).readBigUInt64LE(0)))).toBe(3);
    expect(rest).toEqual([5n, 6n, 7n]);
    // Three laps of the ring: every record once, in order (the producer would fail on a full ring if space were not given back).
    const perRun = 4096;
    const runs = Math.ceil((3 * map.maxEntries) / (perRun * 24));
    let next = 8;
    let bad = 0;
    for (let r = 0; r < runs; r++) {
      prog.testRun(packet, { repeat: perRun });
      let got = 0;
      for (let o; (o = reader.nextRecord()) >= 0; got++) {
        if (seqAt(o) !== next || reader.recordLength !== 16) bad++;
        next++;
      }
      expect(got).toBe(perRun);
    }
    expect(bad).toBe(0);
    expect(reader.discarded).toBe(0);
    // An open batch ends with close(): the next call is a CLOSED error, never a read of unmapped memory.
    prog.testRun(packet, { repeat: 2 });
    expect(reader.nextRecord()).toBeGreaterThanOrEqual(0);
    reader.close();
    expect(thrown(() => reader.nextRecord()).code).toBe('CLOSED');
  });
  it('firstRecord/recordAfter walk the committed records in place across laps; -1 gives the space back', () => {
    using c = loadObject('fixtures/ringbuf.o');
    const map = c.map('events');
    const reader = new RingBufferReader(map);
    const prog = c.program('xdp_ringbuf');
    const packet = new Uint8Array(60);
    const words = reader.words;
    const seqAt = (o: number) => seqIn(words, o);
    expect(reader.firstRecord()).toBe(-1);
    prog.testRun(packet, { repeat: 3 });
    const first: number[] = [];
    for (let o = reader.firstRecord(); o >= 0; o = reader.recordAfter(o)) {
      expect(o % 8).toBe(0);
      expect(reader.recordLength).toBe(16);
      expect(words[(o >>> 2) + 2]).toBe(60); // the program's len field: the packet length
      first.push(seqAt(o));
    }
    expect(first).toEqual([1, 2, 3]);
    expect(reader.firstRecord()).toBe(-1);
    // Left after one record: another consumer starts after it, none twice.
    prog.testRun(packet, { repeat: 4 });
    expect(seqAt(reader.firstRecord())).toBe(4);
    const rest: bigint[] = [];
    expect(reader.consume((v) => rest.push(Buffer.from(v).readBigUInt64LE(0)))).toBe(3);
    expect(rest).toEqual([5n, 6n, 7n]);
    // Three laps of the ring: every record once, in order (the producer's reserve would fail on a full ring
    // if the walk did not give the space back).
    const perRun = 4096;
    const runs = Math.ceil((3 * map.maxEntries) / (perRun * 24));
    let next = 8;
    let bad = 0;
    let wrapped = 0;
    for (let r = 0; r < runs; r++) {
      prog.testRun(packet, { repeat: perRun });
      let got = 0;
      for (let o = reader.firstRecord(); o >= 0; o = reader.recordAfter(o), got++) {
        if (seqAt(o) !== next || reader.recordLength !== 16 || words[(o >>> 2) + 2] !== 60) bad++;
        if (o >= map.maxEntries) wrapped++; // read from the second copy of the data area
        next++;
      }
      expect(got).toBe(perRun);
    }
    expect(bad).toBe(0);
    expect(wrapped).toBeGreaterThan(0);
    expect(runs * perRun * 24).toBeGreaterThan(2 * map.maxEntries);
    expect(reader.discarded).toBe(0);
    // close() in the middle of a walk: the next step is a CLOSED error, and a view kept from before
    // reads zeros, never unmapped memory (the process used to die on such a read).
    prog.testRun(packet, { repeat: 2 });
    const o = reader.firstRecord();
    expect(seqAt(o)).toBe(next);
    reader.close();
    expect(thrown(() => reader.recordAfter(o)).code).toBe('CLOSED');
    expect(() => reader.firstRecord()).toThrow(/closed/);
    expect(() => reader.words).toThrow(/closed/);
    expect(seqAt(o)).toBe(0);
  });

  it('the walk skips records the program discarded and counts them as the program did', () => {
    const spec = openObject('fixtures/events_seq.o');
    spec.setGlobal('discard_every', 3);
    using c = spec.load();
    using reader = new RingBufferReader(c.map('rb'));
    const words = reader.words;
    const seqs: number[] = [];
    for (let round = 0; round < 3; round++) {
      c.program('xdp_rb').testRun(new Uint8Array(64), { repeat: 1000 });
      for (let o = reader.firstRecord(); o >= 0; o = reader.recordAfter(o)) seqs.push(seqIn(words, o));
    }
    expect(seqs).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1).filter((s) => s % 3 !== 0));
    expect(reader.discarded).toBe(1000);
    // The program's own count of bpf_ringbuf_discard calls (stats slot 4).
    expect((c.map('stats').get(4) as Buffer).readBigUInt64LE(0)).toBe(1000n);
  });
});
