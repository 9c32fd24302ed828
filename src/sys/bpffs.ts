// The bpf filesystem: the only place BPF_OBJ_PIN can put objects. bpf-ts
// never mounts it (that is the system's or the user's decision); it checks
// and says clearly what is wrong instead of passing the kernel's EPERM on.
//
// bpffs is usually mounted 1777 (like /tmp), so other users can create
// directories, pins and symlinks in it. Every path bpf-ts pins at, reuses or
// removes is therefore walked one component at a time with lstat: inside
// bpffs a symlink is refused, and so is a directory or pin that belongs to
// another non-root user or that group/other may write without the sticky
// bit. What bpf-ts creates is private: directories 0700, pins 0600.
//
// Directories bpf-ts creates also carry the sticky bit (01700): with no
// group/other access it changes nothing, but it marks them as made by
// bpf-ts, so a later detach (another process) can remove the empty ones it
// made for a custom pin path, and never a directory the user made.

import type { Stats } from 'node:fs';
import { BpfError } from '../errors.js';
import * as ffi from './ffi.js';
import { EEXIST } from './errno.js';
import { objPin } from './obj-attr.js';
import { BpfSyscallError } from './syscall-error.js';
const { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } = process.getBuiltinModule('node:fs');
const { dirname, join, resolve } = process.getBuiltinModule('node:path');

export const BPF_FS_MAGIC = 0xcafe4a11;

/** Mode of the directories bpf-ts creates on bpffs: private, sticky as its mark (see above). */
export const CREATED_DIR_MODE = 0o1700;

/** Whether `path` (which must exist) lives on a bpf filesystem. */
export function isBpffs(path: string): boolean {
  return ffi.fsMagic(path) === BPF_FS_MAGIC;
}

/** Refuse paths the kernel would read differently from us: a NUL byte ends a C string early. */
export function checkPinPathString(path: string, what = 'pin path'): void {
  if (typeof path !== 'string' || path.length === 0) throw new BpfError('BAD_PATH', `${what} must be a non-empty string`);
  if (path.includes('\0')) {
    throw new BpfError('BAD_PATH', `${what} ${JSON.stringify(path)} contains a NUL byte; the kernel would cut it there`);
  }
}

let passwd: Map<number, string> | null = null;

