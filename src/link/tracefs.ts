// tracefs: where tracepoint ids live (events/<category>/<name>/id). Found
// where it is mounted; mounted at /sys/kernel/tracing when it is not, as
// bpftool does (the mount stays: other tools expect it there).

import { BpfError } from '../errors.js';
import * as ffi from '../sys/ffi.js';
import { errnoName } from '../sys/errno.js';
import { CAP, capsHint } from '../sys/caps.js';
const { readFileSync, readdirSync, statSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');

export const TRACEFS_DEFAULT = '/sys/kernel/tracing';
const CANDIDATES = [TRACEFS_DEFAULT, '/sys/kernel/debug/tracing'];

function mountedTracefs(): string | null {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return null;
  }
  for (const line of mounts.split('\n')) {
    const [, target, fstype] = line.split(' ');
    if (fstype === 'tracefs' && target) return target.replace(/\\040/g, ' ');
  }
  return null;
}

// Not existsSync: it is access(2), which checks the real uid without the
// effective capabilities, so a process holding CAP_DAC_READ_SEARCH was told
// tracefs was not mounted. stat(2) uses what the process really holds.
function existsSync(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') {
      let mode = '';
      try {
        const st = statSync(join(path, '..'));
        mode = `, owned by uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
      } catch {
        // the message goes without it
      }
      throw new BpfError(
        'NOT_ROOT',
        `tracefs at ${join(path, '..')} is not searchable by this process (uid ${process.getuid?.()}${mode}): reading tracepoint ids ${capsHint([[CAP.DAC_READ_SEARCH, CAP.DAC_OVERRIDE]], 'needs search permission on it')}`,
      );
    }
    return false;
  }
}

let root: string | undefined;

/** The tracefs root, mounting it at /sys/kernel/tracing when nothing has. */
export function tracefsRoot(): string {
  if (root && existsSync(join(root, 'events'))) return root;
  const m = mountedTracefs();
  if (m && existsSync(join(m, 'events'))) return (root = m);
  for (const c of CANDIDATES) if (existsSync(join(c, 'events'))) return (root = c);
  const r = ffi.mount('tracefs', TRACEFS_DEFAULT, 'tracefs', 0, null);
  if (r < 0) {
    throw new BpfError(
      'KERNEL_UNSUPPORTED',
      `tracefs is not mounted and mounting it at ${TRACEFS_DEFAULT} failed: ${errnoName(-r)} (needs CAP_SYS_ADMIN, and a kernel with CONFIG_TRACING); mount it with: mount -t tracefs nodev ${TRACEFS_DEFAULT}`,
    );
  }
  return (root = TRACEFS_DEFAULT);
}

/** The perf event config of tracepoint category/name (its id in tracefs). */
export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) {
    throw new BpfError('USAGE', `not a tracepoint name: ${category}/${name}`);
  }
  const base = tracefsRoot();
  const path = join(base, 'events', category, name, 'id');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    let hint = '';
    try {
      const names = readdirSync(join(base, 'events', category));
      const near = names.filter((n) => n.includes(name) || name.includes(n)).slice(0, 5);
      hint = near.length ? `; in ${category}: ${near.join(', ')}` : `; ${category} has ${names.length} events (ls ${join(base, 'events', category)})`;
    } catch {
      hint = `; no category ${category} (ls ${join(base, 'events')})`;
    }
    throw new BpfError('NO_SUCH_TARGET', `no tracepoint ${category}/${name} on this kernel${hint}`);
  }
  return Number.parseInt(text, 10);
}
