// The map memory guard reads this process's memory cgroup limit where the
// mount table and /proc/self/cgroup say it is: cgroup2 at /sys/fs/cgroup or
// /sys/fs/cgroup/unified, or a v1 memory hierarchy on a hybrid host. It used
// to look only at /sys/fs/cgroup/<path>/memory.max, so on a hybrid host a
// process in a 256 MiB cgroup was allowed a 512 MiB map.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryCgroupFrom, memoryCgroupLeft, ownMemoryCgroup } from '../../src/sys/cgroupfs.js';
import { ensureDist, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

// This host's table (hybrid: v1 controllers under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified).
const HYBRID_MOUNTS = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const HYBRID_SELF = '9:name=systemd:/\n4:memory:/jobs/j1\n1:cpu:/\n0::/jobs/j1\n';

describe('the memory cgroup comes from the mount table and /proc/self/cgroup', () => {
  it("hybrid host: the v1 memory hierarchy, the process's cgroup and its ancestors", () => {
    expect(memoryCgroupFrom(HYBRID_MOUNTS, HYBRID_SELF)).toEqual({
      version: 1,
      dirs: ['/sys/fs/cgroup/memory/jobs/j1', '/sys/fs/cgroup/memory/jobs', '/sys/fs/cgroup/memory'],
      maxFile: 'memory.limit_in_bytes',
      currentFile: 'memory.usage_in_bytes',
    });
  });

  it('cgroup2 at /sys/fs/cgroup/unified (no v1 memory controller)', () => {
    const mounts = '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu';
    expect(memoryCgroupFrom(mounts, '1:cpu:/\n0::/app.slice/x.service\n')).toEqual({
      version: 2,
      dirs: ['/sys/fs/cgroup/unified/app.slice/x.service', '/sys/fs/cgroup/unified/app.slice', '/sys/fs/cgroup/unified'],
      maxFile: 'memory.max',
      currentFile: 'memory.current',
    });
  });

  it('cgroup2 at /sys/fs/cgroup, in the root cgroup; a mount of a sub-tree strips its root', () => {
    expect(memoryCgroupFrom('25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', '0::/\n')?.dirs).toEqual(['/sys/fs/cgroup']);
    expect(memoryCgroupFrom('25 1 0:22 /pods/p1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw', '0::/pods/p1/c\n')?.dirs).toEqual(['/sys/fs/cgroup/c', '/sys/fs/cgroup']);
    expect(memoryCgroupFrom('25 1 0:22 / /proc rw - proc proc rw', '0::/\n')).toBeNull();
  });

  it('the tightest limit on the way up counts; "max" and v1\'s unlimited value do not', () => {
    const files: Record<string, string> = {
      '/cg/a/b/memory.max': 'max\n',
      '/cg/a/b/memory.current': '1000\n',
      '/cg/a/memory.max': '5000\n',
      '/cg/a/memory.current': '1200\n',
      '/cg/memory.max': '100000\n',
      '/cg/memory.current': '50\n',
    };
    const read = (p: string) => files[p] ?? null;
    expect(memoryCgroupLeft({ version: 2, dirs: ['/cg/a/b', '/cg/a', '/cg'], maxFile: 'memory.max', currentFile: 'memory.current' }, read)).toBe(3800);
    const v1: Record<string, string> = { '/m/memory.limit_in_bytes': '9223372036854771712\n', '/m/memory.usage_in_bytes': '11722752\n' };
    expect(memoryCgroupLeft({ version: 1, dirs: ['/m'], maxFile: 'memory.limit_in_bytes', currentFile: 'memory.usage_in_bytes' }, (p) => v1[p] ?? null)).toBeNull();
    expect(memoryCgroupLeft(null, read)).toBeNull();
  });
});

describeRoot("the map memory guard honours this host's memory cgroup", () => {
  it('a process in a 256 MiB memory cgroup is refused a 512 MiB hash map, naming the cgroup limit', () => {
    const own = ownMemoryCgroup();
    if (!own) throw new Error('no memory cgroup hierarchy is mounted: cannot test the guard against one');
    const top = own.dirs.at(-1)!;
    if (!existsSync(join(top, own.maxFile))) {
      // cgroup2 without the memory controller enabled at the top: enable it for children.
      if (own.version !== 2 || !readFileSync(join(top, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
        throw new Error(`${top}: no memory controller to limit a test cgroup with`);
      }
      writeFileSync(join(top, 'cgroup.subtree_control'), '+memory');
    }
    const dir = join(top, `bpf-ts-${uniqueName('mem')}`);
    mkdirSync(dir);
    let cleanupError: unknown;
    try {
      writeFileSync(join(dir, own.maxFile), String(256 << 20));
      ensureDist();
      // 131072 entries × (4 + 4092) bytes = 512 MiB, far below MemAvailable on any test machine.
      const script = `
        import { BpfMap } from ${JSON.stringify(join(ROOT, 'dist', 'maps', 'map.js'))};
        try { BpfMap.create({ name: 'big', type: 1, keySize: 4, valueSize: 4092, maxEntries: 131072 }).close(); console.log('created'); }
        catch (e) { console.log(e.code + ': ' + e.message); }`;
      const r = spawnSync('sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toMatch(/^MEMORY_LIMIT: map "big" \(hash\): needs about 512 MiB \(131072 entries × \(4 \+ 4092\) bytes\), more than the (\d+) MiB available \(memory cgroup limit\)/);
      expect(Number(/more than the (\d+) MiB/.exec(r.stdout)![1])).toBeLessThanOrEqual(256);
    } finally {
      for (let i = 0; ; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (e) {
          // Thrown below, not here: a throw in finally would hide the test's own failure.
          if (i >= 100) {
            cleanupError = e;
            break;
          }
          spawnSync('sleep', ['0.05']);
        }
      }
    }
    if (cleanupError !== undefined) throw cleanupError;
  }, 120_000);
});
