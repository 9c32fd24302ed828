// Socket filters (src/attach/socket.ts) on the sockets they are made for, in
// two namespaces this file creates (IPv6 off, static neighbours: the only
// frames are the test's own):
// - fixtures/socket_filter.o count_protocols (samples/bpf sockex1 style:
//   legacy maps, section "socket1", LD_ABS), on a packet socket (PacketSocket)
//   of B's veth: pings from A give exact frame and byte counts per protocol,
//   checked against the kernel's own counters of the interface
//   (/sys/class/net/IFACE/statistics) and the echo sizes on the wire; its
//   verdict 0 leaves the socket empty.
// - drop_marked on a UDP socket of a Node process in B (dgram, a child under
//   nsenter): datagrams whose payload starts with "drop" never reach it, the
//   others arrive byte for byte; and on a packet socket, the same verdicts.
// - `bpf-ts run OBJ --socket IFACE`: counters, kept frames, Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachReuseportProgram, attachSocketFilter, detachSocketFilter, socketFd } from '../../src/attach/socket.js';
import { type BpfCollection, loadObject, openObject } from '../../src/collection.js';
import { ping } from '../../src/net/icmp.js';
import { PacketSocket } from '../../src/net/packet-socket.js';
import { withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { bpftoolList } from '../helpers/bpftool.js';
import { CliChild, fixture, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { sendUdp } from '../helpers/udp.js';
import { until } from '../helpers/wait.js';

const ICMP = 1;
const UDP = 17;
// An echo request as ping sends it: 14 Ethernet + 20 IPv4 + 8 ICMP + 56 payload.
const ECHO_FRAME = 98;

/** Frames the socket has queued, waiting (bounded) until `n` are in: delivery is in B's softirq, after the send returns. */
async function framesOf(s: PacketSocket, n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await until(() => {
    for (let f = s.read(); f; f = s.read()) out.push(f);
    return out.length >= n;
  });
  return out;
}

/** B's veth counters as iproute2 reads them (netlink, inside the namespace: /sys/class/net would be the host's). */
function stats(env: TestEnv): { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } } {
  const out = execFileSync('nsenter', [`--net=/var/run/netns/${env.nsB}`, 'ip', '-j', '-s', 'link', 'show', 'dev', env.vethB], { encoding: 'utf8' });
  return (JSON.parse(out) as { stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } } }[])[0]!.stats64;
}
const counter = (c: BpfCollection, map: string, key: number) => c.map(map).get(key)?.readBigUInt64LE(0);

