// Possible CPUs, the number the kernel sizes per-CPU values and
// perf_event_array maps by. "Possible" (not "online"): per-CPU map slots exist
// for CPUs that could be hot-plugged later, so user buffers must cover them.

import { BpfError } from '../errors.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

const POSSIBLE = '/sys/devices/system/cpu/possible';

/** Parse a kernel CPU list ("0-3", "0,2-5", "0") into the count of CPUs it names. */
export function parseCpuList(text: string): number {
  let count = 0;
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new BpfError('IO', `cannot parse the CPU list ${JSON.stringify(text)} (from ${POSSIBLE})`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new BpfError('IO', `cannot parse the CPU list ${JSON.stringify(text)} (from ${POSSIBLE})`);
    count += hi - lo + 1;
  }
  if (count === 0) throw new BpfError('IO', `empty CPU list ${JSON.stringify(text)} (from ${POSSIBLE})`);
  return count;
}

let cached: number | undefined;

/** Number of possible CPUs (cached: it cannot change while the system runs). */
export function possibleCpus(): number {
  cached ??= parseCpuList(readFileSync(POSSIBLE, 'utf8'));
  return cached;
}
