// Candidate search: the target types a local type may stand for. Like
// libbpf, a candidate has the local type's name without its `___flavour`
// and a compatible kind; vmlinux is searched first, module BTF only when
// vmlinux has no candidate at all. Lookups go through the parser's name
// search (no decoding of vmlinux's ~130k types) and are cached per name.

import type { Btf } from '../../btf/btf.js';
import type { BtfType } from '../../btf/kinds.js';
import type { CoreTarget } from '../../btf/target.js';
import { essentialName } from './names.js';
import { isAnyEnum, kindsCoreCompatible } from './btf-util.js';

export type { CoreTarget };

export interface CoreCandidate {
  btf: Btf;
  id: number;
}

// Types by name per target BTF, kept across resolvers: the kernel's BTF is
// parsed once per process and never changes, so a further load in the same
// process scans it for no name it has looked up before.
const byName = new WeakMap<Btf, Map<string, readonly BtfType[]>>();

function named(btf: Btf, name: string): readonly BtfType[] {
  let m = byName.get(btf);
  if (!m) byName.set(btf, (m = new Map()));
  let found = m.get(name);
  if (!found) m.set(name, (found = btf.findAllByName(name)));
  return found;
}

/** Caching candidate lookup over one target. */
export class CoreCandidates {
  readonly target: CoreTarget;
  readonly #cache = new Map<string, CoreCandidate[]>();

  constructor(target: CoreTarget) {
    this.target = target;
  }

  /** Candidates for a (named) local type; [] when none. */
  find(local: BtfType): CoreCandidate[] {
    const name = essentialName(local.name);
    if (name === '') return [];
    // enum and enum64 match each other, so they share a cache slot.
    const key = `${isAnyEnum(local) ? 'enum' : local.kind}:${name}`;
    let found = this.#cache.get(key);
    if (!found) {
      found = this.#search(this.target.vmlinux, name, local, 1);
      if (found.length === 0 && this.target.modules) {
        for (const mod of this.target.modules()) found.push(...this.#search(mod, name, local, mod.startId));
      }
      this.#cache.set(key, found);
    }
    return found;
  }

  #search(btf: Btf, name: string, local: BtfType, minId: number): CoreCandidate[] {
    // Ids below minId belong to the base, which was searched already.
    return named(btf, name)
      .filter((t) => t.id >= minId && kindsCoreCompatible(local, t))
      .map((t) => ({ btf, id: t.id }));
  }
}
