// libbpf itself as the oracle for section names: libbpf_prog_type_by_name()
// from the system's libbpf.so.1 (Debian's libbpf1), called through koffi.
// Independent of src/: it is libbpf's own table answering. Returns null
// when the library is absent (tests then say so) and 'unknown' for names
// that version of libbpf does not know.

import { createRequire } from 'node:module';

type Fn = (name: string, type: number[], attach: number[]) => number;
let fn: Fn | null | undefined;

function lookup(): Fn | null {
  if (fn !== undefined) return fn;
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const lib = koffi.load('libbpf.so.1');
    // Quiet libbpf's "failed to guess program type" warnings on stderr.
    lib.func('void *libbpf_set_print(void *fn)')(null);
    fn = lib.func('int libbpf_prog_type_by_name(const char *name, _Out_ int *prog_type, _Out_ int *attach_type)') as Fn;
  } catch {
    fn = null;
  }
  return fn;
}

export function libbpfAvailable(): boolean {
  return lookup() !== null;
}

/** libbpf's verdict on a section name: program type and expected attach type (0 for none). */
export function libbpfSectionType(name: string): { type: number; attach: number } | 'unknown' {
  const f = lookup();
  if (!f) throw new Error('libbpf.so.1 is not installed (apt-get install libbpf1)');
  const t: [number] = [0];
  const a: [number] = [0];
  return f(name, t, a) === 0 ? { type: t[0], attach: a[0] } : 'unknown';
}
