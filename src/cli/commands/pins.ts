// bpf-ts pins [DIR]: what is pinned on a bpf filesystem. `ls` shows names
// only; this opens each pin and says what it holds (map, program or link, its
// id, name and type, its owner), and which link pins hold nothing any more —
// to find what a run, a test or another tool left behind.

import { statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import { describeOwner, isBpffs, walkPins } from '../../sys/bpffs.js';
import { type CommandContext, defineCommand } from '../command.js';
import { readLinkPin, removeLinkPin } from '../link-pins.js';
import { table } from '../format.js';
import { describePin, KERNEL_FILES, type PinRow } from '../holders.js';

/** The DETAIL column: a map's or program's type; a link's type, program and target. */
function detail(r: PinRow): string {
  if (r.error) return `cannot open: ${r.error}`;
  if (r.kind !== 'link') return r.type ?? '';
  return `${r.type} link, prog ${r.progId}${r.target ? `, ${r.target}` : ''}${r.defunct ? ' (defunct: holds nothing)' : ''}`;
}

/**
 * --prune: remove the pins of links that hold nothing any more (defunct), and
 * nothing else — a map or program pin may be kept on purpose. Each pin is
 * checked again as it goes (no symlink, no directory or pin another user
 * owns: those stay, with a warning), and bpf-ts's own empty directories go
 * with their last pin.
 */
function prune(rows: PinRow[], ctx: CommandContext): string[] {
  const removed: string[] = [];
  for (const r of rows) {
    if (r.kind !== 'link' || !r.defunct) continue;
    let held: ReturnType<typeof readLinkPin>;
    try {
      held = readLinkPin(r.path, `remove ${r.path}`);
    } catch (e) {
      if (!(e instanceof BpfError && e.code === 'PIN_UNSAFE')) throw e;
      ctx.warn?.(`left ${r.path}: ${e.message}`);
      continue;
    }
    if (held === null || held === 'other' || !held.defunct) continue; // changed meanwhile
    removeLinkPin(r.path);
    removed.push(r.path);
  }
  return removed;
}

export const pins = defineCommand({
  name: 'pins',
  summary: "list what is pinned on bpffs: each pin's kind, id, name and type, its owner, and the link pins that hold nothing any more (--prune removes those)",
  usage: 'bpf-ts pins [DIR] [--prune] [--json]  (DIR: a directory on bpffs, default /sys/fs/bpf)',
  options: { prune: { type: 'boolean' } },
  run(positionals, values, ctx) {
    if (positionals.length > 1) throw new BpfError('USAGE', `pins takes one directory (usage: ${this.usage})`);
    const dir = resolve(positionals[0] ?? DEFAULT_BPFFS);
    if (!isBpffs(dir)) throw new BpfError('NOT_BPFFS', `${dir} is not on a bpf filesystem (mount one with: mount -t bpf bpf ${dir})`);
    const { pins: found, truncated, unreadable } = walkPins(dir);
    const denied = (d: string) => {
      const st = statSync(d);
      return `${d} (owner ${describeOwner(st.uid)}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
    };
    if (unreadable[0] === dir) throw new BpfError('IO', `cannot list ${denied(dir)}: permission denied; run as its owner or root, or with CAP_DAC_READ_SEARCH`);
    for (const d of unreadable) ctx.warn?.(`not listed: ${denied(d)} may not be read by this process`);
    // maps.debug and progs.debug at a mount's root are the kernel's own (bpf_preload: read them with cat).
    const mountRoot = !isBpffs(dirname(dir));
    const rows = found.filter((p) => !(mountRoot && KERNEL_FILES.includes(relative(dir, p.path)))).map((p) => describePin(p.path, p.stat));
    if (truncated) ctx.warn?.(`${dir} holds more entries than bpf-ts walks (20000): the list stops there`);
    const removed = values.prune ? prune(rows, ctx) : [];
    const left = rows.filter((r) => !removed.includes(r.path));
    if (ctx.json) {
      ctx.printJson({ dir, pins: left, truncated, ...(values.prune ? { removed } : {}) });
      return 0;
    }
    for (const path of removed) ctx.print(`removed ${path}: its link held nothing`);
    if (left.length === 0) {
      ctx.print(`nothing is pinned under ${dir}`);
      return 0;
    }
    const rel = (p: string) => (p.startsWith(dir + '/') ? p.slice(dir.length + 1) : p);
    ctx.print(
      table(
        ['PIN', 'KIND', 'ID', 'NAME', 'DETAIL', 'OWNER'],
        left.map((r) => [rel(r.path), r.kind ?? '?', r.id, r.name, detail(r), describeOwner(r.owner)]),
      ),
    );
    return 0;
  },
});
