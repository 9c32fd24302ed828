// What CO-RE relocations are resolved against: a set of BTFs standing for a
// kernel. Pure; btf/kernel.ts builds the running kernel's (vmlinux, then
// module BTF on demand), object/core/ searches it.

import type { Btf } from './btf.js';

/** What relocations are resolved against: the running kernel, or a stand-in. */
export interface CoreTarget {
  /** vmlinux BTF (or a blob standing in for it). */
  readonly vmlinux: Btf;
  /** Module BTFs (split BTF on vmlinux), loaded lazily; asked only when vmlinux has no candidate. */
  modules?(): Iterable<Btf>;
}

/** A given BTF (e.g. another kernel's vmlinux) as CO-RE target, without modules. */
export function coreTargetFromBtf(btf: Btf): CoreTarget {
  return { vmlinux: btf };
}
