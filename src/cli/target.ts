// Naming a kernel object on the command line: a bpffs pin path, or id:N.

import { resolve } from 'node:path';
import { BpfError } from '../errors.js';
import { BpfLink } from '../link/link.js';
import { BpfMap } from '../maps/map.js';
import { BpfProgram } from '../programs/program.js';
import type { CommandContext } from './command.js';
import { readLinkPin } from './link-pins.js';

/** N of "id:N", or undefined for a pin path; a malformed id is a USAGE error saying how to list the ids. */
function idOf(target: string, what: 'map' | 'program' | 'link', lister: string): number | undefined {
  if (!target.startsWith('id:')) return undefined;
  const id = /^id:([1-9]\d{0,9})$/.exec(target);
  if (!id || Number(id[1]) > 0xffffffff) throw new BpfError('USAGE', `${target} is not a ${what} id: write id:N with N a kernel ${what} id (${lister} shows them)`);
  return Number(id[1]);
}

/**
 * Open a map named on the command line. `readOnly` (map dump, map lookup)
 * asks the kernel for a read-only fd (BPF_F_RDONLY), so a pin the caller may
 * only read (e.g. mode 0644, owned by someone else) still opens.
 */
export function openMapTarget(target: string | undefined, opts: { readOnly?: boolean } = {}): BpfMap {
  if (!target) throw new BpfError('USAGE', 'name the map: a pin path on bpffs, or id:N');
  const id = idOf(target, 'map', 'bpf-ts map list');
  return id === undefined ? BpfMap.fromPin(target, opts) : BpfMap.fromId(id, opts);
}

/**
 * Open a program named on the command line: a pinned program, a pinned link
 * (the program attached through it, as `load --link` leaves it; opened by id,
 * which needs CAP_SYS_ADMIN), or id:N.
 */
export function openProgTarget(target: string | undefined): BpfProgram {
  if (!target) throw new BpfError('USAGE', 'name the program: a pin path on bpffs (a program or a link), or id:N');
  const id = idOf(target, 'program', 'bpf-ts prog list');
  if (id !== undefined) return BpfProgram.fromId(id);
  const link = readLinkPin(target, `open program ${resolve(target)}`);
  if (link !== null && link !== 'other') return BpfProgram.fromId(link.progId);
  return BpfProgram.fromPin(target);
}

/** The absolute pin path a target names, or null for id:N (or none). */
export function pinOfTarget(target: string | undefined): string | null {
  return target === undefined || target.startsWith('id:') ? null : resolve(target);
}

/** Open a link named on the command line: a pinned link, or id:N (needs CAP_SYS_ADMIN). */
export function openLinkTarget(target: string | undefined): BpfLink {
  if (!target) throw new BpfError('USAGE', 'name the link: a pin path on bpffs, or id:N');
  const id = idOf(target, 'link', 'bpf-ts link list');
  return id === undefined ? BpfLink.fromPin(target) : BpfLink.fromId(id);
}

/**
 * `bpf-ts prog|map|link pin TARGET PATH`: pin the object TARGET names at
 * PATH as well (missing directories made 0700, the pin 0600; never over an
 * existing file or through a symlink), and say so.
 */
export function pinAt(open: () => PinnableObject, what: string, path: string | undefined, ctx: CommandContext): number {
  if (!path) throw new BpfError('USAGE', `name where to pin the ${what}: a path on bpffs`);
  using obj = open();
  const createdDirs = obj.pin(path, { mkdir: true });
  const pinnedAt = resolve(path);
  if (ctx.json) ctx.printJson({ id: obj.id, pinnedAt, createdDirs });
  else ctx.print(`pinned ${what} ${obj.id} at ${pinnedAt}`);
  return 0;
}

interface PinnableObject extends Disposable {
  id: number;
  pin(path: string, opts: { mkdir?: boolean }): string[];
}
