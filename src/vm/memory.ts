// The emulator's address space: a set of bounds-checked regions. A pointer is
// a 64-bit value whose upper 32 bits name the region and whose lower 32 bits
// are the offset in it, so an access is one array index and one bounds check,
// and any pointer that strays outside its region (or was never a pointer)
// lands on nothing and faults.

import { BpfError } from '../errors.js';
import { fromValue, RES_HI, RES_LO } from './arith.js';

export type RegionKind = 'stack' | 'context' | 'packet' | 'map_value' | 'global' | 'memory';

/**
 * A region whose loads and stores are not plain bytes: a program context
 * (xdp_md, __sk_buff), whose u32 fields the kernel rewrites into loads of
 * pointers and kernel state. `load` returns the full 64-bit register value.
 */
export interface RegionHooks {
  /** The value, or as a number when it is a non-negative integer below 2^53 (a pointer, a u32 field: no BigInt made). */
  load(offset: number, size: number): bigint | number;
  store(offset: number, size: number, value: bigint): void;
}

export interface Region {
  /** Upper 32 bits of every address in this region. */
  readonly id: number;
  readonly name: string;
  readonly kind: RegionKind;
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly writable: boolean;
  /** Set for contexts; undefined for plain memory (always present, so regions share one shape). */
  readonly hooks: RegionHooks | undefined;
}

/** Addresses of regions below this id are exact as numbers (id * 2^32 + offset < 2^53). */
const EXACT_IDS = 0x200000;

/** Region ids start here (0 is the null pointer's). */
export const FIRST_USER_REGION = 16;
/** Upper half of a function address made by ld_imm64 src=BPF_PSEUDO_FUNC (not memory). */
export const FUNC_ADDR_ID = 0xbf;

export class Memory {
  /** Indexed by region id; holes are undefined. */
  readonly regions: (Region | undefined)[] = [];
  private nextId = FIRST_USER_REGION;
  /** Ids given back by remove(), reused before new ones. */
  private readonly free: number[] = [];

  /** `n` consecutive unused ids (a VM's stack frames), the first returned. */
  reserve(n: number): number {
    while (this.regions[this.nextId] || this.nextId === FUNC_ADDR_ID || (this.nextId < FUNC_ADDR_ID && this.nextId + n > FUNC_ADDR_ID)) this.nextId++;
    const first = this.nextId;
    this.nextId += n;
    return first;
  }

  /** The address of byte `offset` of region `id`. */
  static address(id: number, offset = 0): bigint {
    // Below region id 2^21, id * 2^32 + offset is an exact number: one BigInt, not three.
    return id < EXACT_IDS ? BigInt(id * 4294967296 + (offset >>> 0)) : (BigInt(id) << 32n) | BigInt(offset >>> 0);
  }

  /** address() as a number when it is exact (region ids below 2^21, nearly always), else as a bigint. */
  static addressValue(id: number, offset = 0): number | bigint {
    return id < EXACT_IDS ? id * 4294967296 + (offset >>> 0) : Memory.address(id, offset);
  }

  /** Map `bytes` (not copied: the program sees and changes them) and return its base address. */
  add(name: string, bytes: Uint8Array, opts: { kind?: RegionKind; writable?: boolean; id?: number; hooks?: RegionHooks } = {}): Region {
    let id = opts.id ?? this.free.pop();
    if (id === undefined) {
      // Ids count up past the one function addresses use.
      if (this.nextId === FUNC_ADDR_ID) this.nextId++;
      id = this.nextId++;
    }
    if (id === FUNC_ADDR_ID || id === 0) throw new BpfError('EMU_FAULT', `region id ${id} is reserved`);
    if (this.regions[id]) throw new BpfError('EMU_FAULT', `region id ${id} is already mapped (${this.regions[id]!.name})`);
    // An id given back (a region re-mapped under its old id) is no longer free.
    if (opts.id !== undefined) {
      const i = this.free.indexOf(id);
      if (i >= 0) this.free.splice(i, 1);
    }
    if (bytes.byteLength > 0x7fffffff) throw new BpfError('EMU_FAULT', `region ${name}: ${bytes.byteLength} bytes is more than 2 GiB`);
    const r: Region = {
      id,
      name,
      kind: opts.kind ?? 'memory',
      bytes,
      dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      writable: opts.writable ?? true,
      hooks: opts.hooks,
    };
    this.regions[id] = r;
    if (id >= this.nextId) this.nextId = id + 1;
    return r;
  }

  remove(region: Region | number): void {
    const id = typeof region === 'number' ? region : region.id;
    if (!this.regions[id]) return;
    this.regions[id] = undefined;
    if (id >= FIRST_USER_REGION) this.free.push(id);
  }

  /** The region and offset an address points at, or undefined. */
  find(addr: bigint): { region: Region; offset: number } | undefined {
    fromValue(addr);
    const r = this.regions[RES_HI >>> 0];
    const offset = RES_LO >>> 0;
    if (!r || offset >= r.bytes.byteLength) return undefined;
    return { region: r, offset };
  }

  /** `len` bytes at `addr` (a view, for helpers); undefined when not all inside one region. */
  view(addr: bigint, len: number, write = false): Uint8Array | undefined {
    // Without find()'s result object: helpers call this for every pointer argument.
    fromValue(addr);
    const r = this.regions[RES_HI >>> 0];
    const offset = RES_LO >>> 0;
    if (!r || offset >= r.bytes.byteLength || len < 0 || offset + len > r.bytes.byteLength || (write && !r.writable)) return undefined;
    return r.bytes.subarray(offset, offset + len);
  }

  /** "stack[frame 0]+504", "mem+3", or the raw hex address. */
  describe(addr: bigint): string {
    const a = BigInt.asUintN(64, addr);
    const r = this.regions[Number(a >> 32n)];
    const hex = `0x${a.toString(16)}`;
    if (!r) return `${hex} (no memory region there)`;
    const off = Number(a & 0xffffffffn) | 0;
    return `${hex} (${r.name}${off < 0 ? off : `+${off}`}, region of ${r.bytes.byteLength} bytes)`;
  }
}
