// `bpf-ts load/show/detach --tc` end to end, in-process through run(), on
// the B end of a test network: the iproute2-style tc_shared_map.o loaded on
// clsact ingress and egress shares one PIN_GLOBAL_NS map (the second load
// reuses the pin), counts exactly the bytes of 5 ICMP echoes each way, and
// reads back the same through iproute2's own `tc filter show`; then
// --replace / priorities / handles, tcx --link, and the error paths.
// Traffic only between this file's namespaces; everything is removed in afterAll.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { detachTc, hasClsact, queryTc, removeClsact } from '../../src/attach/tc.js';
import { detachTcx, queryTcx } from '../../src/attach/tcx.js';
import { BpfMap } from '../../src/maps/map.js';
import { ping } from '../../src/net/icmp.js';
import { netnsExists, netnsPath } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const TC_SHARED = fixture('tc_shared_map.o');
const SECTIONS = fixture('sections.o');

// An ICMP echo on the wire: Ethernet 14 + IPv4 20 + ICMP 8 + payload.
const PAYLOAD = 56;
const FRAME = 14 + 20 + 8 + PAYLOAD;

/** bpftool-style hex bytes of a little-endian u64, as `map dump --json` prints values. */
const u64Hex = (v: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return [...b].map((x) => '0x' + x.toString(16).padStart(2, '0'));
};
const u32Hex = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return [...b].map((x) => '0x' + x.toString(16).padStart(2, '0'));
};

function expectOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^bpf-ts: /);
  expect(stderr).not.toContain('    at ');
  return lines[0]!;
}

