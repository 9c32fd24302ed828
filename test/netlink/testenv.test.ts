// Namespaces (withNetns, create/delete) and the two-namespace test network.
// Every namespace here is made by the test with a unique name and removed in
// afterAll/finally; traffic only flows between the test's own namespaces.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { dumpLinks } from '../../src/netlink/link.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { ping } from '../../src/net/icmp.js';
import { createNetns, deleteNetns, netnsExists, NETNS_RUN_DIR, withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';
import { setupTestEnv, statusTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { describeRoot } from '../helpers/root.js';

const myNs = (): string => readlinkSync('/proc/thread-self/ns/net');
const uniq = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

function ipJson(ns: string, ...args: string[]): any {
  return JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }));
}

describeRoot('network namespaces (in-process setns)', () => {
  const ns = `btns${uniq}`.slice(0, 15);

  beforeAll(() => {
    createNetns(ns);
  });
  afterAll(() => {
    deleteNetns(ns, { force: true });
  });

  it('creates a namespace iproute2 can see, and comes back to the original one', () => {
    const before = myNs();
    expect(existsSync(`${NETNS_RUN_DIR}/${ns}`)).toBe(true);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(ns);
    const inside = withNetns(ns, () => myNs());
    expect(inside).not.toBe(before);
    expect(myNs()).toBe(before);
  });

  it('restores the namespace when the callback throws', () => {
    const before = myNs();
    expect(() =>
      withNetns(ns, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(myNs()).toBe(before);
  });

  it('refuses an async callback (only this thread moves) and still restores', () => {
    const before = myNs();
    expect(() => withNetns(ns, async () => 1)).toThrow(/synchronous/);
    expect(myNs()).toBe(before);
  });

  it('reports a missing namespace as NO_SUCH_NETNS', () => {
    expect(() => withNetns('bpfts-no-such-ns', () => 1)).toThrowError(expect.objectContaining({ code: 'NO_SUCH_NETNS' }));
    expect(() => withNetns('/proc/self/no/such', () => 1)).toThrowError(BpfError);
  });

  it('/proc/sys/net written after setns changes the entered namespace only', () => {
    const path = '/proc/sys/net/ipv4/conf/default/forwarding';
    const rootValue = readFileSync(path, 'utf8').trim();
    const other = rootValue === '1' ? '0' : '1';
    withNetns(ns, () => writeFileSync(path, other));
    expect(readFileSync(path, 'utf8').trim()).toBe(rootValue);
    expect(withNetns(ns, () => readFileSync(path, 'utf8').trim())).toBe(other);
    expect(execFileSync('ip', ['netns', 'exec', ns, 'cat', path], { encoding: 'utf8' }).trim()).toBe(other);
  });

  it('a netlink socket keeps the namespace it was created in', () => {
    const sock = withNetns(ns, () => NetlinkSocket.open());
    try {
      // A fresh namespace has only lo.
      expect(dumpLinks(sock).map((l) => l.ifname)).toEqual(['lo']);
    } finally {
      sock.close();
    }
  });

  it('refuses to shadow an existing namespace', () => {
    expect(() => createNetns(ns)).toThrowError(/already exists/);
  });
});

describeRoot('testenv: two namespaces joined by a veth pair', () => {
  let env: TestEnv | undefined;

  beforeAll(() => {
    env = setupTestEnv();
  });
  afterAll(() => {
    if (env) teardownTestEnv(env);
  });

  it('uses unique, short names and keeps both veth ends out of the root namespace', () => {
    const e = env!;
    for (const n of [e.nsA, e.nsB, e.vethA, e.vethB]) expect(n.length).toBeLessThanOrEqual(15);
    expect(e.nsA).not.toBe(e.nsB);
    expect(netnsExists(e.nsA) && netnsExists(e.nsB)).toBe(true);
    expect(ffi.ifNameToIndex(e.vethA)).toBe(0);
    expect(ffi.ifNameToIndex(e.vethB)).toBe(0);
    expect(withNetns(e.nsA, () => ffi.ifNameToIndex(e.vethA))).toBe(e.ifindexA);
    expect(withNetns(e.nsB, () => ffi.ifNameToIndex(e.vethB))).toBe(e.ifindexB);
  });

  it('sets addresses, MACs, permanent neighbours and link state (checked with iproute2)', () => {
    const e = env!;
    for (const [ns, dev, ip, mac, peerIp, peerMac] of [
      [e.nsA, e.vethA, e.ipA, e.macA, e.ipB, e.macB],
      [e.nsB, e.vethB, e.ipB, e.macB, e.ipA, e.macA],
    ] as const) {
      const [link] = ipJson(ns, 'addr', 'show', 'dev', dev);
      expect(link.address).toBe(mac);
      expect(link.flags).toContain('UP');
      expect(link.flags).toContain('LOWER_UP');
      const inet = link.addr_info.filter((a: any) => a.family === 'inet');
      expect(inet).toEqual([expect.objectContaining({ local: ip, prefixlen: 24 })]);
      expect(link.addr_info.filter((a: any) => a.family === 'inet6')).toEqual([]);
      const neigh = ipJson(ns, 'neigh', 'show', 'dev', dev);
      expect(neigh).toEqual([expect.objectContaining({ dst: peerIp, lladdr: peerMac, state: ['PERMANENT'] })]);
      expect(withNetns(ns, () => readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim())).toBe('1');
    }
  });

  it('ICMP echo A→B gets 10/10 replies, and the link carries exactly those packets', async () => {
    const e = env!;
    const rxBefore = ipJson(e.nsB, '-s', 'link', 'show', 'dev', e.vethB)[0].stats64.rx.packets;
    const r = await ping({ netns: e.nsA, to: e.ipB, count: 10 });
    expect(r).toEqual({ sent: 10, received: 10, receivedSeqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    const stats = ipJson(e.nsB, '-s', 'link', 'show', 'dev', e.vethB)[0].stats64;
    expect(stats.rx.packets - rxBefore).toBe(10);
  });

  it('statusTestEnv reports both ends', () => {
    const s = statusTestEnv(env!.name);
    expect(s.exists).toBe(true);
    expect(s.a.link).toMatchObject({ ifname: env!.vethA, up: true, kind: 'veth', address: env!.macA });
    expect(s.b.link).toMatchObject({ ifname: env!.vethB, up: true, kind: 'veth', address: env!.macB });
  });

  it('teardown removes both namespaces and is idempotent', () => {
    const e = setupTestEnv();
    try {
      expect(statusTestEnv(e.name).exists).toBe(true);
    } finally {
      teardownTestEnv(e);
    }
    const left = existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR) : [];
    expect(left).not.toContain(e.nsA);
    expect(left).not.toContain(e.nsB);
    expect(statusTestEnv(e.name).exists).toBe(false);
    expect(() => teardownTestEnv(e.name)).not.toThrow();
  });

  it('rejects names that would not fit an interface name', () => {
    expect(() => setupTestEnv({ name: 'a-much-too-long-name' })).toThrowError(expect.objectContaining({ code: 'USAGE' }));
  });
});
