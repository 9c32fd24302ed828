import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { parseBtf, type Btf } from '../src/btf/btf.js';
import { CORE_RELO_KIND_NAMES, parseBtfExt, type BtfExt } from '../src/btf/ext.js';
import { BtfBuilder } from './helpers/btf-builder.js';
import { elfSection } from './helpers/elf-section.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const objects = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.o'))
      .map((f) => f.slice(0, -2))
      .sort()
  : [];

function load(name: string): { btf: Btf; ext: BtfExt; extBytes: Uint8Array } {
  const path = `${FIXTURES}${name}.o`;
  const btfSec = elfSection(path, '.BTF');
  const extSec = elfSection(path, '.BTF.ext');
  if (!btfSec || !extSec) throw new Error(`${name}.o lacks .BTF or .BTF.ext`);
  const btf = parseBtf(btfSec.bytes, { source: `fixtures/${name}.o` });
  return { btf, ext: parseBtfExt(extSec.bytes, btf, { source: `fixtures/${name}.o` }), extBytes: extSec.bytes };
}

/** Section names and FUNC symbols as listed by the committed readelf output. */
function readelf(name: string) {
  const text = readFileSync(`${FIXTURES}${name}.readelf.txt`, 'utf8');
  const sections = new Map<number, { name: string; size: number }>();
  for (const m of text.matchAll(/^\s*\[\s*(\d+)\] (\S+)\s+\S+\s+[0-9a-f]+ [0-9a-f]+ ([0-9a-f]+)/gm)) {
    sections.set(Number(m[1]), { name: m[2]!, size: parseInt(m[3]!, 16) });
  }
  const funcs = [...text.matchAll(/^\s*\d+: ([0-9a-f]+)\s+\d+ FUNC\s+\w+\s+\w+\s+(\d+) (\S+)$/gm)].map((m) => ({
    offset: parseInt(m[1]!, 16),
    section: sections.get(Number(m[2]))!.name,
    name: m[3]!,
  }));
  return { sections: [...sections.values()], funcs };
}

