// What loading some programs of an object needs: the maps their
// instructions refer to, the maps and programs those maps are declared to
// hold (tail-call targets in prog arrays, inner maps), transitively.
// A struct_ops program needs the map that names it (not the map's other
// programs, which only registering needs). Subprograms are already linked
// into each program. Lets `test-run` load
// one program without the rest of the object (whose other programs may be
// ones this kernel refuses, or whose other maps still need sizing).

import type { BpfObjectFile } from './types.js';

export function programClosure(file: BpfObjectFile, names: readonly string[]): { programs: Set<string>; maps: Set<string> } {
  const programs = new Set<string>();
  const maps = new Set<string>();
  const progQueue = [...names];
  const mapQueue: string[] = [];
  while (progQueue.length > 0 || mapQueue.length > 0) {
    const p = progQueue.pop();
    if (p !== undefined) {
      if (programs.has(p)) continue;
      programs.add(p);
      const spec = file.programs.find((x) => x.name === p);
      for (const r of spec?.relocations ?? []) if (r.kind === 'map_fd' || r.kind === 'map_value') mapQueue.push(r.map);
      // A struct_ops program loads against the kernel struct its map implements.
      for (const m of file.maps) if (m.structOps?.funcs.some((f) => f.program === p)) mapQueue.push(m.name);
      continue;
    }
    const m = mapQueue.pop()!;
    if (maps.has(m)) continue;
    maps.add(m);
    for (const slot of file.maps.find((x) => x.name === m)?.contents ?? []) {
      if (slot.kind === 'program') progQueue.push(slot.target);
      else mapQueue.push(slot.target);
    }
  }
  return { programs, maps };
}
