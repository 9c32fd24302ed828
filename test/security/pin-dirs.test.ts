// Directories made for a custom --pin-link path go again with the pin:
// `detach` removes the empty directories bpf-ts created (marked 01700 when
// it made them), never one the user made, one another user owns, a
// non-empty one, or the bpffs mount point; and never through a symlink.
// On a private bpffs mount (mode 1777, as /sys/fs/bpf is on many hosts).
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { BpfMap } from '../../src/maps/map.js';
import { CREATED_DIR_MODE, removeCreatedDirs, walkBpffsDir } from '../../src/sys/bpffs.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { cli, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { ATTACKER_UID, makeVethNs, mountSharedBpffs, removeNs, xdpProgIdOnV0 } from './helpers.js';

const DROP_ALL = fixture('drop_all.o');
const entries = (dir: string) =>
  readdirSync(dir)
    .filter((n) => !n.endsWith('.debug'))
    .sort();
const mode = (p: string) => lstatSync(p).mode & 0o7777;

describeRoot('directories made for custom pin paths are removed by detach', () => {
  let fs: { path: string; unmount(): void };
  let ns = '';
  const B = (...p: string[]) => join(fs.path, ...p);
  const onV0 = () => ['--xdp', 'v0', '--netns', ns, '--mode', 'skb'];

  beforeAll(() => {
    fs = mountSharedBpffs();
    ns = uniqueName('pdir');
    makeVethNs(ns);
  }, 120_000);

  afterEach(() => {
    if (ns && queryXdp('v0', { netns: ns }).attached !== 'none') detachXdp('v0', { netns: ns });
    for (const n of entries(fs.path)) rmSync(B(n), { recursive: true, force: true });
  });

  afterAll(() => {
    try {
      removeNs(ns);
    } finally {
      fs?.unmount();
    }
  });

  it('load --pin-link a/b/c/link makes a, a/b, a/b/c (01700); detach --pin-link removes the pin and all three', async () => {
    const pin = B('app', 'links', 'xdp', 'link');
    const loaded = await cli('load', DROP_ALL, ...onV0(), '--link', '--pin-link', pin, '--bpffs', fs.path, '--json');
    expect(loaded.stderr).toBe('');
    expect(loaded.json().linkPin).toBe(pin);
    for (const d of [B('app'), B('app', 'links'), B('app', 'links', 'xdp')]) expect(mode(d), d).toBe(CREATED_DIR_MODE);
    expect(xdpProgIdOnV0(ns)).toBe(loaded.json().progId);

    const r = await cli('detach', '--pin-link', pin, '--bpffs', fs.path, '--json');
    expect(r.code).toBe(0);
    expect(xdpProgIdOnV0(ns)).toBe(0);
    expect(existsSync(B('app'))).toBe(false);
    expect(entries(fs.path)).toEqual([]);
  });

  it('detach --xdp (the link found by id at a custom pin) removes the directories too', async () => {
    const pin = B('svc', 'l');
    expect((await cli('load', DROP_ALL, ...onV0(), '--link', '--pin-link', pin, '--bpffs', fs.path)).code).toBe(0);
    expect(mode(B('svc'))).toBe(CREATED_DIR_MODE);
    const r = await cli('detach', ...onV0().slice(0, 4), '--bpffs', fs.path, '--json');
    expect(r.code).toBe(0);
    expect(r.json().removedPins).toContain(pin);
    expect(entries(fs.path)).toEqual([]);
  });

  it('a directory the user made stays (and so does everything above it); a non-empty one stays', async () => {
    mkdirSync(B('mine'), { mode: 0o700 });
    const pin = B('mine', 'made', 'l');
    expect((await cli('load', DROP_ALL, ...onV0(), '--link', '--pin-link', pin, '--bpffs', fs.path)).code).toBe(0);
    // Something else lives in a directory bpf-ts made: it must stay with it.
    using m = BpfMap.create({ name: 'pdir_keep', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    m.pin(B('mine', 'made', 'keep'));
    expect((await cli('detach', '--pin-link', pin, '--bpffs', fs.path)).code).toBe(0);
    expect(entries(B('mine', 'made'))).toEqual(['keep']);
    rmSync(B('mine', 'made', 'keep'));
    // Now empty: a detach of another link pinned there takes 'made' but not the user's 'mine'.
    expect((await cli('load', DROP_ALL, ...onV0(), '--link', '--pin-link', pin, '--bpffs', fs.path)).code).toBe(0);
    expect((await cli('detach', '--pin-link', pin, '--bpffs', fs.path)).code).toBe(0);
    expect(existsSync(B('mine', 'made'))).toBe(false);
    expect(mode(B('mine'))).toBe(0o700);
    expect(entries(B('mine'))).toEqual([]);
  });

  it('removeCreatedDirs: only marked, empty directories of this user, never the mount point or through a symlink', () => {
    // Marked, but another user's: stays (and stops the walk).
    walkBpffsDir(B('x', 'theirs', 'inner'), { mkdir: true });
    chownSync(B('x', 'theirs'), ATTACKER_UID, ATTACKER_UID);
    expect(removeCreatedDirs(B('x', 'theirs', 'inner'))).toEqual([B('x', 'theirs', 'inner')]);
    expect(existsSync(B('x', 'theirs'))).toBe(true);
    // Same mode as the mark but not made by us? Only the mode says so: a user's plain 0700 stays.
    mkdirSync(B('plain'), { mode: 0o700 });
    expect(removeCreatedDirs(B('plain'))).toEqual([]);
    expect(existsSync(B('plain'))).toBe(true);
    // A symlink to a marked directory: not followed, nothing removed.
    walkBpffsDir(B('target'), { mkdir: true });
    symlinkSync(B('target'), B('alias'));
    expect(removeCreatedDirs(B('alias'))).toEqual([]);
    expect(existsSync(B('target'))).toBe(true);
    // Not on bpffs at all: nothing.
    expect(removeCreatedDirs('/tmp')).toEqual([]);
  });

  it('removeCreatedDirs stops at the mount point, even one with the mode of the mark', () => {
    chmodSync(fs.path, CREATED_DIR_MODE);
    try {
      walkBpffsDir(B('top'), { mkdir: true });
      expect(removeCreatedDirs(B('top'))).toEqual([B('top')]);
      expect(lstatSync(fs.path).isDirectory()).toBe(true);
      expect(removeCreatedDirs(fs.path)).toEqual([]);
      expect(lstatSync(fs.path).isDirectory()).toBe(true);
    } finally {
      chmodSync(fs.path, 0o1777);
    }
  });
});
