// Small BTF questions the CO-RE steps share, phrased like libbpf's helpers
// (skip_mods_and_typedefs, btf_is_composite, is_flex_arr, …).

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../btf/btf.js';
import type { BtfArray, BtfComposite, BtfType } from '../btf/kinds.js';

/** The type under typedefs and qualifiers, and its id. */
export function skipModsAndTypedefs(btf: Btf, id: number): BtfType {
  return btf.typeById(btf.skipQualifiers(id));
}

export function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === 'struct' || t.kind === 'union';
}

export function isAnyEnum(t: BtfType): boolean {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** Same kind, or both enums of either width: the only pairs CO-RE ever matches. */
export function kindsCoreCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/**
 * A zero-length array that is the last member of its struct (`char data[]`):
 * any index is allowed into it. `owner` is the struct and `memberIdx` the
 * array's member index, or null when the array is not reached through a member.
 */
export function isFlexArray(btf: Btf, owner: { typeId: number; idx: number; name: string | null } | null, arr: BtfArray): boolean {
  if (!owner || owner.name === null || arr.nelems > 0) return false;
  const t = btf.typeById(owner.typeId);
  return isComposite(t) && owner.idx === t.members.length - 1;
}

/** resolveSize that reports a CO-RE error instead of a BTF one. */
export function sizeOf(btf: Btf, id: number, what: string): number {
  try {
    return btf.resolveSize(id);
  } catch (e) {
    throw new CoreRelocationError(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** "struct iphdr", "enum bpf_map_type", "typedef u32", "int". */
export function typeLabel(t: BtfType): string {
  switch (t.kind) {
    case 'struct':
    case 'union':
    case 'enum':
    case 'typedef':
      return `${t.kind} ${t.name || '(anon)'}`;
    case 'enum64':
      return `enum ${t.name || '(anon)'}`;
    case 'fwd':
      return `${t.isUnion ? 'union' : 'struct'} ${t.name}`;
    default:
      return t.name ? `${t.kind} ${t.name}` : t.kind;
  }
}
