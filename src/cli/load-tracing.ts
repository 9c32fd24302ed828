// `load OBJ --pin-links DIR`: attach every tracing program where its section
// says and pin each link under DIR, so they stay attached after the command
// ends. `detach --links DIR` undoes it: every link pinned there is detached
// and unpinned, and DIR removed once empty. A failed load leaves nothing:
// pins made so far are removed, and DIR too when this command created it.

import { existsSync, lstatSync, readdirSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { openObject } from '../collection.js';
import { BpfError } from '../errors.js';
import { autoAttach } from '../link/auto.js';
import { BpfLink, BpfLinkSet } from '../link/link.js';
import { unpin } from '../maps/pin.js';
import { ensureBpffs, removeCreatedDirs, removeEmptyDirs, walkBpffsDir } from '../sys/bpffs.js';
import { EINVAL, EOPNOTSUPP } from '../sys/errno.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import type { CommandContext } from './command.js';
import { applySets, loadSkippingUnsupported, tracingSelection } from './run-tracing.js';

export interface PinnedLink {
  program: string;
  path: string;
  linkId: number;
}

export function loadPinLinks(objPath: string, dir: string, opts: { program?: string; set?: string[] }, ctx: CommandContext): number {
  const abs = resolve(dir);
  if (abs.includes('\0')) throw new BpfError('USAGE', '--pin-links: path contains a NUL byte');
  const spec = openObject(objPath);
  applySets(spec, opts.set);
  const { attach, skipped } = tracingSelection(spec, opts.program ? [opts.program] : undefined);
  if (attach.length === 0) throw new BpfError('USAGE', `${spec.path}: no program names a tracing target; --pin-links pins tracing links (for XDP use --xdp IFACE --link)`);
  const createdDirs = ensureBpffs(abs, { mkdir: true, purpose: `pin links in ${abs}` });
  const pinned: PinnedLink[] = [];
  const links: (BpfLink | BpfLinkSet)[] = [];
  try {
    using coll = loadSkippingUnsupported(
      spec,
      attach.map((p) => p.name),
      skipped,
    );
    for (const p of attach) {
      if (!coll.programs.has(p.name)) continue;
      const l = autoAttach(coll.program(p.name), p);
      links.push(l);
      const each = l instanceof BpfLinkSet ? l.links.map((x, i) => [x, `${p.name}_${i}`] as const) : [[l, p.name] as const];
      for (const [link, name] of each) {
        const path = join(abs, name);
        link.pin(path);
        pinned.push({ program: p.name, path, linkId: link.id });
      }
    }
  } catch (e) {
    for (const p of pinned) rmPin(p.path);
    removeEmptyDirs(createdDirs);
    throw e;
  } finally {
    for (const l of links) l.close();
  }
  if (ctx.json) ctx.printJson({ pinned, skipped: skipped.map((s) => ({ program: s.name, reason: s.reason })) });
  else {
    for (const p of pinned) ctx.print(`attached ${p.program} (link ${p.linkId}), pinned at ${p.path}`);
    for (const s of skipped) ctx.print(`skipped ${s.name}: ${s.reason}`);
    ctx.print(`they stay attached until: bpf-ts detach --links ${abs}`);
  }
  return 0;
}

/** Remove a pin this command made (checked: bpffs, no symlink). */
function rmPin(path: string): void {
  try {
    unpin(path);
  } catch {
    // already gone, or no longer ours to remove
  }
}

function rmdirIfEmpty(dir: string): boolean {
  try {
    if (readdirSync(dir).length === 0) {
      rmdirSync(dir);
      return true;
    }
  } catch {
    // not ours to force
  }
  return false;
}

export function detachLinksDir(dir: string, ctx: CommandContext): number {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new BpfError('NOT_ATTACHED', `${abs}: no such directory (nothing pinned there)`);
  // On bpffs, no symlink on the way, owned by root or us (PIN_UNSAFE otherwise).
  walkBpffsDir(abs, { purpose: `detach the links pinned in ${abs}` });
  const done: { path: string; linkId: number }[] = [];
  const left: { path: string; why: string }[] = [];
  for (const name of readdirSync(abs).sort()) {
    const path = join(abs, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink() || st.isDirectory()) {
      left.push({ path, why: st.isSymbolicLink() ? 'a symlink (never followed)' : 'a directory' });
      continue;
    }
    let link: BpfLink;
    try {
      link = BpfLink.fromPin(path);
    } catch (e) {
      left.push({ path, why: e instanceof Error ? e.message : String(e) });
      continue;
    }
    try {
      try {
        link.detach();
      } catch (e) {
        // Perf event and raw tracepoint links have no LINK_DETACH: unpinning and closing the last fd detaches them.
        if (!(e instanceof BpfSyscallError && (e.errno === EOPNOTSUPP || e.errno === EINVAL))) throw e;
      }
      link.unpin(path);
      done.push({ path, linkId: link.id });
    } finally {
      link.close();
    }
  }
  // DIR itself when empty; then the empty directories above it that load made (marked 01700).
  if (rmdirIfEmpty(abs)) removeCreatedDirs(dirname(abs));
  if (ctx.json) ctx.printJson({ detached: done, left });
  else {
    for (const d of done) ctx.print(`detached link ${d.linkId} (${d.path})`);
    for (const l of left) ctx.print(`left ${l.path}: ${l.why}`);
    if (done.length === 0 && left.length === 0) ctx.print(`${abs} held no links`);
  }
  return left.length ? 1 : 0;
}
