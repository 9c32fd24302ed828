// AF_XDP sockets (src/xsk/) between two namespaces this file creates:
// xdp_xsk_redirect (fixtures/xsk_redirect.o) on vethB, native mode, hands
// frames to the socket registered in its XSKMAP slot for the queue, or up
// the stack when the slot is empty. What the socket receives is checked
// against what the sender's kernel put on the wire (ping from A: the bytes
// of RFC 792 echo requests); what it sends is checked by A's kernel
// answering it (an echo reply with A's addresses, the same id, sequence and
// payload, counted in A's /proc/net/snmp), which comes back through the
// socket. IPv6 is off and neighbours are static: exact frame counts.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachXdp, detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { ping } from '../../src/net/icmp.js';
import { netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { XdpSocket, XdpSocketError, type XdpSocketOptions } from '../../src/xsk/socket.js';
import { CliChild, fixture, worldReadablePackage } from '../helpers/cli.js';
import { checksum, icmpEcho, ipv4, mac } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { snmpCounters } from '../helpers/topology.js';
import { thrown } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';
import { hasSetpriv, setprivArgs, type CapWord } from '../helpers/unpriv.js';

/** The next frame the socket's async iterator yields, or null after `ms`. */
async function nextFrame(it: AsyncIterator<Buffer>, ms = 10_000): Promise<Buffer | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    const r = await Promise.race([it.next(), timeout]);
    return r && !r.done ? r.value : null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Frames read until `n` have come (or 10 s, a bound for a lost frame only):
 * a frame sent from A reaches the socket in B's softirq, not within the send.
 */
async function readFrames(xsk: XdpSocket, n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await until(() => {
    out.push(...xsk.read(n - out.length));
    return out.length >= n;
  });
  return out;
}

describe('XdpSocket options (no kernel)', () => {
  it.each<[XdpSocketOptions, string]>([
    [{ iface: 'x', ringSize: 100 }, 'ringSize must be a power of two (got 100)'],
    [{ iface: 'x', frameSize: 1500 }, 'frameSize must be 2048 or 4096 (got 1500)'],
    [{ iface: 'x', frames: 1 }, 'frames must be an integer from 2 to 1048576 (got 1)'],
    [{ iface: 'x', queue: -1 }, 'queue must be a non-negative integer'],
  ])('%o is refused before any syscall', (opts, message) => {
    const e = thrown(() => XdpSocket.open(opts));
    expect(e).toMatchObject({ code: 'USAGE' });
    expect(e.message).toBe(`AF_XDP socket on x queue ${opts.queue ?? 0}: ${message}`);
  });
});

describeRoot('AF_XDP socket on a veth, XDP redirecting into an XSKMAP', () => {
  let env: TestEnv | undefined;
  let coll: BpfCollection | undefined;

  const seen = () => coll!.map('rx_seen').get(0)!.readBigUInt64LE(0);
  const open = (opts: Partial<XdpSocketOptions> = {}) => XdpSocket.open({ iface: env!.vethB, netns: env!.nsB, mode: 'copy', ...opts });

  beforeAll(() => {
    env = setupTestEnv();
    coll = loadObject(fixture('xsk_redirect.o'));
    attachXdp({ iface: env.vethB, netns: env.nsB, progFd: coll.program('xdp_xsk_redirect').fd.value, mode: 'native' });
  });

  afterAll(() => {
    try {
      if (env && netnsExists(env.nsB)) detachXdp(env.vethB, { netns: env.nsB });
      coll?.close();
    } finally {
      if (env) teardownTestEnv(env);
    }
    if (env) expect(netnsExists(env.nsA) || netnsExists(env.nsB)).toBe(false);
  });

  it('receives what A sends once registered, and nothing reaches B’s stack meanwhile', async () => {
    using xsk = open();
    expect(xsk.ifindex).toBe(env!.ifindexB);
    const before = seen();
    // Slot empty: the program passes every frame up, B answers.
    expect((await ping({ netns: env!.nsA, to: env!.ipB, count: 2, timeoutMs: 2000 })).received).toBe(2);
    expect(seen() - before).toBe(2n);
    expect(xsk.read()).toEqual([]);

    xsk.register(coll!.map('xsks'));
    const r = await ping({ netns: env!.nsA, to: env!.ipB, count: 3, timeoutMs: 300 });
    expect(r.received).toBe(0); // B's stack never saw the requests
    const frames = await readFrames(xsk, 3);
    expect(frames).toHaveLength(3);
    expect(seen() - before).toBe(5n);
    expect(xsk.read()).toEqual([]); // and nothing more
    frames.forEach((f, i) => {
      // 14 Ethernet + 20 IPv4 + 8 ICMP + ping's 56-byte payload.
      expect(f.length).toBe(98);
      expect(f.subarray(0, 6)).toEqual(mac(env!.macB));
      expect(f.subarray(6, 12)).toEqual(mac(env!.macA));
      expect(f.readUInt16BE(12)).toBe(0x0800);
      expect(f[23]).toBe(1); // ICMP
      expect(f.subarray(26, 30)).toEqual(ipv4(env!.ipA));
      expect(f.subarray(30, 34)).toEqual(ipv4(env!.ipB));
      expect(checksum(f.subarray(14, 34))).toBe(0);
      expect(f[34]).toBe(8); // echo request
      expect(f.readUInt16BE(40)).toBe(i + 1); // sequence
      expect(checksum(f.subarray(34))).toBe(0);
    });
    expect(xsk.stats()).toEqual({ rxDropped: 0n, rxInvalidDescs: 0n, txInvalidDescs: 0n, rxRingFull: 0n, rxFillRingEmptyDescs: 0n, txRingEmptyDescs: 0n });
  });

  it('sends a frame A’s kernel answers, and receives the answer', async () => {
    using xsk = open();
    xsk.register(coll!.map('xsks'));
    const icmpBefore = snmpCounters(env!.nsA, 'Icmp');
    const payload = Buffer.from('bpf-ts AF_XDP tx');
    const request = icmpEcho({ seq: 7, id: 0x1234, src: env!.ipB, dst: env!.ipA, ethSrc: env!.macB, ethDst: env!.macA, payload });
    const frames = xsk[Symbol.asyncIterator]();
    expect(xsk.send(request)).toBe(true);
    const reply = await nextFrame(frames);
    expect(reply).not.toBeNull();
    const f = reply!;
    expect(f.length).toBe(14 + 20 + 8 + payload.length);
    expect(f.subarray(0, 6)).toEqual(mac(env!.macB));
    expect(f.subarray(6, 12)).toEqual(mac(env!.macA));
    expect(f.subarray(26, 30)).toEqual(ipv4(env!.ipA));
    expect(f.subarray(30, 34)).toEqual(ipv4(env!.ipB));
    expect(f[34]).toBe(0); // echo reply
    expect(f.readUInt16BE(38)).toBe(0x1234);
    expect(f.readUInt16BE(40)).toBe(7);
    expect(f.subarray(42)).toEqual(payload);
    expect(checksum(f.subarray(34))).toBe(0);
    const icmpAfter = snmpCounters(env!.nsA, 'Icmp');
    expect(icmpAfter.InEchos! - icmpBefore.InEchos!).toBe(1);
    expect(icmpAfter.OutEchoReps! - icmpBefore.OutEchoReps!).toBe(1);
    // Copy mode sends inside send(): the frame is back on the free list.
    expect(xsk.inFlight).toBe(0);
  });

  it('recycles frames: 20 round trips through a UMEM of 16 frames (8 receive, 8 send) and 8-entry rings', async () => {
    using xsk = open({ frames: 16, ringSize: 8 });
    xsk.register(coll!.map('xsks'));
    const frames = xsk[Symbol.asyncIterator]();
    const seqs: number[] = [];
    for (let seq = 1; seq <= 20; seq++) {
      const request = icmpEcho({ seq, id: 0x4321, src: env!.ipB, dst: env!.ipA, ethSrc: env!.macB, ethDst: env!.macA });
      expect(xsk.send(request)).toBe(true);
      const reply = await nextFrame(frames);
      expect(reply).not.toBeNull();
      expect(reply![34]).toBe(0);
      seqs.push(reply!.readUInt16BE(40));
    }
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const st = xsk.stats();
    expect(st.rxDropped + st.rxRingFull + st.rxFillRingEmptyDescs + st.rxInvalidDescs + st.txInvalidDescs).toBe(0n);
  });

  it('close() empties the XSKMAP slot (the kernel does), so frames reach the stack again', async () => {
    const xsk = open();
    xsk.register(coll!.map('xsks'));
    expect((await ping({ netns: env!.nsA, to: env!.ipB, count: 1, timeoutMs: 300 })).received).toBe(0);
    let kept: Buffer | undefined;
    await until(() => {
      xsk.consume((f) => (kept = f));
      return kept !== undefined;
    });
    expect(kept![34]).toBe(8);
    xsk.close();
    xsk.close(); // idempotent
    expect((await ping({ netns: env!.nsA, to: env!.ipB, count: 2, timeoutMs: 2000 })).received).toBe(2);
    // A view kept past its callback reads zeros after close, never a crash.
    expect(kept!.every((b) => b === 0)).toBe(true);
    expect(thrown(() => xsk.read())).toMatchObject({ code: 'CLOSED' });
    expect(thrown(() => xsk.send(Buffer.alloc(60)))).toMatchObject({ code: 'CLOSED' });
  });

  it('refuses what cannot work, naming the interface, the queue and the fix', () => {
    using xsk = open();
    let e = thrown(() => open());
    expect(e).toMatchObject({ code: 'SYSCALL' });
    expect(e.message).toBe(
      `AF_XDP socket on ${env!.vethB} queue 0 (netns ${env!.nsB}): binding to queue 0 failed (EBUSY): another AF_XDP socket is bound to this queue (still after 2 s): close it first`,
    );
    expect(e).toBeInstanceOf(XdpSocketError);
    expect((e as XdpSocketError).errno).toBe(16); // EBUSY
    e = thrown(() => open({ queue: 5 }));
    expect((e as XdpSocketError).errno).toBe(22); // EINVAL
    expect(e.message).toMatch(/queue 5 .*binding to queue 5 failed \(EINVAL\): the queue does not exist on this interface/);
    e = thrown(() => open({ iface: 'nope0' }));
    expect(e).toMatchObject({ code: 'NO_SUCH_INTERFACE' });
    expect(e.message).toBe(`AF_XDP socket on nope0 queue 0 (netns ${env!.nsB}): no interface "nope0" in netns ${env!.nsB} (see \`ip link\`)`);
    e = thrown(() => xsk.register(coll!.map('rx_seen')));
    expect(e.message).toBe(`AF_XDP socket on ${env!.vethB} queue 0 (netns ${env!.nsB}): map rx_seen is not an XSKMAP`);
    e = thrown(() => xsk.send(Buffer.alloc(4097)));
    expect(e.message).toMatch(/a 4097-byte frame does not fit a 4096-byte UMEM frame/);
  });

  it('zero-copy on veth (no driver support) is refused with the mode that works', () => {
    const e = thrown(() => open({ mode: 'zerocopy' }));
    expect(e.message).toMatch(/binding to queue 0 failed \(EOPNOTSUPP\): this driver has no zero-copy AF_XDP support: use mode 'copy'$/);
  });

  const unpriv = hasSetpriv() ? it : it.skip;
  /** XdpSocket.open in nsB as uid 65534 holding exactly `caps`; its result or error as JSON. */
  function openAsNobody(caps: CapWord[], memlockBytes?: number): { ok?: boolean; code?: string; message?: string } {
    const lib = join(worldReadablePackage(), 'dist', 'xsk', 'socket.js');
    const script = `import(${JSON.stringify(lib)}).then((m) => { try { const s = m.XdpSocket.open({ iface: ${JSON.stringify(env!.vethB)}, mode: 'copy' }); s.close(); console.log(JSON.stringify({ ok: true })); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } });`;
    const limit = memlockBytes === undefined ? [] : ['prlimit', `--memlock=${memlockBytes}`];
    const argv = ['nsenter', `--net=/var/run/netns/${env!.nsB}`, ...limit, ...setprivArgs(caps), process.execPath, '-e', script];
    return JSON.parse(execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).trim()) as { ok?: boolean; code?: string; message?: string };
  }

  unpriv('as another user: CAP_NET_RAW is all it takes, and its absence is named', () => {
    expect(openAsNobody([])).toEqual({
      code: 'SYSCALL',
      message: `AF_XDP socket on ${env!.vethB} queue 0: socket(AF_XDP) failed (EPERM): needs CAP_NET_RAW, which this process lacks: run as root or grant it (e.g. setcap, systemd AmbientCapabilities, a pod securityContext)`,
    });
    expect(openAsNobody(['net_raw'])).toEqual({ ok: true });
  });

  unpriv('the UMEM is locked memory: over RLIMIT_MEMLOCK it says so, and CAP_IPC_LOCK lifts the limit', () => {
    // The default UMEM is 4 MiB; a 1 MiB limit refuses it.
    expect(openAsNobody(['net_raw'], 1 << 20)).toEqual({
      code: 'SYSCALL',
      message: `AF_XDP socket on ${env!.vethB} queue 0: registering the UMEM (XDP_UMEM_REG) failed (ENOBUFS): the UMEM is locked memory: raise RLIMIT_MEMLOCK (ulimit -l), grant CAP_IPC_LOCK, or ask for fewer frames`,
    });
    expect(openAsNobody(['net_raw', 'ipc_lock'], 1 << 20)).toEqual({ ok: true });
  });
});

