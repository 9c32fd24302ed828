// A throw-away two-namespace test network, in the spirit of xdp-tutorial's
// testenv: namespaces NAME-a and NAME-b joined by a veth pair whose ends
// (NAME-a, NAME-b) live one in each, never in the root namespace. Built
// entirely with bpf-ts's own netlink code.
//
// To make packet counts exact, IPv6 is disabled in both namespaces (no
// router/neighbour solicitations, no MLD) and each side has a permanent
// neighbour entry for the other (no ARP).

import { BpfError } from './errors.js';
import { addAddressV4 } from './netlink/addr.js';
import { deleteLink, getLink, IFF_LOWER_UP, setLinkUp, type Link } from './netlink/link.js';
import { addPermanentNeighbourV4 } from './netlink/neigh.js';
import { NetlinkSocket } from './netlink/socket.js';
import { createVeth } from './netlink/veth.js';
import { createNetns, deleteNetns, netnsExists, openNetns, withNetns } from './netns.js';
import * as ffi from './sys/ffi.js';
import { capsHint, NEED_NETLINK_ADMIN } from './sys/caps.js';
const { closeSync, existsSync, writeFileSync } = process.getBuiltinModule('node:fs');
// crypto loads when a name is hashed, not with the library.
const createHash = (algorithm: string) => process.getBuiltinModule('node:crypto').createHash(algorithm);

export interface TestEnv {
  name: string;
  /** Network namespace names (under /var/run/netns). */
  nsA: string;
  nsB: string;
  /** The veth ends: vethA lives in nsA, vethB in nsB. */
  vethA: string;
  vethB: string;
  ifindexA: number;
  ifindexB: number;
  ipA: string;
  ipB: string;
  prefixLen: number;
  macA: string;
  macB: string;
}

let counter = 0;

/** Names must leave room for the "-a"/"-b" suffix within IFNAMSIZ-1 (15) characters. */
const NAME_RE = /^[a-z][a-z0-9]{0,12}$/;

/** bt<pid><counter> in base 36; skips names a crashed earlier run (same pid) left behind. */
function defaultName(): string {
  for (;;) {
    counter += 1;
    const name = `bt${process.pid.toString(36)}${counter.toString(36)}`.slice(0, 13);
    const n = testEnvNames(name);
    if (!netnsExists(n.nsA) && !netnsExists(n.nsB)) return name;
  }
}

/** The third octet of 10.11.X.0/24, derived from the name so different envs are told apart. */
function subnetOctet(name: string): number {
  return (createHash('sha1').update(name).digest().readUInt16BE(0) % 254) + 1;
}

export function testEnvNames(name: string): Pick<TestEnv, 'name' | 'nsA' | 'nsB' | 'vethA' | 'vethB'> {
  return { name, nsA: `${name}-a`, nsB: `${name}-b`, vethA: `${name}-a`, vethB: `${name}-b` };
}

function disableIPv6(ns: string): void {
  withNetns(ns, () => {
    // /proc/sys/net is resolved against the opening thread's namespace, so
    // these writes (synchronous, on this thread) land in `ns`.
    for (const which of ['all', 'default']) {
      const path = `/proc/sys/net/ipv6/conf/${which}/disable_ipv6`;
      if (!existsSync(path)) continue;
      try {
        writeFileSync(path, '1');
      } catch (e) {
        // Net sysctls are writable by whoever holds CAP_NET_ADMIN over the namespace.
        const code = (e as NodeJS.ErrnoException).code;
        const hint = code === 'EACCES' || code === 'EPERM' ? capsHint([NEED_NETLINK_ADMIN], 'this process has CAP_NET_ADMIN; a security module refused') : (e as Error).message;
        throw new BpfError('SYSCALL', `cannot turn IPv6 off in network namespace "${ns}" (${path}): ${code ?? 'error'}: ${hint}`, { cause: e });
      }
    }
  });
}

