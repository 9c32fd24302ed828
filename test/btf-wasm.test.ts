// The WebAssembly parse pass, name search and name index for big base BTF
// (src/btf/scan-wasm.ts) must give what the JavaScript path gives,
// and what bpftool says about the same blob. vmlinux is the big blob here;
// the synthetic blobs below are big enough (>= WASM_MIN_BYTES) to take the
// WebAssembly path anywhere.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import { btfBlob } from '../src/btf/features.js';
import { btfBuffer, SCAN_WASM_HEX, setWasmScanEnabled, WASM_MIN_BYTES } from '../src/btf/scan-wasm.js';
import { moduleBytes } from '../src/btf/scan-wasm-source.js';
import { bigOutput } from './helpers/big-output.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

afterEach(() => setWasmScanEnabled(true));

function jsParse(bytes: Uint8Array): Btf {
  setWasmScanEnabled(false);
  try {
    return parseBtf(bytes);
  } finally {
    setWasmScanEnabled(true);
  }
}

/** Whether `btf` went through the WebAssembly path (its raw bytes live in a wasm memory). */
const inWasm = (btf: Btf) => btf.raw.buffer.constructor.name === 'ArrayBuffer' && btf.raw.byteOffset > 0 && btf.raw.buffer.byteLength > btf.raw.byteLength;

/**
 * A big base BTF: `n` structs named s0…s{n-1} (each with one int member
 * named m), an int, and strings padded so the blob passes WASM_MIN_BYTES.
 */
function bigBtf(n: number, opts: { suffixName?: boolean } = {}): Uint8Array {
  const strOff = new Map<string, number>();
  let off = 0;
  const addStr = (s: string) => {
    if (!strOff.has(s)) {
      strOff.set(s, off);
      off += Buffer.byteLength(s) + 1;
    }
    return strOff.get(s)!;
  };
  const all: string[] = [];
  const push = (s: string) => {
    if (!strOff.has(s)) all.push(s);
    return addStr(s);
  };
  push('');
  const intName = push('int');
  const mName = push('m');
  const names = Array.from({ length: n }, (_, i) => push(`s${i}`));
  // Pad the string section so the whole blob is big enough.
  const pad = 'x'.repeat(1000);
  let k = 0;
  while (off + n * 24 + 16 + 24 < WASM_MIN_BYTES + 4096) push(`${pad}${k++}`);
  const words: number[] = [];
  // [1] int
  words.push(intName, (1 << 24) >>> 0, 4, (1 << 24) | 32);
  for (let i = 0; i < n; i++) {
    // A name offset into the middle of "s10…" ("0…" suffix) when asked: names need not start a string.
    const nameOff = opts.suffixName && i === 1 ? names[10]! + 1 : names[i]!;
    words.push(nameOff, ((4 << 24) | 1) >>> 0, 4, mName, 1, 0);
  }
  return btfBlob(words, all.map((s) => `${s}\0`).join(''));
}

const ids = (ts: { id: number }[]) => ts.map((t) => t.id);

describe('BTF scan in WebAssembly', () => {
  it('embeds exactly the module scan-wasm-source.ts assembles', () => {
    expect(Buffer.from(moduleBytes()).toString('hex')).toBe(SCAN_WASM_HEX);
  });

  it('a big blob takes the WebAssembly path and parses as the JavaScript path does', () => {
    const bytes = bigBtf(3000);
    expect(bytes.byteLength).toBeGreaterThanOrEqual(WASM_MIN_BYTES);
    const w = parseBtf(bytes);
    const j = jsParse(bytes);
    expect(inWasm(w)).toBe(true);
    expect(inWasm(j)).toBe(false);
    expect(w.count).toBe(3002);
    expect(j.count).toBe(3002);
    for (const id of [1, 2, 3, 1500, 3001]) expect(w.typeById(id)).toEqual(j.typeById(id));
    expect(w.typeById(2)).toMatchObject({ kind: 'struct', name: 's0', size: 4, members: [{ name: 'm', type: 1 }] });
    // The first lookups search, later ones use the index: the same answers throughout.
    for (let round = 0; round < 3; round++) {
      for (const name of ['s0', 's1', 's10', 's2999', 'int', 'm', 's3000', 'x']) {
        expect(ids(w.findAllByName(name))).toEqual(ids(j.findAllByName(name)));
      }
    }
    expect(ids(w.findAllByName('s2999'))).toEqual([3001]);
    expect(w.findByName('int', 'int')?.id).toBe(1);
    expect(w.findAllByName('m')).toEqual([]); // a member name, not a type name
  });

  it('finds a type whose name offset points into the middle of another string', () => {
    const bytes = bigBtf(3000, { suffixName: true });
    const w = parseBtf(bytes);
    const j = jsParse(bytes);
    // Type [3] (s1) is named by the tail of "s10": "10".
    expect(w.typeById(3).name).toBe('10');
    for (let round = 0; round < 10; round++) {
      expect(ids(w.findAllByName('10'))).toEqual([3]);
      expect(ids(w.findAllByName('s10'))).toEqual(ids(j.findAllByName('s10')));
    }
  });

  it("a malformed big blob fails with the JavaScript path's error", () => {
    const bytes = bigBtf(3000);
    // Kind 31 in the info word of type [1500].
    const at = 24 + 16 + (1500 - 2) * 24 + 4;
    new DataView(bytes.buffer).setUint32(at, (31 << 24) >>> 0, true);
    let wasmErr: unknown;
    let jsErr: unknown;
    try {
      parseBtf(bytes);
    } catch (e) {
      wasmErr = e;
    }
    try {
      jsParse(bytes);
    } catch (e) {
      jsErr = e;
    }
    expect(wasmErr).toBeInstanceOf(BpfError);
    expect((wasmErr as BpfError).code).toBe('BTF_INVALID');
    expect((wasmErr as Error).message).toBe((jsErr as Error).message);
    expect((wasmErr as Error).message).toContain('type [1500] has unknown kind 31');
  });

  it('btfBuffer gives a buffer parseBtf scans in place, and a plain one below the threshold', () => {
    const bytes = bigBtf(3000);
    const buf = btfBuffer(bytes.byteLength);
    buf.set(bytes);
    const btf = parseBtf(buf);
    expect(btf.raw).toBe(buf);
    expect(btfBuffer(100).buffer.byteLength).toBe(100);
  });
});

