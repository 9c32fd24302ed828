// An owned file descriptor. Closing is explicit (close() or `using`); the
// FinalizationRegistry is only a safety net for Fds that were dropped while
// still open, so a leak in user code does not leak kernel objects forever.

import { BpfError } from '../errors.js';
import * as ffi from './ffi.js';
const { readlinkSync } = process.getBuiltinModule('node:fs');

// Holds the raw number only: the registry must not keep the Fd itself alive.
const leaked = new FinalizationRegistry<number>((fd) => {
  ffi.close(fd);
});

export class Fd {
  #fd: number;
  /** What the fd refers to, for error messages ("map counters"). */
  readonly label: string;

  constructor(fd: number, label = 'fd') {
    if (!Number.isInteger(fd) || fd < 0) throw new BpfError('CLOSED', `${label}: invalid file descriptor ${fd}`);
    this.#fd = fd;
    this.label = label;
    leaked.register(this, fd, this);
  }

  /** The raw descriptor; throws BpfError('CLOSED') once closed. */
  get value(): number {
    if (this.#fd < 0) throw new BpfError('CLOSED', `${this.label}: file descriptor already closed`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Close once; later calls do nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    leaked.unregister(this);
    ffi.close(fd);
  }

  /** A new, independently owned descriptor for the same kernel object (close-on-exec). */
  dup(label = this.label): Fd {
    const r = ffi.dupCloexec(this.value);
    if (r < 0) throw new BpfError('CLOSED', `${this.label}: dup failed with errno ${-r}`);
    return new Fd(r, label);
  }

  /** Give up ownership: the caller now closes the returned number. */
  release(): number {
    const fd = this.value;
    this.#fd = -1;
    leaked.unregister(this);
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd < 0 ? `${this.label} (closed)` : `${this.label} (fd ${this.#fd})`;
  }
}

/** What kind of BPF object an fd refers to. */
export type FdKind = 'map' | 'prog' | 'link' | 'btf' | 'other';

// Every BPF object fd is an anon inode whose /proc link names its kind:
// "anon_inode:bpf-map", "anon_inode:bpf-prog", "anon_inode:bpf-link", "anon_inode:btf".
export function fdKind(fd: number): FdKind {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return 'other';
  }
  return fdKindOfLink(target);
}

/** The kind of BPF object a /proc/<pid>/fd/<n> link names (any process's). */
export function fdKindOfLink(target: string): FdKind {
  switch (target) {
    case 'anon_inode:bpf-map':
      return 'map';
    case 'anon_inode:bpf-prog':
      return 'prog';
    case 'anon_inode:bpf_link': // from LINK_CREATE
    case 'anon_inode:bpf-link': // from OBJ_GET of a pinned link
      return 'link';
    case 'anon_inode:btf':
      return 'btf';
    default:
      return 'other';
  }
}
