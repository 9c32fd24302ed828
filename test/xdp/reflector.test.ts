// XDP forwarding with bpf_fib_lookup + a DEVMAP (fixtures/icmp_reflector.o)
// across two veth pairs, A — R — B, all in namespaces this file creates:
// xdp_fib_redirect on R's r0 and r1 forwards between them without the IP
// stack, xdp_pass on a0 and b0 lets veth accept redirected frames natively.
// That the packets took the XDP path is shown three ways: R's IP stack
// counts no forwarded datagram while 10/10 echoes cross it; emptying the
// egress slot of tx_ports makes the program abort every request even though
// R's stack could forward them; and once detached, the stack forwards them
// (counted) and, with ip_forward=0, nothing crosses at all.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { attachXdp, detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { ping } from '../../src/net/icmp.js';
import { netnsExists, withNetns } from '../../src/netns.js';
import { fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { getForwarding, ipCounters, setForwarding, setupTopology, teardownTopology, type Endpoint, type Topology } from '../helpers/topology.js';

describeRoot('XDP FIB forwarding through a DEVMAP (A — R — B)', () => {
  let t: Topology | undefined;
  let coll: BpfCollection | undefined;
  let fibId = 0;
  let passId = 0;

  const pingAB = (count = 10, timeoutMs = 1000) => ping({ netns: t!.nsA, to: t!.b0.ip, count, timeoutMs });
  const ends = (): Endpoint[] => [t!.a0, t!.r0, t!.r1, t!.b0];

  /** xdp_fib_redirect on r0 and r1, xdp_pass on a0 and b0, all native. */
  function attachAll(): void {
    const fib = coll!.program('xdp_fib_redirect').fd.value;
    const pass = coll!.program('xdp_pass').fd.value;
    for (const e of ends()) {
      const att = attachXdp({ iface: e.ifname, netns: e.netns, progFd: e.netns === t!.nsR ? fib : pass, mode: 'native' });
      expect(att).toMatchObject({ ifindex: e.ifindex, ifname: e.ifname, mode: 'native', progId: e.netns === t!.nsR ? fibId : passId });
    }
  }

  function detachAll(): void {
    for (const e of ends()) {
      if (netnsExists(e.netns) && queryXdp(e.ifname, { netns: e.netns }).attached !== 'none') detachXdp(e.ifname, { netns: e.netns });
    }
  }

  /** tx_ports[ifindex] = ifindex. A DEVMAP resolves the ifindex in the caller's namespace, so update from inside R. */
  function fillTxPorts(): void {
    const txPorts = coll!.map('tx_ports');
    withNetns(t!.nsR, () => {
      for (const e of [t!.r0, t!.r1]) txPorts.set(e.ifindex, e.ifindex);
    });
    for (const e of [t!.r0, t!.r1]) expect(txPorts.get(e.ifindex)!.readUInt32LE(0)).toBe(e.ifindex);
  }

  beforeAll(() => {
    const octet = 1 + Math.floor(Math.random() * 254);
    t = setupTopology(uniqueName('xr'), octet);
    coll = loadObject(fixture('icmp_reflector.o'));
    fibId = coll.program('xdp_fib_redirect').id;
    passId = coll.program('xdp_pass').id;
  });

  afterEach(() => {
    if (!t) return;
    detachAll();
    if (netnsExists(t.nsR)) setForwarding(t.nsR, true);
  });

  afterAll(() => {
    try {
      coll?.close();
    } finally {
      if (t) teardownTopology(t);
    }
    if (t) for (const ns of [t.nsA, t.nsR, t.nsB]) expect(netnsExists(ns)).toBe(false);
  });

  it('ip_forward is per namespace: R forwards, the test process namespace is untouched', () => {
    const mine = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    expect(getForwarding(t!.nsR)).toBe(true);
    // Flip R both ways: whatever our own value is, one of the two writes differs from it.
    setForwarding(t!.nsR, false);
    expect(getForwarding(t!.nsR)).toBe(false);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(mine);
    setForwarding(t!.nsR, true);
    expect(getForwarding(t!.nsR)).toBe(true);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(mine);
    expect(ipCounters(t!.nsR).Forwarding).toBe(1);
  });

  it('without XDP the kernel stack of R forwards: 10/10, 20 forwarded datagrams; ip_forward=0 → 0/10', async () => {
    const before = ipCounters(t!.nsR);
    const r = await pingAB();
    expect(r.received).toBe(10);
    const after = ipCounters(t!.nsR);
    expect(after.ForwDatagrams! - before.ForwDatagrams!).toBe(20); // 10 requests A→B, 10 replies B→A
    expect(after.InReceives! - before.InReceives!).toBe(20);

    setForwarding(t!.nsR, false);
    expect((await pingAB(10, 800)).received).toBe(0);
  });

  it('with xdp_fib_redirect on r0/r1: 10/10 answered and R’s IP stack sees none of them', async () => {
    attachAll();
    fillTxPorts();
    const rq = queryXdp('r0', { netns: t!.nsR });
    // The kernel keeps 15 characters of a program name (BPF_OBJ_NAME_LEN 16, NUL included).
    expect(rq.programs).toMatchObject([{ mode: 'native', progId: fibId, name: 'xdp_fib_redirec' }]);
    expect(queryXdp('b0', { netns: t!.nsB }).programs).toMatchObject([{ mode: 'native', progId: passId, name: 'xdp_pass' }]);

    const before = ipCounters(t!.nsR);
    const r = await pingAB();
    expect(r.received).toBe(10);
    expect(r.receivedSeqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const after = ipCounters(t!.nsR);
    // Redirected in the driver hook: never received, let alone forwarded, by R's stack.
    expect(after.InReceives! - before.InReceives!).toBe(0);
    expect(after.ForwDatagrams! - before.ForwDatagrams!).toBe(0);
  });

  it('the DEVMAP decides: an empty egress slot aborts every request although R’s stack could forward it', async () => {
    attachAll();
    fillTxPorts();
    const txPorts = coll!.map('tx_ports');
    expect(txPorts.delete(t!.r1.ifindex)).toBe(true);
    const before = ipCounters(t!.nsR);
    expect((await pingAB(10, 800)).received).toBe(0);
    expect(ipCounters(t!.nsR).InReceives! - before.InReceives!).toBe(0);

    fillTxPorts();
    expect((await pingAB()).received).toBe(10);
  });

  it('detaching the forwarder from r0 and r1 hands forwarding back to the stack (ip_forward=0: 0/10)', async () => {
    attachAll();
    fillTxPorts();
    expect((await pingAB()).received).toBe(10);
    for (const e of [t!.r0, t!.r1]) {
      expect(detachXdp(e.ifname, { netns: t!.nsR }).detached).toEqual([{ mode: 'native', progId: fibId }]);
    }
    setForwarding(t!.nsR, false);
    expect((await pingAB(10, 800)).received).toBe(0);
    setForwarding(t!.nsR, true);
    const before = ipCounters(t!.nsR);
    expect((await pingAB()).received).toBe(10);
    expect(ipCounters(t!.nsR).ForwDatagrams! - before.ForwDatagrams!).toBe(20);
  });
});
