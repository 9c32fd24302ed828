// Naming a kernel object on the command line: a bpffs pin path, or id:N.

import { BpfError } from '../errors.js';
import { BpfMap } from '../maps/map.js';

/**
 * Open a map named on the command line. `readOnly` (map dump, map lookup)
 * asks the kernel for a read-only fd (BPF_F_RDONLY), so a pin the caller may
 * only read (e.g. mode 0644, owned by someone else) still opens.
 */
export function openMapTarget(target: string | undefined, opts: { readOnly?: boolean } = {}): BpfMap {
  if (!target) throw new BpfError('USAGE', 'name the map: a pin path on bpffs, or id:N');
  if (target.startsWith('id:')) {
    const id = /^id:([1-9]\d{0,9})$/.exec(target);
    if (!id || Number(id[1]) > 0xffffffff) throw new BpfError('USAGE', `${target} is not a map id: write id:N with N a kernel map id (bpf-ts map list shows them)`);
    return BpfMap.fromId(Number(id[1]), opts);
  }
  return BpfMap.fromPin(target, opts);
}
