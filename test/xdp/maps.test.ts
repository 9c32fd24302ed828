// XDP programs steered by their maps, with real traffic between test
// namespaces: the single-source filter (a HASH of blocked source addresses,
// a PERCPU_ARRAY drop counter) written through the library and through
// `bpf-ts map update`, and the LPM-trie blocklist matching by prefix.
// Everything is created here and removed in afterAll, also after a failure.
import { endianness } from 'node:os';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachXdp, detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { parseIPv4 } from '../../src/netlink/addr.js';
import { ping } from '../../src/net/icmp.js';
import { netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cliOk, fixture, sumPerCpu, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const LE = endianness() === 'LE';

/** Sum of a per-CPU u64 value as the library returns it (one Buffer per CPU). */
function sumValues(v: Buffer | Buffer[] | undefined): bigint {
  if (v === undefined) return 0n;
  return (Array.isArray(v) ? v : [v]).reduce((a, b) => a + (LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0)), 0n);
}

/** struct ipv4_lpm_key { u32 prefixlen (host order); u32 addr (network order) }. */
function lpmKey(prefixlen: number, addr: string): Buffer {
  const k = Buffer.alloc(8);
  if (LE) k.writeUInt32LE(prefixlen, 0);
  else k.writeUInt32BE(prefixlen, 0);
  parseIPv4(addr).copy(k, 4);
  return k;
}

/** "10.11.X.1" → "10.11.X.0" */
const net24 = (ip: string) => ip.split('.').slice(0, 3).concat('0').join('.');

/** Detach whatever is on an env's B end (after a test, also a failed one). */
function clearB(env: TestEnv | undefined): void {
  if (env && netnsExists(env.nsB) && queryXdp(env.vethB, { netns: env.nsB }).attached !== 'none') detachXdp(env.vethB, { netns: env.nsB });
}

