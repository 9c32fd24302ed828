// map.view(): the values of a BPF_F_MMAPABLE array map read and written in
// place through the map's mmap — no syscall per access. Elements of 1, 2 and
// 4 bytes are numbers, 8-byte elements bigints (unsigned: a map has no
// signedness; use BTF-typed globals for that), other sizes Uint8Array copies.

import { BpfError } from '../errors.js';
import type { MapMemory } from './memory.js';

export class MapView {
  /** Number of elements (max_entries). */
  readonly length: number;
  /** Bytes per element (value_size); elements are 8-byte aligned in memory. */
  readonly valueSize: number;
  readonly #mem: MapMemory;
  readonly #name: string;
  readonly #stride: number;
  readonly #u8: Uint8Array;
  readonly #u16: Uint16Array | null;
  readonly #u32: Uint32Array | null;
  readonly #u64: BigUint64Array | null;

  /** @internal BpfMap.view() makes these. */
  constructor(mem: MapMemory, name: string, valueSize: number, length: number) {
    this.#mem = mem;
    this.#name = name;
    this.length = length;
    this.valueSize = valueSize;
    this.#stride = (valueSize + 7) & ~7;
    const words = mem.size;
    this.#u8 = new Uint8Array(mem.buffer, 0, words);
    this.#u16 = valueSize === 2 ? new Uint16Array(mem.buffer, 0, words / 2) : null;
    this.#u32 = valueSize === 4 ? new Uint32Array(mem.buffer, 0, words / 4) : null;
    this.#u64 = valueSize === 8 ? new BigUint64Array(mem.buffer, 0, words / 8) : null;
  }

  /** Element `index`: number (1, 2, 4 bytes), bigint (8 bytes) or a Uint8Array copy. */
  get(index: number): number | bigint | Uint8Array {
    if (!this.#mem.valid) throw this.#mem.closedError();
    this.#checkIndex(index);
    const at = index * this.#stride;
    switch (this.valueSize) {
      case 8:
        return this.#u64![at >> 3]!;
      case 4:
        return this.#u32![at >> 2]!;
      case 2:
        return this.#u16![at >> 1]!;
      case 1:
        return this.#u8[at]!;
      default:
        return this.#u8.slice(at, at + this.valueSize);
    }
  }

  /** Write element `index`: a number or bigint for 1/2/4/8-byte elements, or exactly valueSize bytes. */
  set(index: number, value: number | bigint | Uint8Array): void {
    if (!this.#mem.valid) throw this.#mem.closedError();
    if (this.#mem.readOnly) throw this.#mem.readOnlyError(`map "${this.#name}" view`);
    this.#checkIndex(index);
    const at = index * this.#stride;
    const size = this.valueSize;
    if (value instanceof Uint8Array) {
      if (value.byteLength !== size) throw this.#valueError(`is ${value.byteLength} bytes`);
      this.#u8.set(value, at);
      return;
    }
    if (size === 8) {
      const big = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : null;
      if (big === null || big < -(1n << 63n) || big >= 1n << 64n) throw this.#valueError(`${value} does not fit`);
      this.#u64![at >> 3] = BigInt.asUintN(64, big);
      return;
    }
    const n = typeof value === 'bigint' ? Number(value) : value;
    const half = size === 4 ? 0x8000_0000 : size === 2 ? 0x8000 : 0x80;
    if (size > 4 || !Number.isInteger(n) || n < -half || n >= 2 * half) throw this.#valueError(`${value} does not fit`);
    if (size === 4) this.#u32![at >> 2] = n;
    else if (size === 2) this.#u16![at >> 1] = n;
    else this.#u8[at] = n;
  }

  /** Every element, in index order. */
  *[Symbol.iterator](): Generator<number | bigint | Uint8Array> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** False once the map is closed: every access then throws CLOSED. */
  get valid(): boolean {
    return this.#mem.valid;
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new BpfError('KEY_SIZE', `map "${this.#name}": index ${index} is outside 0..${this.length - 1}`);
  }

  #valueError(problem: string): BpfError {
    return new BpfError('VALUE_SIZE', `map "${this.#name}": value ${problem} in the ${this.valueSize}-byte value_size`);
  }
}