/** "nobody (uid 65534)", or "uid 1234" when /etc/passwd does not name it. */
export function describeOwner(uid: number): string {
  if (passwd === null) {
    passwd = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && /^\d+$/.test(f[2]!) && !passwd.has(Number(f[2]))) passwd.set(Number(f[2]), f[0]!);
      }
    } catch {
      // no passwd: numbers only
    }
  }
  const name = passwd.get(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

const euid = (): number => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/**
 * Why an existing directory or pin cannot be trusted, or null when it can:
 * it must belong to root or to us, and group/other may not write to it
 * (a directory may if it has the sticky bit, as /sys/fs/bpf itself does).
 */
export function untrustedReason(st: Stats, kind: 'directory' | 'pin'): string | null {
  const me = euid();
  if (st.uid !== 0 && st.uid !== me) {
    return `is owned by ${describeOwner(st.uid)}, not by root${me !== 0 ? ` or ${describeOwner(me)}` : ''}`;
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !(kind === 'directory' && sticky)) {
    const who = [st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'other users' : ''].filter(Boolean).join(' and ');
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    return `is writable by ${who} (mode ${mode}, owner ${describeOwner(st.uid)})${kind === 'directory' ? ' without the sticky bit' : ''}`;
  }
  return null;
}

function refuse(path: string, kind: 'directory' | 'pin', reason: string, purpose: string): never {
  throw new BpfError('PIN_UNSAFE', `${purpose}: ${kind} ${path} ${reason}; another user could replace or remove what bpf-ts puts there — remove it (or use a path you own)`);
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Walk `dir` from the root. Outside bpffs the walk follows the system's
 * rules (a symlink to a bpffs mount is fine); from the bpffs mount point on,
 * every component is lstat'ed: symlinks and untrusted directories are
 * refused, and with `mkdir` missing directories are created 0700 (whatever
 * the umask). Returns the directories it created, outermost first.
 */
export function walkBpffsDir(dir: string, opts: { mkdir?: boolean; purpose?: string; missingOk?: boolean } = {}): string[] {
  checkPinPathString(dir, 'bpffs directory');
  const abs = resolve(dir);
  const purpose = opts.purpose ?? `use ${abs}`;
  const created: string[] = [];
  let cur = '/';
  let inside = isBpffs('/');
  if (inside) checkDir('/', statSync('/'), purpose);
  try {
    for (const comp of abs.split('/').filter(Boolean)) {
      const next = join(cur, comp);
      let st = lstatOrNull(next);
      if (!st) {
        // Checking for a pin: a missing directory inside bpffs simply holds none.
        if (inside && opts.missingOk && !opts.mkdir) return created;
        if (!inside || !opts.mkdir) {
          throw new BpfError('NOT_BPFFS', `${abs} does not exist` + (inside ? '' : `; ${cur} is not on a bpf filesystem (mount one with: mount -t bpf bpf /sys/fs/bpf)`));
        }
        try {
          mkdirSync(next, { mode: 0o700 });
          // mkdir's mode passes through the umask (and drops the sticky bit): set it explicitly.
          chmodSync(next, CREATED_DIR_MODE);
          created.push(next);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          // Someone made it meanwhile: it is checked below like any existing one.
        }
        st = lstatSync(next);
      }
      if (inside) {
        if (st.isSymbolicLink()) {
          throw new BpfError('PIN_UNSAFE', `${purpose}: ${next} is a symlink inside bpffs (owner ${describeOwner(st.uid)}); bpf-ts never follows symlinks on bpffs`);
        }
        if (!st.isDirectory()) throw new BpfError('NOT_BPFFS', `${purpose}: ${next} is not a directory`);
        checkDir(next, st, purpose);
      } else {
        const target = st.isSymbolicLink() ? statSync(next) : st;
        if (!target.isDirectory()) throw new BpfError('NOT_BPFFS', `${next} is not a directory`);
        inside = isBpffs(next);
        if (inside) checkDir(next, target, purpose);
      }
      cur = next;
    }
  } catch (e) {
    removeEmptyDirs(created);
    throw e;
  }
  if (!inside) {
    throw new BpfError('NOT_BPFFS', `${abs} is not on a bpf filesystem (BPF_FS_MAGIC); pins need one, e.g. mount -t bpf bpf /sys/fs/bpf`);
  }
  return created;
}

function checkDir(path: string, st: Stats, purpose: string): void {
  const why = untrustedReason(st, 'directory');
  if (why) refuse(path, 'directory', why, purpose);
}

/**
 * Check that `dir` is a directory on a bpf filesystem, throwing
 * BpfError('NOT_BPFFS') otherwise (and 'PIN_UNSAFE' for symlinks and
 * directories another user controls). With `mkdir`, missing directories are
 * created (0700) when their nearest existing ancestor is on bpffs, as
 * iproute2 does for tc/globals. Returns the directories created.
 */
export function ensureBpffs(dir: string, opts: { mkdir?: boolean; purpose?: string } = {}): string[] {
  return walkBpffsDir(dir, opts);
}

/**
 * The existing pin at `path` after checking the path to it: null when there
 * is none; BpfError 'PIN_UNSAFE' for a symlink, or a pin another non-root
 * user owns or group/other may write.
 */
export function checkExistingPin(path: string, purpose?: string): Stats | null {
  checkPinPathString(path);
  const abs = resolve(path);
  const why = purpose ?? `use pin ${abs}`;
  walkBpffsDir(dirname(abs), { purpose: why, missingOk: true });
  const st = lstatOrNull(abs);
  if (!st) return null;
  if (st.isSymbolicLink()) throw new BpfError('PIN_UNSAFE', `${why}: ${abs} is a symlink inside bpffs (owner ${describeOwner(st.uid)}); bpf-ts never follows symlinks on bpffs`);
  if (st.isDirectory()) throw new BpfError('PIN_EXISTS', `${why}: ${abs} is a directory, not a pin`);
  const reason = untrustedReason(st, 'pin');
  if (reason) refuse(abs, 'pin', reason, why);
  return st;
}

/**
 * Whether there is a pin bpf-ts may open at `path`: false when there is
 * none, and when checkExistingPin would refuse it (a symlink, a pin or a
 * directory on the way that another user owns or may write, no bpffs). For
 * the detach paths that look where bpf-ts pins its links and go on by other
 * means when what is there is not theirs: someone else's file must neither
 * be opened nor stop the detach.
 */
export function trustedPinAt(path: string): boolean {
  try {
    return checkExistingPin(path) !== null;
  } catch (e) {
    if (e instanceof BpfError && (e.code === 'PIN_UNSAFE' || e.code === 'PIN_EXISTS' || e.code === 'NOT_BPFFS')) return false;
    throw e;
  }
}

/**
 * Pin the object behind `fd` at `path`: the parent must be on bpffs (walked
 * as above; with `mkdir` missing directories are made 0700) and nothing may
 * exist at `path` yet (BpfError 'PIN_EXISTS'); pins are never silently
 * replaced. The pin is made 0600. Returns the directories created for it.
 */
export function pinFd(fd: number, path: string, opts: { mkdir?: boolean; label?: string } = {}): string[] {
  checkPinPathString(path);
  const abs = resolve(path);
  const what = `pin ${opts.label ?? 'object'} at ${abs}`;
  const created = walkBpffsDir(dirname(abs), { mkdir: opts.mkdir, purpose: `cannot ${what}` });
  try {
    const st = lstatOrNull(abs);
    if (st?.isSymbolicLink()) throw new BpfError('PIN_UNSAFE', `cannot ${what}: a symlink is there (owner ${describeOwner(st.uid)})`);
    if (st) throw new BpfError('PIN_EXISTS', `cannot pin ${opts.label ?? 'object'}: ${abs} already exists`);
    try {
      objPin(fd, abs, opts.label ? `${opts.label} at ${abs}` : abs);
    } catch (e) {
      // Lost a race with another pinner.
      if (e instanceof BpfSyscallError && e.errno === EEXIST) throw new BpfError('PIN_EXISTS', `cannot pin ${opts.label ?? 'object'}: ${abs} already exists`, { cause: e });
      throw e;
    }
    // The kernel applies the umask to 0600; say it explicitly.
    chmodSync(abs, 0o600);
  } catch (e) {
    removeEmptyDirs(created);
    throw e;
  }
  return created;
}

/**
 * After a pin in `dir` was removed: rmdir `dir` and then its parents while
 * each is one bpf-ts created (a real directory, not a symlink, mode 01700 —
 * its mark —, owned by this user) and empty, stopping at the first that is
 * not, and always at the bpffs mount point. Returns those removed.
 */
export function removeCreatedDirs(dir: string): string[] {
  const removed: string[] = [];
  const uid = process.geteuid?.() ?? -1;
  try {
    let d = resolve(dir);
    if (!isBpffs(d)) return removed;
    for (;;) {
      const parent = dirname(d);
      const st = lstatSync(d);
      if (parent === d || !st.isDirectory() || (st.mode & 0o7777) !== CREATED_DIR_MODE || st.uid !== uid) break;
      // The mount point: another filesystem's directory above (never removed, whatever its mode).
      if (lstatSync(parent).dev !== st.dev) break;
      rmdirSync(d);
      removed.push(d);
      d = parent;
    }
  } catch {
    // Not empty (other pins live there), gone meanwhile, or not ours: it stays.
  }
  return removed;
}

/** rmdir each of `dirs` (innermost first) that is empty; others stay. Returns those removed. */
export function removeEmptyDirs(dirs: readonly string[]): string[] {
  const removed: string[] = [];
  for (const d of [...dirs].reverse()) {
    try {
      rmdirSync(d);
      removed.push(d);
    } catch {
      // not empty (someone else's pins live there) or already gone
    }
  }
  return removed;
}

/**
 * Check that `path` can be a pin before BPF_OBJ_GET, saying what it is
 * instead when it cannot (the kernel would say EACCES or EPERM): missing, not
 * on a bpf filesystem, a directory; symlinks and untrusted pins are refused
 * by checkExistingPin. Returns the absolute path.
 */
export function checkPinPath(path: string, what = 'object'): string {
  checkPinPathString(path);
  const abs = resolve(path);
  const st = lstatOrNull(abs);
  if (!st) {
    if (existsSync(dirname(abs)) && !isBpffs(dirname(abs)))
      throw new BpfError('NOT_BPFFS', `no pinned ${what} at ${abs}: ${dirname(abs)} is not on a bpf filesystem (pins live on bpffs, e.g. under /sys/fs/bpf)`);
    throw new BpfError('IO', `no pinned ${what} at ${abs}: the path does not exist`);
  }
  if (!st.isSymbolicLink() && !isBpffs(abs)) throw new BpfError('NOT_BPFFS', `${abs} is not a pinned ${what}: it is not on a bpf filesystem (pins live on bpffs, e.g. under /sys/fs/bpf)`);
  if (st.isDirectory()) throw new BpfError('USAGE', `${abs} is a directory on bpffs, not a pinned ${what}`);
  checkExistingPin(abs, `open ${what} ${abs}`);
  return abs;
}

/**
 * The pins (regular files) under `root`, depth first in name order, with
 * their lstat: never through a symlink, never beyond `limit` entries (then
 * `truncated`). `trustedOnly` skips directories and pins another user could
 * have placed (untrustedReason), for callers that act on what they find;
 * a listing shows them all. Directories it may not read are skipped and
 * named in `unreadable`.
 */
export function walkPins(root: string, opts: { trustedOnly?: boolean; limit?: number } = {}): { pins: { path: string; stat: Stats }[]; truncated: boolean; unreadable: string[] } {
  const pins: { path: string; stat: Stats }[] = [];
  const unreadable: string[] = [];
  let budget = opts.limit ?? 20_000;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') unreadable.push(dir);
      return; // or removed meanwhile
    }
    for (const n of names) {
      if (--budget < 0) return;
      const path = join(dir, n);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue; // gone meanwhile
      }
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (!opts.trustedOnly || !untrustedReason(st, 'directory')) walk(path);
      } else if (st.isFile() && (!opts.trustedOnly || !untrustedReason(st, 'pin'))) pins.push({ path, stat: st });
    }
  };
  walk(resolve(root));
  return { pins, truncated: budget < 0, unreadable };
}
