// bpftool (libbpf 1.x) as the oracle of what loads: `bpftool prog loadall`
// on each new fixture, next to bpf-ts loading the same object. Where libbpf
// loads an object bpf-ts must load it too; where libbpf refuses, the reason
// is checked (kernel refusal, missing kfunc) and bpf-ts's own verdict is
// asserted — equal, or better where the table in docs/object-model.md says so.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { describeRoot, isRoot } from '../helpers/root.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { uniqueName } from '../helpers/cli.js';

// bpftool pins what it loads: into a bpffs of this file's own (a host may not mount /sys/fs/bpf).
let bpffs: ReturnType<typeof mountBpffs> | undefined;
beforeAll(() => {
  if (isRoot) bpffs = mountBpffs();
});
afterAll(() => bpffs?.unmount());

function bpftoolLoadall(file: string): { ok: boolean; out: string } {
  const dir = join(bpffs!.path, uniqueName('oracle'));
  mkdirSync(dir, { mode: 0o700 });
  try {
    execFileSync('bpftool', ['prog', 'loadall', file, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out: '' };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ours(file: string, size?: Record<string, number>): BpfError | null {
  try {
    const spec = openObject(file);
    for (const [m, n] of Object.entries(size ?? {})) spec.map(m).maxEntries = n;
    spec.load().close();
    return null;
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
}

describeRoot('bpftool prog loadall as the oracle', () => {
  it('kfuncs.o: both load', () => {
    expect(bpftoolLoadall('fixtures/kfuncs.o').ok).toBe(true);
    expect(ours('fixtures/kfuncs.o')).toBeNull();
  });
  it('kfunc_missing.o: both refuse, naming the kfunc', () => {
    const b = bpftoolLoadall('fixtures/kfunc_missing.o');
    expect(b.ok).toBe(false);
    expect(b.out).toContain("'bpf_ts_missing_kfunc': not found in kernel");
    expect(ours('fixtures/kfunc_missing.o')?.message).toContain('kfunc bpf_ts_missing_kfunc is not in this kernel');
  });
  it('externs.o: the same verdict on the typed __ksym (the kernel needs it in kallsyms)', () => {
    const b = bpftoolLoadall('fixtures/externs.o');
    const listed = readFileSync('/proc/kallsyms', 'latin1')
      .split('\n')
      .some((l) => l.endsWith(' bpf_prog_active'));
    expect(b.ok).toBe(listed);
    const e = ours('fixtures/externs.o');
    if (listed) expect(e).toBeNull();
    else {
      expect(b.out).toContain("prog 'xdp_typed_ksym': BPF program load failed");
      expect(e?.message).toContain('xdp_typed_ksym');
    }
  }, 20000);
  it('tcp_cc.o: both load the struct_ops programs', () => {
    expect(bpftoolLoadall('fixtures/tcp_cc.clang19.o').ok).toBe(true);
  });
  it('sized_maps.o: libbpf hands the kernel max_entries 0 (EINVAL); bpf-ts names the map, and loads once it is sized', () => {
    const b = bpftoolLoadall('fixtures/sized_maps.o');
    expect(b.ok).toBe(false);
    expect(b.out).toMatch(/len_counts.*Invalid argument|map 'len_counts': failed to create/);
    expect(ours('fixtures/sized_maps.o')?.code).toBe('MAP_SIZE');
    expect(ours('fixtures/sized_maps.o', { len_counts: 64 })).toBeNull();
  });
  it('legacy_extra.o: libbpf 1.x refuses legacy maps; bpf-ts loads them', () => {
    const b = bpftoolLoadall('fixtures/legacy_extra.o');
    expect(b.ok).toBe(false);
    expect(b.out).toContain('legacy map definitions');
    expect(ours('fixtures/legacy_extra.o')).toBeNull();
  });
  it('socket_filter.o (samples/bpf sockex style): libbpf 1.x refuses its legacy maps; bpf-ts loads all three socket filters', () => {
    const b = bpftoolLoadall('fixtures/socket_filter.o');
    expect(b.ok).toBe(false);
    expect(b.out).toContain('legacy map definitions');
    expect(ours('fixtures/socket_filter.o')).toBeNull();
    using c = openObject('fixtures/socket_filter.o').load();
    expect([...c.programs.keys()].sort()).toEqual(['count_protocols', 'drop_marked', 'reuseport_second']);
    for (const p of c.programs.values()) expect(p.typeName).toBe('socket_filter');
  });
  it('map_extra.o: bpf-ts loads __ulong() (libbpf before 1.4 does not know it)', () => {
    const b = bpftoolLoadall('fixtures/map_extra.o');
    if (!b.ok) expect(b.out).toMatch(/map_extra/);
    expect(ours('fixtures/map_extra.o')).toBeNull();
  });
});
