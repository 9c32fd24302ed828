// Where the cgroup v2 hierarchy is mounted, read from /proc/self/mountinfo:
// /sys/fs/cgroup on unified systems, /sys/fs/cgroup/unified on hybrid ones.
// BPF cgroup hooks exist only on v2 cgroups; a v1 directory is refused.

import { BpfError } from '../errors.js';
import * as ffi from '../sys/ffi.js';
import { mountinfoEntries } from '../sys/cgroupfs.js';
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { isAbsolute, join, resolve } = process.getBuiltinModule('node:path');

export const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface MountEntry {
  mountPoint: string;
  /** The mounted directory inside the filesystem ("/" for a whole-fs mount). */
  root: string;
  fstype: string;
  source: string;
}

/** Parse /proc/PID/mountinfo (the parser lives in sys/cgroupfs.ts, shared with the memory guard). */
export function parseMountinfo(text: string): MountEntry[] {
  return mountinfoEntries(text).map(({ mountPoint, root, fstype, source }) => ({ mountPoint, root, fstype, source }));
}

/** The first cgroup2 mount point of this process's mount namespace; BpfError 'NO_CGROUP2' when there is none. */
export function cgroup2Mount(mountinfoPath = '/proc/self/mountinfo'): string {
  let text: string;
  try {
    text = readFileSync(mountinfoPath, 'utf8');
  } catch (e) {
    throw new BpfError('NO_CGROUP2', `cannot read ${mountinfoPath} to find the cgroup2 mount: ${(e as Error).message}`, { cause: e });
  }
  const m = parseMountinfo(text).find((x) => x.fstype === 'cgroup2');
  if (!m) {
    throw new BpfError('NO_CGROUP2', 'no cgroup2 filesystem is mounted (BPF cgroup hooks need cgroup v2): mount one with: mount -t cgroup2 none /sys/fs/cgroup/unified');
  }
  return m.mountPoint;
}

/**
 * A cgroup directory from the command line: an absolute path as it is,
 * anything else relative to the cgroup2 mount ("app" → /sys/fs/cgroup/unified/app
 * on a hybrid system). It must exist and be on cgroup2.
 */
export function resolveCgroup(path: string): string {
  if (!path) throw new BpfError('USAGE', 'name a cgroup: a directory on the cgroup2 filesystem');
  const abs = isAbsolute(path) ? resolve(path) : join(cgroup2Mount(), path);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new BpfError('USAGE', `no such cgroup: ${abs} does not exist`);
  }
  if (!isDir) throw new BpfError('USAGE', `${abs} is not a cgroup directory`);
  if (ffi.fsMagic(abs) !== CGROUP2_SUPER_MAGIC) {
    throw new BpfError('NO_CGROUP2', `${abs} is not on a cgroup2 filesystem (BPF cgroup hooks need cgroup v2; the v2 hierarchy is at ${safeMount()})`);
  }
  return abs;
}

function safeMount(): string {
  try {
    return cgroup2Mount();
  } catch {
    return 'not mounted';
  }
}

/** The cgroup's id: on cgroup2 it is the directory's inode number (what bpf_link_info and bpftool report). */
export function cgroupId(path: string): bigint {
  return statSync(path, { bigint: true }).ino;
}
