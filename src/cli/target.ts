// Naming a kernel object on the command line: a bpffs pin path, or id:N.

import { BpfError } from '../errors.js';
import { BpfMap } from '../maps/map.js';

export function openMapTarget(target: string | undefined): BpfMap {
  if (!target) throw new BpfError('USAGE', 'name the map: a pin path on bpffs, or id:N');
  if (target.startsWith('id:')) {
    const id = /^id:([1-9]\d{0,9})$/.exec(target);
    if (!id || Number(id[1]) > 0xffffffff) throw new BpfError('USAGE', `${target} is not a map id: write id:N with N a kernel map id (bpf-ts map list shows them)`);
    return BpfMap.fromId(Number(id[1]));
  }
  return BpfMap.fromPin(target);
}
