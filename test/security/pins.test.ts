// Pins on a shared bpffs (mode 1777, like /sys/fs/bpf) with a real
// unprivileged attacker (uid 65534): directories or symlinks planted ahead
// of root, lax modes, the umask, non-bpffs --bpffs, NUL bytes. Each case
// was accepted (or silently followed) before bpf-ts checked its paths.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { loadObject } from '../../src/collection.js';
import { BpfMap } from '../../src/maps/map.js';
import { openPinnedMap, unpin } from '../../src/maps/pin.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { defaultXdpLinkPin } from '../../src/cli/default-pins.js';
import { cli, cliProcess, ensureDist, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { ATTACKER_UID, asAttacker, makeVethNs, mountSharedBpffs, removeNs, xdpProgIdOnV0 } from './helpers.js';
import { thrown } from '../helpers/thrown.js';

const DROP_ALL = fixture('drop_all.o');
const TC_SHARED = fixture('tc_shared_map.o');
const EVEN_DROP = fixture('icmp_even_drop.o');

/** What a test left in a bpffs root, without the kernel's own maps.debug/progs.debug (bpf_preload). */
const entries = (dir: string) => readdirSync(dir).filter((n) => !n.endsWith('.debug'));

/** The attacker's uid as bpf-ts names an owner: "nobody (uid 65534)" or "uid 65534". */
const ATTACKER = new RegExp(`(\\w+ \\(uid ${ATTACKER_UID}\\)|uid ${ATTACKER_UID})`);

describeRoot('pins on a shared bpffs with an unprivileged attacker (uid 65534)', () => {
  let fs: { path: string; unmount(): void };
  let ns = '';
  let plain = '';
  const open: BpfMap[] = [];
  const B = (...p: string[]) => join(fs.path, ...p);
  const onV0 = () => ['--xdp', 'v0', '--netns', ns, '--mode', 'skb'];

  beforeAll(() => {
    // The umask test runs the CLI as a child process, from dist/.
    ensureDist();
    fs = mountSharedBpffs();
    ns = uniqueName('sec');
    makeVethNs(ns);
    plain = mkdtempSync(join(tmpdir(), 'bpf-ts-plain-'));
    // The attacker really is unprivileged and really can write to the shared bpffs root.
    expect(asAttacker(['mkdir', B('attacker-probe')]).status).toBe(0);
    expect(statSync(B('attacker-probe')).uid).toBe(ATTACKER_UID);
    expect(statSync(fs.path).mode & 0o7777).toBe(0o1777);
  }, 180_000);

  afterEach(() => {
    if (ns && queryXdp('v0', { netns: ns }).attached !== 'none') detachXdp('v0', { netns: ns });
    // Each test starts from an empty bpffs (root can remove what the attacker made).
    for (const n of entries(fs.path)) rmSync(B(n), { recursive: true, force: true });
  });

  afterAll(() => {
    open.forEach((m) => m.close());
    try {
      removeNs(ns);
    } finally {
      fs?.unmount();
      if (plain) rmSync(plain, { recursive: true, force: true });
    }
  });

  // ---------------------------------------------------------------- 1. takeover

  it('an attacker-made default pin directory (bpf-ts/) is refused: no link pinned there, nothing attached, owner named', async () => {
    expect(asAttacker(['mkdir', B('bpf-ts')]).status).toBe(0);
    const r = await cli('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(B('bpf-ts'));
    expect(r.stderr).toMatch(ATTACKER);
    expect(r.stderr).not.toContain('    at ');
    expect(readdirSync(B('bpf-ts'))).toEqual([]);
    expect(xdpProgIdOnV0(ns)).toBe(0);
  });

  it("a symlink the attacker plants where detach looks for bpf-ts's link pins is skipped, not followed: detach still works", async () => {
    // The program goes on through a link pinned where root says (--pin-link); the attacker then makes bpf-ts/ and a
    // symlink at the name `load --link` pins under by default, pointing at a file of their own outside bpffs.
    mkdirSync(B('root-links'), { mode: 0o700 });
    expect((await cli('load', DROP_ALL, ...onV0(), '--bpffs', fs.path, '--link', '--pin-link', B('root-links', 'v0'))).code).toBe(0);
    const bait = join(plain, 'bait');
    writeFileSync(bait, '');
    chownSync(bait, ATTACKER_UID, ATTACKER_UID);
    expect(asAttacker(['mkdir', B('bpf-ts')]).status).toBe(0);
    expect(asAttacker(['ln', '-s', bait, defaultXdpLinkPin(fs.path, 'v0', ns)]).status).toBe(0);
    const r = await cli('detach', ...onV0().slice(0, 4), '--bpffs', fs.path);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(xdpProgIdOnV0(ns)).toBe(0);
    // The link's own pin is gone with it; the symlink is left as it was: bpf-ts removes only pins it may trust.
    expect(existsSync(B('root-links', 'v0'))).toBe(false);
    expect(lstatSync(defaultXdpLinkPin(fs.path, 'v0', ns)).isSymbolicLink()).toBe(true);
  });

  it('an attacker-made --pin-maps directory is refused, by the CLI and the library', async () => {
    expect(asAttacker(['mkdir', B('mine')]).status).toBe(0);
    const r = await cli('load', EVEN_DROP, ...onV0(), '--bpffs', fs.path, '--pin-maps', B('mine'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(ATTACKER);
    expect(xdpProgIdOnV0(ns)).toBe(0);
    const e = thrown(() => loadObject(EVEN_DROP, { pinMaps: B('mine') }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toMatch(ATTACKER);
    expect(readdirSync(B('mine'))).toEqual([]);
  });

  it('an attacker-made tc/ is refused when an iproute2 object pins its PIN_GLOBAL_NS map', () => {
    expect(asAttacker(['mkdir', B('tc')]).status).toBe(0);
    const e = thrown(() => loadObject(TC_SHARED, { bpffs: fs.path, programType: 'sched_cls' }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toContain(B('tc'));
    expect(e.message).toMatch(ATTACKER);
    expect(readdirSync(B('tc'))).toEqual([]);
  });

  it('a directory writable by others without the sticky bit is refused even when root owns it; with the sticky bit it is accepted', () => {
    mkdirSync(B('lax'));
    chmodSync(B('lax'), 0o777);
    const e = thrown(() => loadObject(EVEN_DROP, { pinMaps: B('lax') }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toContain('mode 0777');
    expect(e.message).toContain('without the sticky bit');
    chmodSync(B('lax'), 0o1777);
    using c = loadObject(EVEN_DROP, { pinMaps: B('lax') });
    expect(c.createdPins.length).toBeGreaterThan(0);
  });

  it('reusing a pin checks its owner: a pinned map handed to another non-root user is not reused', () => {
    using first = loadObject(TC_SHARED, { bpffs: fs.path, programType: 'sched_cls' });
    const pin = B('tc', 'globals', 'acc_map');
    expect(first.createdPins).toEqual([pin]);
    chownSync(pin, ATTACKER_UID, ATTACKER_UID);
    const e = thrown(() => loadObject(TC_SHARED, { bpffs: fs.path, programType: 'sched_cls' }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toContain(pin);
    expect(e.message).toMatch(ATTACKER);
    chownSync(pin, 0, 0);
    using again = loadObject(TC_SHARED, { bpffs: fs.path, programType: 'sched_cls' });
    expect([...again.reusedPins]).toEqual(['acc_map']);
    expect(again.map('acc_map').id).toBe(first.map('acc_map').id);
  });

  // ---------------------------------------------------------------- 2. symlinks

  it('a symlink planted at tc/globals/acc_map (to an unrelated root map of the same shape) is refused, not reused', () => {
    const victim = BpfMap.create({ name: 'victim', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 });
    open.push(victim);
    victim.pin(B('victim'));
    // tc/globals as a shared (sticky) directory: the attacker may add entries, not replace root's.
    mkdirSync(B('tc', 'globals'), { recursive: true });
    chmodSync(B('tc'), 0o755);
    chmodSync(B('tc', 'globals'), 0o1777);
    expect(asAttacker(['ln', '-s', B('victim'), B('tc', 'globals', 'acc_map')]).status).toBe(0);
    expect(lstatSync(B('tc', 'globals', 'acc_map')).isSymbolicLink()).toBe(true);
    const e = thrown(() => loadObject(TC_SHARED, { bpffs: fs.path, programType: 'sched_cls' }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toContain('symlink');
    expect(e.message).toContain(B('tc', 'globals', 'acc_map'));
    expect(e.message).toMatch(ATTACKER);
  });

  it('a symlinked directory in the middle of a --pin-maps path is refused; nothing lands where it points', () => {
    mkdirSync(B('real'), { mode: 0o700 });
    expect(asAttacker(['ln', '-s', B('real'), B('mid')]).status).toBe(0);
    const e = thrown(() => loadObject(EVEN_DROP, { pinMaps: B('mid', 'sub') }));
    expect(e.code).toBe('PIN_UNSAFE');
    expect(e.message).toContain(`${B('mid')} is a symlink`);
    expect(readdirSync(B('real'))).toEqual([]);
    // The same check guards opening and removing pins: root's own pin, reached through the symlink.
    const mine = BpfMap.create({ name: 'mine', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    open.push(mine);
    mine.pin(B('real', 'x'));
    expect(thrown(() => openPinnedMap(B('mid', 'x'))).code).toBe('PIN_UNSAFE');
    expect(thrown(() => unpin(B('mid', 'x'))).code).toBe('PIN_UNSAFE');
    expect(readdirSync(B('real'))).toEqual(['x']);
  });

  // ---------------------------------------------------------------- 3. modes

  it('with umask 000, directories bpf-ts creates are 0700 (plus the sticky bit, its mark: 01700) and its pins 0600 (CLI child process)', async () => {
    const r = await cliProcess(['load', EVEN_DROP, ...onV0(), '--link', '--bpffs', fs.path, '--pin-maps', B('um', 'deep'), '--json'], { wrap: ['sh', '-c', 'umask 000; exec "$@"', 'sh'] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.json();
    const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);
    expect(mode(B('bpf-ts'))).toBe('1700');
    expect(mode(B('um'))).toBe('1700');
    expect(mode(B('um', 'deep'))).toBe('1700');
    expect(mode(out.linkPin)).toBe('600');
    expect(out.pinnedMaps.length).toBeGreaterThan(0);
    for (const p of out.pinnedMaps) expect(mode(p)).toBe('600');
  });

  // ---------------------------------------------------------------- 4. odd paths

  it('detach --bpffs DIR on a directory that is not bpffs refuses before touching anything there', async () => {
    const loaded = (await cli('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path, '--json')).json();
    expect(xdpProgIdOnV0(ns)).toBe(loaded.progId);
    // An ordinary file where the default link pin would be on that directory.
    mkdirSync(join(plain, 'bpf-ts'), { recursive: true });
    const decoy = join(plain, 'bpf-ts', `xdp_link_${ns}_v0`);
    writeFileSync(decoy, 'precious');
    const r = await cli('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', plain);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not on a bpf filesystem');
    expect(readFileSync(decoy, 'utf8')).toBe('precious');
    expect(xdpProgIdOnV0(ns)).toBe(loaded.progId);
    // load with such a --bpffs is refused too, before attaching anything.
    const l = await cli('load', DROP_ALL, '--xdp', 'v1', '--netns', ns, '--mode', 'skb', '--bpffs', plain);
    expect(l.code).toBe(1);
    expect(l.stderr).toContain('not on a bpf filesystem');
    expect(queryXdp('v1', { netns: ns }).attached).toBe('none');
    // The right bpffs detaches it and removes its pin (and the now empty bpf-ts/ directory).
    const ok = (await cli('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', fs.path, '--json')).json();
    expect(ok.removedPins).toEqual([loaded.linkPin]);
    expect(existsSync(B('bpf-ts'))).toBe(false);
    expect(xdpProgIdOnV0(ns)).toBe(0);
  });

  it('a NUL byte in a pin path is a BpfError (BAD_PATH), never a truncated path', () => {
    const m = BpfMap.create({ name: 'nul', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    open.push(m);
    const e = thrown(() => m.pin(B('good\0evil')));
    expect(e.code).toBe('BAD_PATH');
    expect(existsSync(B('good'))).toBe(false);
    expect(thrown(() => BpfMap.fromPin(B('good\0evil'))).code).toBe('BAD_PATH');
    expect(thrown(() => loadObject(EVEN_DROP, { pinMaps: B('d\0x') })).code).toBe('BAD_PATH');
    expect(thrown(() => unpin(B('good\0evil'))).code).toBe('BAD_PATH');
    expect(entries(fs.path)).toEqual([]);
  });

  it('root-owned pins and /sys/fs/bpf-like sticky roots stay usable: load, reuse and detach work as before', async () => {
    const a = (await cli('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path, '--json')).json();
    expect(a.linkPin).toBe(B('bpf-ts', `xdp_link_${ns}_v0`));
    expect(statSync(B('bpf-ts')).uid).toBe(0);
    const d = await cli('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', fs.path);
    expect(d.code).toBe(0);
    expect(entries(fs.path)).toEqual([]);
  });
});
