// `load OBJ --pin-links DIR`: attach every tracing program where its section
// says and pin each link under DIR, so they stay attached after the command
// ends; register every struct_ops map (as a skeleton's attach and `bpftool
// struct_ops register` do) and pin, under the map's name, its bpf_link
// (.struct_ops.link) or, for a map its update registered, the map itself,
// which stays registered. `detach --links DIR` undoes it: every link pinned
// there is detached, every struct_ops map unregistered, each unpinned, and
// DIR removed once empty. A failed load leaves nothing: pins made so far are
// removed, registrations undone, and DIR too when this command created it.

import { existsSync, lstatSync, readdirSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { openObject } from '../collection.js';
import { BpfError } from '../errors.js';
import { autoAttach } from '../link/auto.js';
import { BpfLink, BpfLinkSet } from '../link/link.js';
import { BpfMap } from '../maps/map.js';
import { unpin } from '../maps/pin.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
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

/** A struct_ops map `load --pin-links` registered, and what it pinned for it. */
export interface RegisteredStructOps {
  map: string;
  struct: string;
  mapId: number;
  path: string;
  /** The bpf_link pinned at `path` (.struct_ops.link); absent when the map itself is pinned there. */
  linkId?: number;
}

export function loadPinLinks(objPath: string, dir: string, opts: { program?: string; set?: string[] }, ctx: CommandContext): number {
  const abs = resolve(dir);
  if (abs.includes('\0')) throw new BpfError('USAGE', '--pin-links: path contains a NUL byte');
  const spec = openObject(objPath);
  applySets(spec, opts.set);
  // struct_ops maps (not with --program, which names one tracing program) and the programs they hold.
  const { attach, skipped, structOps, members } = tracingSelection(spec, opts.program ? [opts.program] : undefined);
  if (attach.length === 0 && structOps.length === 0) {
    throw new BpfError(
      'USAGE',
      `${spec.path}: no program names a tracing target and no struct_ops map is there to register; --pin-links pins tracing and struct_ops links (for XDP use --xdp IFACE --link)`,
    );
  }
  const createdDirs = ensureBpffs(abs, { mkdir: true, purpose: `pin links in ${abs}` });
  const pinned: PinnedLink[] = [];
  const registered: RegisteredStructOps[] = [];
  const links: (BpfLink | BpfLinkSet)[] = [];
  try {
    using coll = loadSkippingUnsupported(spec, [...attach.map((p) => p.name), ...members], skipped, { registerStructOps: false });
    for (const m of structOps) {
      // Pinned under the map's name: refuse a name a program's link takes too.
      const path = join(abs, m.name);
      if (attach.some((p) => p.name === m.name)) throw new BpfError('USAGE', `${spec.path}: struct_ops map ${m.name} and a program share a name; pin them with --program one at a time`);
      coll.registerStructOps(m.name);
      const link = coll.structOpsLinks.get(m.name);
      const map = coll.map(m.name);
      if (link) {
        using l = new BpfLink(link.dup());
        l.pin(path);
        registered.push({ map: m.name, struct: m.structOps!.typeName, mapId: map.info().id, path, linkId: l.id });
      } else {
        map.pin(path);
        registered.push({ map: m.name, struct: m.structOps!.typeName, mapId: map.info().id, path });
      }
    }
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
    // Everything pinned: the maps their update registered stay so after the collection closes.
    for (const r of registered) if (r.linkId === undefined) coll.keepStructOpsRegistered(r.map);
  } catch (e) {
    for (const p of [...pinned, ...registered]) rmPin(p.path);
    removeEmptyDirs(createdDirs);
    throw e;
  } finally {
    for (const l of links) l.close();
  }
  if (ctx.json) ctx.printJson({ pinned, structOps: registered, skipped: skipped.map((s) => ({ program: s.name, reason: s.reason })) });
  else {
    for (const r of registered) {
      ctx.print(`registered struct_ops map ${r.map} (struct ${r.struct}, map ${r.mapId}), ${r.linkId === undefined ? 'map' : `link ${r.linkId}`} pinned at ${r.path}`);
    }
    for (const p of pinned) ctx.print(`attached ${p.program} (link ${p.linkId}), pinned at ${p.path}`);
    for (const s of skipped) ctx.print(`skipped ${s.name}: ${s.reason}`);
    ctx.print(`they stay ${registered.length && !pinned.length ? 'registered' : 'attached'} until: bpf-ts detach --links ${abs}`);
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
  const unregistered: { path: string; mapId: number }[] = [];
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
      // Not a link: a struct_ops map load --pin-links registered and pinned is unregistered.
      const mapId = unregisterPinnedStructOps(path);
      if (mapId !== null) unregistered.push({ path, mapId });
      else left.push({ path, why: e instanceof Error ? e.message : String(e) });
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
  if (ctx.json) ctx.printJson({ detached: done, unregistered, left });
  else {
    for (const d of done) ctx.print(`detached link ${d.linkId} (${d.path})`);
    for (const u of unregistered) ctx.print(`unregistered struct_ops map ${u.mapId} (${u.path})`);
    for (const l of left) ctx.print(`left ${l.path}: ${l.why}`);
    if (done.length === 0 && unregistered.length === 0 && left.length === 0) ctx.print(`${abs} held no links`);
  }
  return left.length ? 1 : 0;
}

/**
 * The struct_ops map pinned at `path`: unregistered (key 0 deleted; already
 * unregistered is fine) and unpinned; its id. null when the pin is not a
 * struct_ops map.
 */
function unregisterPinnedStructOps(path: string): number | null {
  let map: BpfMap;
  try {
    map = BpfMap.fromPin(path);
  } catch {
    return null;
  }
  using _ = map;
  if (map.type !== BPF_MAP_TYPE.STRUCT_OPS) return null;
  map.delete(Buffer.alloc(4));
  unpin(path);
  return map.info().id;
}
