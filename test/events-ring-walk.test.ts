// RingBufferReader's walk (firstRecord/recordAfter) over a ring laid out by
// hand, no kernel needed: mmap is replaced by plain memory, so the test can
// write what a program under BPF_PROG_TEST_RUN never leaves behind — a
// record still BUSY (reserved, not submitted) in the middle of committed
// ones — and place the positions anywhere (wrap-around, positions past
// 2^32). Layout as kernel/bpf/ringbuf.c: consumer page (consumer_pos), then
// producer page (producer_pos) followed by the data area mapped twice in a
// row; each record an 8-byte header (u32 len: bit 31 BUSY, bit 30 DISCARD;
// u32 page offset), then the payload, 8-byte aligned. The kernel tests
// (test/kernel/ringbuf-batch.test.ts) run the same walk on a real ring.
import { describe, expect, it, vi } from 'vitest';
import type { BpfMap } from '../src/maps/map.js';
import { BPF_MAP_TYPE } from '../src/uapi/bpf.js';
import { seqIn } from './helpers/ring.js';
import { thrown } from './helpers/thrown.js';

const PAGE = 4096;
const SIZE = 4096; // data bytes (max_entries)
const BUSY = 0x80000000;
const DISCARD = 0x40000000;

// The two mappings the reader makes, in the order it makes them: consumer page, producer page + data.
const mapped: ArrayBuffer[] = [];
vi.mock('../src/sys/ffi.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/sys/ffi.js')>();
  return {
    ...real,
    pageSize: () => PAGE,
    mmap: (length: number) => {
      const buffer = new ArrayBuffer(length);
      mapped.push(buffer);
      return { address: BigInt(mapped.length), length, buffer };
    },
    // What the real swap leaves: the same range, now zeros.
    remapAnonymous: (m: { buffer: ArrayBuffer }) => {
      new Uint8Array(m.buffer).fill(0);
      return 0;
    },
    munmap: () => 0,
  };
});
const { RingBufferReader } = await import('../src/events/ring-buffer.js');

function fakeRing() {
  const map = {
    name: 'fake',
    type: BPF_MAP_TYPE.RINGBUF,
    maxEntries: SIZE,
    closed: false,
    onClose: () => () => {},
    fd: { dup: () => ({ value: -1, close() {} }) },
  } as unknown as BpfMap;
  const reader = new RingBufferReader(map);
  const [consumerPage, producer] = mapped.slice(-2) as [ArrayBuffer, ArrayBuffer];
  const cons = new BigUint64Array(consumerPage, 0, 1);
  const prod = new BigUint64Array(producer, 0, 1);
  const data = new DataView(producer, PAGE, 2 * SIZE);
  // Both copies of the data area hold the same bytes, as the double mapping does.
  const put32 = (pos: number, v: number) => {
    const off = pos % SIZE;
    data.setUint32(off, v, true);
    data.setUint32(off + SIZE, v, true);
  };
  let next = 0;
  const ring = {
    reader,
    consumer: () => Number(cons[0]),
    /** Start both positions at `pos` (an empty ring). */
    at(pos: number) {
      cons[0] = prod[0] = BigInt(pos);
      next = pos;
    },
    /** Append a 16-byte record {u64 seq; u32 len} with the given header flags; returns its position. */
    add(seq: number, flags = 0) {
      const pos = next;
      put32(pos, (16 | flags) >>> 0);
      put32(pos + 8, seq >>> 0);
      put32(pos + 12, Math.floor(seq / 2 ** 32));
      put32(pos + 16, 60);
      next += 24;
      prod[0] = BigInt(next);
      return pos;
    },
    commit(pos: number) {
      put32(pos, 16);
    },
    end: () => next,
  };
  return ring;
}

/** Walk once: the seq of each record, checking length and the len field. */
function walk(reader: InstanceType<typeof RingBufferReader>): number[] {
  const words = reader.words;
  const seqs: number[] = [];
  for (let o = reader.firstRecord(); o >= 0; o = reader.recordAfter(o)) {
    expect(o % 8).toBe(0);
    expect(reader.recordLength).toBe(16);
    expect(words[(o >>> 2) + 2]).toBe(60);
    seqs.push(seqIn(words, o));
  }
  return seqs;
}

