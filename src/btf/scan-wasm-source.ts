// The source of the WebAssembly module in scan-wasm.ts: its functions
// assembled opcode by opcode. Not loaded at run time (scan-wasm.ts embeds the
// bytes); a test checks that moduleBytes() is what scan-wasm.ts embeds, so a
// change here goes with regenerating SCAN_WASM_HEX: after `npm run build`,
// print moduleBytes() of dist/btf/scan-wasm-source.js as hex and paste it there.

import { ODD_NAMES } from './scan-wasm.js';

// Three functions over an imported memory. Opcodes by name.

const I32 = 0x7f;
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  ret: 0x0f,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load: 0x28,
  load8u: 0x2d,
  store: 0x36,
  const: 0x41,
  eqz: 0x45,
  eq: 0x46,
  ne: 0x47,
  ltU: 0x49,
  gtU: 0x4b,
  leU: 0x4d,
  geU: 0x4f,
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  and: 0x71,
  xor: 0x73,
  shl: 0x74,
  shrU: 0x76,
} as const;
const VOID_BLOCK = 0x40;

/** Signed LEB128 (i32.const operands). */
function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}
/** Unsigned LEB128 (sizes, counts, memarg offsets). */
function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}
const i32 = (v: number) => [op.const, ...sleb(v | 0)];
const get = (l: number) => [op.get, l];
const set = (l: number) => [op.set, l];
const tee = (l: number) => [op.tee, l];
/** 32-bit load/store (alignment hint 4) and byte load, with a constant offset. */
const load = (offset = 0) => [op.load, 2, ...uleb(offset)];
const store = (offset = 0) => [op.store, 2, ...uleb(offset)];
const load8u = (offset = 0) => [op.load8u, 0, ...uleb(offset)];
/** address of element `idx` (a local) of the u32 array at `base` (a local). */
const elem = (base: number, idx: number) => [...get(base), ...get(idx), ...i32(2), op.shl, op.add];

/**
 * walk(start, end, base, offs, names, strBase, strLen) -> n, or -1 at the
 * first record that has an unknown kind or runs past `end`. Stores each
 * record's offset from `base` in offs[] and its name_off in names[], and
 * counts at ODD_NAMES the name offsets that are not 0 and do not point just
 * past a NUL of the string section (a suffix of another string, or invalid).
 */
/**
 * nameOff = names[idx]; leave the enclosing block (br_if 0) when it is 0 or
 * not below strLen; else push strBase + nameOff: where the record's name is.
 */
const nameAddress = (names: number, idx: number, nameOff: number, strBase: number, strLen: number) => [
  ...elem(names, idx),
  ...load(0),
  ...tee(nameOff),
  op.eqz,
  op.brIf,
  0,
  ...get(nameOff),
  ...get(strLen),
  op.geU,
  op.brIf,
  0,
  ...get(strBase),
  ...get(nameOff),
  op.add,
];

function walkBody(): number[] {
  const [start, end, base, offs, names, strBase, strLen, n, off, info, kind, fixed, size, nameOff] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  return [
    1,
    7,
    I32, // seven i32 locals
    ...get(start),
    ...set(off),
    op.block,
    VOID_BLOCK, // fail
    op.block,
    VOID_BLOCK, // done
    op.loop,
    VOID_BLOCK,
    ...get(off),
    ...get(end),
    op.geU,
    op.brIf,
    1,
    ...get(off),
    ...i32(12),
    op.add,
    ...get(end),
    op.gtU,
    op.brIf,
    2,
    ...get(off),
    ...load(4),
    ...tee(info),
    ...i32(24),
    op.shrU,
    ...i32(31),
    op.and,
    ...tee(kind),
    ...load8u(0),
    ...tee(fixed),
    ...i32(255),
    op.eq,
    op.brIf,
    2,
    ...i32(12),
    ...get(fixed),
    op.add,
    ...get(kind),
    ...load8u(32),
    ...get(info),
    ...i32(0xffff),
    op.and,
    op.mul,
    op.add,
    ...set(size),
    ...get(off),
    ...get(size),
    op.add,
    ...get(end),
    op.gtU,
    op.brIf,
    2,
    ...elem(names, n),
    ...get(off),
    ...load(0),
    ...tee(nameOff),
    ...store(0),
    // odd: nameOff != 0 && (nameOff >= strLen || byte before it != 0)
    op.block,
    VOID_BLOCK,
    ...get(nameOff),
    op.eqz,
    op.brIf,
    0,
    op.block,
    VOID_BLOCK,
    ...get(nameOff),
    ...get(strLen),
    op.geU,
    op.brIf,
    0,
    ...get(strBase),
    ...get(nameOff),
    op.add,
    ...i32(1),
    op.sub,
    ...load8u(0),
    op.eqz,
    op.brIf,
    1,
    op.end,
    ...i32(0),
    ...i32(0),
    ...load(ODD_NAMES),
    ...i32(1),
    op.add,
    ...store(ODD_NAMES),
    op.end,
    ...elem(offs, n),
    ...get(off),
    ...get(base),
    op.sub,
    ...store(0),
    ...get(n),
    ...i32(1),
    op.add,
    ...set(n),
    ...get(off),
    ...get(size),
    op.add,
    ...set(off),
    op.br,
    0,
    op.end,
    op.end,
    ...get(n),
    op.ret,
    op.end,
    ...i32(-1),
    op.end,
  ];
}

