// BTF for kernels older than the compiler: clang emits kinds (FUNC, VAR,
// DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64, signed enums, global FUNCs)
// that older kernels reject outright, and a rejected BTF blob costs the
// program its func/line info and the maps their typed keys and values. Like
// libbpf's bpf_object__sanitize_btf, each unsupported kind is rewritten in
// place into one the kernel accepts, keeping every record's size (so type
// ids do not move); ENUM64 needs one extra INT appended at the end. One
// departure from libbpf: unnamed FUNC_PROTO parameters, which become
// enumerators, get a name, since kernels since 5.x refuse nameless ones.

import { type Btf, BTF_HEADER_SIZE, parseBtf } from './btf.js';
import {
  BTF_KIND_CONST,
  BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG,
  BTF_KIND_ENUM,
  BTF_KIND_ENUM64,
  BTF_KIND_FLOAT,
  BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO,
  BTF_KIND_INT,
  BTF_KIND_STRUCT,
  BTF_KIND_TYPEDEF,
  BTF_KIND_TYPE_TAG,
  BTF_KIND_UNION,
  BTF_KIND_VAR,
} from './kinds.js';

/** BTF kinds (and flavours of them) a kernel may or may not accept. */
export interface BtfFeatures {
  /** FUNC and FUNC_PROTO (4.20). */
  btfFunc: boolean;
  /** FUNC with global linkage (5.6). */
  funcGlobal: boolean;
  /** VAR and DATASEC (5.2). */
  datasec: boolean;
  /** FLOAT (5.13). */
  float: boolean;
  /** DECL_TAG (5.16). */
  declTag: boolean;
  /** TYPE_TAG (5.17). */
  typeTag: boolean;
  /** ENUM64 and signed ENUM via kind_flag (6.0). */
  enum64: boolean;
}

export const ALL_BTF_FEATURES: Readonly<BtfFeatures> = Object.freeze({
  btfFunc: true,
  funcGlobal: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
});

const info = (kind: number, vlen: number, kflag = false): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;
const PLACEHOLDER_NAME = 'enum64_placeholder';
const PARAM_NAME = 'anon_param';

/** True when the kernel accepts everything this BTF uses (nothing to rewrite). */
function needsNothing(f: BtfFeatures): boolean {
  return f.btfFunc && f.funcGlobal && f.datasec && f.float && f.declTag && f.typeTag && f.enum64;
}

/**
 * A copy of `raw` the kernel described by `features` accepts, or `raw` itself
 * when it accepts everything. Only the blob's own types are rewritten (for
 * split BTF the base is the kernel's and already fine).
 */