describe('the same buffer parsed twice (its WebAssembly arena reused)', () => {
  it("the second name index does not chain into the first one's buckets", () => {
    // Found by the BTF fuzzer (a mutated vmlinux re-parsed in place): the
    // index kept the first parse's bucket heads, so a chain looped back on
    // itself and a lookup never ended.
    const bytes = bigBtf(200);
    const buf = btfBuffer(bytes.length);
    buf.set(bytes);
    const lookups = (btf: Btf) => Array.from({ length: 20 }, (_, i) => ids(btf.findAllByName(`s${i * 7}`)));
    const first = parseBtf(buf);
    expect(inWasm(first)).toBe(true);
    const want = lookups(jsParse(bytes.slice()));
    expect(lookups(first)).toEqual(want);
    // Rename struct s7 (type [9]) to s14 in place, and parse the same buffer again.
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const rec = 24 + 16 + 7 * 24;
    const s14 = dv.getUint32(24 + 16 + 14 * 24, true);
    dv.setUint32(rec, s14, true);
    const second = parseBtf(buf);
    expect(inWasm(second)).toBe(true);
    const after = lookups(second);
    expect(after).toEqual(lookups(jsParse(buf.slice())));
    expect(after[1]).toEqual([]);
    expect(after[2]).toEqual([9, 16]);
  });
});

describe.skipIf(!existsSync(VMLINUX))('vmlinux through the WebAssembly path', () => {
  const bytes = existsSync(VMLINUX) ? new Uint8Array(readFileSync(VMLINUX)) : new Uint8Array();
  let dump = '';
  try {
    dump = bigOutput('bpftool', ['btf', 'dump', 'file', VMLINUX]);
  } catch {
    // no bpftool: the comparison with the JavaScript path still runs
  }
  /** bpftool's ids of the types named `name`. */
  const bpftoolIds = (name: string) => [...dump.matchAll(new RegExp(`^\\[(\\d+)\\] \\S+ '${name}'`, 'gm'))].map((m) => Number(m[1]));

  it('same count, types and name lookups as the JavaScript path and bpftool', () => {
    const w = parseBtf(bytes, { source: VMLINUX });
    const j = jsParse(bytes);
    expect(inWasm(w)).toBe(true);
    expect(w.count).toBe(j.count);
    if (dump) expect(w.count - 1).toBe(dump.match(/^\[/gm)?.length);
    for (let id = 1; id < w.count; id += 97) expect(w.typeById(id)).toEqual(j.typeById(id));
    const names = ['task_struct', 'sk_buff', 'pid', 'file', 'int', 'u32', 'bpf_map', 'xdp_md', 'iphdr', 'list_head', 'no_such_type_here'];
    // Twice over: the first lookups search, later ones use the index.
    for (const name of [...names, ...names]) {
      const got = ids(w.findAllByName(name));
      expect(got).toEqual(ids(j.findAllByName(name)));
      if (dump) expect(got).toEqual(bpftoolIds(name));
    }
    expect(w.findAllByName('task_struct').length).toBeGreaterThanOrEqual(1);
  });
});
