// Where this process's memory cgroup is, from the mount table and
// /proc/self/cgroup rather than a fixed path: cgroup2 may be mounted at
// /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid), and on a
// hybrid host the memory controller may still be a v1 hierarchy
// (/sys/fs/cgroup/memory). attach/ finds cgroup2 for hooks with the same parser.

const { readFileSync } = process.getBuiltinModule('node:fs');
const { join, posix } = process.getBuiltinModule('node:path');

export interface MountinfoEntry {
  mountPoint: string;
  /** The mounted directory inside the filesystem ("/" for a whole-fs mount). */
  root: string;
  fstype: string;
  source: string;
  /** Per-superblock options (for a cgroup v1 mount, its controllers: "rw,memory"). */
  superOptions: string[];
}

/** Undo mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parse /proc/PID/mountinfo: "id parent major:minor root mountpoint options
 * [optional fields…] - fstype source superoptions" per line.
 */
export function mountinfoEntries(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 7 || sep < 0 || sep + 2 >= f.length) continue;
    out.push({
      root: unescape(f[3]!),
      mountPoint: unescape(f[4]!),
      fstype: f[sep + 1]!,
      source: unescape(f[sep + 2]!),
      superOptions: (f[sep + 3] ?? '').split(',').filter(Boolean),
    });
  }
  return out;
}

/** A memory cgroup directory and the files that say its limit and usage. */
export interface MemoryCgroup {
  version: 1 | 2;
  /** The process's own cgroup directory, then each ancestor up to the mount: a limit anywhere above applies too. */
  dirs: string[];
  maxFile: string;
  currentFile: string;
}

/**
 * This process's memory cgroup from mountinfo and /proc/self/cgroup texts:
 * the v1 hierarchy with the memory controller when there is one (the
 * controller can be bound to only one), else cgroup2. Null when neither is
 * mounted here.
 */
export function memoryCgroupFrom(mountinfo: string, procCgroup: string): MemoryCgroup | null {
  const mounts = mountinfoEntries(mountinfo);
  const lines = procCgroup
    .split('\n')
    .map((l) => /^(\d+):([^:]*):(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null);
  const v1 = lines.find((m) => m[2]!.split(',').includes('memory'));
  const v1Mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('memory'));
  if (v1 && v1Mount) return { version: 1, dirs: chain(v1Mount, v1[3]!), maxFile: 'memory.limit_in_bytes', currentFile: 'memory.usage_in_bytes' };
  const v2 = lines.find((m) => m[1] === '0' && m[2] === '');
  const v2Mount = mounts.find((m) => m.fstype === 'cgroup2');
  if (v2 && v2Mount) return { version: 2, dirs: chain(v2Mount, v2[3]!), maxFile: 'memory.max', currentFile: 'memory.current' };
  return null;
}

/** The directories from the cgroup `path` (as /proc/self/cgroup names it) up to the mount point. */
function chain(mount: MountinfoEntry, path: string): string[] {
  // A mount of a sub-tree (containers) shows only what is below its root.
  let rel = posix.normalize(path);
  if (mount.root !== '/' && (rel === mount.root || rel.startsWith(mount.root + '/'))) rel = rel.slice(mount.root.length) || '/';
  const dirs: string[] = [];
  for (let r = rel; ; r = posix.dirname(r)) {
    dirs.push(r === '/' ? mount.mountPoint : join(mount.mountPoint, r));
    if (r === '/' || r === '.') break;
  }
  return dirs;
}

/** cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit value. */
const V1_UNLIMITED = 2n ** 62n;

/**
 * Bytes this process's memory cgroup (or the tightest of its ancestors) has
 * left, or null when no limit applies or none can be read. `read` returns a
 * file's text or null (tests pass their own).
 */
export function memoryCgroupLeft(cg: MemoryCgroup | null, read: (path: string) => string | null): number | null {
  if (!cg) return null;
  let left: number | null = null;
  for (const dir of cg.dirs) {
    const max = read(join(dir, cg.maxFile))?.trim();
    const cur = read(join(dir, cg.currentFile))?.trim();
    if (!max || max === 'max' || !cur || !/^\d+$/.test(max) || !/^\d+$/.test(cur)) continue;
    if (cg.version === 1 && BigInt(max) >= V1_UNLIMITED) continue;
    const l = Math.max(0, Number(max) - Number(cur));
    if (left === null || l < left) left = l;
  }
  return left;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** This process's memory cgroup, read from /proc/self/mountinfo and /proc/self/cgroup. */
export function ownMemoryCgroup(): MemoryCgroup | null {
  const mi = readText('/proc/self/mountinfo');
  const cg = readText('/proc/self/cgroup');
  return mi && cg ? memoryCgroupFrom(mi, cg) : null;
}

/** Bytes left in this process's memory cgroup limit, or null when unlimited or unknown. */
export function ownMemoryCgroupLeft(): number | null {
  return memoryCgroupLeft(ownMemoryCgroup(), readText);
}
