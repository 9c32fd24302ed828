// BPF_CORE_TYPE_MATCHES (bpf_core_type_matches()): a stricter test than
// compatibility. Every local member and enumerator must exist in the target
// by name with a matching type, ints must agree on size and signedness,
// arrays on length. Behind a pointer a struct also matches a forward
// declaration of the same kind. Follows libbpf's __bpf_core_types_match.

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../../btf/btf.js';
import type { BtfComposite, BtfEnum, BtfEnum64, BtfType } from '../../btf/kinds.js';
import { coreNamesMatch } from './names.js';
import { isAnyEnum, skipModsAndTypedefs } from './btf-util.js';

const MAX_DEPTH = 32;

function tooDeep(id: number): never {
  throw new CoreRelocationError(`type [${id}] nests too deeply to match (reference loop?)`);
}

function enumsMatch(l: BtfEnum | BtfEnum64, t: BtfEnum | BtfEnum64): boolean {
  if (l.size !== t.size || l.values.length > t.values.length) return false;
  return l.values.every((lv) => t.values.some((tv) => coreNamesMatch(lv.name, tv.name)));
}

function compositesMatch(localBtf: Btf, l: BtfComposite, targBtf: Btf, t: BtfComposite, behindPtr: boolean, level: number): boolean {
  if (l.members.length > t.members.length) return false;
  return l.members.every((lm) => t.members.some((tm) => coreNamesMatch(lm.name, tm.name) && typesMatch(localBtf, lm.type, targBtf, tm.type, behindPtr, level - 1)));
}

export function typesMatch(localBtf: Btf, localId: number, targBtf: Btf, targId: number, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) tooDeep(localId);
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) tooDeep(localId);
    const l: BtfType = skipModsAndTypedefs(localBtf, localId);
    const t: BtfType = skipModsAndTypedefs(targBtf, targId);
    // Names are compared after typedefs are skipped; root typedef names were
    // already matched by the candidate search.
    if (!coreNamesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case 'void':
        return t.kind === 'void';
      case 'fwd':
        if (behindPtr && t.kind !== 'fwd') return (t.kind === 'struct' && !l.isUnion) || (t.kind === 'union' && l.isUnion);
        return t.kind === 'fwd' && t.isUnion === l.isUnion;
      case 'enum':
      case 'enum64':
        return isAnyEnum(t) && enumsMatch(l, t as BtfEnum | BtfEnum64);
      case 'struct':
      case 'union':
        if (behindPtr) {
          if (t.kind === l.kind) return true;
          return t.kind === 'fwd' && t.isUnion === (l.kind === 'union');
        }
        return t.kind === l.kind && compositesMatch(localBtf, l, targBtf, t as BtfComposite, behindPtr, level);
      case 'int':
        return t.kind === 'int' && l.size === t.size && l.encoding.signed === t.encoding.signed;
      case 'ptr':
        if (t.kind !== 'ptr') return false;
        behindPtr = true;
        localId = l.type;
        targId = t.type;
        continue;
      case 'array':
        if (t.kind !== 'array' || l.nelems !== t.nelems) return false;
        localId = l.elemType;
        targId = t.elemType;
        continue;
      case 'func_proto': {
        if (t.kind !== 'func_proto' || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(localBtf, l.params[i]!.type, targBtf, t.params[i]!.type, behindPtr, level - 1)) return false;
        }
        localId = l.returnType;
        targId = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}
