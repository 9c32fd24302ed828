// A three-namespace routed test network, for forwarding tests:
//
//   A [a0 10.12.X.1/24] ——veth—— [r0 10.12.X.2/24] R [r1 10.13.X.1/24] ——veth—— [b0 10.13.X.2/24] B
//
// A and B route the other side's /24 via R; R forwards (ip_forward=1 in R
// only). IPv6 is off in all three and every neighbour entry is permanent, so
// the links carry exactly the packets a test sends. Built with bpf-ts's own
// netlink code, except routes (`ip route` run inside the namespace through
// nsenter). Names are unique per run; teardownTopology removes everything.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { addAddressV4 } from '../../src/netlink/addr.js';
import { deleteLink, getLink, IFF_LOWER_UP, setLinkUp } from '../../src/netlink/link.js';
import { addPermanentNeighbourV4 } from '../../src/netlink/neigh.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { createVeth } from '../../src/netlink/veth.js';
import { createNetns, deleteNetns, netnsExists, netnsPath, openNetns, withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';

export interface Endpoint {
  netns: string;
  ifname: string;
  ifindex: number;
  ip: string;
  mac: string;
}

export interface Topology {
  name: string;
  nsA: string;
  nsR: string;
  nsB: string;
  /** A's end of the A—R link, and R's. */
  a0: Endpoint;
  r0: Endpoint;
  /** R's end of the R—B link, and B's. */
  r1: Endpoint;
  b0: Endpoint;
}

const IPV4_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** Run a command inside a namespace (nsenter only switches the network namespace). */
export function inNetns(ns: string, cmd: string[]): string {
  return execFileSync('nsenter', [`--net=${netnsPath(ns)}`, '--', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** net.ipv4.ip_forward of one namespace (undefined: this thread's own). */
export function getForwarding(ns?: string): boolean {
  return withNetns(ns, () => readFileSync(IPV4_FORWARD, 'utf8').trim() === '1');
}

/** Set net.ipv4.ip_forward in one namespace: the write happens on this thread, inside it. */
export function setForwarding(ns: string, on: boolean): void {
  withNetns(ns, () => writeFileSync(IPV4_FORWARD, on ? '1' : '0'));
}

/** The "Ip:" counters of /proc/net/snmp in a namespace (Forwarding, InReceives, ForwDatagrams, …). */
export const ipCounters = (ns: string): Record<string, number> => snmpCounters(ns, 'Ip');

/** One protocol's counters of /proc/net/snmp in a namespace ("Ip", "Icmp": InEchos, OutEchoReps, …). */
export function snmpCounters(ns: string, proto: string): Record<string, number> {
  const text = withNetns(ns, () => readFileSync('/proc/thread-self/net/snmp', 'utf8'));
  const [names, values] = text.split('\n').filter((l) => l.startsWith(`${proto}: `));
  if (!names || !values) throw new Error(`no ${proto}: lines in /proc/net/snmp of ${ns}`);
  const n = names.split(/\s+/).slice(1);
  const v = values.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(n.map((k, i) => [k, v[i]!]));
}

function disableIPv6(ns: string): void {
  withNetns(ns, () => {
    for (const which of ['all', 'default']) {
      const path = `/proc/sys/net/ipv6/conf/${which}/disable_ipv6`;
      if (existsSync(path)) writeFileSync(path, '1');
    }
  });
}

function waitForCarrier(ns: string, ifindex: number, timeoutMs = 20_000): void {
  const deadline = Date.now() + timeoutMs;
  using sock = withNetns(ns, () => NetlinkSocket.open());
  for (;;) {
    if (getLink(sock, { ifindex }).flags & IFF_LOWER_UP) return;
    if (Date.now() > deadline) throw new Error(`topology: ifindex ${ifindex} in ${ns} has no carrier after ${timeoutMs} ms`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/**
 * Build A — R — B. `name` (≤ 13 characters) names the namespaces NAME-a,
 * NAME-r, NAME-b; `octet` picks X in 10.12.X.0/24 and 10.13.X.0/24.
 * On failure everything made so far is removed.
 */
export function setupTopology(name: string, octet: number): Topology {
  if (!/^[a-z][a-z0-9]{0,12}$/.test(name)) throw new Error(`topology name "${name}": 1-13 lowercase letters/digits`);
  if (!Number.isInteger(octet) || octet < 1 || octet > 254) throw new Error(`topology octet ${octet}: 1..254`);
  const hx = octet.toString(16).padStart(2, '0');
  const mac = (n: number) => `02:72:74:${hx}:00:${n.toString(16).padStart(2, '0')}`;
  const t: Topology = {
    name,
    nsA: `${name}-a`,
    nsR: `${name}-r`,
    nsB: `${name}-b`,
    a0: { netns: `${name}-a`, ifname: 'a0', ifindex: 0, ip: `10.12.${octet}.1`, mac: mac(0x0a) },
    r0: { netns: `${name}-r`, ifname: 'r0', ifindex: 0, ip: `10.12.${octet}.2`, mac: mac(0x10) },
    r1: { netns: `${name}-r`, ifname: 'r1', ifindex: 0, ip: `10.13.${octet}.1`, mac: mac(0x11) },
    b0: { netns: `${name}-b`, ifname: 'b0', ifindex: 0, ip: `10.13.${octet}.2`, mac: mac(0x0b) },
  };
  for (const ns of [t.nsA, t.nsR, t.nsB]) {
    if (netnsExists(ns)) throw new Error(`topology: namespace ${ns} already exists`);
  }
  try {
    for (const ns of [t.nsA, t.nsR, t.nsB]) {
      createNetns(ns);
      disableIPv6(ns);
    }

    // Both pairs are created from inside R; the A and B ends are born in their namespaces.
    const fdA = openNetns(t.nsA);
    const fdB = openNetns(t.nsB);
    try {
      withNetns(t.nsR, () => {
        using sock = NetlinkSocket.open();
        createVeth(sock, { ifname: t.r0.ifname, mac: t.r0.mac }, { ifname: t.a0.ifname, mac: t.a0.mac, netnsFd: fdA });
        createVeth(sock, { ifname: t.r1.ifname, mac: t.r1.mac }, { ifname: t.b0.ifname, mac: t.b0.mac, netnsFd: fdB });
      });
    } finally {
      closeSync(fdA);
      closeSync(fdB);
    }

    // Up first (taking a link down flushes neighbours), then addresses and permanent neighbours.
    const configure = (end: Endpoint, peer: Endpoint) => {
      withNetns(end.netns, () => {
        using sock = NetlinkSocket.open();
        end.ifindex = getLink(sock, { ifname: end.ifname }).ifindex;
        setLinkUp(sock, end.ifindex);
        addAddressV4(sock, end.ifindex, end.ip, 24);
        addPermanentNeighbourV4(sock, end.ifindex, peer.ip, peer.mac);
      });
    };
    configure(t.a0, t.r0);
    configure(t.r0, t.a0);
    configure(t.r1, t.b0);
    configure(t.b0, t.r1);

    inNetns(t.nsA, ['ip', 'route', 'add', `10.13.${octet}.0/24`, 'via', t.r0.ip, 'dev', t.a0.ifname]);
    inNetns(t.nsB, ['ip', 'route', 'add', `10.12.${octet}.0/24`, 'via', t.r1.ip, 'dev', t.b0.ifname]);
    setForwarding(t.nsR, true);

    for (const e of [t.a0, t.r0, t.r1, t.b0]) waitForCarrier(e.netns, e.ifindex);
    return t;
  } catch (e) {
    teardownTopology(t);
    throw e;
  }
}

/** Remove the veth pairs and the three namespaces; safe on a half-built or removed topology. */
export function teardownTopology(t: Topology): void {
  if (netnsExists(t.nsR)) {
    try {
      withNetns(t.nsR, () => {
        using sock = NetlinkSocket.open();
        for (const ifname of [t.r0.ifname, t.r1.ifname]) {
          const ifindex = ffi.ifNameToIndex(ifname);
          if (ifindex) deleteLink(sock, ifindex);
        }
      });
    } catch {
      // deleting the namespaces removes them anyway
    }
  }
  const errors: unknown[] = [];
  for (const ns of [t.nsA, t.nsR, t.nsB]) {
    try {
      deleteNetns(ns, { force: true });
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
}