describeRoot('bpf-ts run --xdp with an XSKMAP: a socket per queue, frames printed, all undone on Ctrl-C', () => {
  let env: TestEnv | undefined;
  beforeAll(() => {
    env = setupTestEnv();
  });
  afterAll(() => {
    if (env) teardownTestEnv(env);
  });

  it('prints each redirected frame, and Ctrl-C closes the sockets and detaches', async () => {
    const run = new CliChild(['run', fixture('xsk_redirect.o'), '--xdp', env!.vethB, '--netns', env!.nsB, '--json']);
    try {
      const { line } = await run.waitForLine((l) => l.startsWith('{"xsk":{"interface"') && l.includes('"queues"'));
      // veth allocates a queue per CPU and uses one: one socket.
      expect(JSON.parse(line)).toEqual({ xsk: { interface: env!.vethB, queues: [0], maps: ['xsks'] } });
      expect((await ping({ netns: env!.nsA, to: env!.ipB, count: 3, timeoutMs: 300 })).received).toBe(0);
      for (let seq = 1; seq <= 3; seq++) await run.waitForLine((l) => l.includes('"queue":0') && Buffer.from(JSON.parse(l).data, 'hex').readUInt16BE(40) === seq);
      run.child.kill('SIGINT');
      expect((await run.exited).code).toBe(130);
    } finally {
      await run.kill();
    }
    const frames = run.lines.filter((l) => l.startsWith('{"xsk":{"interface"') && l.includes('"data"')).map((l) => Buffer.from(JSON.parse(l).data, 'hex'));
    expect(frames.map((f) => [f.length, f[34], f.readUInt16BE(40)])).toEqual([
      [98, 8, 1],
      [98, 8, 2],
      [98, 8, 3],
    ]);
    expect(JSON.parse(run.lines.at(-1)!)).toEqual({ detached: true, reason: 'SIGINT' });
    // Nothing left: no program on the hook, and B's stack answers again.
    expect(queryXdp(env!.vethB, { netns: env!.nsB }).attached).toBe('none');
    expect((await ping({ netns: env!.nsA, to: env!.ipB, count: 2, timeoutMs: 2000 })).received).toBe(2);
  });
});
