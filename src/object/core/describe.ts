// Human-readable names for specs: "struct iphdr.protocol",
// "enum bpf_map_type::BPF_MAP_TYPE_RINGBUF", "struct bpf_map".

import { coreReloIsEnumvalBased, coreReloIsTypeBased } from './relo-kind.js';
import type { CoreSpec } from './spec.js';
import { typeLabel } from './btf-util.js';

/** The member path of the first `upTo` accessors after the root: "mm.map_count", "slots[3]". */
export function specPath(spec: CoreSpec, upTo = spec.accessors.length): string {
  let out = '';
  for (let i = 1; i < upTo && i < spec.accessors.length; i++) {
    const a = spec.accessors[i]!;
    out += a.name !== null ? (out ? `.${a.name}` : a.name) : `[${a.idx}]`;
  }
  return out;
}

/** The relocation's root type as C spells it. */
export function specRootLabel(spec: CoreSpec): string {
  return typeLabel(spec.btf.typeById(spec.rootTypeId));
}

export function describeSpec(spec: CoreSpec): string {
  const root = specRootLabel(spec);
  if (coreReloIsTypeBased(spec.kind)) return root;
  if (coreReloIsEnumvalBased(spec.kind)) return `${root}::${spec.accessors[0]?.name ?? '?'}`;
  const first = spec.accessors[0];
  const index = first && first.idx !== 0 ? `[${first.idx}]` : '';
  const path = specPath(spec);
  return `${root}${index}${path ? (path.startsWith('[') ? path : `.${path}`) : ''}`;
}