export function sanitizeBtf(raw: Uint8Array, features: BtfFeatures, opts: { littleEndian?: boolean; base?: Btf } = {}): Uint8Array {
  if (needsNothing(features)) return raw;
  const btf = parseBtf(raw, { littleEndian: opts.littleEndian, base: opts.base });
  const le = btf.littleEndian;
  const out = raw.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const u32 = (off: number): number => dv.getUint32(off, le);
  const put = (off: number, v: number): void => dv.setUint32(off, v >>> 0, le);
  const hdrLen = u32(4);
  const strStart = hdrLen + u32(16);
  const strLen = u32(20);
  let placeholderId = 0;
  // Strings to append, and the offset each will have.
  const extra: string[] = [];
  let extraLen = 0;
  const addString = (str: string): number => {
    const off = btf.stringStart + strLen + extraLen;
    extra.push(str);
    extraLen += new TextEncoder().encode(str).length + 1;
    return off;
  };
  let paramNameOff = -1;
  let placeholderNameOff = -1;

  for (let id = btf.startId; id < btf.count; id++) {
    const rec = btf.recordOffset(id);
    const word = u32(rec + 4);
    const kind = (word >>> 24) & 0x1f;
    const vlen = word & 0xffff;
    const body = rec + 12;
    // Records are checked when decoded (parsing is lazy): decode what gets rewritten, so a bad
    // name or member is a BTF_INVALID here rather than a loop over the string section.
    if (kind === BTF_KIND_DATASEC || kind === BTF_KIND_FUNC_PROTO || kind === BTF_KIND_ENUM64) btf.typeById(id);
    if ((!features.datasec && kind === BTF_KIND_VAR) || (!features.declTag && kind === BTF_KIND_DECL_TAG)) {
      // A one-byte INT: any larger size could exceed the variable it stands for.
      put(rec + 4, info(BTF_KIND_INT, 0));
      put(rec + 8, 1);
      put(body, 8); // BTF_INT_ENC(0, 0, 8)
    } else if (!features.datasec && kind === BTF_KIND_DATASEC) {
      // A STRUCT with one member per variable, named after it.
      const nameOff = u32(rec);
      if (nameOff >= btf.stringStart) {
        // ".data" is not a valid struct name to the kernel.
        for (let p = strStart + nameOff - btf.stringStart; p < strStart + strLen && out[p] !== 0; p++) if (out[p] === 0x2e || out[p] === 0x3f) out[p] = 0x5f;
      }
      put(rec + 4, info(BTF_KIND_STRUCT, vlen));
      for (let j = 0; j < vlen; j++) {
        const at = body + j * 12;
        const type = u32(at);
        const offset = u32(at + 4);
        // The member takes the variable's name (a base type id would have none here).
        put(at, type >= btf.startId ? u32(btf.recordOffset(type)) : 0);
        put(at + 4, type);
        put(at + 8, offset * 8);
      }
    } else if (!features.btfFunc && kind === BTF_KIND_FUNC_PROTO) {
      // Same record size: params {name, type} read as enumerators {name, value}.
      put(rec + 4, info(BTF_KIND_ENUM, vlen));
      put(rec + 8, 4);
      for (let j = 0; j < vlen; j++) {
        if (u32(body + j * 8) !== 0) continue;
        if (paramNameOff < 0) paramNameOff = addString(PARAM_NAME);
        put(body + j * 8, paramNameOff);
      }
    } else if (!features.btfFunc && kind === BTF_KIND_FUNC) {
      put(rec + 4, info(BTF_KIND_TYPEDEF, 0));
    } else if (!features.funcGlobal && kind === BTF_KIND_FUNC) {
      put(rec + 4, info(BTF_KIND_FUNC, 0)); // linkage static
    } else if (!features.float && kind === BTF_KIND_FLOAT) {
      // An empty STRUCT of the same size; anonymous since "float" is no struct name.
      put(rec, 0);
      put(rec + 4, info(BTF_KIND_STRUCT, 0));
    } else if (!features.typeTag && kind === BTF_KIND_TYPE_TAG) {
      put(rec, 0);
      put(rec + 4, info(BTF_KIND_CONST, 0));
    } else if (!features.enum64 && kind === BTF_KIND_ENUM) {
      put(rec + 4, info(BTF_KIND_ENUM, vlen)); // no signed enums either
    } else if (!features.enum64 && kind === BTF_KIND_ENUM64) {
      // A UNION of one-byte placeholder INTs, one member per enumerator name.
      if (placeholderId === 0) {
        placeholderId = btf.count;
        placeholderNameOff = addString(PLACEHOLDER_NAME);
      }
      put(rec + 4, info(BTF_KIND_UNION, vlen));
      for (let j = 0; j < vlen; j++) {
        const at = body + j * 12;
        put(at + 4, placeholderId);
        put(at + 8, 0);
      }
    }
  }
  if (extra.length === 0) return out;
  // The placeholder INT, when needed, is the one appended type: id btf.count.
  const types = placeholderId ? [[placeholderNameOff, info(BTF_KIND_INT, 0), 1, 8]] : [];
  return appendToBtf(out, le, types, extra);
}

/** `blob` with type records and NUL-terminated strings appended (sections laid out anew after the header). */
export function appendToBtf(blob: Uint8Array, le: boolean, types: number[][], strings: string[]): Uint8Array {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const hdrLen = dv.getUint32(4, le);
  const typeStart = hdrLen + dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strStart = hdrLen + dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const words = types.flat();
  const str = new TextEncoder().encode(strings.map((x) => x + '\0').join(''));
  const newTypeLen = typeLen + words.length * 4;
  const out = new Uint8Array(hdrLen + newTypeLen + strLen + str.length);
  const ov = new DataView(out.buffer);
  out.set(blob.subarray(0, Math.max(hdrLen, BTF_HEADER_SIZE)), 0);
  // Types then strings, right after the header.
  ov.setUint32(8, 0, le);
  ov.setUint32(12, newTypeLen, le);
  ov.setUint32(16, newTypeLen, le);
  ov.setUint32(20, strLen + str.length, le);
  out.set(blob.subarray(typeStart, typeStart + typeLen), hdrLen);
  words.forEach((w, i) => ov.setUint32(hdrLen + typeLen + i * 4, w >>> 0, le));
  out.set(blob.subarray(strStart, strStart + strLen), hdrLen + newTypeLen);
  out.set(str, hdrLen + newTypeLen + strLen);
  return out;
}
