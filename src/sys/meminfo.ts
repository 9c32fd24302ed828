// How much memory a new kernel object may still take: MemAvailable, or what
// this process's memory cgroup has left (maps are charged to it since 5.11;
// found through the mount table, v2 or a v1 memory hierarchy),
// whichever is lower.

import { ownMemoryCgroupLeft } from './cgroupfs.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** MemAvailable from a /proc/meminfo text, in bytes. */
export function memAvailableFrom(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

/** Memory available for new kernel objects, with where the figure comes from; null when unknown. */
export function availableMemory(): { bytes: number; source: string } | null {
  const info = read('/proc/meminfo');
  const avail = info ? memAvailableFrom(info) : null;
  const cg = ownMemoryCgroupLeft();
  if (cg !== null && (avail === null || cg < avail)) return { bytes: cg, source: 'memory cgroup limit' };
  return avail === null ? null : { bytes: avail, source: 'MemAvailable in /proc/meminfo' };
}
