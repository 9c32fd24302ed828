// Naming a kernel object on the command line: a bpffs pin path, or id:N.

import { BpfError } from '../errors.js';
import { BpfMap } from '../maps/map.js';

export function openMapTarget(target: string | undefined): BpfMap {
  if (!target) throw new BpfError('USAGE', 'name the map: a pin path on bpffs, or id:N');
  const m = /^id:(\d+)$/.exec(target);
  if (m) return BpfMap.fromId(Number(m[1]));
  return BpfMap.fromPin(target);
}