/**
 * index(count, names, strBase, strLen, head, next, hashes, mask): for each
 * record from the last to the first whose name_off is in 1..strLen-1, hash
 * the NUL-terminated name at strBase+name_off into hashes[idx], and push
 * idx+1 on bucket head[hash & mask] (next[] chains; 0 ends a chain), so each
 * chain comes out in ascending id order.
 */
function indexBody(): number[] {
  const [from, to, names, strBase, strLen, head, next, hashes, mask, idx, nameOff, p, h, c, slot] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  return [
    1,
    6,
    I32,
    ...get(to),
    ...set(idx),
    op.block,
    VOID_BLOCK,
    op.loop,
    VOID_BLOCK,
    ...get(idx),
    ...get(from),
    op.leU,
    op.brIf,
    1,
    ...get(idx),
    ...i32(1),
    op.sub,
    ...set(idx),
    ...nameAddress(names, idx, nameOff, strBase, strLen),
    ...set(p),
    ...i32(0x811c9dc5),
    ...set(h),
    op.block,
    VOID_BLOCK,
    op.loop,
    VOID_BLOCK,
    ...get(p),
    ...load8u(0),
    ...tee(c),
    op.eqz,
    op.brIf,
    1,
    ...get(h),
    ...get(c),
    op.xor,
    ...i32(0x01000193),
    op.mul,
    ...set(h),
    ...get(p),
    ...i32(1),
    op.add,
    ...set(p),
    op.br,
    0,
    op.end,
    op.end,
    ...elem(hashes, idx),
    ...get(h),
    ...store(0),
    ...get(head),
    ...get(h),
    ...get(mask),
    op.and,
    ...i32(2),
    op.shl,
    op.add,
    ...set(slot),
    ...elem(next, idx),
    ...get(slot),
    ...load(0),
    ...store(0),
    ...get(slot),
    ...get(idx),
    ...i32(1),
    op.add,
    ...store(0),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
}

/**
 * find(names, count, strBase, strLen, needle, len, out, maxOut) -> matches:
 * the index of every record whose name is the `len` bytes at `needle`, in
 * ascending order into out[] (at most maxOut stored; all counted).
 */
function findBody(): number[] {
  const [names, count, strBase, strLen, needle, len, out, maxOut, idx, nameOff, p, i, m, first] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  return [
    1,
    6,
    I32,
    ...get(needle),
    ...load8u(0),
    ...set(first),
    op.block,
    VOID_BLOCK, // done
    op.loop,
    VOID_BLOCK,
    ...get(idx),
    ...get(count),
    op.geU,
    op.brIf,
    1,
    op.block,
    VOID_BLOCK, // next
    ...nameAddress(names, idx, nameOff, strBase, strLen),
    ...tee(p),
    ...load8u(0),
    ...get(first),
    op.ne,
    op.brIf,
    0,
    ...i32(1),
    ...set(i),
    op.block,
    VOID_BLOCK,
    op.loop,
    VOID_BLOCK,
    ...get(i),
    ...get(len),
    op.geU,
    op.brIf,
    1,
    ...get(p),
    ...get(i),
    op.add,
    ...load8u(0),
    ...get(needle),
    ...get(i),
    op.add,
    ...load8u(0),
    op.ne,
    op.brIf,
    2,
    ...get(i),
    ...i32(1),
    op.add,
    ...set(i),
    op.br,
    0,
    op.end,
    op.end,
    ...get(p),
    ...get(len),
    op.add,
    ...load8u(0),
    op.brIf,
    0,
    op.block,
    VOID_BLOCK,
    ...get(m),
    ...get(maxOut),
    op.geU,
    op.brIf,
    0,
    ...elem(out, m),
    ...get(idx),
    ...store(0),
    op.end,
    ...get(m),
    ...i32(1),
    op.add,
    ...set(m),
    op.end,
    ...get(idx),
    ...i32(1),
    op.add,
    ...set(idx),
    op.br,
    0,
    op.end,
    op.end,
    ...get(m),
    op.end,
  ];
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const sized = (body: number[]) => [...uleb(body.length), ...body];

export function moduleBytes(): Uint8Array {
  const funcType = (params: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(I32), 1, I32];
  const voidType = (params: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(I32), 0];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([funcType(7), voidType(9), funcType(8)])),
    // import "e" "m": a memory of at least one page
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [1], [2]])),
    ...section(
      7,
      vec([
        [...name('walk'), 0x00, 0x00],
        [...name('index'), 0x00, 0x01],
        [...name('find'), 0x00, 0x02],
      ]),
    ),
    ...section(10, vec([sized(walkBody()), sized(indexBody()), sized(findBody())])),
  ]);
}
