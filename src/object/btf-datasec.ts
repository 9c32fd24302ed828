// clang writes DATASEC records with size 0 and every variable at offset 0:
// the real layout is only known from the ELF section and symbol tables. The
// kernel rejects such BTF, so (as libbpf does) a copy of the blob is patched
// with section sizes and symbol offsets, variables sorted by offset.
// Externs have no section: ".kconfig" gets the layout of the map the loader
// makes for it, and ".ksyms" (which the kernel would refuse: extern linkage,
// FUNCs inside a DATASEC) becomes 4-byte int variables, each kfunc entry
// pointing at one appended "dummy_ksym" variable, as libbpf does.

import type { Btf } from '../btf/btf.js';
import { BTF_KIND_INT, BTF_KIND_VAR } from '../btf/kinds.js';
import { appendToBtf } from '../btf/sanitize.js';
import type { ElfFile } from './elf.js';
import { type ElfSymbol, STT_FUNC, STT_SECTION } from './symbols.js';
import type { ExternSpec } from './types.js';

const BTF_TYPE_SIZE = 12;
const SECINFO_SIZE = 12;
const LINKAGE_GLOBAL = 1;

/** A copy of `btf.raw` whose DATASECs match the object's sections (and the loader's extern layout). */
export function fixupDatasecs(btf: Btf, elf: ElfFile, symbols: ElfSymbol[], externs: ExternSpec[] = []): Uint8Array {
  const raw = btf.raw.slice();
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = btf.littleEndian;
  let ksymsId = 0;
  for (let id = btf.startId; id < btf.count; id++) {
    if (btf.kindOf(id) !== 'datasec') continue;
    const ds = btf.typeById(id);
    if (ds.kind !== 'datasec') continue;
    const rec = btf.recordOffset(id);
    if (ds.name === '.kconfig') {
      fixKconfig(btf, dv, rec, ds.vars, externs);
      continue;
    }
    if (ds.name === '.ksyms') {
      ksymsId = id;
      continue;
    }
    const sec = elf.sections.find((s) => s.name === ds.name);
    if (!sec) continue;
    dv.setUint32(rec + 8, sec.size, le);
    const vars = ds.vars.map((v) => {
      const t = btf.typeById(v.type);
      const sym = t.kind === 'var' ? symbols.find((s) => s.section === sec.index && s.name === t.name && s.type !== STT_SECTION) : undefined;
      return { type: v.type, offset: sym ? sym.value : v.offset, size: v.size };
    });
    vars.sort((a, b) => a.offset - b.offset);
    vars.forEach((v, i) => {
      const at = rec + BTF_TYPE_SIZE + i * SECINFO_SIZE;
      dv.setUint32(at, v.type, le);
      dv.setUint32(at + 4, v.offset, le);
      dv.setUint32(at + 8, v.size, le);
    });
  }
  hideFuncs(btf, dv, elf, symbols);
  return ksymsId ? fixKsyms(btf, raw, ksymsId) : raw;
}

const STV_INTERNAL = 1;
const STV_HIDDEN = 2;

/**
 * Global subprograms in .text whose symbol is hidden (`__hidden`,
 * visibility("hidden")) go to the kernel as static FUNCs, as libbpf does: the
 * verifier then checks them inside each caller, with the caller's argument
 * types (a stack pointer stays one), instead of alone with arguments that may
 * be NULL. libbpf's usdt.bpf.h relies on it.
 */
function hideFuncs(btf: Btf, dv: DataView, elf: ElfFile, symbols: ElfSymbol[]): void {
  const text = elf.sections.find((s) => s.name === '.text');
  if (!text) return;
  const hidden = new Set(symbols.filter((s) => s.section === text.index && s.type === STT_FUNC && (s.visibility === STV_HIDDEN || s.visibility === STV_INTERNAL)).map((s) => s.name));
  if (hidden.size === 0) return;
  for (let id = btf.startId; id < btf.count; id++) {
    if (btf.kindOf(id) !== 'func') continue;
    const t = btf.typeById(id);
    if (t.kind !== 'func' || t.linkage !== 'global' || !hidden.has(t.name)) continue;
    const rec = btf.recordOffset(id);
    const info = dv.getUint32(rec + 4, btf.littleEndian);
    dv.setUint32(rec + 4, (info & ~0xffff) >>> 0, btf.littleEndian); // linkage 0: static
  }
}

