// bpftool's listing of the kernel's programs, links or maps: an independent
// reading of the kernel's tables for tests to compare with.
//
// `bpftool KIND show` walks the ids and then asks for each object's info;
// when another test's object goes away between the two, bpftool stops with
// an error (kernel tests run side by side). Such a walk is simply repeated.
import { spawnSync } from 'node:child_process';

const ATTEMPTS = 5;

export function bpftoolList<T = { id: number }>(kind: 'prog' | 'link' | 'map'): T[] {
  let last = '';
  for (let i = 0; i < ATTEMPTS; i++) {
    const r = spawnSync('bpftool', [kind, 'show', '-j'], { encoding: 'utf8' });
    if (r.status === 0) return JSON.parse(r.stdout) as T[];
    last = `${r.stdout}${r.stderr}`.trim();
  }
  throw new Error(`bpftool ${kind} show -j failed ${ATTEMPTS} times: ${last}`);
}
