// One kernel object in detail, and a link cut from its hook: `prog show`,
// `map show`, `link show` against `bpftool … show … -j` of the same object,
// and `link detach` (by id and by pin) against what iproute2 sees on the
// device and what is left on bpffs. XDP on a veth inside a namespace of the
// test's own, a bpffs mounted for the test.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { detachTc, removeClsact } from '../../src/attach/tc.js';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { openObject } from '../../src/collection.js';
import { BpfLink } from '../../src/link/link.js';
import { attachRawTracepoint } from '../../src/link/tracing.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG } from '../../src/uapi/bpf.js';
import { cli, cliOk, cliProcess, fixture, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { runUnprivileged } from '../helpers/unpriv.js';
import { addVeth, deleteVeth, makeVethNs, mountSharedBpffs, removeNs, xdpProgIdOnV0 } from '../security/helpers.js';

const EVEN_DROP = fixture('icmp_even_drop.o');
const bpftool = (...args: string[]) => JSON.parse(execFileSync('bpftool', [...args, '-j'], { encoding: 'utf8' }));

describeRoot('prog/map/link show and link detach (CLI, one veth namespace, bpftool as the reference)', () => {
  let fs: { path: string; unmount(): void };
  let ns = '';
  const B = (...p: string[]) => join(fs.path, ...p);
  const onV0 = () => ['--xdp', 'v0', '--netns', ns, '--mode', 'skb', '--link', '--bpffs', fs.path];
  const linkPin = () => B('bpf-ts', `xdp_link_${ns}_v0`);

  beforeAll(() => {
    fs = mountSharedBpffs();
    ns = uniqueName('shw');
    makeVethNs(ns);
  });
  afterEach(() => {
    if (queryXdp('v0', { netns: ns }).attached !== 'none') detachXdp('v0', { netns: ns });
    for (const n of readdirSync(fs.path).filter((n) => !n.endsWith('.debug'))) rmSync(B(n), { recursive: true, force: true });
  });
  afterAll(() => {
    try {
      removeNs(ns);
    } finally {
      fs?.unmount();
    }
  });

  it('prog show: the fields bpftool prog show gives, the load time to the second, and the link holding it', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    const tool = bpftool('prog', 'show', 'id', String(loaded.progId));
    const mine = (await cliOk('prog', 'show', `id:${loaded.progId}`, '--json')).json();
    expect(mine).toMatchObject({
      id: tool.id,
      name: tool.name,
      type: tool.type,
      tag: tool.tag,
      gplCompatible: tool.gpl_compatible,
      uid: tool.uid,
      xlatedBytes: tool.bytes_xlated,
      jitedBytes: tool.bytes_jited,
      memlock: tool.bytes_memlock,
      btfId: tool.btf_id,
    });
    expect(mine.maps.map((m: { id: number }) => m.id)).toEqual(tool.map_ids);
    // The map's name and type as bpftool map show gives them.
    const m = bpftool('map', 'show', 'id', String(tool.map_ids[0]));
    expect(mine.maps[0]).toEqual({ id: m.id, name: m.name, type: m.type });
    // bpftool's loaded_at is whole seconds of the same clock conversion (/proc/uptime has 10 ms steps).
    expect(Math.abs(Date.parse(mine.loadedAt) / 1000 - tool.loaded_at)).toBeLessThan(1.5);
    // The link that load --link made, as bpftool link show lists it.
    const links = bpftool('link', 'show').filter((l: { prog_id: number }) => l.prog_id === loaded.progId);
    expect(links.map((l: { id: number }) => l.id)).toEqual([loaded.linkId]);
    expect(mine.links).toEqual([{ id: loaded.linkId, type: 'xdp', target: `ifindex ${loaded.ifindex}` }]);

    // The text form, and the program behind a link pin.
    const text = (await cliOk('prog', 'show', linkPin())).stdout;
    expect(text).toContain(`program ${loaded.progId}: xdp_even_drop (xdp)`);
    expect(text).toContain(`tag        ${tool.tag} (GPL)`);
    expect(text).toContain(`${tool.bytes_xlated} bytes xlated, ${tool.bytes_jited} bytes JITed, ${tool.bytes_memlock} bytes memlock`);
    expect(text).toContain(`maps       ${m.id} counters (percpu_array)`);
    expect(text).toContain(`links      ${loaded.linkId} (xdp, ifindex ${loaded.ifindex})`);
  });

  it('prog show --netns: the interfaces an XDP or TC program is on, as ip link and tc filter show them', async () => {
    const viaLink = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    expect(xdpProgIdOnV0(ns)).toBe(viaLink.progId);
    const show = async (id: number, ...more: string[]) => (await cliOk('prog', 'show', `id:${id}`, ...more, '--json')).json().interfaces;
    expect(await show(viaLink.progId, '--netns', ns)).toEqual([{ interface: 'v0', ifindex: viaLink.ifindex, hook: 'xdp skb', linkId: viaLink.linkId }]);
    expect(await show(viaLink.progId)).toEqual([]); // nothing of this namespace's
    detachXdp('v0', { netns: ns, linkPins: [linkPin()] });

    // Through netlink, no link.
    const viaNetlink = (await cliOk('load', EVEN_DROP, '--xdp', 'v0', '--netns', ns, '--mode', 'skb', '--json')).json();
    expect(xdpProgIdOnV0(ns)).toBe(viaNetlink.progId);
    expect(await show(viaNetlink.progId, '--netns', ns)).toEqual([{ interface: 'v0', ifindex: viaNetlink.ifindex, hook: 'xdp skb', linkId: null }]);
    expect((await cliOk('prog', 'show', `id:${viaNetlink.progId}`, '--netns', ns)).stdout).toContain('  attached   v0 xdp skb (no link)\n');

    // A clsact cls_bpf filter.
    const tc = (await cliOk('load', fixture('tc_shared_map.o'), '--tc', 'v0', '--netns', ns, '--direction', 'ingress', '--program', 'tc_ingress', '--bpffs', fs.path, '--json')).json();
    try {
      const filters = JSON.parse(execFileSync('nsenter', [`--net=/var/run/netns/${ns}`, 'tc', '-j', 'filter', 'show', 'dev', 'v0', 'ingress'], { encoding: 'utf8' }));
      expect(filters.find((f: { options?: { prog?: { id: number } } }) => f.options?.prog)?.options.prog.id).toBe(tc.progId);
      expect(await show(tc.progId, '--netns', ns)).toEqual([{ interface: 'v0', ifindex: tc.ifindex, hook: 'tc ingress', linkId: null }]);
    } finally {
      detachTc('v0', { netns: ns });
      removeClsact('v0', { netns: ns, onlyIfEmpty: false });
    }
    // Program types with no interface hooks have none to show.
    using c = openObject(fixture('tracing.o')).load({ programs: ['rawtp_sys_enter'], ignorePinning: true });
    expect(await show(c.program('rawtp_sys_enter').id)).toBeNull();
    expect((await cli('prog', 'list', '--netns', ns)).stderr).toMatch(/--netns goes with prog show/);
  });

  it('map show: the fields bpftool map show gives, frozen and flags by name, and the programs using it', async () => {
    using plain = BpfMap.create({ name: 'show_plain', type: T.HASH, keySize: 4, valueSize: 16, maxEntries: 7, flags: BPF_F_NO_PREALLOC });
    using frozen = BpfMap.create({ name: 'show_frozen', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 3, flags: BPF_F_MMAPABLE | BPF_F_RDONLY_PROG });
    frozen.freeze();
    for (const [map, names] of [
      [plain, ['no_prealloc']],
      [frozen, ['rdonly_prog', 'mmapable']],
    ] as const) {
      const tool = bpftool('map', 'show', 'id', String(map.id));
      const mine = (await cliOk('map', 'show', `id:${map.id}`, '--json')).json();
      expect(mine).toEqual({
        id: tool.id,
        name: tool.name,
        type: tool.type,
        keySize: tool.bytes_key,
        valueSize: tool.bytes_value,
        maxEntries: tool.max_entries,
        flags: tool.flags,
        flagNames: names,
        btfId: 0,
        frozen: tool.frozen === 1,
        memlock: tool.bytes_memlock,
        programs: [],
        // Pinned nowhere, held by this test process alone, which is also the CLI here (cli() runs it in-process) and leaves itself out.
        pinned: [],
        processes: [],
      });
    }
    expect(bpftool('map', 'show', 'id', String(frozen.id)).frozen).toBe(1);

    // A map a loaded program uses lists that program (bpftool prog show's map_ids, read the other way).
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    const mapId = bpftool('prog', 'show', 'id', String(loaded.progId)).map_ids[0];
    const text = (await cliOk('map', 'show', `id:${mapId}`)).stdout;
    expect(text).toContain(`map ${mapId}: counters (percpu_array)`);
    expect(text).toContain('entries    up to 2, key 4 bytes, value 8 bytes');
    expect(text).toContain(`used by    ${loaded.progId} xdp_even_drop (xdp)`);
  });

  it('show: the processes holding an object, by pid, and its pins', async () => {
    using map = BpfMap.create({ name: 'show_held', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    map.pin(B('held'));
    // Another process opens the pin (BPF_OBJ_GET) and waits.
    const script = `import { BpfMap } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))}; const m = BpfMap.fromPin(process.argv[1]); console.log(m.id); process.stdin.on('data', () => process.exit(0));`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script, B('held')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const opened = await new Promise<string>((res) => holder.stdout!.once('data', (d) => res(String(d).trim())));
      expect(Number(opened)).toBe(map.id);
      // The CLI as its own process: this test process is a holder too.
      const show = async (...args: string[]) => {
        const r = await cliProcess(['map', 'show', B('held'), ...args]);
        expect(r.code, r.stderr).toBe(0);
        return r;
      };
      const out = (await show('--json')).json();
      expect(out.pinned).toEqual([B('held')]);
      const me = { pid: process.pid, comm: readFileSync('/proc/self/comm', 'utf8').trim() };
      expect(out.processes).toEqual([me, { pid: holder.pid!, comm: 'node' }].sort((a, b) => a.pid - b.pid));
      const text = (await show()).stdout;
      expect(text).toContain(`  pinned     ${B('held')}\n`);
      expect(text).toContain(`node (pid ${holder.pid})`);
    } finally {
      holder.stdin!.end('x');
    }
  });

  it('show: a process holding a link it opened from the pin (anon_inode:bpf-link, not bpf_link) is found', async () => {
    await cliOk('load', EVEN_DROP, ...onV0());
    const script = `import { BpfLink } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))}; const l = BpfLink.fromPin(process.argv[1]); console.log(l.id); process.stdin.on('data', () => process.exit(0));`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script, linkPin()], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const opened = Number(await new Promise<string>((res) => holder.stdout!.once('data', (d) => res(String(d).trim()))));
      const r = await cliProcess(['link', 'show', linkPin(), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ id: opened, pinned: [linkPin()], processes: [{ pid: holder.pid!, comm: 'node' }] });
    } finally {
      holder.stdin!.end('x');
    }
  });

  it('link show: a pinned link as bpftool link show pinned reads it', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    const tool = bpftool('link', 'show', 'pinned', linkPin());
    const mine = (await cliOk('link', 'show', linkPin(), '--json')).json();
    expect(mine).toMatchObject({ id: tool.id, type: tool.type, progId: tool.prog_id, progName: 'xdp_even_drop', progType: 'xdp', defunct: false, pinnedAt: linkPin() });
    expect(mine.details).toEqual({ kind: 'xdp', ifindex: loaded.ifindex });
    // Held by its pin only (load has exited): pins are searched on the bpffs of the pin named and on /sys/fs/bpf.
    expect(mine).toMatchObject({ pinned: [linkPin()], processes: [] });
    const byId = (await cliOk('link', 'show', `id:${tool.id}`, '--json')).json();
    expect(byId).toEqual({ ...mine, pinnedAt: null, pinned: [] });
  });

  it('link detach id:N: the program leaves the device (ip link), the pin goes, the link is freed', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    expect(xdpProgIdOnV0(ns)).toBe(loaded.progId);
    const out = (await cliOk('link', 'detach', `id:${loaded.linkId}`, '--bpffs', fs.path, '--json')).json();
    expect(out).toMatchObject({ id: loaded.linkId, type: 'xdp', progId: loaded.progId, detached: true, removedPins: [linkPin()] });
    expect(xdpProgIdOnV0(ns)).toBe(0);
    expect(existsSync(linkPin())).toBe(false);
    expect(existsSync(B('bpf-ts'))).toBe(false); // the directory bpf-ts made, empty now
    expect(bpftool('link', 'show').some((l: { id: number }) => l.id === loaded.linkId)).toBe(false);
  });

  it('link detach PIN: detached while another process holds the link; then id:N says it was already detached', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    using held = BpfLink.fromPin(linkPin());
    const text = (await cliOk('link', 'detach', linkPin())).stdout;
    expect(text).toContain(`detached link ${loaded.linkId} (xdp, ifindex ${loaded.ifindex}), program ${loaded.progId} xdp_even_drop (xdp)`);
    expect(text).toContain(`removed pin ${linkPin()}`);
    expect(xdpProgIdOnV0(ns)).toBe(0);
    expect(existsSync(linkPin())).toBe(false);
    // The link lives on, defunct, while this process holds it: bpftool still lists it.
    expect(bpftool('link', 'show', 'id', String(held.id)).prog_id).toBe(loaded.progId);
    expect(held.info().details).toEqual({ kind: 'xdp', ifindex: 0 });
    const again = (await cliOk('link', 'detach', `id:${held.id}`, '--bpffs', fs.path, '--json')).json();
    expect(again).toMatchObject({ id: held.id, detached: false, removedPins: [] });
    expect((await cliOk('link', 'show', `id:${held.id}`)).stdout).toMatch(/state +detached/);
  });

  it('a link type the kernel cannot detach (raw tracepoint): the error says so and the pin stays', async () => {
    using coll = openObject(fixture('tracing.o')).load({ programs: ['rawtp_sys_enter'], ignorePinning: true });
    const prog = coll.program('rawtp_sys_enter');
    using link = attachRawTracepoint(prog, 'sys_enter');
    const pin = B('rawtp_link');
    link.pin(pin);
    const r = await cli('link', 'detach', pin);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `bpf-ts: link ${link.id}: the kernel cannot detach a raw_tracepoint link while it lives; it goes when the last process holding it closes it and its pin is removed (rm ${pin})\n`,
    );
    expect(existsSync(pin)).toBe(true);
    expect(bpftool('link', 'show', 'pinned', pin)).toMatchObject({ id: link.id, type: 'raw_tracepoint', prog_id: prog.id });
  });

  it('prog/map/link pin: a second pin of the same object (bpftool reads the same id), private; link detach id:N removes every pin of the link', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--json')).json();
    const mapId = bpftool('prog', 'show', 'id', String(loaded.progId)).map_ids[0];
    const p = (await cliOk('prog', 'pin', `id:${loaded.progId}`, B('deep', 'er', 'prog'), '--json')).json();
    expect(p).toEqual({ id: loaded.progId, pinnedAt: B('deep', 'er', 'prog'), createdDirs: [B('deep'), B('deep', 'er')] });
    expect(bpftool('prog', 'show', 'pinned', B('deep', 'er', 'prog')).id).toBe(loaded.progId);
    expect(statSync(B('deep', 'er', 'prog')).mode & 0o7777).toBe(0o600);
    expect(statSync(B('deep', 'er')).mode & 0o7777).toBe(0o1700);
    expect((await cliOk('map', 'pin', `id:${mapId}`, B('map'))).stdout).toBe(`pinned map ${mapId} at ${B('map')}\n`);
    expect(bpftool('map', 'show', 'pinned', B('map')).id).toBe(mapId);
    await cliOk('link', 'pin', linkPin(), B('link2'));
    expect(bpftool('link', 'show', 'pinned', B('link2')).id).toBe(loaded.linkId);
    // Never over an existing file.
    const again = await cli('map', 'pin', `id:${mapId}`, B('link2'));
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`bpf-ts: cannot pin map "counters": ${B('link2')} already exists\n`);
    // Both pins of the link go with it; the program and map pins stay.
    const out = (await cliOk('link', 'detach', `id:${loaded.linkId}`, '--bpffs', fs.path, '--json')).json();
    expect([...out.removedPins].sort()).toEqual([B('link2'), linkPin()].sort());
    expect(existsSync(B('link2'))).toBe(false);
    expect(existsSync(B('deep', 'er', 'prog'))).toBe(true);
    expect(existsSync(B('map'))).toBe(true);
  });

  it('pins: what each pin holds, as bpftool reads the same pins; a link pin whose device is gone is defunct; symlinks are not followed', async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--pin-maps', B('m'), '--json')).json();
    await cliOk('prog', 'pin', `id:${loaded.progId}`, B('p', 'prog'));
    await cliOk('map', 'pin', B('m', 'counters'), B('theirs'));
    chownSync(B('theirs'), 65534, 65534);
    symlinkSync(B('m'), B('zz_symlink')); // would list m/counters a second time if followed
    const tool = (kind: string, path: string) => bpftool(kind, 'show', 'pinned', path);
    const map = tool('map', B('m', 'counters'));
    const out = (await cliOk('pins', fs.path, '--json')).json();
    expect(out).toEqual({
      dir: fs.path,
      truncated: false,
      pins: [
        { path: linkPin(), kind: 'link', id: tool('link', linkPin()).id, name: null, type: 'xdp', progId: loaded.progId, target: `ifindex ${loaded.ifindex}`, defunct: false, owner: 0, mode: 0o600 },
        { path: B('m', 'counters'), kind: 'map', id: map.id, name: map.name, type: map.type, owner: 0, mode: 0o600 },
        { path: B('p', 'prog'), kind: 'prog', id: tool('prog', B('p', 'prog')).id, name: 'xdp_even_drop', type: 'xdp', owner: 0, mode: 0o600 },
        { path: B('theirs'), kind: 'map', id: map.id, name: map.name, type: map.type, owner: 65534, mode: 0o600 },
      ],
    });
    const text = (await cliOk('pins', fs.path)).stdout.split('\n');
    expect(text[0]).toMatch(/^PIN +KIND +ID +NAME +DETAIL +OWNER$/);
    expect(text[1]).toMatch(new RegExp(`^bpf-ts/xdp_link_${ns}_v0 +link +${loaded.linkId} +- +xdp link, prog ${loaded.progId}, ifindex ${loaded.ifindex} +root \\(uid 0\\)$`));
    expect(text[4]).toMatch(/^theirs +map .* nobody \(uid 65534\)$/);

    // The device goes: the link holds nothing, and pins says so.
    deleteVeth(ns);
    try {
      const after = (await cliOk('pins', B('bpf-ts'), '--json')).json();
      expect(after.pins).toEqual([expect.objectContaining({ path: linkPin(), kind: 'link', defunct: true, target: 'ifindex 0' })]);
      expect((await cliOk('pins', B('bpf-ts'))).stdout).toContain('(defunct: holds nothing)');
    } finally {
      addVeth(ns);
    }
    expect((await cli('pins', '/tmp')).stderr).toBe('bpf-ts: /tmp is not on a bpf filesystem (mount one with: mount -t bpf bpf /tmp)\n');
  });

  it("pins --prune removes only link pins that hold nothing, and never another user's", async () => {
    const loaded = (await cliOk('load', EVEN_DROP, ...onV0(), '--pin-maps', B('m'), '--json')).json();
    await cliOk('link', 'pin', linkPin(), B('other', 'l'));
    chownSync(B('other', 'l'), 65534, 65534);
    // Live: nothing to prune.
    expect((await cliOk('pins', fs.path, '--prune', '--json')).json().removed).toEqual([]);
    deleteVeth(ns);
    try {
      const r = await cli('pins', fs.path, '--prune', '--json');
      expect(r.code).toBe(0);
      const out = r.json();
      expect(out.removed).toEqual([linkPin()]);
      expect(out.pins.map((p: { path: string; kind: string; defunct?: boolean }) => [p.path, p.kind, p.defunct ?? null])).toEqual([
        [B('m', 'counters'), 'map', null],
        [B('other', 'l'), 'link', true],
      ]);
      expect(r.stderr).toMatch(new RegExp(`^bpf-ts: warning: left ${B('other', 'l')}: .*owned by nobody \\(uid 65534\\)`));
      expect(existsSync(linkPin())).toBe(false);
      expect(existsSync(B('bpf-ts'))).toBe(false); // its directory, bpf-ts's own and empty now
      // The link lives on in the pin that stayed, as bpftool reads it.
      expect(bpftool('link', 'show', 'pinned', B('other', 'l'))).toMatchObject({ id: loaded.linkId, prog_id: loaded.progId });
    } finally {
      addVeth(ns);
    }
  });

  it('pins as another user: a directory it may not read is named, never passed over in silence', async () => {
    mkdirSync(B('private'), { mode: 0o700 });
    using map = BpfMap.create({ name: 'show_private', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    map.pin(B('private', 'm'));
    const inside = await runUnprivileged(['pins', fs.path, '--json'], []);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.json().pins).toEqual([]);
    expect(inside.stderr).toBe(`bpf-ts: warning: not listed: ${B('private')} (owner root (uid 0), mode 0700) may not be read by this process\n`);
    const denied = await runUnprivileged(['pins', B('private')], []);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe(`bpf-ts: cannot list ${B('private')} (owner root (uid 0), mode 0700): permission denied; run as its owner or root, or with CAP_DAC_READ_SEARCH\n`);
    // Root lists it.
    expect((await cliOk('pins', fs.path, '--json')).json().pins.map((p: { path: string; id: number }) => [p.path, p.id])).toEqual([[B('private', 'm'), map.id]]);
  });

  it('wrong targets: a map pin is not a link, unknown ids, no target', async () => {
    using map = BpfMap.create({ name: 'show_notlink', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    map.pin(B('a_map'));
    expect((await cli('link', 'show', B('a_map'))).stderr).toBe(`bpf-ts: ${B('a_map')} is a pinned map, not a link\n`);
    expect((await cli('detach', '--pin-link', B('a_map'))).stderr).toBe(`bpf-ts: ${B('a_map')} holds a map or program, not a bpf_link; remove it with rm ${B('a_map')} if you mean to\n`);
    expect((await cli('prog', 'pin', 'id:1')).stderr).toBe('bpf-ts: name where to pin the program: a path on bpffs\n');
    expect((await cli('link', 'detach', 'id:4000000000')).stderr).toBe('bpf-ts: no link with id 4000000000\n');
    expect((await cli('prog', 'show', 'id:4000000000')).stderr).toBe('bpf-ts: no program with id 4000000000\n');
    expect((await cli('map', 'show', 'id:4000000000')).stderr).toBe('bpf-ts: no map with id 4000000000\n');
    const none = await cli('link', 'detach');
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('bpf-ts: name the link: a pin path on bpffs, or id:N\n');
  });
});
