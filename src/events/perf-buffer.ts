// BPF_MAP_TYPE_PERF_EVENT_ARRAY consumer. One perf event per possible CPU
// (PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT, PERF_SAMPLE_RAW), its fd
// stored in the map at that CPU's index, and its ring mmap'd: one metadata
// page (struct perf_event_mmap_page: data_head, data_tail) and 2^n data
// pages. bpf_perf_event_output() writes PERF_RECORD_SAMPLE records with a
// u32 size and the raw bytes, including any packet bytes the program asked
// for in the flags' upper 32 bits; PERF_RECORD_LOST says how many were dropped.

import { BpfError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import { possibleCpus } from '../sys/cpus.js';
import { EACCES, EPERM, errnoName } from '../sys/errno.js';
import { capsHint, NEED_PERFMON } from '../sys/caps.js';
import * as ffi from '../sys/ffi.js';
import { Fd } from '../sys/fd.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import { EventReader } from './reader.js';
import type { EventRecord } from './stream.js';

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10;
const PERF_SAMPLE_RAW = 1 << 10;
const PERF_FLAG_FD_CLOEXEC = 1 << 3;
const PERF_ATTR_SIZE = 128;
const PERF_EVENT_IOC_ENABLE = 0x2400;

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;

// struct perf_event_mmap_page: data_head and data_tail, as u64 indexes.
export const DATA_HEAD = 1024 / 8;
export const DATA_TAIL = 1032 / 8;

/**
 * data_head as one whole 64-bit load. The kernel publishes records, then
 * data_head (store-release); the load must be acquire and must not tear: a
 * DataView.getBigUint64 reads the bytes separately, and against a concurrent
 * writer returns values that never existed (measured on 2 cores: from a few
 * per million reads to 1 in 4,000), so the reader ran past head and handed
 * the kernel a data_tail beyond it.
 * Atomics.load is sequentially consistent (stronger than acquire).
 */
export function loadDataHead(meta: BigUint64Array): number {
  return Number(Atomics.load(meta, DATA_HEAD));
}

/** data_tail: read back whole; stored after the records are read (store-release). */
export function loadDataTail(meta: BigUint64Array): number {
  return Number(Atomics.load(meta, DATA_TAIL));
}

export function storeDataTail(meta: BigUint64Array, tail: number): void {
  Atomics.store(meta, DATA_TAIL, BigInt(tail));
}

function perfAttr(): Buffer {
  const a = Buffer.alloc(PERF_ATTR_SIZE);
  a.writeUInt32LE(PERF_TYPE_SOFTWARE, 0); // type
  a.writeUInt32LE(PERF_ATTR_SIZE, 4); // size
  a.writeBigUInt64LE(BigInt(PERF_COUNT_SW_BPF_OUTPUT), 8); // config
  a.writeBigUInt64LE(1n, 16); // sample_period
  a.writeBigUInt64LE(BigInt(PERF_SAMPLE_RAW), 24); // sample_type
  a.writeUInt32LE(1, 48); // wakeup_events: wake on every record
  return a;
}

interface CpuRing {
  cpu: number;
  fd: Fd;
  mapping: ffi.Mapping;
  /** The metadata page as u64s: data_head (the kernel stores it with release) and data_tail (ours). */
  meta: BigUint64Array;
  data: Uint8Array;
  view: DataView;
  /** Lost records reported on this CPU and not yet attached to a sample. */
  lost: number;
}

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two (default 64: 256 KiB with 4 KiB pages). */
  pages?: number;
}

export class PerfBufferReader extends EventReader {
  readonly #rings: CpuRing[] = [];
  /** Total records the kernel reported lost (PERF_RECORD_LOST), over all CPUs. */
  lost = 0;

