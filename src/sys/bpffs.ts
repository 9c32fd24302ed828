// The bpf filesystem: the only place BPF_OBJ_PIN can put objects. bpf-ts
// never mounts it (that is the system's or the user's decision); it checks
// and says clearly what is wrong instead of passing the kernel's EPERM on.

import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BpfError } from '../errors.js';
import * as ffi from './ffi.js';
import { EEXIST } from './errno.js';
import { objPin } from './obj-attr.js';
import { BpfSyscallError } from './syscall-error.js';

export const BPF_FS_MAGIC = 0xcafe4a11;

/** Whether `path` (which must exist) lives on a bpf filesystem. */
export function isBpffs(path: string): boolean {
  return ffi.fsMagic(path) === BPF_FS_MAGIC;
}

/**
 * Check that `dir` is a directory on a bpf filesystem, throwing
 * BpfError('NOT_BPFFS') otherwise. With `mkdir`, missing directories are
 * created when their nearest existing ancestor is on bpffs (as iproute2 does
 * for tc/globals).
 */
export function ensureBpffs(dir: string, opts: { mkdir?: boolean } = {}): void {
  const abs = resolve(dir);
  if (!existsSync(abs)) {
    let anc = abs;
    while (!existsSync(anc)) anc = dirname(anc);
    if (!opts.mkdir || !isBpffs(anc)) {
      throw new BpfError(
        'NOT_BPFFS',
        `${abs} does not exist` +
          (isBpffs(anc) ? '' : `; ${anc} is not on a bpf filesystem (mount one there: mkdir -p ${abs} && mount -t bpf bpf ${abs}, or give --bpffs DIR of a mounted one)`),
      );
    }
    mkdirSync(abs, { recursive: true });
  }
  if (!lstatSync(abs).isDirectory()) throw new BpfError('NOT_BPFFS', `${abs} is not a directory`);
  if (!isBpffs(abs)) {
    throw new BpfError(
      'NOT_BPFFS',
      `${abs} is not on a bpf filesystem (BPF_FS_MAGIC); pins need one: mount -t bpf bpf ${abs}, or give --bpffs DIR of a mounted one`,
    );
  }
}

/**
 * Pin the object behind `fd` at `path`: the parent must be on bpffs and
 * nothing may exist at `path` yet (BpfError 'PIN_EXISTS'); pins are never
 * silently replaced.
 */
export function pinFd(fd: number, path: string, opts: { mkdir?: boolean; label?: string } = {}): void {
  const abs = resolve(path);
  ensureBpffs(dirname(abs), opts);
  if (existsSync(abs)) throw new BpfError('PIN_EXISTS', `cannot pin ${opts.label ?? 'object'}: ${abs} already exists`);
  try {
    objPin(fd, abs, opts.label ? `${opts.label} at ${abs}` : abs);
  } catch (e) {
    // Lost a race with another pinner.
    if (e instanceof BpfSyscallError && e.errno === EEXIST)
      throw new BpfError('PIN_EXISTS', `cannot pin ${opts.label ?? 'object'}: ${abs} already exists`, { cause: e });
    throw e;
  }
}

/**
 * Check that `path` can be a pin before BPF_OBJ_GET: it exists, is not a
 * symlink or a directory, and lives on a bpf filesystem. Each case is a
 * BpfError saying what the path is instead (the kernel would say EACCES or
 * EPERM). Returns the absolute path.
 */
export function checkPinPath(path: string, what = 'object'): string {
  const abs = resolve(path);
  let st;
  try {
    st = lstatSync(abs);
  } catch {
    throw new BpfError('IO', `no pinned ${what} at ${abs}: the path does not exist`);
  }
  if (st.isSymbolicLink()) throw new BpfError('USAGE', `${abs} is a symbolic link, not a pinned ${what}; bpf-ts does not follow links into bpffs`);
  if (!isBpffs(abs)) throw new BpfError('NOT_BPFFS', `${abs} is not a pinned ${what}: it is not on a bpf filesystem (pins live on bpffs, e.g. under /sys/fs/bpf)`);
  if (st.isDirectory()) throw new BpfError('USAGE', `${abs} is a directory on bpffs, not a pinned ${what}`);
  return abs;
}
