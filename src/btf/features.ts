// Which BTF kinds the running kernel accepts, found the way libbpf does it:
// BPF_BTF_LOAD a tiny blob using the kind and see whether the kernel takes
// it. Probed once per process; the answer feeds sanitizeBtf before an
// object's BTF is loaded.

import type { BtfFeatures } from './sanitize.js';
import { btfLoad } from '../sys/btf-attr.js';
import { LITTLE_ENDIAN } from '../sys/endian.js';
import { Fd } from '../sys/fd.js';

const INT = 1,
  PTR = 2,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19;
const info = (kind: number, vlen = 0): number => ((kind << 24) | vlen) >>> 0;
/** `int`: BTF_TYPE_INT_ENC(name, BTF_INT_SIGNED, 0, 32, 4). */
const intType = (name: number): number[] => [name, info(INT), 4, (1 << 24) | 32];

/** A BTF blob in host byte order: header, the given type words, the strings. */
export function btfBlob(types: number[], strings: string): Uint8Array {
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + types.length * 4 + str.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, LITTLE_ENDIAN);
  dv.setUint8(2, 1);
  dv.setUint32(4, 24, LITTLE_ENDIAN);
  dv.setUint32(8, 0, LITTLE_ENDIAN);
  dv.setUint32(12, types.length * 4, LITTLE_ENDIAN);
  dv.setUint32(16, types.length * 4, LITTLE_ENDIAN);
  dv.setUint32(20, str.length, LITTLE_ENDIAN);
  types.forEach((w, i) => dv.setUint32(24 + i * 4, w >>> 0, LITTLE_ENDIAN));
  out.set(str, 24 + types.length * 4);
  return out;
}

/** The probe blob per feature (libbpf's probe_kern_btf_* programs). */
export const BTF_FEATURE_PROBES: Record<keyof BtfFeatures, () => Uint8Array> = {
  // int; void (*)(int a); FUNC x
  btfFunc: () => btfBlob([...intType(1), 0, info(FUNC_PROTO, 1), 0, 7, 1, 5, info(FUNC, 0), 2], '\0int\0x\0a\0'),
  // …the same with global linkage
  funcGlobal: () => btfBlob([...intType(1), 0, info(FUNC_PROTO, 1), 0, 7, 1, 5, info(FUNC, 1), 2], '\0int\0x\0a\0'),
  // int; static int x; SEC(".data") { x }
  datasec: () => btfBlob([...intType(0), 1, info(VAR), 1, 0, 3, info(DATASEC, 1), 4, 2, 0, 4], '\0x\0.data\0'),
  float: () => btfBlob([1, info(FLOAT), 4], '\0float\0'),
  // int; static int x; tag on x
  declTag: () => btfBlob([...intType(0), 1, info(VAR), 1, 0, 3, info(DECL_TAG), 2, 0xffffffff], '\0x\0tag\0'),
  // int; int __tag("tag"); pointer to it
  typeTag: () => btfBlob([...intType(0), 1, info(TYPE_TAG), 1, 0, info(PTR), 2], '\0tag\0'),
  enum64: () => btfBlob([1, info(ENUM64, 0), 8], '\0enum64\0'),
};

let cached: BtfFeatures | undefined;

function accepted(blob: Uint8Array): boolean {
  const r = btfLoad(blob);
  if (r.result < 0) return false;
  new Fd(r.result, 'BTF feature probe').close();
  return true;
}

/** What the running kernel's BTF loader accepts (probed once, then cached). */
export function btfFeatures(): BtfFeatures {
  if (cached) return cached;
  const f = {} as BtfFeatures;
  for (const [name, blob] of Object.entries(BTF_FEATURE_PROBES) as [keyof BtfFeatures, () => Uint8Array][]) f[name] = accepted(blob());
  return (cached = f);
}