function bpfError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw new Error(`expected BpfError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected BpfError, nothing was thrown');
}

const withExt = objects.filter((n) => elfSection(`${FIXTURES}${n}.o`, '.BTF.ext'));

describe('parseBtfExt on fixtures', () => {
  it('finds fixtures with .BTF.ext', () => {
    expect(withExt).toContain('icmp_even_drop');
    expect(withExt).toContain('core_echo_dropper');
  });

  for (const name of withExt) {
    it(`${name}: func_info matches the symbol table, line_info points at .c lines`, () => {
      const { btf, ext } = load(name);
      expect(ext.funcInfo.size).toBeGreaterThan(0);
      expect(ext.funcInfoRecSize).toBeGreaterThanOrEqual(8);
      expect(ext.lineInfoRecSize).toBeGreaterThanOrEqual(16);
      const elf = existsSync(`${FIXTURES}${name}.readelf.txt`) ? readelf(name) : null;
      for (const [section, infos] of ext.funcInfo) {
        for (const fi of infos) {
          const fn = btf.typeById(fi.typeId);
          expect(fn.kind).toBe('func');
          if (elf) {
            // insnOff is an instruction index: symbol value / 8.
            const sym = elf.funcs.find((f) => f.section === section && f.offset === fi.insnOff * 8);
            expect(sym?.name, `${section}+${fi.insnOff}`).toBe(fn.name);
          }
        }
      }
      expect(ext.lineInfo.size).toBeGreaterThan(0);
      for (const [section, lines] of ext.lineInfo) {
        const limit = elf?.sections.find((s) => s.name === section)?.size;
        let prev = 0;
        expect(lines[0]!.line).toBeGreaterThan(0);
        for (const li of lines) {
          expect(li.fileName).toMatch(/\.c$/);
          expect(li.fileName).toBe(btf.stringAt(li.fileNameOff));
          expect(li.source).toBe(btf.stringAt(li.lineOff));
          // clang 14 emits line 0 (with no source text) for compiler-made code.
          if (li.line === 0) expect(li.source).toBe('');
          else expect(li.line).toBeGreaterThan(0);
          expect(li.column).toBeLessThan(1024);
          expect(li.insnOff).toBeGreaterThanOrEqual(prev);
          if (limit !== undefined) expect(li.insnOff * 8).toBeLessThan(limit);
          prev = li.insnOff;
        }
      }
    });
  }

  it('icmp_even_drop: section "xdp" starts with FUNC xdp_even_drop', () => {
    const { btf, ext } = load('icmp_even_drop');
    const xdp = ext.funcInfo.get('xdp');
    expect(xdp).toHaveLength(1);
    expect(xdp![0]!.insnOff).toBe(0);
    expect(btf.typeById(xdp![0]!.typeId)).toMatchObject({ kind: 'func', name: 'xdp_even_drop' });
    const first = ext.lineInfo.get('xdp')![0]!;
    expect(first).toMatchObject({ insnOff: 0, fileName: './icmp_even_drop.c', source: 'int xdp_even_drop(struct xdp_md *ctx)' });
    expect(ext.coreRelocations.size).toBe(0);
  });

  it('subprogs: .text holds several functions at their instruction indices', () => {
    const { btf, ext } = load('subprogs');
    const names = (sec: string) => ext.funcInfo.get(sec)!.map((f) => [f.insnOff, btf.typeById(f.typeId).name]);
    expect(names('.text')).toEqual([
      [0, 'mul_two'],
      [3, 'add_one'],
      [6, 'sum_index'],
    ]);
    expect(names('xdp')).toEqual([
      [0, 'xdp_a'],
      [3, 'xdp_b'],
      [8, 'xdp_c'],
      [10, 'xdp_loop'],
    ]);
  });

  it('core_echo_dropper: field_byte_offset relocations with "0:n" access strings', () => {
    const { btf, ext } = load('core_echo_dropper');
    const relos = ext.coreRelocations.get('xdp');
    expect(relos?.length).toBeGreaterThan(0);
    expect(ext.coreReloRecSize).toBe(16);
    for (const r of relos!) {
      expect(r.kind).toBe(0);
      expect(r.kindName).toBe('field_byte_offset');
      expect(r.accessStr).toMatch(/^0(:\d+)+$/);
      expect(['struct', 'union']).toContain(btf.typeById(r.typeId).kind);
    }
    expect(relos![0]).toMatchObject({ insnOff: 1, accessStr: '0:0' });
    expect(btf.typeById(relos![0]!.typeId).name).toBe('xdp_md');
    const names = new Set(relos!.map((r) => btf.typeById(r.typeId).name));
    expect(names).toContain('iphdr');
    expect(names).toContain('ethhdr');
  });

  it.skipIf(!objects.includes('core_reads'))('core_reads: every kind of CO-RE relocation the source uses', () => {
    const { btf, ext } = load('core_reads');
    const relos = [...ext.coreRelocations.values()].flat();
    const kinds = new Set(relos.map((r) => r.kindName));
    for (const k of ['field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64', 'field_rshift_u64', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value']) {
      expect(kinds).toContain(k);
    }
    for (const r of relos) expect(r.kindName).toBe(CORE_RELO_KIND_NAMES[r.kind]);
    // Enum relocations name the enumerator by index; type relocations use "0".
    const enumval = relos.find((r) => r.kindName === 'enumval_value')!;
    const en = btf.typeById(enumval.typeId);
    expect(en).toMatchObject({ kind: 'enum', name: 'bpf_map_type' });
    if (en.kind === 'enum') expect(en.values[Number(enumval.accessStr)]!.name).toBe('BPF_MAP_TYPE_RINGBUF');
    const typeExists = relos.filter((r) => r.kindName === 'type_exists');
    expect(typeExists.map((r) => r.accessStr)).toEqual(['0', '0']);
  });

  const bigEndian = withExt.filter((n) => n.endsWith('.bpfeb') && withExt.includes(n.replace(/\.bpfeb$/, '')));
  for (const be of bigEndian) {
    it(`${be}: big-endian .BTF.ext decodes like the little-endian one`, () => {
      // Code generation differs between the two targets, so instruction
      // offsets may too; the functions, files and relocations may not.
      const b = load(be);
      const l = load(be.replace(/\.bpfeb$/, ''));
      const funcs = (x: ReturnType<typeof load>) => [...x.ext.funcInfo].map(([sec, fis]) => [sec, fis.map((f) => x.btf.typeById(f.typeId).name)]);
      expect(funcs(b)).toEqual(funcs(l));
      expect(funcs(b).length).toBeGreaterThan(0);
      const files = (x: ReturnType<typeof load>) => [...x.ext.lineInfo].map(([sec, lis]) => [sec, [...new Set(lis.map((li) => li.fileName))]]);
      expect(files(b)).toEqual(files(l));
      const relos = (x: ReturnType<typeof load>) => [...x.ext.coreRelocations].map(([sec, rs]) => [sec, rs.map((r) => [r.kindName, r.accessStr, x.btf.typeById(r.typeId).name])]);
      expect(relos(b)).toEqual(relos(l));
      expect([b.ext.funcInfoRecSize, b.ext.lineInfoRecSize]).toEqual([l.ext.funcInfoRecSize, l.ext.lineInfoRecSize]);
    });
  }
});

/** A .BTF.ext built by hand: header + blocks of [recSize, ...groups]. */
function buildExt(opts: { hdrLen?: number; func?: number[]; line?: number[]; core?: number[]; littleEndian?: boolean }): Uint8Array {
  const le = opts.littleEndian ?? true;
  const hdrLen = opts.hdrLen ?? 32;
  const blocks = [opts.func ?? [], opts.line ?? [], opts.core ?? []];
  const words = blocks.flat();
  const out = new Uint8Array(hdrLen + words.length * 4);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, le);
  v.setUint8(2, 1);
  v.setUint32(4, hdrLen, le);
  let off = 0;
  const fields = hdrLen >= 32 ? 3 : 2;
  for (let i = 0; i < fields; i++) {
    v.setUint32(8 + i * 8, off, le);
    v.setUint32(12 + i * 8, blocks[i]!.length * 4, le);
    off += blocks[i]!.length * 4;
  }
  words.forEach((w, i) => v.setUint32(hdrLen + i * 4, w >>> 0, le));
  return out;
}

describe('parseBtfExt on synthetic input', () => {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true });
  const proto = b.proto(int, []);
  const fn = b.func('prog', proto);
  const st = b.composite('struct', 's', 4, [{ name: 'x', type: int, bitOffset: 0 }]);
  const sec = b.str('xdp');
  const file = b.str('/src/prog.c');
  const src = b.str('int prog(void)');
  const acc = b.str('0:0');
  const text = b.str('.text');
  const btfBytes = b.build();
  const btf = parseBtf(btfBytes);
  const label = 'prog.o';
  const parse = (bytes: Uint8Array) => parseBtfExt(bytes, btf, { source: label });
  const expectInvalid = (bytes: Uint8Array, message: RegExp) => {
    const err = bpfError(() => parse(bytes));
    expect(err.code).toBe('BTF_EXT_INVALID');
    expect(err.message.startsWith(`${label}: .BTF.ext: `)).toBe(true);
    expect(err.message).toMatch(message);
  };

  const good = {
    func: [8, sec, 2, 0, fn, 16, fn],
    line: [16, sec, 1, 8, file, src, (12 << 10) | 5],
    core: [16, sec, 1, 24, st, acc, 0],
  };

  it('decodes all three blocks, converting byte offsets to instruction indices', () => {
    for (const littleEndian of [true, false]) {
      const ext = parseBtfExt(buildExt({ ...good, littleEndian }), btf);
      expect(ext.funcInfo.get('xdp')).toEqual([
        { insnOff: 0, typeId: fn },
        { insnOff: 2, typeId: fn },
      ]);
      expect(ext.lineInfo.get('xdp')).toEqual([{ insnOff: 1, fileNameOff: file, lineOff: src, line: 12, column: 5, fileName: '/src/prog.c', source: 'int prog(void)' }]);
      expect(ext.coreRelocations.get('xdp')).toEqual([{ insnOff: 3, typeId: st, accessStr: '0:0', accessStrOff: acc, kind: 0, kindName: 'field_byte_offset' }]);
    }
  });

  it('honours rec_size larger than the fields it knows', () => {
    const ext = parse(
      buildExt({
        func: [12, sec, 2, 0, fn, 0xdead, 8, fn, 0xbeef],
        line: [20, sec, 1, 8, file, src, 1 << 10, 0x1234],
        core: [24, sec, 1, 8, st, acc, 2, 7, 7],
      }),
    );
    expect(ext.funcInfoRecSize).toBe(12);
    expect(ext.funcInfo.get('xdp')).toEqual([
      { insnOff: 0, typeId: fn },
      { insnOff: 1, typeId: fn },
    ]);
    expect(ext.lineInfo.get('xdp')![0]).toMatchObject({ line: 1, column: 0 });
    expect(ext.coreRelocations.get('xdp')![0]).toMatchObject({ kind: 2, kindName: 'field_exists' });
  });

  it('accepts the short header of older LLVM (no CO-RE fields) and empty blocks', () => {
    const ext = parse(buildExt({ hdrLen: 24, func: good.func }));
    expect(ext.funcInfo.get('xdp')).toHaveLength(2);
    expect(ext.lineInfo.size).toBe(0);
    expect(ext.coreRelocations.size).toBe(0);
    expect(ext.lineInfoRecSize).toBe(0);
  });

  it('groups several sections and merges repeated ones', () => {
    const ext = parse(buildExt({ func: [8, sec, 1, 0, fn, text, 1, 16, fn, sec, 1, 8, fn] }));
    expect([...ext.funcInfo.keys()]).toEqual(['xdp', '.text']);
    expect(ext.funcInfo.get('xdp')!.map((f) => f.insnOff)).toEqual([0, 1]);
    expect(ext.funcInfo.get('.text')!.map((f) => f.insnOff)).toEqual([2]);
  });

  it('names unknown CO-RE kinds instead of failing', () => {
    const ext = parse(buildExt({ core: [16, sec, 1, 0, st, acc, 42] }));
    expect(ext.coreRelocations.get('xdp')![0]).toMatchObject({ kind: 42, kindName: 'unknown(42)' });
  });

  it('rejects malformed headers and blocks with BTF_EXT_INVALID', () => {
    const ok = buildExt(good);
    const patch = (at: number, value: number, width: 1 | 2 | 4 = 4) => {
      const c = new Uint8Array(ok);
      const v = new DataView(c.buffer);
      if (width === 4) v.setUint32(at, value, true);
      else if (width === 2) v.setUint16(at, value, true);
      else v.setUint8(at, value);
      return c;
    };
    expectInvalid(ok.subarray(0, 10), /truncated header \(10 bytes, need 24\)/);
    expectInvalid(patch(0, 0xbeef, 2), /bad magic 0xbeef/);
    expectInvalid(patch(2, 9, 1), /unsupported version 9/);
    expectInvalid(patch(4, 16), /header length 16 below 24/);
    expectInvalid(patch(4, 4096), /header length 4096 past end/);
    expectInvalid(patch(8, 1000), /func_info 1000\+28 past end of data/);
    expectInvalid(patch(20, 1000), /line_info \d+\+1000 past end of data/);
    expectInvalid(patch(28, 1000), /core_relo \d+\+1000 past end of data/);
    expectInvalid(patch(32, 4), /func_info record size 4 below 8/);
    expectInvalid(patch(32, 10), /func_info record size 10 is not a multiple of 4/);
    expectInvalid(patch(32 + 28, 8), /line_info record size 8 below 16/);
    expectInvalid(patch(32 + 56, 12), /core_relo record size 12 below 16/);
    expectInvalid(patch(36, 99999), /func_info section name string offset 99999 past .BTF string section/);
    expectInvalid(patch(40, 0), /func_info for section 'xdp' has no records/);
    expectInvalid(patch(40, 0x40000000), /1073741824 records of 8 bytes run past the end/);
    expectInvalid(patch(44, 4), /instruction offset 4 is not a multiple of 8/);
    expectInvalid(patch(48, 500), /func_info in 'xdp' type id 500 out of range/);
    expectInvalid(patch(32 + 28 + 16, 77777), /file name string offset 77777/);
    expectInvalid(patch(32 + 28 + 20, 77777), /line string offset 77777/);
    expectInvalid(patch(32 + 56 + 16, 300), /core_relo in 'xdp' type id 300 out of range/);
    expectInvalid(patch(32 + 56 + 20, 66666), /access string offset 66666/);
    // Group header cut short: block length covers rec_size plus 4 stray bytes.
    expectInvalid(buildExt({ func: [8, sec] }), /group header at offset 4 runs past the end/);
    expectInvalid(buildExt({ func: [8, sec, 2, 0, fn] }), /2 records of 8 bytes run past the end/);
    expect(bpfError(() => parseBtfExt(ok, btf, { littleEndian: false })).message).toBe('.BTF.ext: bad magic 0x9feb for big-endian .BTF.ext');
  });

  it('rejects every truncation of a real .BTF.ext', () => {
    const { btf: realBtf, extBytes } = load('core_echo_dropper');
    for (let len = 0; len < extBytes.length; len++) {
      const err = bpfError(() => parseBtfExt(extBytes.subarray(0, len), realBtf, { source: 'x.o' }));
      expect(err.code).toBe('BTF_EXT_INVALID');
      expect(err.message.startsWith('x.o: .BTF.ext: ')).toBe(true);
    }
  });

  it('survives random corruption: BpfError or a result, nothing else', () => {
    let seed = 0x1234567;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    let thrown = 0;
    for (const name of withExt.slice(0, 8)) {
      const { btf: realBtf, extBytes } = load(name);
      for (let i = 0; i < 200; i++) {
        const m = new Uint8Array(extBytes);
        for (let f = 1 + rnd(3); f > 0; f--) m[rnd(3) === 0 ? rnd(64) : rnd(m.length)] = rnd(256);
        try {
          parseBtfExt(m, realBtf, { source: name });
        } catch (e) {
          if (!(e instanceof BpfError)) throw new Error(`${name} mutation ${i}: ${String(e)}`, { cause: e });
          expect(e.code).toBe('BTF_EXT_INVALID');
          thrown++;
        }
      }
    }
    expect(thrown).toBeGreaterThan(0);
  });
});
