// How much memory a new kernel object may still take: MemAvailable, or what
// this process's memory cgroup has left (maps are charged to it since 5.11),
// whichever is lower.

import { readFileSync } from 'node:fs';

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

/** Bytes left in this process's cgroup v2 memory limit, or null when unlimited or unknown. */
function cgroupLeft(): number | null {
  const self = read('/proc/self/cgroup');
  const m = self ? /^0::(\/.*)$/m.exec(self) : null;
  if (!m) return null;
  const dir = `/sys/fs/cgroup${m[1] === '/' ? '' : m[1]}`;
  const max = read(`${dir}/memory.max`)?.trim();
  const cur = read(`${dir}/memory.current`)?.trim();
  if (!max || max === 'max' || !cur) return null;
  return Math.max(0, Number(max) - Number(cur));
}

/** Memory available for new kernel objects, with where the figure comes from; null when unknown. */
export function availableMemory(): { bytes: number; source: string } | null {
  const info = read('/proc/meminfo');
  const avail = info ? memAvailableFrom(info) : null;
  const cg = cgroupLeft();
  if (cg !== null && (avail === null || cg < avail)) return { bytes: cg, source: 'memory cgroup limit' };
  return avail === null ? null : { bytes: avail, source: 'MemAvailable in /proc/meminfo' };
}
