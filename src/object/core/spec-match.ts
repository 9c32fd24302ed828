// Match a local access spec against one candidate target type (libbpf's
// bpf_core_spec_match): members are found by NAME, descending through
// anonymous structs and unions the target may have added or removed, array
// steps keep their index. The result is the target's own spec, whose bit
// offset is where the field lives in the target.

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../../btf/btf.js';
import { fieldsAreCompat, typesAreCompat } from './compat.js';
import { typesMatch } from './match.js';
import { essentialName } from './names.js';
import { BPF_CORE_TYPE_MATCHES, coreReloIsEnumvalBased, coreReloIsFieldBased, coreReloIsTypeBased } from './relo-kind.js';
import { BPF_CORE_SPEC_MAX_LEN, type CoreAccessor, type CoreSpec } from './spec.js';
import { isComposite, isFlexArray, sizeOf, skipModsAndTypedefs } from './btf-util.js';

/** Why a candidate did not match, for error messages. */
export type CoreMismatch =
  | 'type' // the type itself is incompatible
  | 'missing' // a member (or enumerator) of that name does not exist
  | 'incompatible' // it exists with an incompatible type
  | 'not_composite' // the path expects members where the target has none
  | 'not_array' // the path indexes something that is not an array
  | 'bounds'; // the index is past the target array's end

export type CoreSpecMatch =
  | { ok: true; spec: CoreSpec }
  /** `depth`: index of the first local accessor that failed. */
  | { ok: false; depth: number; why: CoreMismatch };

function tooLong(): never {
  throw new CoreRelocationError(`access path nests deeper than ${BPF_CORE_SPEC_MAX_LEN} steps`);
}

type MemberMatch = { found: true; nextId: number } | { found: false; why: 'missing' | 'incompatible' | 'not_composite' };

/**
 * Finds the member `localAcc` names inside target type `targId`, descending
 * into anonymous members; on success pushes the target accessor and the path.
 */
function matchMember(local: CoreSpec, localAcc: CoreAccessor, targBtf: Btf, targId: number, spec: CoreSpec): MemberMatch {
  const t = skipModsAndTypedefs(targBtf, targId);
  if (!isComposite(t)) return { found: false, why: 'not_composite' };
  const localType = local.btf.typeById(localAcc.typeId);
  if (!isComposite(localType)) return { found: false, why: 'not_composite' };
  const localMember = localType.members[localAcc.idx]!;
  let why: 'missing' | 'incompatible' = 'missing';
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length >= BPF_CORE_SPEC_MAX_LEN) tooLong();
    // Speculate this member is the one; undone below when it is not.
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const inner = matchMember(local, localAcc, targBtf, m.type, spec);
      if (inner.found) return inner;
      // Not in there (or there with the wrong type): keep looking at this level.
      if (inner.why === 'incompatible') why = 'incompatible';
    } else if (m.name === localMember.name) {
      if (fieldsAreCompat(local.btf, localMember.type, targBtf, m.type)) {
        spec.accessors.push({ typeId: t.id, idx: i, name: m.name });
        return { found: true, nextId: m.type };
      }
      // A name occurs once per level: this level has no usable match.
      spec.bitOffset -= m.bitOffset;
      spec.raw.pop();
      return { found: false, why: 'incompatible' };
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return { found: false, why };
}

/** Match `local` against target type `targId` in `targBtf`. */
export function matchCoreSpec(local: CoreSpec, targBtf: Btf, targId: number): CoreSpecMatch {
  const spec: CoreSpec = { btf: targBtf, rootTypeId: targId, kind: local.kind, raw: [], accessors: [], bitOffset: 0 };

  if (coreReloIsTypeBased(local.kind)) {
    const same = local.kind === BPF_CORE_TYPE_MATCHES ? typesMatch(local.btf, local.rootTypeId, targBtf, targId) : typesAreCompat(local.btf, local.rootTypeId, targBtf, targId);
    return same ? { ok: true, spec } : { ok: false, depth: 0, why: 'type' };
  }

  if (coreReloIsEnumvalBased(local.kind)) {
    const t = skipModsAndTypedefs(targBtf, targId);
    if (t.kind !== 'enum' && t.kind !== 'enum64') return { ok: false, depth: 0, why: 'type' };
    const want = essentialName(local.accessors[0]!.name ?? '');
    const i = t.values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return { ok: false, depth: 0, why: 'missing' };
    spec.accessors.push({ typeId: t.id, idx: i, name: t.values[i]!.name });
    spec.raw.push(i);
    return { ok: true, spec };
  }

  if (!coreReloIsFieldBased(local.kind)) throw new CoreRelocationError(`relocation kind ${local.kind} cannot be matched`);

  let id = targId;
  for (let i = 0; i < local.accessors.length; i++) {
    const localAcc = local.accessors[i]!;
    const t = skipModsAndTypedefs(targBtf, id);
    id = t.id;
    if (localAcc.name !== null) {
      const r = matchMember(local, localAcc, targBtf, id, spec);
      if (!r.found) return { ok: false, depth: i, why: r.why };
      id = r.nextId;
      continue;
    }
    // The root accessor indexes the root type itself; later ones need an array.
    if (i > 0) {
      if (t.kind !== 'array') return { ok: false, depth: i, why: 'not_array' };
      const flex = isFlexArray(targBtf, spec.accessors[spec.accessors.length - 1] ?? null, t);
      if (!flex && localAcc.idx >= t.nelems) return { ok: false, depth: i, why: 'bounds' };
      id = targBtf.skipQualifiers(t.elemType);
    }
    if (spec.raw.length >= BPF_CORE_SPEC_MAX_LEN) tooLong();
    spec.accessors.push({ typeId: id, idx: localAcc.idx, name: null });
    spec.raw.push(localAcc.idx);
    spec.bitOffset += localAcc.idx * sizeOf(targBtf, id, `target [${id}]`) * 8;
  }
  return { ok: true, spec };
}