describeRoot('socket filters on packet and UDP sockets', () => {
  let env: TestEnv;
  let coll: BpfCollection;

  beforeAll(() => {
    env = setupTestEnv();
    coll = loadObject(fixture('socket_filter.o'));
  });
  afterAll(() => {
    try {
      coll?.close();
    } finally {
      if (env) teardownTestEnv(env);
    }
  });

  it('count_protocols on a packet socket: every frame of the interface, per protocol, as the kernel counts them', async () => {
    using coll = loadObject(fixture('socket_filter.o'));
    using s = PacketSocket.open(env.vethB, { netns: env.nsB, filter: coll.program('count_protocols') });
    const before = stats(env);
    expect(await ping({ netns: env.nsA, to: env.ipB, count: 4 })).toMatchObject({ sent: 4, received: 4 });
    // Four requests in, four replies out, 98 bytes each: what the interface's own counters say, and nothing else on the wire.
    const after = stats(env);
    expect([after.rx.packets - before.rx.packets, after.tx.packets - before.tx.packets]).toEqual([4, 4]);
    expect([after.rx.bytes - before.rx.bytes, after.tx.bytes - before.tx.bytes]).toEqual([4 * ECHO_FRAME, 4 * ECHO_FRAME]);
    expect(counter(coll, 'packets', ICMP)).toBe(8n);
    expect(counter(coll, 'bytes', ICMP)).toBe(BigInt(8 * ECHO_FRAME));
    expect([...coll.map('packets').keys()].map((k) => k.readUInt32LE(0))).toEqual([ICMP]);
    // Its verdict is 0: the socket queued nothing.
    expect(s.read()).toBeNull();
  });

  it('drop_marked on a packet socket: the frames it keeps are queued whole, the marked ones never', async () => {
    using coll = loadObject(fixture('socket_filter.o'));
    using s = PacketSocket.open(env.vethB, { netns: env.nsB, filter: coll.program('drop_marked'), ignoreOutgoing: true });
    sendUdp(env.nsA, env.ipB, 9, ['keep 1', 'drop 2', 'keep 3', 'drop it', 'dro', 'keep 5']);
    const frames = await framesOf(s, 4);
    // 14 + 20 + 8 + payload; the payloads in the order sent, "dro" (too short to be a mark) kept.
    expect(frames.map((f) => [f.length, f.readUInt8(23), f.subarray(42).toString()])).toEqual([
      [48, UDP, 'keep 1'],
      [48, UDP, 'keep 3'],
      [45, UDP, 'dro'],
      [48, UDP, 'keep 5'],
    ]);
    expect(counter(coll, 'verdicts', 1)).toBe(2n);
    expect(counter(coll, 'verdicts', 0)).toBe(4n);
    expect(s.read()).toBeNull();
  });

  it('for await over a PacketSocket: kept frames as they arrive; leaving the loop closes the socket', async () => {
    using coll = loadObject(fixture('socket_filter.o'));
    const s = PacketSocket.open(env.vethB, { netns: env.nsB, filter: coll.program('drop_marked'), ignoreOutgoing: true });
    try {
      sendUdp(env.nsA, env.ipB, 9, ['drop 1', 'keep a', 'drop 2', 'keep b']);
      const got: string[] = [];
      for await (const frame of s) {
        got.push(frame.subarray(42).toString());
        if (got.length === 2) break;
      }
      expect(got).toEqual(['keep a', 'keep b']);
      expect(s.closed).toBe(true);
    } finally {
      s.close();
    }
  });

  it('drop_marked on a Node dgram socket: the process receives only the unmarked datagrams (and a net.Server takes a filter)', async () => {
    // The receiver is a Node process in B: its socket must be made there, which nsenter does for the whole process.
    const script = `
      import dgram from 'node:dgram';
      import net from 'node:net';
      import { readlinkSync } from 'node:fs';
      import { loadObject, attachSocketFilter, socketFd } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
      const coll = loadObject(${JSON.stringify(fixture('socket_filter.o'))});
      const got = [];
      const s = dgram.createSocket('udp4');
      s.on('message', (m) => {
        if (m.toString() === 'end') { console.log(JSON.stringify(got)); s.close(); coll.close(); }
        else got.push(m.toString());
      });
      // A net.Server takes one too (its fd from the listening handle): the same fd /proc names a socket.
      const server = net.createServer().listen(7778, ${JSON.stringify(env.ipB)}, () => {
        const a = attachSocketFilter(server, coll.program('drop_marked'));
        const link = readlinkSync('/proc/self/fd/' + socketFd(server));
        console.error('tcp ' + (a.fd === socketFd(server) && link.startsWith('socket:')));
        a.detach();
        server.close();
        s.bind(7777, ${JSON.stringify(env.ipB)}, () => {
          attachSocketFilter(s, coll.program('drop_marked'));
          console.log('ready');
        });
      });`;
    const child = spawn('nsenter', [`--net=/var/run/netns/${env.nsB}`, process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until(() => out.includes('ready\n') || child.exitCode !== null, 20_000, 20);
      expect(out, err).toContain('ready\n');
      expect(err).toContain('tcp true');
      sendUdp(env.nsA, env.ipB, 7777, ['drop me', 'hello', 'drop', 'world', 'end']);
      expect(await exited, err).toBe(0);
      expect(JSON.parse(out.split('\n')[1]!)).toEqual(['hello', 'world']);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('attach and detach by fd; refusals name the socket and the program', () => {
    const fd = ffi.socket(2, 2 | ffi.SOCK_CLOEXEC, 0);
    try {
      const a = attachSocketFilter(fd, coll.program('drop_marked'));
      expect(a).toMatchObject({ fd, program: 'drop_marked' });
      // SO_ATTACH_BPF replaces; SO_DETACH_BPF then finds none.
      attachSocketFilter(fd, coll.program('count_protocols'));
      expect(detachSocketFilter(fd)).toBe(true);
      expect(detachSocketFilter(fd)).toBe(false);
      a.detach(); // nothing left to detach: no error
    } finally {
      ffi.close(fd);
    }
    // socketFd: a number as is, an object's fd, a Node socket not bound yet refused in words.
    expect(socketFd(7)).toBe(7);
    expect(socketFd({ fd: 9 })).toBe(9);
    const unbound = dgram.createSocket('udp4');
    try {
      expect(thrown(() => socketFd(unbound, 'sockmap entry')).message).toBe(
        "sockmap entry: the socket has no file descriptor yet (or any more): use it once it is bound or listening ('listening' event), before it closes",
      );
    } finally {
      unbound.close();
    }
    const file = openSync('/dev/null', 'r');
    try {
      const notSocket = thrown(() => attachSocketFilter(file, coll.program('drop_marked')));
      expect(notSocket.message).toBe(`attach drop_marked as a socket filter to socket fd ${file}: setsockopt failed (ENOTSOCK): fd ${file} is not a socket`);
    } finally {
      closeSync(file);
    }
    using xdp = openObject(fixture('drop_all.o')).load({ programType: 'xdp' });
    const udp = ffi.socket(2, 2 | ffi.SOCK_CLOEXEC, 0);
    try {
      const wrong = thrown(() => attachSocketFilter(udp, xdp.program('xdp_drop')));
      expect(wrong.message).toBe(`attach xdp_drop as a socket filter to socket fd ${udp}: setsockopt failed (EINVAL): program xdp_drop is xdp; a socket takes socket_filter programs`);
      expect(thrown(() => attachReuseportProgram(udp, coll.program('reuseport_second'))).message).toBe(
        `attach reuseport_second as a reuseport program to socket fd ${udp}: setsockopt failed (EINVAL): the socket is in no SO_REUSEPORT group (set SO_REUSEPORT before binding it)`,
      );
    } finally {
      ffi.close(udp);
    }
    const e = thrown(() => PacketSocket.open('nope0', { netns: env.nsB }));
    expect(e).toMatchObject({ code: 'NO_SUCH_INTERFACE' });
    expect(e.message).toBe(`packet socket on nope0 (netns ${env.nsB}): no interface "nope0" in netns ${env.nsB} (see \`ip link\`)`);
  });

  it('a reuseport program picks the socket of a SO_REUSEPORT group: reuseport_second sends every datagram to the second', async () => {
    const SO_REUSEPORT = 15;
    // Two UDP sockets in B on the same address and port, in one group (bound in this order).
    const group = withNetns(env.nsB, () =>
      [0, 1].map(() => {
        const fd = ffi.socket(2, 2 | ffi.SOCK_CLOEXEC, 0);
        const one = Buffer.alloc(4);
        one.writeInt32LE(1, 0);
        expect(ffi.setsockopt(fd, 1, SO_REUSEPORT, one)).toBe(0);
        const addr = Buffer.alloc(16);
        addr.writeUInt16LE(2, 0);
        addr.writeUInt16BE(7000, 2);
        Buffer.from(env.ipB.split('.').map(Number)).copy(addr, 4);
        expect(ffi.bind(fd, addr)).toBe(0);
        return fd;
      }),
    );
    try {
      using a = attachReuseportProgram(group[0]!, coll.program('reuseport_second'));
      expect(a.program).toBe('reuseport_second');
      const sent = ['one', 'two', 'three', 'four', 'five', 'six'];
      sendUdp(env.nsA, env.ipB, 7000, sent);
      const got: string[][] = [[], []];
      const buf = Buffer.alloc(64);
      await until(() => {
        group.forEach((fd, i) => {
          for (let n = ffi.recv(fd, buf, ffi.MSG_DONTWAIT); n >= 0; n = ffi.recv(fd, buf, ffi.MSG_DONTWAIT)) got[i]!.push(buf.subarray(0, n).toString());
        });
        return got[1]!.length >= sent.length;
      });
      expect(got).toEqual([[], sent]);
    } finally {
      for (const fd of group) ffi.close(fd);
    }
  });

  it('bpf-ts run OBJ --socket IFACE --program drop_marked: the frames the filter keeps print as they arrive', async () => {
    const run = new CliChild(['run', fixture('socket_filter.o'), '--socket', env.vethB, '--netns', env.nsB, '--program', 'drop_marked', '--interval', '0.2', '--json']);
    try {
      await run.waitForLine((l) => l.startsWith('{"attached"'));
      sendUdp(env.nsA, env.ipB, 9, ['drop this', 'keep this']);
      const udpFrame = (l: string) => {
        const j = JSON.parse(l) as { socket?: { interface: string }; data?: string };
        const f = j.data ? Buffer.from(j.data, 'hex') : null;
        return f && j.socket?.interface === env.vethB && f.readUInt16BE(12) === 0x0800 && f[23] === UDP ? f : null;
      };
      await run.waitForLine((l) => udpFrame(l) !== null);
      await run.waitForLine((l) => (JSON.parse(l).counters ?? []).some((r: { map: string; key: string; value: string }) => r.map === 'verdicts' && r.key === '1' && r.value === '1'));
      // B's stack answered both datagrams with ICMP port unreachable (sent frames, kept); of the UDP ones only "keep this" is there.
      expect(
        run.lines
          .map(udpFrame)
          .filter((f) => f !== null)
          .map((f) => f!.subarray(42).toString()),
      ).toEqual(['keep this']);
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(143);
    } finally {
      await run.kill();
    }
  });

  it('bpf-ts run OBJ --socket IFACE: counters while it runs, the program gone on Ctrl-C', async () => {
    const run = new CliChild(['run', fixture('socket_filter.o'), '--socket', env.vethB, '--netns', env.nsB, '--program', 'count_protocols', '--interval', '0.2', '--json']);
    try {
      const { line } = await run.waitForLine((l) => l.startsWith('{"attached"'));
      const attached = JSON.parse(line).attached;
      expect(attached).toMatchObject({ interface: env.vethB, program: 'count_protocols', via: 'packet socket' });
      expect(await ping({ netns: env.nsA, to: env.ipB, count: 2 })).toMatchObject({ received: 2 });
      const rows = (l: string) => (JSON.parse(l).counters ?? []) as { map: string; key: string; value: string }[];
      await run.waitForLine((l) => rows(l).some((r) => r.map === 'packets' && r.key === '1' && r.value === '4'));
      const last = run.lines.filter((l) => l.includes('"counters"')).at(-1)!;
      expect(rows(last).filter((r) => r.key === '1' && r.map !== 'verdicts')).toEqual([
        expect.objectContaining({ map: 'packets', value: '4' }),
        expect.objectContaining({ map: 'bytes', value: String(4 * ECHO_FRAME) }),
      ]);
      // The filter holds a socket only while run does: the program is gone after Ctrl-C.
      run.child.kill('SIGINT');
      expect((await run.exited).code).toBe(130);
      expect(run.lines.at(-1)).toBe('{"detached":true,"reason":"SIGINT"}');
      // The kernel frees a program in deferred work after its last reference goes.
      expect(await until(() => !bpftoolList('prog').some((p) => p.id === attached.progId), 10_000, 50)).toBe(true);
    } finally {
      await run.kill();
    }
  });
});
