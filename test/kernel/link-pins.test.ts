// Failures leave bpffs as it was, and pins stay usable (issue 9.5): a failed
// `load --pin-maps` leaves no directory; `--pin-maps` works for objects with
// global data; a defunct link pin (its device deleted) neither blocks the next
// `load --link` nor survives `detach`; `detach` finds a link's pin wherever
// it is and removes only pins holding the links it detached; a link detached
// before its pin existed is never reported as attached.
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { attachXdpLink, detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { pinLinkVerified } from '../../src/cli/link-pins.js';
import { loadObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BpfMap } from '../../src/maps/map.js';
import { openPinnedMap } from '../../src/maps/pin.js';
import { withNetns } from '../../src/netns.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { addVeth, deleteVeth, makeVethNs, mountSharedBpffs, removeNs, xdpProgIdOnV0 } from '../security/helpers.js';

const DROP_ALL = fixture('drop_all.o');
const EVEN_DROP = fixture('icmp_even_drop.o');
const GLOBALS = fixture('globals.o');

const entries = (dir: string) => readdirSync(dir).filter((n) => !n.endsWith('.debug'));

describeRoot('link pins and --pin-maps: failures leave nothing, defunct pins do not block (CLI, one veth namespace)', () => {
  let fs: { path: string; unmount(): void };
  let ns = '';
  const B = (...p: string[]) => join(fs.path, ...p);
  const onV0 = () => ['--xdp', 'v0', '--netns', ns, '--mode', 'skb'];
  const defaultPin = () => B('bpf-ts', `xdp_link_${ns}_v0`);

  beforeAll(() => {
    fs = mountSharedBpffs();
    ns = uniqueName('lpin');
    makeVethNs(ns);
  });
  afterEach(() => {
    try {
      if (queryXdp('v0', { netns: ns }).attached !== 'none') detachXdp('v0', { netns: ns });
    } catch {
      addVeth(ns); // a test deleted v0 and failed before re-creating it
    }
    for (const n of entries(fs.path)) rmSync(B(n), { recursive: true, force: true });
  });
  afterAll(() => {
    try {
      removeNs(ns);
    } finally {
      fs?.unmount();
    }
  });

  it('a load --pin-maps DIR that fails (EBUSY: XDP already attached) leaves no DIR behind', async () => {
    const first = (await cliOk('load', DROP_ALL, ...onV0(), '--json')).json();
    const r = await cli('load', EVEN_DROP, ...onV0(), '--bpffs', fs.path, '--pin-maps', B('pm', 'sub'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already attached/);
    expect(existsSync(B('pm'))).toBe(false);
    expect(xdpProgIdOnV0(ns)).toBe(first.progId);
  });

  it('--pin-maps pins global data maps as <object>_bss/_data/_rodata, the names bpftool 7.1 gives them', async () => {
    const out = (await cliOk('load', GLOBALS, ...onV0(), '--bpffs', fs.path, '--pin-maps', B('g'), '--json')).json();
    // `bpftool prog loadall fixtures/globals.o … pinmaps DIR` created exactly these three.
    expect([...out.pinnedMaps].sort()).toEqual([B('g', 'globals_bss'), B('g', 'globals_data'), B('g', 'globals_rodata')]);
    // Value sizes as `bpftool map show` printed them for that object: .bss 32, .data 8, .rodata 5 bytes.
    const sizes = Object.fromEntries(
      ['globals_bss', 'globals_data', 'globals_rodata'].map((n) => {
        using m = openPinnedMap(B('g', n));
        return [n, m.valueSize];
      }),
    );
    expect(sizes).toEqual({ globals_bss: 32, globals_data: 8, globals_rodata: 5 });
    expect(xdpProgIdOnV0(ns)).toBe(out.progId);
  });

  it('a defunct link pin (device deleted) is cleared by the next load --link, and by detach', async () => {
    const a = (await cliOk('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path, '--json')).json();
    expect(a.linkPin).toBe(defaultPin());
    deleteVeth(ns);
    addVeth(ns);
    expect(existsSync(defaultPin())).toBe(true);
    expect(xdpProgIdOnV0(ns)).toBe(0);

    // The pin holds a defunct link: the new load replaces it and says so.
    const b = (await cliOk('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path, '--json')).json();
    expect(b.removedDefunctPin).toBe(defaultPin());
    expect(b.linkPin).toBe(defaultPin());
    expect(b.linkId).not.toBe(a.linkId);
    expect(xdpProgIdOnV0(ns)).toBe(b.progId);

    // Again defunct; detach finds nothing attached but removes the pin (and bpf-ts/, now empty).
    deleteVeth(ns);
    addVeth(ns);
    const d = await cli('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', fs.path, '--json');
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.json()).toEqual({ interface: 'v0', detached: [], removedPins: [], removedDefunctPins: [defaultPin()] });
    expect(existsSync(B('bpf-ts'))).toBe(false);
    // Nothing left: a plain NOT_ATTACHED.
    const again = await cli('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', fs.path);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no XDP program/);
  });

  it('a live link at the pin path is still PIN_EXISTS, naming the link; nothing new is attached', async () => {
    const a = (await cliOk('load', DROP_ALL, ...onV0(), '--link', '--bpffs', fs.path, '--json')).json();
    const r = await cli('load', DROP_ALL, '--xdp', 'v1', '--netns', ns, '--mode', 'skb', '--link', '--pin-link', a.linkPin, '--bpffs', fs.path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`bpf_link ${a.linkId}`);
    expect(r.stderr).toContain('still attached');
    expect(queryXdp('v1', { netns: ns }).attached).toBe('none');
  });

  it('detach --xdp finds a custom --pin-link pin and removes it; a map pinned at the default path is not its to remove', async () => {
    const custom = B('custom', 'links', 'mine');
    const a = (await cliOk('load', DROP_ALL, ...onV0(), '--link', '--pin-link', custom, '--bpffs', fs.path, '--json')).json();
    expect(a.linkPin).toBe(custom);
    // Something else (a map) sits where the default link pin would be.
    const m = BpfMap.create({ name: 'bystander', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      m.pin(defaultPin(), { mkdir: true });
      const d = (await cliOk('detach', '--xdp', 'v0', '--netns', ns, '--bpffs', fs.path, '--json')).json();
      expect(d.detached).toEqual([{ mode: 'skb', progId: a.progId, linkId: a.linkId }]);
      expect(d.removedPins).toEqual([custom]);
      expect(existsSync(custom)).toBe(false);
      expect(lstatSync(defaultPin()).isFile()).toBe(true);
      expect(xdpProgIdOnV0(ns)).toBe(0);
    } finally {
      m.close();
    }
  });

  it('detach --tc finds a tcx link pinned at a custom --pin-link path and removes only that pin', async () => {
    const custom = B('tcx-custom', 'in');
    const a = (await cliOk('load', fixture('tc_shared_map.o'), '--tc', 'v0', '--netns', ns, '--program', 'tc_ingress', '--link', '--pin-link', custom, '--bpffs', fs.path, '--json')).json();
    expect(a.linkPin).toBe(custom);
    const d = (await cliOk('detach', '--tc', 'v0', '--netns', ns, '--bpffs', fs.path, '--json')).json();
    expect(d.detached).toEqual([{ direction: 'ingress', progId: a.progId, link: true, linkId: a.linkId }]);
    expect(d.removedPins).toEqual([custom]);
    expect(existsSync(custom)).toBe(false);
    // The shared map's pin is not a link pin of this detach: it stays.
    expect(existsSync(B('tc', 'globals', 'acc_map'))).toBe(true);
  });

  it('detach --pin-link PATH detaches the link pinned there and removes the pin', async () => {
    const custom = B('elsewhere', 'l');
    const a = (await cliOk('load', DROP_ALL, ...onV0(), '--link', '--pin-link', custom, '--bpffs', fs.path, '--json')).json();
    const d = (await cliOk('detach', '--pin-link', custom, '--json')).json();
    expect(d).toEqual({ pinLink: custom, linkId: a.linkId, progId: a.progId, detached: true, removedPins: [custom] });
    expect(xdpProgIdOnV0(ns)).toBe(0);
    expect(existsSync(custom)).toBe(false);
    const none = await cli('detach', '--pin-link', custom);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`nothing is pinned at ${custom}`);
  });

  it('a link detached before its pin exists (a racing detach) is not reported as attached: NOT_ATTACHED, no pin, no directory', () => {
    using coll = loadObject(DROP_ALL, { programType: 'xdp' });
    const prog = coll.program('xdp_drop');
    using link = attachXdpLink({ iface: 'v0', netns: ns, progFd: prog.fd.value, mode: 'skb' });
    // What `detach --xdp` racing the load does between LINK_CREATE and the pin.
    link.detach();
    let err: unknown;
    try {
      pinLinkVerified(link.fd.value, B('race', 'link'), `XDP link ${link.id}`, () => withNetns(ns, () => queryXdp('v0').programs.some((s) => s.progId === link.progId)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('NOT_ATTACHED');
    expect(existsSync(B('race'))).toBe(false);
  });
});