  constructor(map: BpfMap, opts: PerfBufferOptions = {}) {
    if (map.type !== BPF_MAP_TYPE.PERF_EVENT_ARRAY) throw new BpfError('USAGE', `map ${map.name} is not a perf event array`);
    const pages = opts.pages ?? 64;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) throw new BpfError('USAGE', `perf buffer pages must be a power of two, got ${pages}`);
    super(map);
    const page = ffi.pageSize();
    const cpus = Math.min(possibleCpus(), map.maxEntries);
    try {
      for (let cpu = 0; cpu < cpus; cpu++) {
        const raw = ffi.perfEventOpen(perfAttr(), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (raw === -19 /* ENODEV: CPU offline */) continue;
        if (raw < 0) {
          // A system-wide event (pid -1, one CPU) needs CAP_PERFMON while perf_event_paranoid > 0.
          const hint = -raw === EPERM || -raw === EACCES ? `: ${capsHint([NEED_PERFMON], 'this process has CAP_PERFMON; kernel.perf_event_paranoid or a security module refused')}` : '';
          throw new BpfError('SYSCALL', `perf_event_open for CPU ${cpu} (map ${map.name}): ${errnoName(-raw)}${hint}`);
        }
        const fd = new Fd(raw, `perf event CPU ${cpu}`);
        const m = ffi.mmap(page * (pages + 1), ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED, raw, 0);
        if (typeof m === 'number') {
          fd.close();
          throw new BpfError('SYSCALL', `mmap of the perf buffer for CPU ${cpu} (map ${map.name}): ${errnoName(-m)}`);
        }
        this.#rings.push({
          cpu,
          fd,
          mapping: m,
          meta: new BigUint64Array(m.buffer, 0, page / 8),
          data: new Uint8Array(m.buffer, page, page * pages),
          view: new DataView(m.buffer, page, page * pages),
          lost: 0,
        });
        ffi.ioctl(raw, PERF_EVENT_IOC_ENABLE, 0);
        map.set(cpu, raw);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  protected get label(): string {
    return `perf buffer ${this.map.name}`;
  }

  protected pollFds(): number[] {
    return this.#rings.map((r) => r.fd.value);
  }

  protected drain(emit: (rec: EventRecord) => void): number {
    let n = 0;
    for (const r of this.#rings) {
      n += this.#drain(r, emit);
      if (this.closed) break;
    }
    return n;
  }

  /** Read every record waiting in every CPU's ring, synchronously; returns how many samples. */
  consume(fn: (rec: EventRecord) => void): number {
    return this.reading(() => this.drain(fn));
  }

  /** Copy `len` bytes at ring offset `off`, unwrapping at the end of the ring. */
  #copy(r: CpuRing, off: number, len: number): Buffer {
    const size = r.data.byteLength;
    off &= size - 1;
    const out = Buffer.allocUnsafe(len);
    const first = Math.min(len, size - off);
    out.set(r.data.subarray(off, off + first), 0);
    if (first < len) out.set(r.data.subarray(0, len - first), first);
    return out;
  }

  #drain(r: CpuRing, fn: (rec: EventRecord) => void): number {
    const size = r.data.byteLength;
    const mask = size - 1;
    // Head whole and before the records it covers (see loadDataHead).
    const head = loadDataHead(r.meta);
    let tail = loadDataTail(r.meta);
    if (head < tail || head - tail > size) {
      throw new BpfError('EVENT_BUFFER_CORRUPT', `${this.label}: CPU ${r.cpu} ring positions are inconsistent (head ${head}, tail ${tail}, size ${size})`);
    }
    let n = 0;
    while (tail < head) {
      // Records are 8-byte aligned and so is the ring size: a header never wraps.
      const off = tail & mask;
      const type = r.view.getUint32(off, true);
      const recSize = r.view.getUint16(off + 6, true);
      if (recSize < 8 || recSize > head - tail) {
        throw new BpfError('EVENT_BUFFER_CORRUPT', `${this.label}: CPU ${r.cpu} record of ${recSize} bytes at ${tail} (head ${head})`);
      }
      tail += recSize;
      if (type === PERF_RECORD_SAMPLE) {
        const rawSize = r.view.getUint32((off + 8) & mask, true);
        const rec = { data: this.#copy(r, off + 12, Math.min(rawSize, recSize - 12)), cpu: r.cpu, lost: r.lost };
        r.lost = 0;
        n++;
        fn(rec);
      } else if (type === PERF_RECORD_LOST) {
        // struct { header; u64 id; u64 lost; }
        const count = Number(r.view.getBigUint64((off + 16) & mask, true));
        r.lost += count;
        this.lost += count;
      }
      // fn closed the reader: stop reading its memory (the mapping stays until this drain returns).
      if (this.closed) break;
    }
    // Hand the space back after reading it (store-release).
    storeDataTail(r.meta, tail);
    return n;
  }

  protected release(): void {
    for (const r of this.#rings) {
      try {
        if (!this.map.closed) this.map.delete(r.cpu);
      } catch {
        // the slot may already be empty
      }
      ffi.munmap(r.mapping);
      r.fd.close();
    }
    this.#rings.length = 0;
  }
}
