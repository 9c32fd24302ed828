// Why a bpffs path refused us: pins are plain files, so OBJ_GET and OBJ_PIN
// are decided by their owner, group and mode (or CAP_DAC_OVERRIDE), not by
// CAP_BPF. The hint names all of them, and the way out that needs no
// privilege (open read-only) when the mode allows it.

import type { Stats } from 'node:fs';
import { CAP, effectiveCaps, hasCap } from './caps.js';
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { dirname, resolve } = process.getBuiltinModule('node:path');

function nameFromDb(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === id && f[2] !== '') return f[0];
    }
  } catch {
    // no database: the number alone
  }
  return undefined;
}

/** "uid 0 (root)" */
export function describeUid(uid: number): string {
  const n = nameFromDb('/etc/passwd', uid);
  return n ? `uid ${uid} (${n})` : `uid ${uid}`;
}

export function describeGid(gid: number): string {
  const n = nameFromDb('/etc/group', gid);
  return n ? `gid ${gid} (${n})` : `gid ${gid}`;
}

const octal = (mode: number) => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

/** "owned by uid 0 (root), gid 0 (root), mode 0600" */
export function describeOwner(st: Pick<Stats, 'uid' | 'gid' | 'mode'>): string {
  return `owned by ${describeUid(st.uid)}, ${describeGid(st.gid)}, mode ${octal(st.mode)}`;
}

/** Which of r/w/x the mode grants this process (by owner, group or other), ignoring capabilities. */
function granted(st: Stats): { r: boolean; w: boolean; x: boolean } {
  const uid = process.getuid?.() ?? -1;
  const groups = new Set([process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])]);
  const shift = st.uid === uid ? 6 : groups.has(st.gid) ? 3 : 0;
  const bits = (st.mode >> shift) & 7;
  return { r: (bits & 4) !== 0, w: (bits & 2) !== 0, x: (bits & 1) !== 0 };
}

/**
 * The hint for EACCES/EPERM on a bpffs path: for `open`, the pin's owner and
 * mode; for `pin`, those of the directory it goes into.
 */
export function describeAccess(path: string, op: 'open' | 'pin' | 'create'): string {
  const abs = resolve(path);
  const target = op === 'open' ? abs : dirname(abs);
  const uid = process.getuid?.() ?? -1;
  const caps = effectiveCaps();
  const dac = caps !== null && hasCap(caps, CAP.DAC_OVERRIDE) ? 'has CAP_DAC_OVERRIDE' : 'has no CAP_DAC_OVERRIDE';
  const who = `this process runs as ${describeUid(uid)} and ${dac}`;
  let st: Stats;
  try {
    st = statSync(target);
  } catch {
    // A directory on the way cannot be searched: name the nearest one we can see.
    let dir = dirname(target);
    for (;;) {
      try {
        const d = statSync(dir);
        return `cannot reach ${target}: ${dir} is ${describeOwner(d)}; ${who}`;
      } catch {
        if (dirname(dir) === dir) return `cannot reach ${target}; ${who}`;
        dir = dirname(dir);
      }
    }
  }
  const g = granted(st);
  if (op !== 'open') {
    const fix = g.w && g.x ? '' : op === 'pin' ? ': pin into a directory you own, or ask its owner for write access' : ': run as its owner (root) or with CAP_DAC_OVERRIDE';
    return `cannot create ${op === 'pin' ? 'a pin' : 'files'} in ${target}, which is ${describeOwner(st)}; ${who}${fix}`;
  }
  const fix = g.r && !g.w ? ': it can be opened read-only (BPF_F_RDONLY; map dump and map lookup do that)' : g.r ? '' : ': ask its owner for read access (chmod/chown), or run as its owner';
  return `${target} is ${describeOwner(st)}; ${who}${fix}`;
}