describeRoot('XDP maps steer the program (testenv, ICMP A→B)', () => {
  let env: TestEnv;
  let env2: TestEnv | undefined;
  let fs: { path: string; unmount(): void } | undefined;
  const colls: BpfCollection[] = [];

  beforeAll(() => {
    fs = mountBpffs();
    env = setupTestEnv({ name: uniqueName('xm') });
  });

  afterEach(() => {
    clearB(env);
    clearB(env2);
    for (const c of colls.splice(0)) c.close();
  });

  afterAll(() => {
    const errors: unknown[] = [];
    for (const e of [env, env2]) {
      try {
        if (e) teardownTestEnv(e);
      } catch (err) {
        errors.push(err);
      }
    }
    fs?.unmount();
    if (errors.length) throw errors[0];
    for (const e of [env, env2]) if (e) expect(netnsExists(e.nsA) || netnsExists(e.nsB)).toBe(false);
  });

  describe('single_source_filter (HASH blocked_src, PERCPU_ARRAY drop_count)', () => {
    it('library: blocked_src[ipA] = 1 drops all 7 from A; drop_count sums to 7; deleting the entry lets traffic through', async () => {
      const coll = loadObject(fixture('single_source_filter.o'), { programType: 'xdp' });
      colls.push(coll);
      const prog = coll.program('xdp_filter');
      const att = attachXdp({ iface: env.vethB, netns: env.nsB, progFd: prog.fd.value, mode: 'native' });
      expect(att).toMatchObject({ ifindex: env.ifindexB, mode: 'native' });
      expect(att.progId).toBeGreaterThan(0);

      // Nothing blocked yet.
      expect((await ping({ netns: env.nsA, to: env.ipB, count: 3, timeoutMs: 1000 })).received).toBe(3);
      const blocked = coll.map('blocked_src');
      const drops = coll.map('drop_count');
      expect(sumValues(drops.getPerCpu(0))).toBe(0n);

      blocked.set(parseIPv4(env.ipA), 1);
      const r = await ping({ netns: env.nsA, to: env.ipB, count: 7, timeoutMs: 800 });
      expect(r).toEqual({ sent: 7, received: 0, receivedSeqs: [] });
      const perCpu = drops.getPerCpu(0)!;
      expect(perCpu).toHaveLength(drops.cpus);
      expect(sumValues(perCpu)).toBe(7n);

      expect(blocked.delete(parseIPv4(env.ipA))).toBe(true);
      expect((await ping({ netns: env.nsA, to: env.ipB, count: 5, timeoutMs: 1000 })).received).toBe(5);
      expect(sumValues(drops.getPerCpu(0))).toBe(7n);
    });

    it('CLI: load --pin-maps, map update blocked_src, ping 7 → 0, map dump drop_count sums to 7', async () => {
      const pinDir = `${fs!.path}/x`;
      try {
        const loaded = (await cliOk('load', fixture('single_source_filter.o'), '--xdp', env.vethB, '--netns', env.nsB, '--mode', 'skb', '--bpffs', fs!.path, '--pin-maps', pinDir, '--json')).json();
        expect(loaded).toMatchObject({ interface: env.vethB, program: 'xdp_filter', mode: 'skb', link: false });
        expect([...loaded.pinnedMaps].sort()).toEqual([`${pinDir}/blocked_src`, `${pinDir}/drop_count`]);
        expect(queryXdp(env.vethB, { netns: env.nsB })).toMatchObject({ attached: 'skb', progId: loaded.progId });

        const keyHex = parseIPv4(env.ipA).toString('hex');
        const upd = (await cliOk('map', 'update', `${pinDir}/blocked_src`, '--key', keyHex, '--value', '01000000', '--json')).json();
        expect(upd).toEqual({ updated: true, key: [...parseIPv4(env.ipA)].map((b) => '0x' + b.toString(16).padStart(2, '0')), value: ['0x01', '0x00', '0x00', '0x00'] });
        const looked = (await cliOk('map', 'lookup', `${pinDir}/blocked_src`, '--key', keyHex, '--json')).json();
        expect(looked.value).toEqual(['0x01', '0x00', '0x00', '0x00']);

        const r = await ping({ netns: env.nsA, to: env.ipB, count: 7, timeoutMs: 800 });
        expect(r.sent).toBe(7);
        expect(r.received).toBe(0);

        const dump = (await cliOk('map', 'dump', `${pinDir}/drop_count`, '--json')).json();
        expect(dump).toHaveLength(1);
        expect(dump[0].key).toEqual(['0x00', '0x00', '0x00', '0x00']);
        expect(dump[0].values.map((v: { cpu: number }) => v.cpu)).toEqual([...dump[0].values.keys()]);
        for (const v of dump[0].values) expect(v.value).toHaveLength(8);
        expect(sumPerCpu(dump[0])).toBe(7n);
      } finally {
        rmSync(pinDir, { recursive: true, force: true });
      }
    });
  });

  describe('lpm_blocklist (LPM_TRIE blocklist, PERCPU_ARRAY drops)', () => {
    it("blocks by prefix: another /24 changes nothing; A's /24 drops all 7; a second testenv in another /24 is not blocked", async () => {
      // A /24 that is not A's (the third octet next to it).
      const x = Number(env.ipA.split('.')[2]);
      const notA = `10.11.${x === 254 ? 253 : x + 1}.0`;
      // A second network whose A side is in neither of those 10.11.X.0/24 (X comes from the name).
      for (let i = 0; i < 5 && !env2; i++) {
        const e = setupTestEnv({ name: uniqueName('xl') });
        if (net24(e.ipA) !== net24(env.ipA) && net24(e.ipA) !== notA) env2 = e;
        else teardownTestEnv(e);
      }
      expect(env2).toBeDefined();
      const other = env2!;

      const coll = loadObject(fixture('lpm_blocklist.o'));
      colls.push(coll);
      const fd = coll.program('xdp_blocklist').fd.value;
      const a1 = attachXdp({ iface: env.vethB, netns: env.nsB, progFd: fd, mode: 'native' });
      const a2 = attachXdp({ iface: other.vethB, netns: other.nsB, progFd: fd, mode: 'native' });
      expect(a2.progId).toBe(a1.progId);
      const blocklist = coll.map('blocklist');
      const drops = coll.map('drops');

      // A /24 that is not A's: nothing dropped.
      blocklist.set(lpmKey(24, notA), 0n);
      expect((await ping({ netns: env.nsA, to: env.ipB, count: 10, timeoutMs: 1000 })).received).toBe(10);
      expect(sumValues(drops.getPerCpu(0))).toBe(0n);

      // A's /24: every request from A is dropped, counted per CPU and per prefix.
      blocklist.set(lpmKey(24, net24(env.ipA)), 0n);
      const r = await ping({ netns: env.nsA, to: env.ipB, count: 7, timeoutMs: 800 });
      expect(r.received).toBe(0);
      expect(sumValues(drops.getPerCpu(0))).toBe(7n);
      expect(sumValues(blocklist.get(lpmKey(24, net24(env.ipA))))).toBe(7n);
      expect(sumValues(blocklist.get(lpmKey(24, notA)))).toBe(0n);
      // The trie answers a /32 lookup with the covering prefix's entry.
      expect(sumValues(blocklist.get(lpmKey(32, env.ipA)))).toBe(7n);

      // The other testenv's A is outside every stored prefix: all answered, no new drops.
      const r2 = await ping({ netns: other.nsA, to: other.ipB, count: 10, timeoutMs: 1000 });
      expect(r2.received).toBe(10);
      expect(sumValues(drops.getPerCpu(0))).toBe(7n);
      expect(blocklist.get(lpmKey(32, other.ipA))).toBeUndefined();
    });
  });
});
