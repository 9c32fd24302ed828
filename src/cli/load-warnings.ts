// What a load did not do that the user would otherwise never learn: the
// kernel refused the object's BTF (too deep nesting, kinds it does not know)
// and bpf-ts went on without it, as libbpf does — but says so.

import type { BpfCollection } from '../collection.js';
import type { CommandContext } from './command.js';

/** The warnings for a loaded collection (one line each). */
export function loadWarnings(coll: Pick<BpfCollection, 'path' | 'btfError'>): string[] {
  if (!coll.btfError) return [];
  const lines = coll.btfError
    .trim()
    .split('\n')
    .filter((l) => l.trim());
  const reason = lines[lines.length - 1] ?? coll.btfError;
  return [
    `${coll.path}: the kernel refused the object's BTF (${reason.trim()}); loaded without it: maps carry no BTF types (no formatted dumps, no typed access from other tools) and verifier errors name no source lines`,
  ];
}

export function warnLoad(ctx: CommandContext, coll: Pick<BpfCollection, 'path' | 'btfError'>): void {
  for (const w of loadWarnings(coll)) ctx.warn?.(w);
}
