// bpf-ts pins [DIR]: what is pinned on a bpf filesystem. `ls` shows names
// only; this opens each pin and says what it holds (map, program or link, its
// id, name and type, its owner), and which link pins hold nothing any more —
// to find what a run, a test or another tool left behind.

import type { Stats } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import { describeOwner, isBpffs, walkPins } from '../../sys/bpffs.js';
import { errnoDescription } from '../../sys/errno.js';
import * as ffi from '../../sys/ffi.js';
import { fdKind } from '../../sys/fd.js';
import { linkInfo, mapInfo, progInfo } from '../../sys/info.js';
import { linkTypeName } from '../../sys/link-type.js';
import { objGet } from '../../sys/obj-attr.js';
import { BpfSyscallError } from '../../sys/syscall-error.js';
import { BPF_F_RDONLY, mapTypeName, progTypeName } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';
import { table } from '../format.js';
import { linkIsDefunct } from '../link-pins.js';
import { linkTarget } from './link.js';

const KERNEL_FILES = ['maps.debug', 'progs.debug'];

interface PinRow {
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

function describePin(path: string, st: Stats): PinRow {
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

/** The DETAIL column: a map's or program's type; a link's type, program and target. */
function detail(r: PinRow): string {
  if (r.error) return `cannot open: ${r.error}`;
  if (r.kind !== 'link') return r.type ?? '';
  return `${r.type} link, prog ${r.progId}${r.target ? `, ${r.target}` : ''}${r.defunct ? ' (defunct: holds nothing)' : ''}`;
}

export const pins = defineCommand({
  name: 'pins',
  summary: "list what is pinned on bpffs: each pin's kind, id, name and type, its owner, and the link pins that hold nothing any more",
  usage: 'bpf-ts pins [DIR] [--json]  (DIR: a directory on bpffs, default /sys/fs/bpf)',
  options: {},
  run(positionals, _values, ctx) {
    if (positionals.length > 1) throw new BpfError('USAGE', `pins takes one directory (usage: ${this.usage})`);
    const dir = resolve(positionals[0] ?? DEFAULT_BPFFS);
    if (!isBpffs(dir)) throw new BpfError('NOT_BPFFS', `${dir} is not on a bpf filesystem (mount one with: mount -t bpf bpf ${dir})`);
    const { pins: found, truncated } = walkPins(dir);
    // maps.debug and progs.debug at a mount's root are the kernel's own (bpf_preload: read them with cat).
    const mountRoot = !isBpffs(dirname(dir));
    const rows = found.filter((p) => !(mountRoot && KERNEL_FILES.includes(relative(dir, p.path)))).map((p) => describePin(p.path, p.stat));
    if (truncated) ctx.warn?.(`${dir} holds more entries than bpf-ts walks (20000): the list stops there`);
    if (ctx.json) {
      ctx.printJson({ dir, pins: rows, truncated });
      return 0;
    }
    if (rows.length === 0) {
      ctx.print(`nothing is pinned under ${dir}`);
      return 0;
    }
    const rel = (p: string) => (p.startsWith(dir + '/') ? p.slice(dir.length + 1) : p);
    ctx.print(
      table(
        ['PIN', 'KIND', 'ID', 'NAME', 'DETAIL', 'OWNER'],
        rows.map((r) => [rel(r.path), r.kind ?? '?', r.id, r.name, detail(r), describeOwner(r.owner)]),
      ),
    );
    return 0;
  },
});
