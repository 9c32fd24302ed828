// `bpf-ts load --xdp` on objects from issue 13: it says which programs it
// skipped and why, and --max-entries sizes a loader-sized map (the kernel's
// size read back with bpftool from the pin). In a test network this file
// creates and removes.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('bpf-ts load --xdp: skipped programs, --max-entries', () => {
  let env: TestEnv;
  let fs: { path: string; unmount(): void } | undefined;
  const onB = () => ['--xdp', env.vethB, '--netns', env.nsB];
  const detach = () => {
    if (queryXdp(env.vethB, { netns: env.nsB }).attached !== 'none') detachXdp(env.vethB, { netns: env.nsB });
  };

  beforeAll(() => {
    fs = mountBpffs();
    env = setupTestEnv({ name: uniqueName('xr') });
  });
  afterAll(() => {
    try {
      if (env) {
        detach();
        teardownTestEnv(env);
      }
    } finally {
      fs?.unmount();
    }
    if (env) expect(netnsExists(env.nsB)).toBe(false);
  });

  it('section_table.o: attaches the XDP program asked for and lists every other program as skipped, with the reason', async () => {
    const r = await cliOk('load', fixture('section_table.o'), ...onB(), '--program', 's_xdp', '--bpffs', fs!.path, '--json');
    const out = r.json();
    try {
      expect(out.program).toBe('s_xdp');
      const skipped = new Map<string, { section: string; reason: string }>(out.skipped.map((s: { name: string; section: string; reason: string }) => [s.name, s]));
      // Not XDP: not requested. (XDP and type-less programs are loaded together, as tail calls may need them.)
      expect(skipped.get('s_socket')).toEqual({ name: 's_socket', section: 'socket', reason: 'not requested' });
      expect(skipped.get('s_fentry_tcp_v4_connect')?.reason).toBe('not requested');
      expect(skipped.has('s_xdp_devmap')).toBe(false);
      expect(skipped.has('s_my_program')).toBe(false);
      expect(out.skipped.length).toBeGreaterThan(100);
    } finally {
      detach();
    }
  });

  it('sized_maps.o: --max-entries len_counts=48 is what the kernel reports for the pinned map; without it the error names the option', async () => {
    const bad = await cli('load', fixture('sized_maps.o'), ...onB(), '--program', 'xdp_count', '--bpffs', fs!.path);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--max-entries len_counts=N');
    const r = await cliOk('load', fixture('sized_maps.o'), ...onB(), '--program', 'xdp_count', '--bpffs', fs!.path, '--max-entries', 'len_counts=48', '--json');
    try {
      // The attached program's maps, as the kernel lists them.
      const prog = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(r.json().progId), '-j'], { encoding: 'utf8' }));
      const maps = (prog.map_ids as number[]).map((id) => JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' })));
      expect(maps.find((m) => m.name === 'len_counts')).toMatchObject({ type: 'hash', max_entries: 48 });
    } finally {
      detach();
    }
  });
});