describeRoot('bpf-ts load / show / detach --tc (testenv, ICMP A→B)', () => {
  let env: TestEnv;
  let fs: { path: string; unmount(): void } | undefined;

  const onB = () => ['--tc', env.vethB, '--netns', env.nsB];
  const accPin = () => `${fs!.path}/tc/globals/acc_map`;
  /** iproute2's own view of a hook, as JSON. */
  const tcShow = (direction: string): any[] => JSON.parse(execFileSync('nsenter', [`--net=${netnsPath(env.nsB)}`, 'tc', '-j', 'filter', 'show', 'dev', env.vethB, direction]).toString() || '[]');

  beforeAll(() => {
    fs = mountBpffs();
    env = setupTestEnv({ name: uniqueName('tc') });
  });

  afterEach(() => {
    // Whatever a test left on the device goes before the next one.
    if (!env || !netnsExists(env.nsB)) return;
    if (queryTc(env.vethB, { netns: env.nsB }).length) detachTc(env.vethB, { netns: env.nsB });
    detachTcx(env.vethB, { netns: env.nsB });
    removeClsact(env.vethB, { netns: env.nsB, onlyIfEmpty: false });
  });

  afterAll(() => {
    try {
      if (env) teardownTestEnv(env);
    } finally {
      fs?.unmount();
    }
    if (env) expect(netnsExists(env.nsA) || netnsExists(env.nsB)).toBe(false);
  });

  it('iproute2 compatibility: ingress then egress share the pinned acc_map; 5 echoes count 5 frames each way; detach leaves no filter', async () => {
    expect(hasClsact(env.vethB, { netns: env.nsB })).toBe(false);

    const ingress = (await cliOk('load', TC_SHARED, ...onB(), '--direction', 'ingress', '--program', 'tc_ingress', '--bpffs', fs!.path, '--json')).json();
    expect(ingress.progId).toBeGreaterThan(0);
    expect(ingress).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      direction: 'ingress',
      progId: ingress.progId,
      priority: 1,
      handle: 1,
      name: 'tc_shared_map.o:[ingress]',
      directAction: true,
      link: false,
      createdQdisc: true,
      program: 'tc_ingress',
      section: 'ingress',
      pinnedMaps: [accPin()],
      reusedMaps: [],
      netns: env.nsB,
    });
    let mapId: number;
    {
      using m = BpfMap.fromPin(accPin());
      mapId = m.id;
    }

    // As the README writes it: no --program, the section that names the direction is chosen.
    const egress = (await cliOk('load', TC_SHARED, ...onB(), '--direction', 'egress', '--bpffs', fs!.path, '--json')).json();
    expect(egress.progId).toBeGreaterThan(0);
    expect(egress.progId).not.toBe(ingress.progId);
    expect(egress).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      direction: 'egress',
      progId: egress.progId,
      priority: 1,
      handle: 1,
      name: 'tc_shared_map.o:[egress]',
      directAction: true,
      link: false,
      createdQdisc: false,
      program: 'tc_egress',
      section: 'egress',
      pinnedMaps: [],
      reusedMaps: ['acc_map'],
      netns: env.nsB,
    });
    // Reused, not recreated: the same kernel map, used by both programs.
    {
      using m = BpfMap.fromPin(accPin());
      expect(m.id).toBe(mapId);
    }
    const zero = (await cliOk('map', 'dump', accPin(), '--json')).json();
    expect(zero).toEqual([
      { key: u32Hex(0), value: u64Hex(0) },
      { key: u32Hex(1), value: u64Hex(0) },
    ]);

    const r = await ping({ netns: env.nsA, to: env.ipB, count: 5, payloadSize: PAYLOAD, timeoutMs: 2000 });
    expect(r.received).toBe(5);
    // skb->len at both cls_bpf hooks includes the Ethernet header: 5 requests in, 5 replies out.
    expect((await cliOk('map', 'dump', accPin(), '--json')).json()).toEqual([
      { key: u32Hex(0), value: u64Hex(5 * FRAME) },
      { key: u32Hex(1), value: u64Hex(5 * FRAME) },
    ]);

    // show, and iproute2's own reading of the same filters
    const shown = (await cliOk('show', '--netns', env.nsB, '--json')).json();
    expect(shown).toEqual({
      netns: env.nsB,
      xdp: [],
      tc: [
        { interface: env.vethB, ifindex: env.ifindexB, direction: 'ingress', priority: 1, handle: 1, progId: ingress.progId, name: 'tc_ingress', directAction: true, link: false },
        { interface: env.vethB, ifindex: env.ifindexB, direction: 'egress', priority: 1, handle: 1, progId: egress.progId, name: 'tc_egress', directAction: true, link: false },
      ],
    });
    for (const [dir, loaded] of [
      ['ingress', ingress],
      ['egress', egress],
    ] as const) {
      const filters = tcShow(dir).filter((f) => f.options);
      expect(filters).toHaveLength(1);
      expect(filters[0]).toMatchObject({
        protocol: 'all',
        pref: 1,
        kind: 'bpf',
        options: { handle: '0x1', bpf_name: `tc_shared_map.o:[${dir}]`, 'direct-action': true, prog: { id: loaded.progId, name: `tc_${dir}` } },
      });
    }

    // detach both: no filter left; the clsact qdisc stays (as with tc) until --remove-qdisc
    const d1 = (await cliOk('detach', ...onB(), '--direction', 'ingress', '--bpffs', fs!.path, '--json')).json();
    expect(d1).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      detached: [{ direction: 'ingress', priority: 1, handle: 1, progId: ingress.progId, link: false }],
      removedPins: [],
    });
    expect(hasClsact(env.vethB, { netns: env.nsB })).toBe(true);
    const d2 = (await cliOk('detach', ...onB(), '--direction', 'egress', '--remove-qdisc', '--bpffs', fs!.path, '--json')).json();
    expect(d2).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      detached: [{ direction: 'egress', priority: 1, handle: 1, progId: egress.progId, link: false }],
      removedPins: [],
      removedQdisc: true,
    });
    expect((await cliOk('show', '--netns', env.nsB, '--json')).json()).toEqual({ netns: env.nsB, xdp: [] });
    expect((await cliOk('show', '--netns', env.nsB)).stdout).toBe(`no XDP or TC programs are attached to any interface of network namespace ${env.nsB}\n`);
    expect(queryTc(env.vethB, { netns: env.nsB })).toEqual([]);
    expect(hasClsact(env.vethB, { netns: env.nsB })).toBe(false);
    expect(tcShow('ingress')).toEqual([]);

    // The pinned map outlives its programs, with the counts it had.
    expect(existsSync(accPin())).toBe(true);
  });

  it('a second filter at the same priority/handle is refused; --replace swaps it; --priority adds beside it; detach by priority/handle removes one', async () => {
    const first = (await cliOk('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--bpffs', fs!.path, '--json')).json();
    // --direction defaulted from the section name "ingress"
    expect(first).toMatchObject({ direction: 'ingress', priority: 1, handle: 1, createdQdisc: true, reusedMaps: ['acc_map'] });

    const again = await cli('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--bpffs', fs!.path);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    const line = expectOneErrorLine(again.stderr);
    expect(line).toContain('Filter already exists');
    expect(line).toContain('--replace');
    expect(queryTc(env.vethB, { netns: env.nsB }).map((f) => f.progId)).toEqual([first.progId]);

    const replaced = (await cliOk('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--replace', '--bpffs', fs!.path, '--json')).json();
    expect(replaced).toMatchObject({ direction: 'ingress', priority: 1, handle: 1, createdQdisc: false, replacedProgId: first.progId });
    expect(replaced.progId).not.toBe(first.progId);

    const beside = (await cliOk('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--priority', '7', '--handle', '0x2', '--bpffs', fs!.path, '--json')).json();
    expect(beside).toMatchObject({ direction: 'ingress', priority: 7, handle: 2 });
    expect(queryTc(env.vethB, { netns: env.nsB }).map((f) => [f.direction, f.priority, f.handle, f.progId, f.bpfName])).toEqual([
      ['ingress', 1, 1, replaced.progId, 'tc_shared_map.o:[ingress]'],
      ['ingress', 7, 2, beside.progId, 'tc_shared_map.o:[ingress]'],
    ]);

    // With both filters returning TC_ACT_OK, only the first (priority 1) runs: exactly one count per packet.
    const before = BpfMap.fromPin(accPin());
    const v0 = before.get(0)!.readBigUInt64LE(0);
    expect((await ping({ netns: env.nsA, to: env.ipB, count: 3, payloadSize: PAYLOAD })).received).toBe(3);
    expect(before.get(0)!.readBigUInt64LE(0) - v0).toBe(BigInt(3 * FRAME));
    before.close();

    const one = (await cliOk('detach', ...onB(), '--direction', 'ingress', '--priority', '7', '--handle', '2', '--json')).json();
    expect(one.detached).toEqual([{ direction: 'ingress', priority: 7, handle: 2, progId: beside.progId, link: false }]);
    expect(queryTc(env.vethB, { netns: env.nsB }).map((f) => f.progId)).toEqual([replaced.progId]);

    const none = await cli('detach', ...onB(), '--priority', '7', '--handle', '2');
    expect(none.code).toBe(1);
    expect(expectOneErrorLine(none.stderr)).toContain('no bpf filter at priority 7 handle 2');

    const text = await cliOk('detach', ...onB());
    expect(text.stdout).toBe(`detached ingress filter priority 1 handle 1 (program id ${replaced.progId}) from ${env.vethB}\n`);
  });

  it('tcx --link: attached through a pinned bpf_link, show says link, traffic is counted, plain detach removes it and its pin', async () => {
    const loaded = (await cliOk('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--link', '--bpffs', fs!.path, '--json')).json();
    const pin = `${fs!.path}/bpf-ts/tcx_${env.nsB}_${env.vethB}_ingress_${loaded.linkId}`;
    expect(loaded.linkId).toBeGreaterThan(0);
    expect(loaded).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      direction: 'ingress',
      progId: loaded.progId,
      link: true,
      linkId: loaded.linkId,
      linkPin: pin,
      program: 'tc_ingress',
      section: 'ingress',
      pinnedMaps: [],
      reusedMaps: ['acc_map'],
      netns: env.nsB,
    });
    expect(existsSync(pin)).toBe(true);
    // No qdisc is involved with tcx.
    expect(hasClsact(env.vethB, { netns: env.nsB })).toBe(false);
    expect(queryTcx(env.vethB, { netns: env.nsB })).toEqual([{ ifindex: env.ifindexB, ifname: env.vethB, direction: 'ingress', progId: loaded.progId, progName: 'tc_ingress', linkId: loaded.linkId }]);

    const shown = (await cliOk('show', '--netns', env.nsB, '--json')).json();
    expect(shown.tc).toEqual([
      {
        interface: env.vethB,
        ifindex: env.ifindexB,
        direction: 'ingress',
        priority: null,
        handle: null,
        progId: loaded.progId,
        name: 'tc_ingress',
        directAction: true,
        link: true,
        linkId: loaded.linkId,
      },
    ]);

    // Still attached after the command closed its fds (the pin holds the link), and counting.
    using m = BpfMap.fromPin(accPin());
    const v0 = m.get(0)!.readBigUInt64LE(0);
    const e0 = m.get(1)!.readBigUInt64LE(0);
    expect((await ping({ netns: env.nsA, to: env.ipB, count: 5, payloadSize: PAYLOAD })).received).toBe(5);
    expect(m.get(0)!.readBigUInt64LE(0) - v0).toBe(BigInt(5 * FRAME));
    expect(m.get(1)!.readBigUInt64LE(0) - e0).toBe(0n);

    const detached = (await cliOk('detach', ...onB(), '--bpffs', fs!.path, '--json')).json();
    expect(detached).toEqual({
      interface: env.vethB,
      ifindex: env.ifindexB,
      detached: [{ direction: 'ingress', progId: loaded.progId, link: true, linkId: loaded.linkId }],
      removedPins: [pin],
    });
    expect(existsSync(pin)).toBe(false);
    expect(queryTcx(env.vethB, { netns: env.nsB })).toEqual([]);
    expect((await cliOk('show', '--netns', env.nsB, '--json')).json()).toEqual({ netns: env.nsB, xdp: [] });
  });

  it('an old-style ingress qdisc serves the ingress hook only: used as it is, listed once, egress refused', async () => {
    const inB = (...args: string[]) => execFileSync('nsenter', [`--net=${netnsPath(env.nsB)}`, 'tc', ...args]);
    inB('qdisc', 'add', 'dev', env.vethB, 'ingress');
    try {
      const loaded = (await cliOk('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--bpffs', fs!.path, '--json')).json();
      expect(loaded).toMatchObject({ direction: 'ingress', priority: 1, handle: 1, createdQdisc: false });
      // That qdisc answers egress requests with its ingress filters: they must not show up twice.
      expect(queryTc(env.vethB, { netns: env.nsB }).map((f) => [f.direction, f.priority, f.handle, f.progId])).toEqual([['ingress', 1, 1, loaded.progId]]);

      const egress = await cli('load', TC_SHARED, ...onB(), '--program', 'tc_egress', '--bpffs', fs!.path);
      expect(egress.code).toBe(1);
      expect(expectOneErrorLine(egress.stderr)).toBe(
        `bpf-ts: ${env.vethB} has an "ingress" qdisc where clsact goes, which has no egress hook: remove it first (tc qdisc del dev ${env.vethB} ingress)`,
      );

      // Detaching egress must not reach the ingress filter through that qdisc.
      expect((await cli('detach', ...onB(), '--direction', 'egress')).code).toBe(1);
      expect(queryTc(env.vethB, { netns: env.nsB }).map((f) => f.progId)).toEqual([loaded.progId]);
      const d = (await cliOk('detach', ...onB(), '--json')).json();
      expect(d.detached).toEqual([{ direction: 'ingress', priority: 1, handle: 1, progId: loaded.progId, link: false }]);
    } finally {
      inB('qdisc', 'del', 'dev', env.vethB, 'ingress');
    }
  });

  describe('errors: exit 1, one line on stderr, nothing attached', () => {
    it('a section that names no direction needs --direction', async () => {
      const r = await cli('load', SECTIONS, ...onB(), '--program', 'prog_tc', '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toContain('--direction ingress|egress');
      expect(queryTc(env.vethB, { netns: env.nsB })).toEqual([]);
    });

    it('a non-TC program is refused by name', async () => {
      const r = await cli('load', SECTIONS, ...onB(), '--program', 'prog_socket', '--direction', 'ingress', '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toContain('prog_socket is not a TC (sched_cls) program');
    });

    it('a bad --direction or --priority is a usage error', async () => {
      const bad = await cli('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--direction', 'sideways', '--bpffs', fs!.path);
      expect(bad.code).toBe(1);
      expect(expectOneErrorLine(bad.stderr)).toContain('--direction must be ingress or egress, got sideways');
      const prio = await cli('load', TC_SHARED, ...onB(), '--program', 'tc_ingress', '--priority', '70000', '--bpffs', fs!.path);
      expect(prio.code).toBe(1);
      expect(expectOneErrorLine(prio.stderr)).toContain('--priority must be an integer 0…65535, got 70000');
      expect(hasClsact(env.vethB, { netns: env.nsB })).toBe(false);
    });

    it('an interface missing from the namespace is named', async () => {
      const r = await cli('load', TC_SHARED, '--tc', 'nosuch0', '--netns', env.nsB, '--program', 'tc_ingress', '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      const line = expectOneErrorLine(r.stderr);
      expect(line).toContain('nosuch0');
      expect(line).toContain(env.nsB);
    });

    it('detach with nothing attached says so', async () => {
      const r = await cli('detach', ...onB());
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toBe(`bpf-ts: detach TC from ${env.vethB}: no bpf filter or tcx program on ingress or egress`);
    });
  });
});
