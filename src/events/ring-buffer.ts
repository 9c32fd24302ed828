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
import type { Fd } from '../sys/fd.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import { EventReader } from './reader.js';
import type { EventRecord } from './stream.js';

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SIZE = 8;

export class RingBufferReader extends EventReader {
  /** The reader's own dup of the map fd: it mmaps and polls this one, so closing the map cannot pull it away. */
  readonly #fd: Fd;
  #consumer: ffi.Mapping | null = null;
  #producer: ffi.Mapping | null = null;
  /** consumer_pos and producer_pos: u64s the kernel reads and writes with acquire/release. */
  readonly #cons: BigUint64Array;
  readonly #prod: BigUint64Array;
  readonly #data: Uint8Array;
  /** The data area as u32s: record headers are 8-byte aligned, so their len is one index. */
  readonly #words: Uint32Array;
  readonly #mask: number;
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
    const data = this.#data;
    return this.#consumeRaw((_bytes, offset, length) => emit({ data: Buffer.from(data.subarray(offset, offset + length)), cpu: null, lost: 0 }));
  }

  /**
   * Hand every committed record to `fn`, synchronously; returns how many.
   * `fn` sees a view into the ring that is only valid during the call.
   */
  consume(fn: (data: Uint8Array) => void): number {
    const data = this.#data;
    return this.consumeRaw((bytes, offset, length) => fn(data.subarray(offset, offset + length)));
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
    // Positions are read and written once per pass, whole (Atomics: no torn u64),
    // and handled as plain numbers in between: no BigInt per record.
    let cons = Number(Atomics.load(this.#cons, 0));
    let n = 0;
    for (;;) {
      const prod = Number(Atomics.load(this.#prod, 0));
      const before = cons;
      while (cons < prod) {
        const off = cons & this.#mask;
        const len = this.#words[off >>> 2]!;
        if (len & BUSY_BIT) break; // reserved, not yet submitted: stop here, keep order
        const size = len & ~(BUSY_BIT | DISCARD_BIT);
        cons += (size + HDR_SIZE + 7) & ~7;
        if (len & DISCARD_BIT) this.discarded++;
        else {
          n++;
          fn(this.#data, off + HDR_SIZE, size);
          // fn closed the reader: give back what was read, stop touching the ring.
          if (this.closed) break;
        }
      }
      if (cons === before) break;
      // Give the space back after each pass, so a busy producer is not starved.
      Atomics.store(this.#cons, 0, BigInt(cons));
      if (this.closed) break;
    }
    return n;
  }

  protected release(): void {
    if (this.#producer) ffi.munmap(this.#producer);
    if (this.#consumer) ffi.munmap(this.#consumer);
    this.#producer = this.#consumer = null;
    this.#fd?.close();
  }
}
