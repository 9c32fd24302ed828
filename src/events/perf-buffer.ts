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
import { type EventRecord, EventStream } from './stream.js';

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10;
const PERF_SAMPLE_RAW = 1 << 10;
const PERF_FLAG_FD_CLOEXEC = 1 << 3;
const PERF_ATTR_SIZE = 128;
const PERF_EVENT_IOC_ENABLE = 0x2400;

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;

// struct perf_event_mmap_page offsets.
const DATA_HEAD = 1024;
const DATA_TAIL = 1032;

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
  meta: DataView;
  data: Uint8Array;
  poll: { close(): void } | null;
}

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two (default 64: 256 KiB with 4 KiB pages). */
  pages?: number;
}

export class PerfBufferReader implements AsyncIterable<EventRecord>, Disposable {
  readonly map: BpfMap;
  readonly #rings: CpuRing[] = [];
  readonly #stream = new EventStream<EventRecord>();
  #polling = false;
  #closed = false;
  /** Total records the kernel reported lost. */
  lost = 0;

  constructor(map: BpfMap, opts: PerfBufferOptions = {}) {
    if (map.type !== BPF_MAP_TYPE.PERF_EVENT_ARRAY) throw new BpfError('USAGE', `map ${map.name} is not a perf event array`);
    const pages = opts.pages ?? 64;
    if (pages < 1 || (pages & (pages - 1)) !== 0) throw new BpfError('USAGE', `perf buffer pages must be a power of two, got ${pages}`);
    this.map = map;
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
        this.#rings.push({ cpu, fd, mapping: m, meta: new DataView(m.buffer, 0, page), data: new Uint8Array(m.buffer, page, page * pages), poll: null });
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

  /** Copy `len` bytes at ring position `pos`, unwrapping at the end of the ring. */
  #copy(r: CpuRing, pos: number, len: number): Buffer {
    const size = r.data.byteLength;
    const off = pos % size;
    const out = Buffer.allocUnsafe(len);
    const first = Math.min(len, size - off);
    out.set(r.data.subarray(off, off + first), 0);
    if (first < len) out.set(r.data.subarray(0, len - first), first);
    return out;
  }

  /** Read every record waiting in every CPU's ring, synchronously; returns how many samples. */
  consume(fn: (rec: EventRecord) => void): number {
    if (this.#closed) throw new BpfError('CLOSED', `perf buffer ${this.map.name}: reader closed`);
    let n = 0;
    for (const r of this.#rings) n += this.#drain(r, fn);
    return n;
  }

  #drain(r: CpuRing, fn: (rec: EventRecord) => void): number {
    const head = Number(r.meta.getBigUint64(DATA_HEAD, true));
    let tail = Number(r.meta.getBigUint64(DATA_TAIL, true));
    let n = 0;
    let lost = 0;
    while (tail < head) {
      const hdr = this.#copy(r, tail, 8);
      const type = hdr.readUInt32LE(0);
      const size = hdr.readUInt16LE(6);
      if (size < 8) break; // corrupt: never loop forever
      if (type === PERF_RECORD_SAMPLE) {
        const body = this.#copy(r, tail + 8, size - 8);
        const rawSize = body.readUInt32LE(0);
        fn({ data: body.subarray(4, 4 + rawSize), cpu: r.cpu, lost });
        lost = 0;
        n++;
      } else if (type === PERF_RECORD_LOST) {
        const body = this.#copy(r, tail + 8, 16);
        const count = Number(body.readBigUInt64LE(8));
        lost += count;
        this.lost += count;
      }
      tail += size;
    }
    r.meta.setBigUint64(DATA_TAIL, BigInt(tail), true);
    return n;
  }

  /** Samples as they arrive, from every CPU, through koffi's poll on the event loop. */
  [Symbol.asyncIterator](): AsyncIterator<EventRecord> {
    if (!this.#polling) {
      this.#polling = true;
      for (const r of this.#rings) {
        const drain = () => this.#drain(r, (rec) => this.#stream.push(rec));
        r.poll = ffi.poll(r.fd.value, drain);
        drain();
      }
    }
    return this.#stream[Symbol.asyncIterator]();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.end();
    for (const r of this.#rings) {
      r.poll?.close();
      try {
        if (!this.map.closed) this.map.delete(r.cpu);
      } catch {
        // the map may already be gone with its collection
      }
      ffi.munmap(r.mapping);
      r.fd.close();
    }
    this.#rings.length = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
