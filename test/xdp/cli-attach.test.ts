// `bpf-ts load/show/detach --xdp` end to end, in-process through run():
// the even-sequence ICMP dropper on the B end of a test network, checked
// with real echo requests from A, in native and skb mode; replacing it with
// drop_all, detaching, --mode auto, a pinned bpf_link, and the error paths.
// Everything lives in namespaces this file creates and removes in afterAll.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { ping } from '../../src/net/icmp.js';
import { netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const EVEN_DROP = fixture('icmp_even_drop.o');
const DROP_ALL = fixture('drop_all.o');

/** One line on stderr, "bpf-ts: …", and no stack trace. */
function expectOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^bpf-ts: /);
  expect(stderr).not.toContain('    at ');
  return lines[0]!;
}

describeRoot('bpf-ts load / show / detach --xdp (testenv, ICMP A→B)', () => {
  let env: TestEnv;
  let fs: { path: string; unmount(): void } | undefined;

  const pingB = (count = 10, timeoutMs = 1000) => ping({ netns: env.nsA, to: env.ipB, count, timeoutMs });
  const onB = () => ['--xdp', env.vethB, '--netns', env.nsB];
  const attachedOnB = () => queryXdp(env.vethB, { netns: env.nsB });

  beforeAll(() => {
    fs = mountBpffs();
    env = setupTestEnv({ name: uniqueName('xa') });
  });

  afterEach(() => {
    // Whatever a test left attached (also after a failure) goes before the next.
    if (env && netnsExists(env.nsB) && attachedOnB().attached !== 'none') detachXdp(env.vethB, { netns: env.nsB });
  });

  afterAll(() => {
    try {
      if (env) teardownTestEnv(env);
    } finally {
      fs?.unmount();
    }
    if (env) expect(netnsExists(env.nsA) || netnsExists(env.nsB)).toBe(false);
  });

  it('passes 10/10 with nothing attached (baseline)', async () => {
    expect(attachedOnB()).toMatchObject({ attached: 'none', programs: [] });
    const r = await pingB();
    expect(r.received).toBe(10);
  });

  describe.each(['native', 'skb'] as const)('%s mode', (mode) => {
    it('load attaches, drops even sequences, show reports it, a second load is refused, --replace swaps, detach restores', async () => {
      // load
      const loaded = (await cliOk('load', EVEN_DROP, ...onB(), '--mode', mode, '--bpffs', fs!.path, '--json')).json();
      expect(loaded).toMatchObject({
        interface: env.vethB,
        ifindex: env.ifindexB,
        program: 'xdp_even_drop',
        mode,
        link: false,
        netns: env.nsB,
        pinnedMaps: [],
      });
      expect(loaded.progId).toBeGreaterThan(0);
      expect(loaded).not.toHaveProperty('replacedProgId');
      const firstId: number = loaded.progId;
      const q = attachedOnB();
      expect(q).toMatchObject({ attached: mode, progId: firstId });
      expect(mode === 'native' ? q.drvProgId : q.skbProgId).toBe(firstId);

      // traffic: odd sequences answered, even ones dropped
      const r = await pingB();
      expect(r.sent).toBe(10);
      expect(r.received).toBe(5);
      expect(r.receivedSeqs).toEqual([1, 3, 5, 7, 9]);

      // show
      const shown = (await cliOk('show', '--netns', env.nsB, '--json')).json();
      expect(shown).toEqual({
        netns: env.nsB,
        xdp: [{ interface: env.vethB, ifindex: env.ifindexB, mode, progId: firstId, name: 'xdp_even_drop', link: false }],
      });

      // a second load without --replace: refused, the first stays
      const again = await cli('load', EVEN_DROP, ...onB(), '--mode', mode, '--bpffs', fs!.path);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(expectOneErrorLine(again.stderr)).toContain('--replace');
      expect(attachedOnB()).toMatchObject({ attached: mode, progId: firstId });
      expect(attachedOnB().programs).toMatchObject([{ mode, progId: firstId, name: 'xdp_even_drop' }]);

      // --replace with drop_all (section "prog"): swapped atomically
      const replaced = (await cliOk('load', DROP_ALL, ...onB(), '--mode', mode, '--replace', '--bpffs', fs!.path, '--json')).json();
      expect(replaced).toMatchObject({ interface: env.vethB, program: 'xdp_drop', mode, link: false, replacedProgId: firstId });
      expect(replaced.progId).toBeGreaterThan(0);
      expect(replaced.progId).not.toBe(firstId);
      expect(attachedOnB()).toMatchObject({ attached: mode, progId: replaced.progId });
      expect((await pingB()).received).toBe(0);

      // detach: everything answered again, show lists nothing
      const detached = (await cliOk('detach', ...onB(), '--json')).json();
      expect(detached).toEqual({
        interface: env.vethB,
        ifindex: env.ifindexB,
        detached: [{ mode, progId: replaced.progId }],
        removedPins: [],
      });
      const after = await pingB();
      expect(after.received).toBe(10);
      expect(after.receivedSeqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await cliOk('show', '--netns', env.nsB, '--json')).json()).toEqual({ netns: env.nsB, xdp: [] });
      expect((await cliOk('show', '--netns', env.nsB)).stdout).toBe(`no XDP or TC programs are attached to any interface of network namespace ${env.nsB}\n`);
      expect(attachedOnB()).toMatchObject({ attached: 'none', progId: 0, programs: [] });
    });
  });

  it('--mode auto reports the mode the kernel actually took', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onB(), '--mode', 'auto', '--bpffs', fs!.path, '--json')).json();
    const q = attachedOnB();
    expect(['native', 'skb']).toContain(loaded.mode);
    expect(q.attached).toBe(loaded.mode);
    expect(q.programs).toMatchObject([{ mode: loaded.mode, progId: loaded.progId, name: 'xdp_even_drop' }]);
    // veth has a native XDP driver hook: auto picks it.
    expect(loaded.mode).toBe('native');

    const text = await cliOk('detach', ...onB());
    expect(text.stdout).toBe(`detached program id ${loaded.progId} (native mode) from ${env.vethB}\n`);
  });

  it('load --link pins a bpf_link on the private bpffs; show says link; plain detach removes it and its pin', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onB(), '--mode', 'native', '--link', '--bpffs', fs!.path, '--json')).json();
    const pin = `${fs!.path}/bpf-ts/xdp_link_${env.nsB}_${env.vethB}`;
    expect(loaded).toMatchObject({ interface: env.vethB, program: 'xdp_even_drop', mode: 'native', link: true, linkPin: pin });
    expect(loaded.progId).toBeGreaterThan(0);
    expect(loaded.linkId).toBeGreaterThan(0);
    expect(existsSync(pin)).toBe(true);

    // Still attached after the command returned and closed its fds: the pin holds the link.
    expect((await pingB()).receivedSeqs).toEqual([1, 3, 5, 7, 9]);
    const shown = (await cliOk('show', '--netns', env.nsB, '--json')).json();
    expect(shown.xdp).toEqual([{ interface: env.vethB, ifindex: env.ifindexB, mode: 'native', progId: loaded.progId, name: 'xdp_even_drop', link: true, linkId: loaded.linkId }]);

    // A netlink --replace cannot touch a link-owned program.
    const refused = await cli('load', DROP_ALL, ...onB(), '--mode', 'native', '--replace', '--bpffs', fs!.path);
    expect(refused.code).toBe(1);
    expect(expectOneErrorLine(refused.stderr)).toMatch(/bpf_link/);
    expect(attachedOnB().progId).toBe(loaded.progId);

    const detached = await cli('detach', ...onB(), '--bpffs', fs!.path, '--json');
    expect(detached.stderr).toBe('');
    expect(detached.code).toBe(0);
    expect(detached.json()).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      detached: [{ mode: 'native', progId: loaded.progId, linkId: loaded.linkId }],
      removedPins: [pin],
    });
    expect(existsSync(pin)).toBe(false);
    expect(attachedOnB()).toMatchObject({ attached: 'none', programs: [] });
    expect((await pingB()).received).toBe(10);
  });

  describe('errors: exit 1, one line on stderr, no stack trace', () => {
    it('an interface that does not exist in the namespace is named', async () => {
      const r = await cli('load', EVEN_DROP, '--xdp', 'nosuch0', '--netns', env.nsB, '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      const line = expectOneErrorLine(r.stderr);
      expect(line).toContain('nosuch0');
      expect(line).toContain(env.nsB);
      expect(attachedOnB().attached).toBe('none');
    });

    it('a missing object file is named', async () => {
      const missing = fixture('no_such_object.o');
      const r = await cli('load', missing, ...onB(), '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toContain(missing);
    });

    it('detach with nothing attached says so', async () => {
      const r = await cli('detach', ...onB());
      expect(r.code).toBe(1);
      const line = expectOneErrorLine(r.stderr);
      expect(line).toContain('no XDP program');
      expect(line).toContain(env.vethB);
    });

    it('--mode bogus is a usage error and attaches nothing', async () => {
      const r = await cli('load', EVEN_DROP, ...onB(), '--mode', 'bogus', '--bpffs', fs!.path, '--json');
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toMatch(/--mode must be native, skb, hw or auto, got bogus/);
      expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('bogus') } });
      expect(attachedOnB().attached).toBe('none');
    });
  });
});
