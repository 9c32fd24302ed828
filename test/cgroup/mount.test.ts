// Finding the cgroup v2 mount from mountinfo text (proc(5) layout), and the
// cgroup attach type names: no kernel needed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CGROUP_ATTACH_TYPES, cgroupAttachType, cgroupAttachTypeName } from '../../src/attach/cgroup.js';
import { cgroup2Mount, parseMountinfo } from '../../src/attach/cgroup-mount.js';
import { BpfError } from '../../src/errors.js';

const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '',
].join('\n');

describe('cgroup2 mount discovery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-mountinfo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('parses fields around the optional-field list and the " - " separator', () => {
    expect(parseMountinfo(HYBRID)).toEqual([
      { root: '/', mountPoint: '/sys/fs/cgroup', fstype: 'tmpfs', source: 'tmpfs' },
      { root: '/', mountPoint: '/sys/fs/cgroup/cpu', fstype: 'cgroup', source: 'cgroup' },
      { root: '/', mountPoint: '/sys/fs/cgroup/systemd', fstype: 'cgroup', source: 'cgroup' },
      { root: '/', mountPoint: '/sys/fs/cgroup/unified', fstype: 'cgroup2', source: 'cgroup2' },
    ]);
  });

  it('undoes octal escapes in paths', () => {
    expect(parseMountinfo('50 1 0:40 / /mnt/my\\040cgroups rw - cgroup2 none rw')[0]!.mountPoint).toBe('/mnt/my cgroups');
  });

  it('finds the hybrid layout at /sys/fs/cgroup/unified and the unified one at /sys/fs/cgroup', () => {
    expect(cgroup2Mount(file('hybrid', HYBRID))).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Mount(file('unified', '25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n'))).toBe('/sys/fs/cgroup');
  });

  it('no cgroup2 line is BpfError NO_CGROUP2', () => {
    const p = file(
      'v1only',
      HYBRID.split('\n')
        .filter((l) => !l.includes('cgroup2'))
        .join('\n'),
    );
    try {
      cgroup2Mount(p);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).code).toBe('NO_CGROUP2');
      expect((e as BpfError).message).toContain('no cgroup2 filesystem is mounted');
    }
  });
});

describe('cgroup attach type names (bpftool spelling)', () => {
  it('maps names to enum bpf_attach_type and back', () => {
    expect(cgroupAttachType('sock_ops')).toBe(3);
    expect(cgroupAttachType('ingress')).toBe(0);
    expect(cgroupAttachType('connect4')).toBe(10);
    expect(cgroupAttachType('sock_release')).toBe(34);
    expect(cgroupAttachTypeName(3)).toBe('sock_ops');
    expect(Object.keys(CGROUP_ATTACH_TYPES)).toHaveLength(28);
  });

  it('refuses what is not a cgroup hook', () => {
    expect(() => cgroupAttachType('xdp')).toThrow(/unknown cgroup attach type "xdp"/);
    expect(() => cgroupAttachType(7)).toThrow(/not a cgroup attach type/);
  });
});
