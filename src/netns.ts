// Network namespaces, in-process: enter one for the length of a synchronous
// callback (setns on the calling thread, restored in finally), and create or
// delete named ones the way iproute2 does (a bind mount of a namespace file
// onto /var/run/netns/NAME keeps it alive without any process inside).
//
// Only the calling thread moves. Node's libuv pool threads stay where they
// were, so `fn` must be synchronous: async fs/dns work started inside would
// run in the original namespace.
//
// Sockets (netlink, raw) and devices keep the namespace they were created
// in: a NetlinkSocket opened inside withNetns() can be used after it returns
// and still talks to that namespace.
//
// Unlike `ip netns exec`, which also unshares the mount namespace and
// remounts /sys, this in-process setns leaves mounts alone, so bpffs pins
// made inside withNetns() stay visible to everyone afterwards.

// Node opens every fd O_CLOEXEC already.
import { BpfError } from './errors.js';
import * as ffi from './sys/ffi.js';
import { CAP, capsHint, effectiveCaps, hasCap, NEED_SYS_ADMIN } from './sys/caps.js';
import { describeAccess } from './sys/file-access.js';
import { EPERM, errnoDescription, errnoName } from './sys/errno.js';
const { closeSync, constants: fsConstants, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync } = process.getBuiltinModule('node:fs');
const { dirname, join } = process.getBuiltinModule('node:path');

export const NETNS_RUN_DIR = '/var/run/netns';
export const CLONE_NEWNET = 0x40000000;

const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 1 << 20;
const MNT_DETACH = 2;
const EINVAL = 22;

/** The calling thread's own namespace file (on Node's main thread, /proc/<pid>/task/<pid>/ns/net). */
const THREAD_NETNS = '/proc/thread-self/ns/net';

/** A namespace name ("blue") lives under /var/run/netns; anything with a slash is a path (/proc/123/ns/net). */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes('/') ? nameOrPath : join(NETNS_RUN_DIR, nameOrPath);
}