function fixKconfig(btf: Btf, dv: DataView, rec: number, vars: { type: number }[], externs: ExternSpec[]): void {
  const le = btf.littleEndian;
  const placed = vars.map((v) => {
    const t = btf.typeById(v.type);
    const e = externs.find((x) => x.kind === 'kconfig' && x.name === t.name);
    if (t.kind === 'var') dv.setUint32(btf.recordOffset(v.type) + BTF_TYPE_SIZE, LINKAGE_GLOBAL, le);
    return { type: v.type, offset: e?.kconfig?.offset ?? 0, size: e?.kconfig?.size ?? 0 };
  });
  placed.sort((a, b) => a.offset - b.offset);
  let end = 0;
  placed.forEach((v, i) => {
    const at = rec + BTF_TYPE_SIZE + i * SECINFO_SIZE;
    dv.setUint32(at, v.type, le);
    dv.setUint32(at + 4, v.offset, le);
    dv.setUint32(at + 8, v.size, le);
    end = Math.max(end, v.offset + v.size);
  });
  dv.setUint32(rec + 8, end, le);
}

function fixKsyms(btf: Btf, raw: Uint8Array, ksymsId: number): Uint8Array {
  const le = btf.littleEndian;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ds = btf.typeById(ksymsId);
  if (ds.kind !== 'datasec') return raw;
  const types: number[][] = [];
  const strings: string[] = [];
  const strLen = dv.getUint32(20, le);
  let nextId = btf.count;
  let nextStr = btf.stringStart + strLen;
  const addString = (s: string): number => {
    const off = nextStr;
    strings.push(s);
    nextStr += new TextEncoder().encode(s).length + 1;
    return off;
  };
  // A 4-byte signed int to type the placeholder variables.
  let intId = 0;
  for (let id = btf.startId; id < btf.count && !intId; id++) {
    const t = btf.typeById(id);
    if (t.kind === 'int' && t.size === 4 && t.bits === 32 && t.bitOffset === 0 && !t.encoding.bool && !t.encoding.char) intId = id;
  }
  if (!intId) {
    intId = nextId++;
    types.push([addString('int'), (BTF_KIND_INT << 24) >>> 0, 4, (1 << 24) | 32]);
  }
  let dummyVarId = 0;
  let dummyName = 0;
  const rec = btf.recordOffset(ksymsId);
  ds.vars.forEach((v, i) => {
    const t = btf.typeById(v.type);
    const at = rec + BTF_TYPE_SIZE + i * SECINFO_SIZE;
    if (t.kind === 'func') {
      if (!dummyVarId) {
        dummyName = addString('dummy_ksym');
        dummyVarId = nextId++;
        types.push([dummyName, (BTF_KIND_VAR << 24) >>> 0, intId, LINKAGE_GLOBAL]);
      }
      // FUNC linkage lives in vlen: extern (2) → global (1). Unnamed parameters get a name.
      const frec = btf.recordOffset(t.id);
      const info = dv.getUint32(frec + 4, le);
      dv.setUint32(frec + 4, ((info & ~0xffff) | LINKAGE_GLOBAL) >>> 0, le);
      const proto = btf.typeById(t.type);
      if (proto.kind === 'func_proto') {
        const prec = btf.recordOffset(proto.id);
        proto.params.forEach((p, j) => {
          if (p.type && !p.name) dv.setUint32(prec + BTF_TYPE_SIZE + j * 8, dummyName || (dummyName = addString('dummy_ksym')), le);
        });
      }
      dv.setUint32(at, dummyVarId, le);
    } else if (t.kind === 'var') {
      const vrec = btf.recordOffset(t.id);
      dv.setUint32(vrec + 8, intId, le);
      dv.setUint32(vrec + BTF_TYPE_SIZE, LINKAGE_GLOBAL, le);
    }
    dv.setUint32(at + 4, i * 4, le);
    dv.setUint32(at + 8, 4, le);
  });
  dv.setUint32(rec + 8, ds.vars.length * 4, le);
  return types.length || strings.length ? appendToBtf(raw, le, types, strings) : raw;
}
