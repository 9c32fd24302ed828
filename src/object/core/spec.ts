// A CO-RE access specification: the relocation's access string ("0:1:2")
// decoded against a BTF into accessors (root index, member, member, array
// index, …) and the bit offset they reach, as libbpf's bpf_core_parse_spec.

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../btf/btf.js';
import { coreReloKindName } from '../btf/ext.js';
import { coreReloIsEnumvalBased, coreReloIsFieldBased, coreReloIsTypeBased } from './relo-kind.js';
import { isComposite, isFlexArray, sizeOf, skipModsAndTypedefs, typeLabel } from './btf-util.js';

/** Accessors beyond this many are refused (libbpf's BPF_CORE_SPEC_MAX_LEN). */
export const BPF_CORE_SPEC_MAX_LEN = 64;

export interface CoreAccessor {
  /** The struct/union whose member `idx` this is, or for array steps the element type. */
  typeId: number;
  /** Member index, array index, or enumerator index. */
  idx: number;
  /** Member or enumerator name; null for array (and root) steps. */
  name: string | null;
}

export interface CoreSpec {
  btf: Btf;
  /** The relocation's type id (typedefs not skipped). */
  rootTypeId: number;
  kind: number;
  /** The access string's numbers; for a target spec, the path actually taken (anonymous members included). */
  raw: number[];
  /** Named members and array steps only: anonymous members are skipped. */
  accessors: CoreAccessor[];
  /** Where the accessed field starts, from the root type. */
  bitOffset: number;
}

function fail(btf: Btf, typeId: number, accessStr: string, kind: number, msg: string): never {
  const t = btf.typeById(typeId);
  throw new CoreRelocationError(`${coreReloKindName(kind)} relocation on [${typeId}] ${typeLabel(t)} with access "${accessStr}": ${msg}`);
}

function parseAccessString(accessStr: string): number[] | null {
  if (!/^\d+(:\d+)*$/.test(accessStr)) return null;
  const raw = accessStr.split(':').map(Number);
  return raw.every((n) => n <= 0x7fffffff) && raw.length <= BPF_CORE_SPEC_MAX_LEN ? raw : null;
}

/** Decode a relocation's access string against the BTF its type id belongs to. */
export function parseCoreSpec(btf: Btf, typeId: number, accessStr: string, kind: number): CoreSpec {
  const spec: CoreSpec = { btf, rootTypeId: typeId, kind, raw: [], accessors: [], bitOffset: 0 };
  const bad = (msg: string): never => fail(btf, typeId, accessStr, kind, msg);
  if (typeId === 0) bad('type id 0 (void) cannot be relocated');

  // Whole-type relocations carry "0" and nothing else.
  if (coreReloIsTypeBased(kind)) {
    if (accessStr !== '0') bad('type relocations must have access string "0"');
    return spec;
  }

  const raw = parseAccessString(accessStr);
  if (!raw) bad(`malformed access string (want up to ${BPF_CORE_SPEC_MAX_LEN} colon-separated indices)`);
  spec.raw = raw!;

  let id = btf.skipQualifiers(typeId);
  let t = btf.typeById(id);
  const rootIdx = spec.raw[0]!;
  spec.accessors.push({ typeId: id, idx: rootIdx, name: null });

  if (coreReloIsEnumvalBased(kind)) {
    if ((t.kind !== 'enum' && t.kind !== 'enum64') || spec.raw.length > 1 || rootIdx >= t.values.length) {
      bad(t.kind === 'enum' || t.kind === 'enum64' ? `no enumerator #${accessStr}` : `${t.kind} is not an enum`);
    }
    if (t.kind === 'enum' || t.kind === 'enum64') spec.accessors[0]!.name = t.values[rootIdx]!.name;
    return spec;
  }
  if (!coreReloIsFieldBased(kind)) bad('unknown relocation kind');

  // The root index steps over whole objects, as in `&p[1]`.
  spec.bitOffset = rootIdx * sizeOf(btf, id, `[${typeId}]`) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    t = skipModsAndTypedefs(btf, id);
    id = t.id;
    const idx = spec.raw[i]!;
    if (isComposite(t)) {
      if (idx >= t.members.length) bad(`${typeLabel(t)} has no member #${idx}`);
      const m = t.members[idx]!;
      spec.bitOffset += m.bitOffset;
      // Anonymous members only lead somewhere: the target may nest differently.
      if (m.name) spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const elem = skipModsAndTypedefs(btf, t.elemType);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1] ?? null, t);
      if (!flex && idx >= t.nelems) bad(`index ${idx} past the end of a ${t.nelems}-element array`);
      id = elem.id;
      spec.accessors.push({ typeId: id, idx, name: null });
      spec.bitOffset += idx * sizeOf(btf, id, `[${typeId}]`) * 8;
    } else {
      bad(`step ${i} reaches ${typeLabel(t)}, which has no members or elements`);
    }
  }
  return spec;
}