/** Open a namespace file. BpfError 'NO_SUCH_NETNS' when it is missing. */
export function openNetns(nameOrPath: string): number {
  const path = netnsPath(nameOrPath);
  try {
    return openSync(path, fsConstants.O_RDONLY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new BpfError('NO_SUCH_NETNS', `no such network namespace "${nameOrPath}" (${path} does not exist)`, { cause: e });
    }
    throw new BpfError('IO', `cannot open network namespace ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Run `fn` with the calling thread inside network namespace `nameOrPath`
 * (undefined: stay where we are), then switch back, even when fn throws.
 */
export function withNetns<T>(nameOrPath: string | undefined, fn: () => T): T {
  if (nameOrPath === undefined) return fn();
  const target = openNetns(nameOrPath);
  try {
    return withNetnsFd(target, fn, nameOrPath);
  } finally {
    closeSync(target);
  }
}

/** withNetns for an already open namespace fd. */
export function withNetnsFd<T>(targetFd: number, fn: () => T, label = `fd ${targetFd}`): T {
  const saved = openSync(THREAD_NETNS, fsConstants.O_RDONLY);
  try {
    const r = ffi.setns(targetFd, CLONE_NEWNET);
    if (r < 0) {
      if (-r === EINVAL) throw new BpfError('NO_SUCH_NETNS', `"${label}" is not a network namespace`);
      throw setnsError(-r, label);
    }
    try {
      const result = fn();
      if (result && typeof (result as { then?: unknown }).then === 'function') {
        throw new BpfError('USAGE', 'withNetns: the callback must be synchronous (only this thread changes namespace)');
      }
      return result;
    } finally {
      restore(saved);
    }
  } finally {
    closeSync(saved);
  }
}

/** setns(2) refused: EPERM means CAP_SYS_ADMIN, which a hint names only when the caller lacks it. */
export function setnsError(errno: number, label: string): BpfError {
  const what = `setns into network namespace "${label}": ${errnoName(errno)}`;
  if (errno === EPERM) return new BpfError('SYSCALL', `${what}: ${capsHint([NEED_SYS_ADMIN], 'this process has CAP_SYS_ADMIN; the namespace belongs to a user namespace it has no CAP_SYS_ADMIN in')}`);
  return new BpfError('SYSCALL', `${what}: ${errnoDescription(errno)}`);
}

/** unshare/mount/umount refused: EPERM means CAP_SYS_ADMIN. */
/** Whether this process may create and remove entries in `dir` (its mode, or CAP_DAC_OVERRIDE). */
function mayWriteDir(dir: string): boolean {
  const caps = effectiveCaps();
  if (caps === null || hasCap(caps, CAP.DAC_OVERRIDE)) return true;
  try {
    const st = statSync(dir);
    const uid = process.getuid?.() ?? 0;
    const bits = uid === st.uid ? st.mode >> 6 : process.getgid?.() === st.gid ? st.mode >> 3 : st.mode;
    return (bits & 0o3) === 0o3;
  } catch {
    return true; // the removal itself says why
  }
}

function adminError(op: string, errno: number): BpfError {
  const hint = errno === EPERM ? capsHint([NEED_SYS_ADMIN], 'this process has CAP_SYS_ADMIN; a security module or the user namespace refused') : errnoDescription(errno);
  return new BpfError('SYSCALL', `${op}: ${errnoName(errno)}: ${hint}`);
}

function restore(savedFd: number): void {
  const r = ffi.setns(savedFd, CLONE_NEWNET);
  // Staying in the wrong namespace would silently misdirect everything after.
  if (r < 0) throw setnsError(-r, 'the original one');
}

/** Whether a named namespace exists under /var/run/netns. */
export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Names under /var/run/netns. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch {
    return [];
  }
}

/**
 * Make /var/run/netns a shared mount point, as iproute2 does, so namespace
 * mounts made later also appear inside mount namespaces copied earlier
 * (e.g. a running `ip netns exec`).
 */
function prepareRunDir(): void {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  let r = ffi.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC);
  if (r === -EINVAL) {
    // Not a mount point yet: bind it onto itself, then share it.
    r = ffi.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC);
    if (r < 0) throw adminError(`mount --bind ${NETNS_RUN_DIR}`, -r);
    r = ffi.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC);
  }
  if (r < 0) throw adminError(`mount --make-rshared ${NETNS_RUN_DIR}`, -r);
}

/**
 * Create a named network namespace, like `ip netns add NAME`: unshare a new
 * namespace on this thread, bind-mount its file onto /var/run/netns/NAME,
 * and return the thread to the namespace it came from.
 */
export function createNetns(name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new BpfError('USAGE', `invalid network namespace name "${name}"`);
  }
  prepareRunDir();
  const path = netnsPath(name);
  // The mount point; O_EXCL so an existing namespace is never shadowed.
  try {
    closeSync(openSync(path, fsConstants.O_RDONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o444));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BpfError('IO', `network namespace "${name}" already exists`, { cause: e });
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new BpfError('IO', `cannot create ${path}: ${code}: ${describeAccess(path, 'create')}`, { cause: e });
    throw new BpfError('IO', `cannot create ${path}: ${(e as Error).message}`, { cause: e });
  }
  const saved = openSync(THREAD_NETNS, fsConstants.O_RDONLY);
  let ok = false;
  try {
    let r = ffi.unshare(CLONE_NEWNET);
    if (r < 0) throw adminError('unshare(CLONE_NEWNET)', -r);
    try {
      r = ffi.mount(THREAD_NETNS, path, 'none', MS_BIND);
      if (r < 0) throw adminError(`bind mount of the new namespace onto ${path}`, -r);
      ok = true;
    } finally {
      restore(saved);
    }
  } finally {
    closeSync(saved);
    if (!ok) rmSync(path, { force: true });
  }
  return path;
}

/**
 * Delete a named namespace, like `ip netns del NAME`: detach the bind mount
 * and remove the file. The namespace itself (and the devices in it) goes
 * away once nothing else holds it: close sockets made inside it first.
 */
export function deleteNetns(name: string, options: { force?: boolean } = {}): void {
  const path = netnsPath(name);
  if (!existsSync(path)) {
    if (options.force) return;
    throw new BpfError('NO_SUCH_NETNS', `no such network namespace "${name}"`);
  }
  // Unmounted but not removable would leave a file that is no namespace:
  // refuse first when the directory is not ours to write.
  if (!mayWriteDir(dirname(path))) throw new BpfError('IO', `cannot remove ${path}: EACCES: ${describeAccess(path, 'create')}`);
  const r = ffi.umount2(path, MNT_DETACH);
  if (r < 0 && -r !== EINVAL) throw adminError(`umount ${path}`, -r);
  try {
    if (statSync(path).isFile()) rmSync(path, { force: true });
  } catch (e) {
    // Gone already is fine; a file left behind (EACCES: /var/run/netns is
    // root's) must not be reported as removed.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new BpfError('IO', `cannot remove ${path}: ${code}: ${describeAccess(path, 'create')}`, { cause: e });
    if (code !== 'ENOENT') throw new BpfError('IO', `cannot remove ${path}: ${(e as Error).message}`, { cause: e });
  }
}
