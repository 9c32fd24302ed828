// The memory of a BPF_F_MMAPABLE array map, mapped into this process: reads
// and writes reach the map's values with no syscall (what libbpf's skeleton
// and cilium/ebpf's Variable do for global data).
//
// A JS ArrayBuffer over unmapped memory crashes the process when touched, and
// an external ArrayBuffer cannot be detached from JS. So the mapping is never
// unmapped while JS may hold a view: invalidate() (on map close) swaps the
// map's pages for private anonymous memory in place — the kernel map is
// released, the address range stays valid — and every accessor bpf-ts hands
// out checks `valid` and throws a BpfError (CLOSED). The range is unmapped
// only when the ArrayBuffer itself is garbage collected.

import { BpfError } from '../errors.js';
import * as ffi from '../sys/ffi.js';
import { retire, unmapWhenCollected } from '../sys/mapping.js';

const EPERM = 1;

export class MapMemory {
  /** The mapped bytes: the map's values back to back, each padded to 8 bytes. */
  readonly buffer: ArrayBuffer;
  /** Writes are refused (frozen map, or opened read-only): the pages are PROT_READ. */
  readonly readOnly: boolean;
  /** Bytes of the map's values (round_up(value_size, 8) × max_entries); the mapping is page-rounded. */
  readonly size: number;
  readonly #label: string;
  #mapping: ffi.Mapping | null;

  private constructor(mapping: ffi.Mapping, size: number, readOnly: boolean, label: string) {
    this.#mapping = mapping;
    this.buffer = mapping.buffer;
    this.size = size;
    this.readOnly = readOnly;
    this.#label = label;
    unmapWhenCollected(mapping);
  }

  /**
   * mmap the values of array map `fd` (value_size × max_entries, each value
   * padded to 8 bytes). Read-write unless `readOnly`, or the kernel refuses a
   * writable mapping (a frozen map): then read-only.
   */
  static map(fd: number, valueSize: number, maxEntries: number, label: string, readOnly = false): MapMemory {
    const size = ((valueSize + 7) & ~7) * maxEntries;
    const page = ffi.pageSize();
    const length = Math.max(page, Math.ceil(size / page) * page);
    let m = readOnly ? -EPERM : ffi.mmap(length, ffi.PROT_READ | ffi.PROT_WRITE, ffi.MAP_SHARED, fd, 0);
    let ro = readOnly;
    if (m === -EPERM) {
      m = ffi.mmap(length, ffi.PROT_READ, ffi.MAP_SHARED, fd, 0);
      ro = true;
    }
    if (typeof m === 'number') throw new BpfError('NOT_MMAPABLE', `${label}: mmap of the map's values failed (errno ${-m}); the map must be an array created with BPF_F_MMAPABLE`);
    return new MapMemory(m, size, ro, label);
  }

  get valid(): boolean {
    return this.#mapping !== null;
  }

  /** Throws CLOSED once the map is closed. */
  check(): void {
    if (this.#mapping === null) throw this.closedError();
  }

  closedError(): BpfError {
    return new BpfError('CLOSED', `${this.#label} is closed: its mapped view is no longer valid`);
  }

  readOnlyError(what: string): BpfError {
    return new BpfError('READ_ONLY', `${this.#label}: ${what} is read-only (the map is frozen or opened read-only)`);
  }

  /** Release the kernel map's pages; views stay safe to touch but every accessor now throws CLOSED. */
  invalidate(): void {
    const m = this.#mapping;
    if (!m) return;
    this.#mapping = null;
    retire(m);
  }
}
