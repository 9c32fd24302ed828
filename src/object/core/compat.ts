// Whether a local type and a target type are "compatible" in the CO-RE sense
// (libbpf's bpf_core_types_are_compat / bpf_core_fields_are_compat): a loose
// check that layouts may differ in but kinds may not. Sizes and members are
// not compared: field relocations check the fields they touch themselves.

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../btf/btf.js';
import { coreNamesMatch } from './names.js';
import { isComposite, kindsCoreCompatible, skipModsAndTypedefs } from './btf-util.js';

// Types nest this deep only through a reference loop.
const MAX_DEPTH = 32;

function tooDeep(localId: number): never {
  throw new CoreRelocationError(`type [${localId}] nests too deeply to compare (reference loop?)`);
}

/**
 * For type relocations (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET): same kind
 * through pointers, arrays and function prototypes; structs, unions and
 * enums match by kind alone (their names were matched by the candidate search).
 */
export function typesAreCompat(localBtf: Btf, localId: number, targBtf: Btf, targId: number, level = MAX_DEPTH): boolean {
  if (!kindsCoreCompatible(localBtf.typeById(localId), targBtf.typeById(targId))) return false;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) tooDeep(localId);
    const l = skipModsAndTypedefs(localBtf, localId);
    const t = skipModsAndTypedefs(targBtf, targId);
    if (!kindsCoreCompatible(l, t)) return false;
    switch (l.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        // Old-style bitfield ints (a bit offset inside the int) are never compatible.
        return l.bitOffset === 0 && t.kind === 'int' && t.bitOffset === 0;
      case 'ptr':
        localId = l.type;
        targId = (t as typeof l).type;
        continue;
      case 'array':
        localId = l.elemType;
        targId = (t as typeof l).elemType;
        continue;
      case 'func_proto': {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) tooDeep(localId);
          const lp = localBtf.skipQualifiers(l.params[i]!.type);
          const tpp = targBtf.skipQualifiers(tp.params[i]!.type);
          if (!typesAreCompat(localBtf, lp, targBtf, tpp, level - 1)) return false;
        }
        localId = localBtf.skipQualifiers(l.returnType);
        targId = targBtf.skipQualifiers(tp.returnType);
        continue;
      }
      default:
        return false;
    }
  }
}

/**
 * For a member matched by name: may the local field's type be read as the
 * target's? Composites always may (their own fields are checked when accessed),
 * ints of any size may (the load is resized), enums and forward declarations
 * must agree on the name, arrays on the element type.
 */
export function fieldsAreCompat(localBtf: Btf, localId: number, targBtf: Btf, targId: number): boolean {
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) tooDeep(localId);
    const l = skipModsAndTypedefs(localBtf, localId);
    const t = skipModsAndTypedefs(targBtf, targId);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCoreCompatible(l, t)) return false;
    switch (l.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64':
        // Anonymous on either side, or the same name up to flavours.
        return coreNamesMatch(l.name, t.name);
      case 'int':
        return l.bitOffset === 0 && t.kind === 'int' && t.bitOffset === 0;
      case 'array':
        localId = l.elemType;
        targId = (t as typeof l).elemType;
        continue;
      default:
        return false;
    }
  }
}