function waitForCarrier(sock: NetlinkSocket, ifindex: number, timeoutMs = 2000): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (getLink(sock, { ifindex }).flags & IFF_LOWER_UP) return;
    if (Date.now() > deadline) throw new BpfError('NETLINK', `testenv: ifindex ${ifindex} has no carrier after ${timeoutMs} ms`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/**
 * Create the namespaces, the veth pair, addresses 10.11.X.1/24 (A) and
 * 10.11.X.2/24 (B), permanent neighbour entries both ways, and bring both
 * ends up. On any failure everything created so far is removed.
 */
export function setupTestEnv(options: { name?: string } = {}): TestEnv {
  const name = options.name ?? defaultName();
  if (!NAME_RE.test(name)) {
    throw new BpfError('USAGE', `testenv name "${name}" must be 1-13 lowercase letters/digits starting with a letter`);
  }
  const n = testEnvNames(name);
  if (netnsExists(n.nsA) || netnsExists(n.nsB)) {
    throw new BpfError('USAGE', `testenv "${name}" already exists (namespaces ${n.nsA}, ${n.nsB}); tear it down first`);
  }
  const x = subnetOctet(name);
  const hx = x.toString(16).padStart(2, '0');
  const env: TestEnv = {
    ...n,
    ifindexA: 0,
    ifindexB: 0,
    ipA: `10.11.${x}.1`,
    ipB: `10.11.${x}.2`,
    prefixLen: 24,
    // Locally administered unicast addresses: 02:"b":"t":X:00:0a / 0b.
    macA: `02:62:74:${hx}:00:0a`,
    macB: `02:62:74:${hx}:00:0b`,
  };
  try {
    createNetns(env.nsA);
    createNetns(env.nsB);
    disableIPv6(env.nsA);
    disableIPv6(env.nsB);

    const nsBFd = openNetns(env.nsB);
    try {
      withNetns(env.nsA, () => {
        using sock = NetlinkSocket.open();
        // Created from inside nsA; the peer is born directly in nsB.
        createVeth(sock, { ifname: env.vethA, mac: env.macA }, { ifname: env.vethB, mac: env.macB, netnsFd: nsBFd });
      });
    } finally {
      closeSync(nsBFd);
    }

    // Up first: taking a link down flushes even permanent neighbour entries.
    const sockA = withNetns(env.nsA, () => NetlinkSocket.open());
    const sockB = withNetns(env.nsB, () => NetlinkSocket.open());
    try {
      env.ifindexA = getLink(sockA, { ifname: env.vethA }).ifindex;
      env.ifindexB = getLink(sockB, { ifname: env.vethB }).ifindex;
      setLinkUp(sockA, env.ifindexA);
      setLinkUp(sockB, env.ifindexB);
      addAddressV4(sockA, env.ifindexA, env.ipA, env.prefixLen);
      addAddressV4(sockB, env.ifindexB, env.ipB, env.prefixLen);
      addPermanentNeighbourV4(sockA, env.ifindexA, env.ipB, env.macB);
      addPermanentNeighbourV4(sockB, env.ifindexB, env.ipA, env.macA);
      waitForCarrier(sockA, env.ifindexA);
      waitForCarrier(sockB, env.ifindexB);
    } finally {
      sockA.close();
      sockB.close();
    }
    return env;
  } catch (e) {
    teardownTestEnv(env);
    throw e;
  }
}

/**
 * Remove a test environment: the veth pair, then both namespaces. Safe to
 * call on a half-built or already removed environment.
 */
export function teardownTestEnv(envOrName: TestEnv | string): void {
  const n = typeof envOrName === 'string' ? testEnvNames(envOrName) : envOrName;
  // Delete the veth explicitly so it is gone now, not whenever the namespace is freed.
  if (netnsExists(n.nsA)) {
    try {
      withNetns(n.nsA, () => {
        const ifindex = ffi.ifNameToIndex(n.vethA);
        if (ifindex) {
          using sock = NetlinkSocket.open();
          deleteLink(sock, ifindex);
        }
      });
    } catch {
      // the namespace going away removes it anyway
    }
  }
  const errors: unknown[] = [];
  for (const ns of [n.nsA, n.nsB]) {
    try {
      deleteNetns(ns, { force: true });
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
}

export interface TestEnvSideStatus {
  netns: string;
  exists: boolean;
  /** The veth end, when the namespace and the interface exist. */
  link?: Link;
}

export interface TestEnvStatus {
  name: string;
  exists: boolean;
  a: TestEnvSideStatus;
  b: TestEnvSideStatus;
}

function sideStatus(ns: string, ifname: string): TestEnvSideStatus {
  if (!netnsExists(ns)) return { netns: ns, exists: false };
  try {
    const link = withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      return getLink(sock, { ifname });
    });
    return { netns: ns, exists: true, link };
  } catch (e) {
    if (e instanceof BpfError && e.code === 'NO_SUCH_INTERFACE') return { netns: ns, exists: true };
    throw e;
  }
}

/** What is left of a test environment: namespaces, veth ends (state, MTU, XDP). */
export function statusTestEnv(name: string): TestEnvStatus {
  const n = testEnvNames(name);
  const a = sideStatus(n.nsA, n.vethA);
  const b = sideStatus(n.nsB, n.vethB);
  return { name, exists: a.exists || b.exists, a, b };
}
