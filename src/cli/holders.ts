// What holds a kernel BPF object, for `pins` and the show commands: the
// pins on bpffs (each opened to see what it holds) and the processes with an
// fd to it.

import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_BPFFS } from '../maps/pin.js';
import { isBpffs, walkPins } from '../sys/bpffs.js';
import { errnoDescription } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { CAP, effectiveCaps, joinCaps, missingCaps } from '../sys/caps.js';
import { fdKind } from '../sys/fd.js';
import { fdHolders, type HeldKind } from '../sys/fd-holders.js';
import { linkInfo, mapInfo, progInfo } from '../sys/info.js';
import { linkTypeName } from '../sys/link-type.js';
import { objGet } from '../sys/obj-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_F_RDONLY, mapTypeName, progTypeName } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';
import { linkTarget } from './link-target.js';
import { linkIsDefunct } from './link-pins.js';

/** Files the kernel itself puts at a bpffs mount's root (bpf_preload: read them with cat). */
export const KERNEL_FILES = ['maps.debug', 'progs.debug'];

export interface PinRow {
  path: string;
  /** null when the pin could not be opened (see error). */
  kind: 'map' | 'prog' | 'link' | 'other' | null;
  id: number | null;
  name: string | null;
  /** Map or program type; for a link, its link type. */
  type: string | null;
  owner: number;
  mode: number;
  /** Links: the program and where it is attached, and whether the link still holds it. */
  progId?: number;
  target?: string;
  defunct?: boolean;
  error?: string;
}

/** Open a pin for reading what it holds: read-write (programs and links open no other way), else read-only (a map the caller may only read). */
function openPin(path: string): number {
  try {
    return objGet(path, 0, `pin ${path}`);
  } catch (e) {
    if (!(e instanceof BpfSyscallError && e.errnoName === 'EACCES')) throw e;
    return objGet(path, BPF_F_RDONLY, `pin ${path}`);
  }
}

export function describePin(path: string, st: Stats): PinRow {
  const base = { path, owner: st.uid, mode: st.mode & 0o7777 };
  let fd: number;
  try {
    fd = openPin(path);
  } catch (e) {
    const why = e instanceof BpfSyscallError ? errnoDescription(e.errno) : (e as Error).message;
    return { ...base, kind: null, id: null, name: null, type: null, error: why };
  }
  try {
    switch (fdKind(fd)) {
      case 'map': {
        const m = mapInfo(fd, path);
        return { ...base, kind: 'map', id: m.id, name: m.name, type: mapTypeName(m.type) };
      }
      case 'prog': {
        const p = progInfo(fd, {}, path);
        return { ...base, kind: 'prog', id: p.id, name: p.name, type: progTypeName(p.type) };
      }
      case 'link': {
        const l = linkInfo(fd, path);
        return { ...base, kind: 'link', id: l.id, name: null, type: linkTypeName(l.type), progId: l.progId, target: linkTarget(l), defunct: linkIsDefunct(l) };
      }
      default:
        return { ...base, kind: 'other', id: null, name: null, type: null };
    }
  } finally {
    ffi.close(fd);
  }
}

/** What holds an object besides this process: its pins under /sys/fs/bpf this process can see, and the processes with an fd to it. */
export interface Holders {
  pinned: string[];
  processes: { pid: number; comm: string }[];
}

/** The mount point of the bpffs holding `path`. */
function bpffsRoot(path: string): string {
  let dir = dirname(resolve(path));
  while (dir !== '/' && isBpffs(dirname(dir))) dir = dirname(dir);
  return dir;
}

/**
 * What holds the object: pins under /sys/fs/bpf and under the bpffs of
 * `pin` (the pin it was opened through, if any), the processes with an fd.
 */
export function holdersOf(kind: HeldKind, id: number, ctx: CommandContext, pin?: string | null): Holders {
  const roots = [...new Set([DEFAULT_BPFFS, ...(pin ? [bpffsRoot(pin)] : [])])].filter((r) => isBpffs(r));
  const pinned = roots.flatMap((root) => {
    const walked = walkPins(root);
    if (walked.unreadable.length)
      ctx.warn?.(`pins under ${walked.unreadable.join(', ')} are not shown: this process may not read ${walked.unreadable.length === 1 ? 'that directory' : 'those directories'}`);
    return walked.pins
      .map((p) => describePin(p.path, p.stat))
      .filter((r) => r.kind === kind && r.id === id)
      .map((r) => r.path);
  });
  const { holders, hidden } = fdHolders(kind, id);
  if (hidden > 0) {
    // Name only what this process lacks; one that has both is refused by something else (a sandbox's init, say).
    const missing = missingCaps([[CAP.DAC_READ_SEARCH], [CAP.SYS_PTRACE]], effectiveCaps());
    const why = missing.length ? `reading their fds needs ${joinCaps(missing)}` : 'the kernel refused to show their fds';
    ctx.warn?.(`${hidden} process${hidden === 1 ? '' : 'es'} that may hold it ${hidden === 1 ? 'is' : 'are'} not shown: ${why}`);
  }
  return { pinned, processes: holders.map(({ pid, comm }) => ({ pid, comm })) };
}

/** The two lines of a show command's text that say what holds the object. */
export function printHolders(ctx: CommandContext, h: Holders): void {
  ctx.print(`  pinned     ${h.pinned.length ? h.pinned.join(', ') : '-'}`);
  ctx.print(`  held by    ${h.processes.length ? h.processes.map((p) => `${p.comm} (pid ${p.pid})`).join(', ') : '- (no other process)'}`);
}
