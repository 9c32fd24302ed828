// BPF_MAP_TYPE_RINGBUF consumer (kernel/bpf/ringbuf.c). The map fd is
// mmap'd twice: one writable page holding consumer_pos, then read-only the
// producer page (producer_pos) followed by the data area mapped twice in a
// row, so a record that wraps is still contiguous. Each record has an 8-byte
// header: u32 len (bit 31 busy: not committed yet; bit 30 discarded) and
// u32 page offset; records are 8-byte aligned.

import { BpfError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import { errnoName } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { retire, unmapWhenCollected } from '../sys/mapping.js';
import type { Fd } from '../sys/fd.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import { EventReader } from './reader.js';
import type { EventRecord } from './stream.js';

// Header bits, written as literals in the loops: BUSY 0x80000000 (reserved,
// not committed yet), DISCARD 0x40000000, the length in the low 30 bits;
// the header is 8 bytes. Not module constants: the two bits do not fit V8's
// small integers, so each use in a loop would load a boxed double and
// convert it, per record.
/** Loads are not reordered with other loads (TSO): a plain load has acquire semantics. */
const LOADS_ORDERED = process.arch === 'x64' || process.arch === 'ia32';

// The reader hands out views of its mappings (`data`, `words`) that a loop
// may still hold after close(): close() retires the mappings (sys/mapping.ts:
// zeroed pages in place, unmapped once no view is reachable).

export class RingBufferReader extends EventReader {
  /** The reader's own dup of the map fd: it mmaps and polls this one, so closing the map cannot pull it away. */
  readonly #fd: Fd;
  #consumer: ffi.Mapping | null = null;
  #producer: ffi.Mapping | null = null;
  // The views start as empty views of their own type (the constructor sets
  // the real ones): a field that first holds undefined is generalized by V8
  // to "any value", and every use in a loop then checks what it holds.
  /** consumer_pos and producer_pos: u64s the kernel reads and writes with acquire/release. */
  readonly #cons: BigUint64Array = new BigUint64Array(1);
  readonly #prod: BigUint64Array = new BigUint64Array(1);
  readonly #data: Uint8Array = new Uint8Array(0);
  /** The same bytes as a Buffer, for Buffer#copy. */
  readonly #dataBuf: Buffer;
  /** The data area as u32s: record headers are 8-byte aligned, so their len is one index. */
  readonly #words: Uint32Array = new Uint32Array(0);
  readonly #mask: number = 0;
  /** consumer_pos after the batch consumeBatch() handed out and not yet released, else -1. */
  #held = -1;
  // nextRecord()'s open batch: its start (absolute consumer position, -1 when
  // none is open), the ring offset of that start, the bytes committed when it
  // opened, and how far into them the cursor is.
  #curStart = -1;
  #curBase = 0;
  #curAvail = 0;
  #cur = 0;
  /** Length in bytes of the record nextRecord(), firstRecord() or recordAfter() returned last. */
  recordLength = 0;
  // The firstRecord()/recordAfter() walk: its start (absolute consumer
  // position, -1 when none is open), the ring offset of that start, where
  // what was committed when it opened ends (ring offset of the start plus the
  // bytes committed: 0 when no walk is open, which ends every recordAfter()),
  // and the header offset of the record it returned last (-1: none).
  // The walk's offsets are not wrapped: the start is below the ring size and
  // fewer than size bytes are committed, so every record lies inside the
  // double mapping, and the end is one compare, no mask.
  // The caller's loop variable carries the position, so the walk stores
  // nothing it reads back per record (a field written by one call and read by
  // the next put a store-to-load round trip on nextRecord()'s critical path).
  #walkStart = -1;
  #walkBase = 0;
  #walkEnd = 0;
  #walkAt = -1;
  /** consumeInto's word view of the caller's buffer, kept while the caller reuses it. */
  #outWords: Uint32Array | null = null;
  #out: Uint8Array | null = null;
  /** Records skipped because the program discarded them (bpf_ringbuf_discard). */
  discarded = 0;

  constructor(map: BpfMap) {
    if (map.type !== BPF_MAP_TYPE.RINGBUF) throw new BpfError('USAGE', `map ${map.name} is not a ring buffer`);
    super(map);
    const page = ffi.pageSize();
    const size = map.maxEntries;
    try {
      this.#fd = map.fd.dup(`ring buffer ${map.name} (reader)`);
      const fd = this.#fd.value;
      const c = ffi.mmap(page, ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED, fd, 0);
      if (typeof c === 'number') throw new BpfError('SYSCALL', `ring buffer ${map.name}: mmap of the consumer page failed (${errnoName(-c)})`);
      this.#consumer = c;
      const p = ffi.mmap(page + 2 * size, ffi.PROT_READ, ffi.MAP_SHARED, fd, page);
      if (typeof p === 'number') throw new BpfError('SYSCALL', `ring buffer ${map.name}: mmap of the data area failed (${errnoName(-p)})`);
      this.#producer = p;
      this.#cons = new BigUint64Array(c.buffer, 0, 1);
      this.#prod = new BigUint64Array(p.buffer, 0, 1);
      this.#data = new Uint8Array(p.buffer, page, 2 * size);
      this.#dataBuf = Buffer.from(p.buffer, page, 2 * size);
      this.#words = new Uint32Array(p.buffer, page, (2 * size) / 4);
      this.#mask = size - 1;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  protected get label(): string {
    return `ring buffer ${this.map.name}`;
  }

  protected pollFds(): number[] {
    return [this.#fd.value];
  }

  protected drain(emit: (rec: EventRecord) => void): number {
    // One allocation per record, the copy it must own (no subarray view in between).
    const data = this.#dataBuf;
    return this.#consumeRaw((_bytes, offset, length) => {
      const copy = Buffer.allocUnsafe(length);
      data.copy(copy, 0, offset, offset + length);
      emit({ data: copy, cpu: null, lost: 0 });
    });
  }

  /**
   * Hand every committed record to `fn`, synchronously; returns how many.
   * `fn` sees a view into the ring that is only valid during the call.
   */
  consume(fn: (data: Uint8Array) => void): number {
    const data = this.#data;
    return this.consumeRaw((_bytes, offset, length) => fn(data.subarray(offset, offset + length)));
  }

  /**
   * The allocation-free form of consume(): `fn(bytes, offset, length)` gets
   * the whole mapped data area and where the record sits in it (contiguous
   * even when it wraps, thanks to the double mapping). No view is created per
   * record, which is what makes high event rates cheap.
   */
  consumeRaw(fn: (bytes: Uint8Array, offset: number, length: number) => void): number {
    return this.reading(() => this.#consumeRaw(fn));
  }

  #consumeRaw(fn: (bytes: Uint8Array, offset: number, length: number) => void): number {
    this.#releaseHeld();
    const ring = this.#words;
    const data = this.#data;
    const mask = this.#mask;
    // Positions are read and written once per pass, whole (Atomics: no torn u64),
    // and walked as small integers relative to the pass's start (see #consumeBatch).
    let n = 0;
    for (;;) {
      const start = Number(Atomics.load(this.#cons, 0));
      const avail = Number(Atomics.load(this.#prod, 0)) - start;
      const base = start & mask;
      let rel = 0;
      while (rel < avail) {
        const off = (base + rel) & mask;
        const len = LOADS_ORDERED ? ring[off >>> 2]! : Atomics.load(ring, off >>> 2);
        if (len & 0x80000000) break; // BUSY: reserved, not yet submitted: stop here, keep order
        const size = len & 0x3fffffff;
        rel += (size + 15) & ~7; // header + record, 8-byte aligned
        if (len & 0x40000000) this.discarded++;
        else {
          n++;
          fn(data, off + 8, size);
          // fn closed the reader: give back what was read, stop touching the ring.
          if (this.closed) break;
        }
      }
      if (rel === 0) break;
      // Give the space back after each pass, so a busy producer is not starved.
      Atomics.store(this.#cons, 0, BigInt(start + rel));
      if (this.closed) break;
    }
    return n;
  }

  /**
   * Batch consumption with no callback and no allocation: copies committed
   * records back to back into `out` (each starting 8-byte aligned) and, for
   * record i, writes its offset in `out` to index[2i] and its length to
   * index[2i+1]. Stops when `out` or `index` is full (the rest stays in the
   * ring for the next call) and returns the number of records copied; their
   * space in the ring is given back before returning. `out` must start
   * 8-byte aligned in its ArrayBuffer (any Buffer.alloc/new Uint8Array does)
   * and hold the largest record; a record that does not fit an empty `out`
   * throws.
   */
  consumeInto(out: Uint8Array, index: Uint32Array): number {
    if ((out.byteOffset & 7) !== 0) throw new BpfError('USAGE', `ring buffer ${this.map.name}: consumeInto needs an 8-byte aligned buffer`);
    // No callback runs inside: nothing can close the reader mid-read.
    if (this.closed) throw this.closedError();
    return this.#consumeInto(out, index);
  }

  #consumeInto(out: Uint8Array, index: Uint32Array): number {
    this.#releaseHeld();
    let words = this.#outWords;
    if (out !== this.#out || words === null) {
      words = this.#outWords = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
      this.#out = out;
    }
    const ring = this.#words;
    const mask = this.#mask;
    const maxRecords = index.length >>> 1;
    const cap = out.length; // Uint8Array: its byte length (byteLength is not inlined by V8 in Node 20)
    const start = Number(Atomics.load(this.#cons, 0));
    // Integers relative to `start` in the loop (see #consumeBatch).
    const avail = Number(Atomics.load(this.#prod, 0)) - start;
    const base = start & mask;
    let rel = 0;
    let n = 0;
    let at = 0;
    while (rel < avail && n < maxRecords) {
      const off = (base + rel) & mask;
      // The header needs acquire order before the record's bytes are read. x86
      // orders loads with loads already, and Atomics.load costs ~50 ns a call in
      // V8 (not inlined), so there a plain typed-array read is the acquire.
      const len = LOADS_ORDERED ? ring[off >>> 2]! : Atomics.load(ring, off >>> 2);
      if (len & 0x80000000) break; // BUSY
      const size = len & 0x3fffffff;
      const step = (size + 15) & ~7;
      if (len & 0x40000000) {
        // DISCARD
        this.discarded++;
        rel += step;
        continue;
      }
      if (at + size > cap) {
        if (n === 0) throw new BpfError('USAGE', `ring buffer ${this.map.name}: a ${size}-byte record does not fit the ${cap}-byte buffer given to consumeInto`);
        break;
      }
      // Records are 8-byte aligned in the ring and in `out`: copy whole words.
      let src = (off + 8) >>> 2;
      let dst = at >>> 2;
      const end = dst + ((size + 3) >>> 2);
      if (at + ((size + 3) & ~3) <= cap) {
        while (dst < end) words[dst++] = ring[src++]!;
      } else {
        const data = this.#data;
        const from = off + 8;
        for (let i = 0; i < size; i++) out[at + i] = data[from + i]!;
      }
      index[2 * n] = at;
      index[2 * n + 1] = size;
      n++;
      at = (at + size + 7) & ~7;
      rel += step;
    }
    Atomics.store(this.#cons, 0, BigInt(start + rel));
    return n;
  }

  /**
   * The ring's data area (mapped twice in a row, so a record that wraps is
   * contiguous) as bytes and as u32 words: where consumeBatch() points.
   */
  get data(): Uint8Array {
    if (this.closed) throw this.closedError();
    return this.#data;
  }

  get words(): Uint32Array {
    if (this.closed) throw this.closedError();
    return this.#words;
  }

  /**
   * Zero-copy batch consumption, no callback and no allocation: for up to
   * index.length / 2 committed records, writes record i's byte offset in
   * `reader.data` to index[2i] (8-byte aligned, so index[2i] / 4 indexes
   * `reader.words`) and its length to index[2i+1]; returns the count. The
   * records stay in place, valid until the next consumeBatch(), releaseBatch(),
   * consumeInto() or consume call, which gives their space back to the
   * producer.
   */
  consumeBatch(index: Uint32Array): number {
    // No callback runs inside: nothing can close the reader mid-read.
    if (this.closed) throw this.closedError();
    if (this.#curStart >= 0) this.#closeCursor();
    if (this.#walkStart >= 0) this.#closeWalk();
    return this.#consumeBatch(index);
  }

  /**
   * Zero-copy cursor, one record per call, with no callback, index or
   * allocation: returns the byte offset in `reader.data` of the next
   * committed record (8-byte aligned: offset / 4 indexes `reader.words`) and
   * sets `recordLength`, or returns -1 when no committed record is left.
   * Producer and consumer positions are read and written once per batch: the
   * first call reads what is committed, later calls walk it, and the call
   * that returns -1 gives the batch's space back to the producer. Records
   * stay in place until then (or until releaseBatch() or any other consume
   * call). In a loop `for (let o; (o = r.nextRecord()) >= 0; )` V8 inlines
   * it (`npm run bench` times it against the same walk written inline with
   * no reader: ~1.5x that loop's time per record, as the walk below).
   */
  nextRecord(): number {
    // Fast path: walk the open batch. With no batch open #curAvail is 0 and
    // the walk falls through at once to #endOfBatch, which opens one.
    const ring = this.#words;
    const mask = this.#mask;
    const avail = this.#curAvail;
    let rel = this.#cur;
    while (rel < avail) {
      const off = (this.#curBase + rel) & mask;
      // The header needs acquire order before the record is read: see #consumeInto.
      const len = LOADS_ORDERED ? ring[off >>> 2]! : Atomics.load(ring, off >>> 2);
      if (len & 0x80000000) break; // BUSY
      const size = len & 0x3fffffff;
      rel += (size + 15) & ~7;
      if (len & 0x40000000) {
        // DISCARD
        this.discarded++;
        continue;
      }
      this.#cur = rel;
      this.recordLength = size;
      return off + 8;
    }
    this.#cur = rel;
    return this.#endOfBatch();
  }

  #endOfBatch(): number {
    if (this.#curStart >= 0) {
      // The open batch is walked (or stops at a record not committed yet): give its space back.
      this.#closeCursor();
      return -1;
    }
    // No callback runs inside: nothing can close the reader mid-read.
    if (this.closed) throw this.closedError();
    this.#releaseHeld();
    const start = Number(Atomics.load(this.#cons, 0));
    const avail = Number(Atomics.load(this.#prod, 0)) - start;
    if (avail <= 0) return -1;
    this.#curStart = start;
    this.#curBase = start & this.#mask;
    this.#curAvail = avail;
    this.#cur = 0;
    return this.nextRecord();
  }

  #closeCursor(): void {
    if (this.#cur > 0) Atomics.store(this.#cons, 0, BigInt(this.#curStart + this.#cur));
    this.#curStart = -1;
    this.#curAvail = 0;
    this.#cur = 0;
  }

  /**
   * The fastest way to read the ring: a walk over the committed records in
   * place, with no callback, index, copy or allocation, whose position lives
   * in the caller's loop variable:
   *
   *     const words = reader.words;
   *     for (let o = reader.firstRecord(); o >= 0; o = reader.recordAfter(o)) {
   *       // the record is reader.data[o .. o + reader.recordLength); o / 4 indexes words
   *     }
   *
   * firstRecord() reads the producer position once and returns the byte
   * offset in `reader.data` of the first committed record (8-byte aligned)
   * and sets `recordLength`, or returns -1 when there is none. recordAfter(o)
   * takes the offset the previous call returned and returns the next
   * record's, skipping discarded records (counted in `discarded`); offsets
   * are not wrapped during a walk (a record may sit past the ring's size in
   * `data`, which maps it twice). At the end of what was committed when the walk
   * opened, or at a record still being written (reserved, not submitted), it
   * gives the walked space back to the producer and returns -1. Records stay
   * in place until then. A walk left early is ended by releaseBatch() or by
   * any other consume call (firstRecord(), nextRecord(), consumeBatch(),
   * consumeInto(), consume(), consumeRaw()): each gives back the records
   * returned so far, and the next read starts after them. After close(),
   * recordAfter() throws CLOSED.
   */
  firstRecord(): number {
    // Small, so V8 inlines it, and #walkFrom, into the caller's loop set-up.
    this.#openWalk();
    return this.#walkFrom(this.#walkBase);
  }

  /** Read the positions; with nothing committed no walk opens (#walkEnd stays 0) and #walkFrom returns -1. */
  #openWalk(): void {
    // No callback runs inside: nothing can close the reader mid-read.
    if (this.closed) throw this.closedError();
    this.#releaseHeld();
    const start = Number(Atomics.load(this.#cons, 0));
    const avail = Number(Atomics.load(this.#prod, 0)) - start;
    if (avail <= 0) return;
    this.#walkStart = start;
    this.#walkBase = start & this.#mask;
    this.#walkEnd = this.#walkBase + avail;
    this.#walkAt = -1;
  }

  /** The record after the one at `offset` (a value firstRecord() or recordAfter() returned), or -1: see firstRecord(). */
  recordAfter(offset: number): number {
    // The next header follows this record, 8-byte aligned; `offset` is already.
    // The length #walkFrom just stored, when `offset` is the record it returned (no header load).
    const len = offset === this.#walkAt + 8 ? this.recordLength : this.#words[(offset - 8) >>> 2]! & 0x3fffffff;
    return this.#walkFrom((offset + len + 7) & ~7);
  }

  /** The first record, at or after the header at `h`, that was committed when the walk opened. */
  #walkFrom(h: number): number {
    const ring = this.#words;
    while (h < this.#walkEnd) {
      // The header needs acquire order before the record is read: see #consumeInto.
      const len = LOADS_ORDERED ? ring[h >>> 2]! : Atomics.load(ring, h >>> 2);
      if (len & 0x80000000) break; // BUSY
      if ((len & 0x40000000) === 0) {
        this.#walkAt = h;
        // A field the caller reads right after the call: V8 forwards the
        // stored value, so the length costs the caller no load.
        this.recordLength = len & 0x3fffffff;
        return h + 8;
      }
      this.discarded++; // DISCARD
      h = (h + (len & 0x3fffffff) + 15) & ~7;
    }
    // A literal, not #endWalk's result: no call result (any value to V8)
    // merges into what the inlined walk returns, only small integers.
    this.#endWalk(h);
    return -1;
  }

  /** The walk reached `h` (its end, or a record not committed yet): give the space before it back. */
  #endWalk(h: number): void {
    if (this.#walkStart < 0) {
      // Ended by another consume call, releaseBatch() or close().
      if (this.closed) throw this.closedError();
      return;
    }
    // h is #walkEnd at the end (records tile what was committed); never
    // beyond, even from an offset that no walk returned: consumer_pos past
    // producer_pos would leave the kernel seeing a full ring for good.
    const end = Math.min(h, this.#walkEnd);
    if (end > this.#walkBase) Atomics.store(this.#cons, 0, BigInt(this.#walkStart + (end - this.#walkBase)));
    this.#walkStart = -1;
    this.#walkEnd = 0;
  }

  /** An open walk left early: give back the records it returned. */
  #closeWalk(): void {
    const at = this.#walkAt;
    if (at >= 0) {
      const end = (at + (this.#words[at >>> 2]! & 0x3fffffff) + 15) & ~7;
      Atomics.store(this.#cons, 0, BigInt(this.#walkStart + (end - this.#walkBase)));
    }
    this.#walkStart = -1;
    this.#walkEnd = 0;
  }

  #consumeBatch(index: Uint32Array): number {
    const ring = this.#words;
    const mask = this.#mask;
    const max = index.length >>> 1;
    const held = this.#held;
    const start = held >= 0 ? held : Number(Atomics.load(this.#cons, 0));
    // Walk in small integers relative to `start`: the positions are u64 (doubles
    // here), and a double in the loop's dependency chain (truncate, load, add,
    // convert) made each record ~3x slower than the same walk in int32.
    const avail = Number(Atomics.load(this.#prod, 0)) - start;
    const base = start & mask; // == start mod ring size (ToInt32 keeps the low 32 bits)
    let rel = 0;
    let n = 0;
    let discarded = 0;
    while (rel < avail && n < max) {
      const off = (base + rel) & mask;
      // The header needs acquire order before the record is read: see #consumeInto.
      const len = LOADS_ORDERED ? ring[off >>> 2]! : Atomics.load(ring, off >>> 2);
      if (len & 0x80000000) break; // BUSY
      const size = len & 0x3fffffff;
      if (len & 0x40000000)
        discarded++; // DISCARD
      else {
        index[2 * n] = off + 8;
        index[2 * n + 1] = size;
        n++;
      }
      rel += (size + 15) & ~7;
    }
    if (discarded !== 0) this.discarded += discarded;
    // The previous batch is done with: give its space back (this one's stays held).
    if (held >= 0) Atomics.store(this.#cons, 0, BigInt(held));
    this.#held = start + rel;
    return n;
  }

  /**
   * Give back the space of the records the last consumeBatch() returned, or
   * of those an unfinished nextRecord() batch or firstRecord() walk returned.
   */
  releaseBatch(): void {
    if (this.closed) return;
    this.#releaseHeld();
  }

  #releaseHeld(): void {
    if (this.#curStart >= 0) this.#closeCursor();
    if (this.#walkStart >= 0) this.#closeWalk();
    if (this.#held < 0) return;
    Atomics.store(this.#cons, 0, BigInt(this.#held));
    this.#held = -1;
  }

  protected release(): void {
    // An open nextRecord() batch ends here: its next call finds none open and throws CLOSED.
    this.#curStart = -1;
    this.#curAvail = 0;
    this.#cur = 0;
    this.#walkStart = -1;
    this.#walkEnd = 0;
    // `data`/`words` may still be held (a walk's loop reads them inline): the
    // pages go back to the kernel but the range stays mapped, as zeros, until
    // the views are collected (see retire()).
    for (const m of [this.#producer, this.#consumer]) {
      if (!m) continue;
      retire(m);
      unmapWhenCollected(m);
    }
    this.#producer = this.#consumer = null;
    this.#fd?.close();
  }
}