describe('ring buffer walk (firstRecord/recordAfter) on a hand-built ring', () => {
  it('an empty ring is -1 at once and moves nothing', () => {
    const r = fakeRing();
    r.at(48);
    expect(r.reader.firstRecord()).toBe(-1);
    expect(r.consumer()).toBe(48);
  });

  it('stops at a BUSY record and gives back only what is before it; the rest follows once it is committed', () => {
    const r = fakeRing();
    r.at(0);
    r.add(1);
    r.add(2);
    r.add(3);
    const busy = r.add(4, BUSY);
    r.add(5);
    expect(walk(r.reader)).toEqual([1, 2, 3]);
    expect(r.consumer()).toBe(busy); // 3 records x 24 bytes
    expect(busy).toBe(72);
    // Still busy: nothing, and the consumer position stays.
    expect(walk(r.reader)).toEqual([]);
    expect(r.consumer()).toBe(72);
    r.commit(busy);
    expect(walk(r.reader)).toEqual([4, 5]);
    expect(r.consumer()).toBe(r.end());
  });

  it('skips and counts discarded records, and gives their space back', () => {
    const r = fakeRing();
    r.at(0);
    r.add(1, DISCARD);
    r.add(2);
    r.add(3, DISCARD);
    r.add(4, DISCARD);
    r.add(5);
    r.add(6, DISCARD);
    expect(walk(r.reader)).toEqual([2, 5]);
    expect(r.reader.discarded).toBe(4);
    expect(r.consumer()).toBe(6 * 24);
  });

  it('follows records across the end of the ring, contiguous through the double mapping, at positions past 2^32', () => {
    const r = fakeRing();
    const start = 2 ** 40 + SIZE - 40; // 40 bytes before the end of the data area
    r.at(start);
    for (let s = 1; s <= 4; s++) r.add(2 ** 33 + s);
    const offsets: number[] = [];
    const seqs: number[] = [];
    const words = r.reader.words;
    for (let o = r.reader.firstRecord(); o >= 0; o = r.reader.recordAfter(o)) {
      offsets.push(o);
      seqs.push(seqIn(words, o));
    }
    // The second record starts 16 bytes before the end and runs past it (read from the second copy);
    // offsets are not wrapped back during a walk.
    expect(offsets).toEqual([SIZE - 40 + 8, SIZE - 16 + 8, SIZE + 8 + 8, SIZE + 32 + 8]);
    expect(seqs).toEqual([2 ** 33 + 1, 2 ** 33 + 2, 2 ** 33 + 3, 2 ** 33 + 4]);
    expect(r.consumer()).toBe(start + 4 * 24);
    // The next walk starts at the wrapped offset.
    r.add(2 ** 33 + 5);
    const o = r.reader.firstRecord();
    expect(o).toBe(56 + 8);
    expect(r.reader.recordAfter(o)).toBe(-1);
    expect(r.consumer()).toBe(start + 5 * 24);
  });

  it('a walk left early is ended by releaseBatch() or another consume call: the records returned so far are given back, never the rest', () => {
    const r = fakeRing();
    r.at(0);
    for (let s = 1; s <= 6; s++) r.add(s);
    const words = r.reader.words;
    const seqAt = (o: number) => words[o >>> 2]!;
    let o = r.reader.firstRecord();
    o = r.reader.recordAfter(o);
    expect(seqAt(o)).toBe(2);
    expect(r.consumer()).toBe(0); // nothing given back mid-walk
    r.reader.releaseBatch();
    expect(r.consumer()).toBe(48);
    // The old offset no longer walks: the walk is over, the position stays.
    expect(r.reader.recordAfter(o)).toBe(-1);
    expect(r.consumer()).toBe(48);
    // Another consumer after one record of a new walk: it starts at the next record.
    expect(seqAt(r.reader.firstRecord())).toBe(3);
    const rest: number[] = [];
    expect(r.reader.consumeRaw((d, off) => rest.push(new DataView(d.buffer, d.byteOffset).getUint32(off, true)))).toBe(3);
    expect(rest).toEqual([4, 5, 6]);
    expect(r.consumer()).toBe(r.end());
    // A new walk after nextRecord() took one record.
    r.add(7);
    r.add(8);
    expect(seqAt(r.reader.nextRecord())).toBe(7);
    expect(walk(r.reader)).toEqual([8]);
    expect(r.consumer()).toBe(r.end());
  });

  it('an offset no walk returned never moves the consumer position past the producer', () => {
    const r = fakeRing();
    r.at(0);
    r.add(1);
    r.add(2);
    r.add(3);
    expect(r.reader.firstRecord()).toBe(8);
    expect(r.reader.recordAfter(200)).toBe(-1); // beyond the 72 committed bytes
    expect(r.consumer()).toBe(r.end());
    expect(r.end()).toBe(72);
  });

  it('after close(): firstRecord, recordAfter and the views throw CLOSED; a view kept from before reads zeros', () => {
    const r = fakeRing();
    r.at(0);
    r.add(1);
    r.add(2);
    const words = r.reader.words;
    const o = r.reader.firstRecord();
    expect(words[o >>> 2]).toBe(1);
    r.reader.close();
    expect(thrown(() => r.reader.recordAfter(o)).code).toBe('CLOSED');
    expect(thrown(() => r.reader.firstRecord()).code).toBe('CLOSED');
    expect(thrown(() => r.reader.words).code).toBe('CLOSED');
    expect(thrown(() => r.reader.data).code).toBe('CLOSED');
    expect(words[o >>> 2]).toBe(0);
  });
});
