// Test-only: assemble BTF blobs by hand, to cover kinds and corner cases the
// clang fixtures do not produce (ENUM64, FLOAT, tags, loops, split BTF) in
// either byte order. Records are written as the raw u32 words btf.h defines.

const KIND = {
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;

const info = (kind: number, vlen: number, kflag = false): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;

export interface BuilderBase {
  /** Type count of the base (void included): first id of the split blob. */
  count: number;
  /** Base's string section length: first string offset of the split blob. */
  strLen: number;
}

export class BtfBuilder {
  readonly #words: number[][] = [];
  readonly #strings: number[] = [];
  readonly #stringOffsets = new Map<string, number>();
  readonly #base: BuilderBase | undefined;

  constructor(base?: BuilderBase) {
    this.#base = base;
    // Base BTF: offset 0 is the empty string. Split BTF starts empty.
    if (!base) this.#strings.push(0);
    this.#stringOffsets.set('', 0);
  }

  get nextId(): number {
    return (this.#base?.count ?? 1) + this.#words.length;
  }

  str(s: string): number {
    const known = this.#stringOffsets.get(s);
    if (known !== undefined) return known;
    const off = (this.#base?.strLen ?? 0) + this.#strings.length;
    this.#strings.push(...new TextEncoder().encode(s), 0);
    this.#stringOffsets.set(s, off);
    return off;
  }

  /** Append one raw record; returns its id. */
  raw(words: number[]): number {
    this.#words.push(words.map((w) => w >>> 0));
    return this.nextId - 1;
  }

  int(name: string, size: number, opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; offset?: number } = {}): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    return this.raw([this.str(name), info(KIND.int, 0), size, (enc << 24) | ((opts.offset ?? 0) << 16) | (opts.bits ?? size * 8)]);
  }
  ref(kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag', type: number, name = ''): number {
    return this.raw([this.str(name), info(KIND[kind], 0), type]);
  }
  array(elem: number, index: number, nelems: number): number {
    return this.raw([0, info(KIND.array, 0), 0, elem, index, nelems]);
  }
  composite(kind: 'struct' | 'union', name: string, size: number, members: { name: string; type: number; bitOffset: number; bitfieldSize?: number }[]): number {
    const kflag = members.some((m) => m.bitfieldSize);
    const words = [this.str(name), info(KIND[kind], members.length, kflag), size];
    for (const m of members) {
      words.push(this.str(m.name), m.type, kflag ? ((m.bitfieldSize ?? 0) << 24) | m.bitOffset : m.bitOffset);
    }
    return this.raw(words);
  }
  enum(name: string, size: number, values: [string, number][], signed = false): number {
    const words = [this.str(name), info(KIND.enum, values.length, signed), size];
    for (const [n, v] of values) words.push(this.str(n), v);
    return this.raw(words);
  }
  enum64(name: string, values: [string, bigint][], signed = false): number {
    const words = [this.str(name), info(KIND.enum64, values.length, signed), 8];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      words.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.raw(words);
  }
  fwd(name: string, isUnion = false): number {
    return this.raw([this.str(name), info(KIND.fwd, 0, isUnion), 0]);
  }
  func(name: string, proto: number, linkage = 1): number {
    return this.raw([this.str(name), info(KIND.func, linkage), proto]);
  }
  proto(ret: number, params: [string, number][]): number {
    const words = [0, info(KIND.func_proto, params.length), ret];
    for (const [n, t] of params) words.push(this.str(n), t);
    return this.raw(words);
  }
  var(name: string, type: number, linkage = 1): number {
    return this.raw([this.str(name), info(KIND.var, 0), type, linkage]);
  }
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    const words = [this.str(name), info(KIND.datasec, vars.length), size];
    for (const v of vars) words.push(...v);
    return this.raw(words);
  }
  float(name: string, size: number): number {
    return this.raw([this.str(name), info(KIND.float, 0), size]);
  }
  declTag(name: string, type: number, componentIdx: number): number {
    return this.raw([this.str(name), info(KIND.decl_tag, 0), type, componentIdx]);
  }

  get strLen(): number {
    return this.#strings.length;
  }

  build(littleEndian = true): Uint8Array {
    const typeLen = this.#words.reduce((n, w) => n + w.length * 4, 0);
    const strLen = this.#strings.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, littleEndian);
    v.setUint8(2, 1);
    v.setUint8(3, 0);
    v.setUint32(4, 24, littleEndian);
    v.setUint32(8, 0, littleEndian);
    v.setUint32(12, typeLen, littleEndian);
    v.setUint32(16, typeLen, littleEndian);
    v.setUint32(20, strLen, littleEndian);
    let off = 24;
    for (const rec of this.#words) {
      for (const w of rec) {
        v.setUint32(off, w, littleEndian);
        off += 4;
      }
    }
    out.set(this.#strings, off);
    return out;
  }
}
