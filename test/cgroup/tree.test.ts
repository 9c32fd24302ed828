// `bpf-ts show --cgroup PATH --tree`: every cgroup under PATH that has
// programs, each with them, against `bpftool cgroup tree PATH -j` on a
// cgroup tree the test makes (a/, a/b/, c/; c has none).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachCgroup, attachCgroupLink, cgroup2Mount, detachCgroup, queryCgroup } from '../../src/attach/cgroup.js';
import { openObject, type BpfCollection } from '../../src/collection.js';
import type { BpfLink } from '../../src/link/link.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('show --cgroup PATH --tree (bpftool cgroup tree as the reference)', () => {
  let base = '';
  let coll: BpfCollection;
  let link: BpfLink | undefined;
  const dirs = () => [base, join(base, 'a'), join(base, 'a', 'b'), join(base, 'c')];

  beforeAll(() => {
    base = join(cgroup2Mount(), `bpf-ts-${uniqueName('tree')}`);
    for (const d of dirs()) mkdirSync(d);
    coll = openObject(fixture('sections.o')).load({ programs: ['prog_cgroup_skb_egress', 'prog_cgroup_connect4'], ignorePinning: true });
    attachCgroup({ cgroup: join(base, 'a'), attachType: 'egress', program: coll.program('prog_cgroup_skb_egress') });
    link = attachCgroupLink({ cgroup: join(base, 'a', 'b'), attachType: 'connect4', program: coll.program('prog_cgroup_connect4') });
  });

  afterAll(() => {
    try {
      link?.close();
      if (base && queryCgroup(join(base, 'a')).length) detachCgroup(join(base, 'a'));
    } finally {
      coll?.close();
      for (const d of dirs().reverse()) rmdirSync(d);
    }
  });

  it('lists a and a/b with their programs as bpftool does; c and the root, which have none, are left out', async () => {
    const tool: { cgroup: string; programs: { id: number; attach_type: string; attach_flags: string }[] }[] = JSON.parse(execFileSync('bpftool', ['cgroup', 'tree', base, '-j'], { encoding: 'utf8' }));
    const out = (await cliOk('show', '--cgroup', base, '--tree', '--json')).json();
    expect(out.cgroup).toBe(base);
    expect(out.cgroups.map((c: { cgroup: string }) => c.cgroup)).toEqual(tool.map((c) => c.cgroup));
    expect(tool.map((c) => c.cgroup)).toEqual([join(base, 'a'), join(base, 'a', 'b')]);
    for (const [i, c] of tool.entries()) {
      expect(out.cgroups[i].programs.map((p: { progId: number; flags: string }) => [p.progId, p.flags])).toEqual(c.programs.map((p) => [p.id, p.attach_flags]));
    }
    // bpftool's attach type names, ours the short ones `load --attach-type` takes.
    expect(tool.flatMap((c) => c.programs.map((p) => p.attach_type))).toEqual(['cgroup_inet_egress', 'cgroup_inet4_connect']);
    expect(out.cgroups.flatMap((c: { programs: { attachType: string }[] }) => c.programs.map((p) => p.attachType))).toEqual(['egress', 'connect4']);
    // Which one a bpf_link holds (bpftool link show: the cgroup link of that program).
    const links = JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' })) as { id: number; prog_id: number }[];
    expect(out.cgroups[1].programs[0]).toMatchObject({ link: true, linkId: links.find((l) => l.prog_id === coll.program('prog_cgroup_connect4').id)!.id });
    expect(out.cgroups[0].programs[0]).toMatchObject({ link: false });

    const text = (await cliOk('show', '--cgroup', base, '--tree')).stdout;
    expect(text.split('\n').filter((l) => l.startsWith('/'))).toEqual([join(base, 'a'), join(base, 'a', 'b')]);
    expect((await cliOk('show', '--cgroup', join(base, 'c'), '--tree')).stdout).toBe(`no programs attached to cgroup ${join(base, 'c')} or any under it\n`);
    expect((await cli('show', '--tree')).stderr).toBe('bpf-ts: --tree goes with --cgroup\n');
  });
});
