// cgroup sock_addr and cgroup sock programs in the emulator. The kernel has
// no test run for either, so the comparison is with the calls themselves:
// fixtures/sock_addr_nat.o's hooks (connect4/6, sendmsg4, recvmsg4,
// getpeername4, bind4) and fixtures/sock_create.o's (sock_create, post_bind4/6)
// attached to a test cgroup, a node process in that cgroup and in a test
// network namespace (loopback only) making sockets, connecting, sending,
// receiving and binding — the peer a connection reached, the source a
// datagram arrived from, the address a socket was bound to, the mark,
// priority and device getsockopt reads back, EPERM — against what the
// emulator's run of the same hook leaves; what each program read (its `seen`)
// the same in both. And every load and store of each hook's context, taken or
// refused as by the verifier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { assemble } from '../../src/asm/assembler.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import type { BpfCollection } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { type EmulatedCollection, type EmulatedSocket, sockAddrCtx } from '../../src/vm/index.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';
import { accessDiffs, type Caller, Lab, labWithObject } from '../helpers/cgroup-lab.js';

/** An IPv4 address and port as the maps key them: struct addr4 (ip, then the port in network order in a u32's low bytes). */
const addr4 = (ip: string, port: number) => {
  const b = Buffer.alloc(8);
  Buffer.from(ip.split('.').map(Number)).copy(b, 0);
  b.writeUInt16BE(port, 4);
  return b;
};
/** A port as `denied` keys it, and bind_from/bind_to hold it: network order in a u32's low bytes. */
const port32 = (port: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(port, 0);
  return b.readUInt32LE(0);
};
const ip6 = (text: string) => {
  const b = Buffer.alloc(16);
  if (text === '::1') b[15] = 1;
  if (text === 'fd00::1') {
    b[0] = 0xfd;
    b[15] = 1;
  }
  return b;
};
/** .bss of the fixture (llvm-readelf's symbol table): calls at 0 (6 u64), seen at 0x30 (80 bytes), snat_src4 0x80, bind_from 0x84, bind_to 0x88. */
const BSS = { calls: 0, seen: 0x30, seenSize: 80, snat: 0x80, bindFrom: 0x84, bindTo: 0x88, size: 0x8c };

/** The same NAT table in the kernel's maps and the emulator's. */
function fill(c: { map(name: string): { set(k: Buffer | number, v: Buffer | number): void } }, bss: Buffer): void {
  c.map('services4').set(addr4('10.0.0.1', 80), addr4('127.0.0.1', 8080));
  c.map('services4').set(addr4('10.0.0.1', 53), addr4('127.0.0.1', 5353));
  c.map('reverse4').set(addr4('127.0.0.1', 8080), addr4('10.0.0.1', 80));
  c.map('reverse4').set(addr4('127.0.0.1', 5353), addr4('10.0.0.1', 53));
  const k6 = Buffer.alloc(20);
  ip6('fd00::1').copy(k6);
  k6.writeUInt16BE(80, 16);
  const v6 = Buffer.alloc(20);
  ip6('::1').copy(v6);
  v6.writeUInt16BE(8080, 16);
  c.map('services6').set(k6, v6);
  c.map('denied').set(port32(9), 1);
  bss.set([127, 0, 0, 2], BSS.snat);
  bss.writeUInt32LE(port32(6000), BSS.bindFrom);
  bss.writeUInt32LE(port32(7000), BSS.bindTo);
  c.map('.bss').set(0, bss);
}

/** The address a run left: user_ip4 (or user_ip6) and user_port, and msg_src_ip4. */
function leftAddress(ctxOut: Buffer, v6 = false): [string, number] {
  const ip = v6 ? (ctxOut.subarray(8, 24).equals(ip6('::1')) ? '::1' : ctxOut.subarray(8, 24).toString('hex')) : [...ctxOut.subarray(4, 8)].join('.');
  return [ip, ctxOut.readUInt16BE(24)];
}

describe('cgroup sock_addr programs in the emulator', () => {
  const setup = () => {
    const emu = openObject(fixture('sock_addr_nat.o')).emulate();
    fill(emu, Buffer.alloc(BSS.size));
    return emu;
  };

  it('connect4 sends a service address to its backend, leaves others, and fails a denied port (retval 0: EPERM)', () => {
    const emu = setup();
    const run = (address: string, port: number) => emu.program('connect4').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'tcp', address, port }) });
    const vip = run('10.0.0.1', 80);
    expect({ retval: vip.retval, to: leftAddress(vip.ctxOut!) }).toEqual({ retval: 1, to: ['127.0.0.1', 8080] });
    const other = run('192.0.2.7', 80);
    expect({ retval: other.retval, to: leftAddress(other.ctxOut!) }).toEqual({ retval: 1, to: ['192.0.2.7', 80] });
    expect(run('10.0.0.1', 9).retval).toBe(0);
    // What the program read: family 2, SOCK_STREAM, TCP; ctx->sk unbound (TCP_CLOSE, port 0) with a cookie.
    const seen = (emu.map('.bss').get(0) as Buffer).subarray(BSS.seen, BSS.seen + BSS.seenSize);
    // struct seen: family at 28, type 32, protocol 36, sk_state 64, sk_src_port 68, cookie_set 76.
    expect([seen.readUInt32LE(28), seen.readUInt32LE(32), seen.readUInt32LE(36), seen.readUInt32LE(64), seen.readUInt32LE(68), seen.readUInt32LE(76)]).toEqual([2, 1, 6, 7, 0, 1]);
  });

  it('refuses a ctx of the wrong family or socket, a packet, and hooks it does not emulate, in words', () => {
    const emu = setup();
    const p = emu.program('connect4');
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'tcp', address: '::1', port: 80 }) }))).toBe(
      'USAGE: program connect4 (connect4): family 10: a connect4 hook runs for AF_INET (2) sockets',
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(14), { ctx: sockAddrCtx({ protocol: 'tcp', address: '10.0.0.1', port: 80 }) }))).toBe(
      'USAGE: program connect4 (connect4): a sock_addr program runs on its struct bpf_sock_addr ctx alone (testRun(new Uint8Array(0), { ctx: sockAddrCtx(…) }))',
    );
    const sk = sockAddrCtx({ protocol: 'udp', address: '10.0.0.1', port: 80 });
    sk.writeUInt32LE(1, 64);
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { ctx: sk }))).toBe('USAGE: program connect4 (connect4): its sk field is set: the run points it to the calling socket');
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0)))).toBe(
      'USAGE: program connect4 (connect4): it needs a struct bpf_sock_addr ctx: the address of the call (sockAddrCtx({ protocol, address, port }))',
    );
  });
});

describe('bpf-ts test-run --emulate --addr', () => {
  it('prints the address the program leaves (the CLI emulation starts with empty maps: unchanged), IPv6 compressed; JSON too', async () => {
    const run = (prog: string, addr: string, ...more: string[]) => cliOk('test-run', fixture('sock_addr_nat.o'), '--program', prog, '--emulate', '--addr', addr, ...more);
    expect((await run('connect4', 'tcp 10.0.0.1:80')).stdout).toMatch(/^connect4: retval 1 \(0x1\) \(emulated, \d+ instructions\)\naddress: 10\.0\.0\.1:80 \(unchanged\)\n$/);
    expect((await run('connect6', 'tcp [fd00::1]:80')).stdout).toMatch(/\naddress: \[fd00::1\]:80 \(unchanged\)\n$/);
    expect((await run('sendmsg4', 'udp 10.0.0.1:53 from 127.0.0.1', '--json')).json()).toMatchObject({ retval: 1, allowed: true, address: '10.0.0.1:53', msgSrc: '127.0.0.1' });
  });

  it('refuses in words: no address, a packet, a malformed address, --addr for another program type, a kernel run', async () => {
    const errors: [string[], string][] = [
      [['--emulate'], "bpf-ts: connect4 is a cgroup sock_addr program: give the address of the call it runs on, e.g. --addr 'tcp 10.0.0.1:80' (or --ctx-hex with a struct bpf_sock_addr)\n"],
      [['--emulate', '--data-hex', '00'.repeat(14)], "bpf-ts: connect4 is a cgroup sock_addr program: it runs on the address of a call (--addr 'tcp 10.0.0.1:80'), not on a packet\n"],
      [['--emulate', '--addr', 'tcp 10.0.0.1'], `bpf-ts: --addr "tcp 10.0.0.1": write it as 'tcp|udp ADDR:PORT [from SRC]' (IPv6 in brackets: [2001:db8::1]:443)\n`],
      [
        ['--addr', 'tcp 10.0.0.1:80'],
        'bpf-ts: connect4 is a cgroup sock_addr program: the kernel has no test run for those (it runs them in connect, bind, sendmsg…): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n',
      ],
    ];
    for (const [args, stderr] of errors) {
      const r = await cli('test-run', fixture('sock_addr_nat.o'), '--program', 'connect4', ...args);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr });
    }
    const xdp = await cli('test-run', fixture('drop_all.o'), '--emulate', '--addr', 'tcp 10.0.0.1:80', '--data-hex', '00'.repeat(14));
    expect(xdp.stderr).toMatch(/--addr is the input of cgroup sock_addr programs\n$/);
  });
});

describe('cgroup sock programs in the emulator and bpf-ts test-run --emulate --socket', () => {
  it('sock_create writes the mark, priority and device the socket keeps; post_bind4 refuses a low port off loopback', async () => {
    const emu = openObject(fixture('sock_create.o')).emulate();
    // .bss: deny_protocol at 0x50, mark_with 0x54, pin_tcp_to_lo 0x58 (llvm-readelf's symbol table).
    const bss = Buffer.alloc(0x5c);
    bss.writeUInt32LE(0x2a, 0x54);
    bss.writeUInt32LE(1, 0x58);
    emu.map('.bss').set(0, bss);
    const tcp = emu.socket({ protocol: 'tcp', port: 0 });
    expect(emu.program('create').testRun(new Uint8Array(0), { socket: tcp }).retval).toBe(1);
    expect({ dev: tcp.boundDevIf, mark: tcp.region.bytes[16], priority: tcp.region.bytes[20] }).toEqual({ dev: 1, mark: 0x2a, priority: 0 });
    const bound = (address: string, port: number) => emu.program('bind4').testRun(new Uint8Array(0), { socket: emu.socket({ protocol: 'tcp', address, port, listening: false }) }).retval;
    expect([bound('0.0.0.0', 80), bound('127.0.0.1', 80), bound('0.0.0.0', 8080)]).toEqual([0, 1, 1]);
    expect(codeAndMessage(() => emu.program('bind4').testRun(new Uint8Array(0), { socket: tcp }))).toBe(
      'USAGE: program bind4 (post_bind4): runs after a bind of an IPv4 socket: give a bound one (port above 0)',
    );
    expect(codeAndMessage(() => emu.program('create').testRun(new Uint8Array(0)))).toBe(
      'USAGE: program create (sock_create): give the socket it runs on: testRun(new Uint8Array(0), { socket: emu.socket({ protocol, port: 0 }) })',
    );
  });

  it('the CLI: the socket after sock_create, EPERM from post_bind4, refusals in words', async () => {
    const run = (prog: string, ...more: string[]) => cli('test-run', fixture('sock_create.o'), '--program', prog, ...more);
    // The CLI's emulation starts from the object's globals: mark_with 0, so only UDP's priority 5 shows.
    expect((await run('create', '--emulate', '--socket', 'udp 0.0.0.0:0')).stdout).toMatch(/^create: retval 1 \(0x1\) \(emulated, \d+ instructions\)\nsocket: bound_dev_if 0, mark 0x0, priority 5\n$/);
    expect((await run('bind4', '--emulate', '--socket', 'tcp 0.0.0.0:81')).stdout).toMatch(/\nthe call fails: EPERM\n$/);
    expect((await run('bind4', '--emulate', '--socket', 'tcp 127.0.0.1:81')).stdout).toMatch(/^bind4: retval 1 /);
    expect((await run('bind4', '--emulate')).stderr).toBe(
      "bpf-ts: bind4 is a cgroup sock program: it runs on one socket, --socket 'tcp|udp ADDR:PORT' (port 0: not bound yet, as sock_create sees it), not on a packet\n",
    );
    expect((await run('bind4', '--socket', 'tcp 127.0.0.1:81')).stderr).toBe(
      'bpf-ts: bind4 is a cgroup sock program: the kernel has no test run for those (it runs them in socket() and bind()): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n',
    );
  });
});

describeRoot('cgroup sock_addr: the emulator against the kernel running the hooks in real calls', () => {
  let lab: Lab;
  let caller: Caller;
  let cg: string;
  let kern: BpfCollection;
  let emu: EmulatedCollection;

  beforeAll(async () => {
    lab = new Lab('sa');
    ({ caller, cgroup: cg } = lab);
    const spec = openObject(fixture('sock_addr_nat.o'));
    kern = spec.load({ ignorePinning: true });
    emu = spec.emulate();
    fill(kern, Buffer.alloc(BSS.size));
    fill(emu, Buffer.alloc(BSS.size));
    // The backends, listening before any hook is attached.
    expect(await caller.call({ op: 'listen', addr: '127.0.0.1', port: 8080 })).toEqual({ ok: true });
    expect(await caller.call({ op: 'listen', addr: '::1', port: 8080 })).toEqual({ ok: true });
  }, 60_000);

  afterAll(() => {
    try {
      kern?.close();
    } finally {
      lab?.close();
    }
  });

  /** The kernel's seen after a call, and the emulator's after its run of the same hook. */
  const seen = (c: { map(n: string): { get(k: number): Buffer | Buffer[] | undefined } }) => (c.map('.bss').get(0) as Buffer).subarray(BSS.seen, BSS.seen + BSS.seenSize).toString('hex');
  const emulate = (prog: string, ctx: Buffer, socket?: EmulatedSocket) => {
    try {
      return emu.program(prog).testRun(new Uint8Array(0), { ctx, ...(socket ? { socket } : {}) });
    } catch (e) {
      if (e instanceof BpfError) throw new Error(`${prog}: ${e.message}`);
      throw e;
    }
  };
  /** Attach `prog` (named as its hook) to the cgroup for the calls `fn` makes. */
  const attached = async (prog: 'connect4' | 'connect6' | 'sendmsg4' | 'recvmsg4' | 'getpeername4' | 'bind4', fn: () => Promise<void>) => {
    const link = attachCgroupLink({ cgroup: cg, attachType: prog, program: kern.program(prog) });
    try {
      await fn();
    } finally {
      link.close();
    }
  };

  it('connect4 (TCP and UDP) and connect6: the peer each connection reached is the address the emulated hook left; a denied port is EPERM in both', async () => {
    await attached('connect4', async () => {
      for (const [proto, address, port] of [
        ['tcp', '10.0.0.1', 80],
        ['tcp', '127.0.0.1', 8080],
        ['tcp', '10.0.0.1', 9],
        ['udp', '10.0.0.1', 53],
        ['udp', '127.0.0.9', 4000], // not a service (the namespace routes only loopback)
        ['udp', '10.9.9.9', 9],
      ] as const) {
        const k = await caller.call({ op: `${proto}-connect`, addr: address, port, family: 4 });
        // node binds a UDP socket to a port before it connects it: ctx->sk is bound then; a TCP socket is not.
        const socket = proto === 'udp' ? emu.socket({ protocol: 'udp', port: k.local as number }) : undefined;
        const e = emulate('connect4', sockAddrCtx({ protocol: proto, address, port }), socket);
        const where = `${proto} connect to ${address}:${port}`;
        expect(e.retval === 0 ? { error: 'EPERM' } : { remote: leftAddress(e.ctxOut!) }, where).toEqual(k.error ? { error: k.error } : { remote: k.remote });
        expect(seen(emu), where).toBe(seen(kern));
      }
    });
    await attached('connect6', async () => {
      for (const [address, port, want] of [
        ['fd00::1', 80, ['::1', 8080]],
        ['::1', 8080, ['::1', 8080]],
      ] as const) {
        const k = await caller.call({ op: 'tcp-connect', addr: address, port });
        const e = emulate('connect6', sockAddrCtx({ protocol: 'tcp', address, port }));
        expect(k, `connect to [${address}]:${port}`).toMatchObject({ remote: want });
        expect({ retval: e.retval, to: leftAddress(e.ctxOut!, true) }).toEqual({ retval: 1, to: want });
        expect(seen(emu)).toBe(seen(kern));
      }
    });
  });

  it('sendmsg4: a datagram to the service reaches its backend from the source the hook chose (msg_src_ip4); a denied port is EPERM', async () => {
    await attached('sendmsg4', async () => {
      const k = await caller.call({ op: 'udp-send', addr: '10.0.0.1', port: 53, from: ['0.0.0.0', 40001], rcv: ['127.0.0.1', 5353] });
      // The sender is bound before it sends: ctx->sk is that socket.
      const sender = emu.socket({ protocol: 'udp', port: 40001 });
      const e = emulate('sendmsg4', sockAddrCtx({ protocol: 'udp', address: '10.0.0.1', port: 53 }), sender);
      expect(leftAddress(e.ctxOut!)).toEqual(['127.0.0.1', 5353]); // the receiver's address: it got the datagram
      expect(k).toEqual({ from: [[...e.ctxOut!.subarray(40, 44)].join('.'), 40001] });
      expect(seen(emu)).toBe(seen(kern));
      const denied = await caller.call({ op: 'udp-send', addr: '10.0.0.1', port: 9, from: ['0.0.0.0', 40002], rcv: ['127.0.0.1', 5354] });
      const d = emulate('sendmsg4', sockAddrCtx({ protocol: 'udp', address: '10.0.0.1', port: 9 }), emu.socket({ protocol: 'udp', port: 40002 }));
      expect({ denied, retval: d.retval }).toEqual({ denied: { error: 'EPERM' }, retval: 0 });
      expect(seen(emu)).toBe(seen(kern));
    });
  });

  it("recvmsg4 and getpeername4: a backend's address reads as the service's; others as they are", async () => {
    await attached('recvmsg4', async () => {
      for (const [from, rcvPort] of [
        [['127.0.0.1', 5353], 9100],
        [['127.0.0.1', 40003], 9101],
      ] as const) {
        const k = await caller.call({ op: 'udp-send', addr: '127.0.0.1', port: rcvPort, from, rcv: ['127.0.0.1', rcvPort] });
        const receiver = emu.socket({ protocol: 'udp', address: '127.0.0.1', port: rcvPort });
        const e = emulate('recvmsg4', sockAddrCtx({ protocol: 'udp', address: from[0], port: from[1] }), receiver);
        expect(k, `from ${from.join(':')}`).toEqual({ from: leftAddress(e.ctxOut!) });
        expect(seen(emu)).toBe(seen(kern));
      }
    });
    await attached('getpeername4', async () => {
      const k = await caller.call({ op: 'tcp-connect', addr: '127.0.0.1', port: 8080 });
      const local = k.local as number;
      const sock = emu.socket({ protocol: 'tcp', address: '127.0.0.1', port: local, remote: { address: '127.0.0.1', port: 8080 } });
      const e = emulate('getpeername4', sockAddrCtx({ protocol: 'tcp', address: '127.0.0.1', port: 8080 }), sock);
      expect(k.remote).toEqual(['10.0.0.1', 80]);
      expect(leftAddress(e.ctxOut!)).toEqual(k.remote);
      expect(seen(emu)).toBe(seen(kern));
    });
  });

  it('bind4: port 6000 binds as 7000, a denied port is EPERM, others bind as asked; and every hook ran as often in both', async () => {
    await attached('bind4', async () => {
      for (const [address, port] of [
        ['0.0.0.0', 6000],
        ['127.0.0.1', 6001],
        ['0.0.0.0', 9],
      ] as const) {
        const k = await caller.call({ op: 'bind', addr: address, port });
        const e = emulate('bind4', sockAddrCtx({ protocol: 'udp', address, port }));
        expect(e.retval === 0 ? { error: 'EPERM' } : { local: leftAddress(e.ctxOut!) }, `bind ${address}:${port}`).toEqual(k);
        expect(seen(emu)).toBe(seen(kern));
      }
    });
    const calls = (c: { map(n: string): { get(k: number): Buffer | Buffer[] | undefined } }) => {
      const b = c.map('.bss').get(0) as Buffer;
      return [0, 1, 2, 3, 4, 5].map((i) => b.readBigUInt64LE(BSS.calls + 8 * i));
    };
    expect(calls(emu)).toEqual(calls(kern));
  });
});

describeRoot('struct bpf_sock_addr: the loads and stores the verifier takes, hook by hook', () => {
  const A = { bind4: 8, connect4: 10, connect6: 11, sendmsg4: 14, sendmsg6: 15, recvmsg4: 19, getpeername6: 30 };
  for (const [hook, attach] of Object.entries(A)) {
    it(`${hook}: every load and store at every offset and width, taken or refused as by the verifier`, () => {
      const v6 = hook.endsWith('6');
      const ctx = sockAddrCtx({ protocol: 'udp', address: v6 ? '::1' : '127.0.0.1', port: 53, ...(hook.startsWith('sendmsg') ? { msgSrc: v6 ? '::1' : '127.0.0.1' } : {}) });
      const { diffs, taken } = accessDiffs('cgroup_sock_addr', attach, 72, (emu) => emu.program('p').testRun(new Uint8Array(0), { ctx }), /bpf_sock_addr/);
      expect(diffs).toEqual([]);
      expect(taken.load).toBeGreaterThan(0);
      expect(taken.store).toBeGreaterThan(0);
    });
  }
});

describeRoot('cgroup sock programs: the emulator against the kernel running them in socket() and bind()', () => {
  /** .bss of fixtures/sock_create.o (llvm-readelf's symbol table): calls at 0 (3 u64), seen at 0x18 (56 bytes), deny_protocol 0x50, mark_with 0x54, pin_tcp_to_lo 0x58. */
  const B = { seen: 0x18, seenSize: 56, deny: 0x50, mark: 0x54, pin: 0x58, size: 0x5c };
  const t = labWithObject('sc', 'sock_create.o', 120_000);
  const setGlobals = (g: { deny?: number }) => {
    for (const c of [t.kern, t.emu] as const) {
      const b = Buffer.alloc(B.size);
      b.writeUInt32LE(g.deny ?? 0, B.deny);
      b.writeUInt32LE(0x2a, B.mark);
      b.writeUInt32LE(1, B.pin);
      c.map('.bss').set(0, b);
    }
  };
  const seen = (c: { map(n: string): { get(k: number): Buffer | Buffer[] | undefined } }) => (c.map('.bss').get(0) as Buffer).subarray(B.seen, B.seen + B.seenSize).toString('hex');

  const attached = async (prog: 'create' | 'bind4' | 'bind6', attachType: 'sock_create' | 'post_bind4' | 'post_bind6', fn: () => Promise<void>) => {
    const link = attachCgroupLink({ cgroup: t.lab.cgroup, attachType, program: t.kern.program(prog) });
    try {
      await fn();
    } finally {
      link.close();
    }
  };

  it("sock_create: each new socket carries the mark, priority and device the program gave it, read back with getsockopt; a denied protocol's socket() is EPERM", async () => {
    setGlobals({});
    await attached('create', 'sock_create', async () => {
      for (const [family, proto] of [
        [4, 'tcp'],
        [4, 'udp'],
        [6, 'tcp'],
        [6, 'udp'],
      ] as const) {
        const k = await t.lab.caller.call({ op: 'socket', family, proto });
        const sock = t.emu.socket({ protocol: proto, family: family === 6 ? 'ipv6' : 'ipv4', port: 0 });
        const e = t.emu.program('create').testRun(new Uint8Array(0), { socket: sock });
        const where = `${proto} over IPv${family}`;
        expect({ mark: e.ctxOut!.readUInt32LE(16), priority: e.ctxOut!.readUInt32LE(20), ifindex: e.ctxOut!.readUInt32LE(0) }, where).toEqual(k);
        expect(sock.boundDevIf, where).toBe(k.ifindex); // the socket keeps what the program wrote
        expect(seen(t.emu), where).toBe(seen(t.kern));
      }
      setGlobals({ deny: 17 });
      const k = await t.lab.caller.call({ op: 'socket', family: 4, proto: 'udp' });
      const e = t.emu.program('create').testRun(new Uint8Array(0), { socket: t.emu.socket({ protocol: 'udp', port: 0 }) });
      expect({ k, retval: e.retval }).toEqual({ k: { error: 'EPERM' }, retval: 0 });
      expect(seen(t.emu)).toBe(seen(t.kern));
      setGlobals({});
    });
  });

  it('post_bind4 and post_bind6: a bind below port 1024 off loopback is EPERM, others stand, TCP and UDP, as the emulated hook answers', async () => {
    for (const [prog, attachType, cases] of [
      [
        'bind4',
        'post_bind4',
        [
          ['udp', '0.0.0.0', 80],
          ['udp', '127.0.0.1', 80],
          ['udp', '0.0.0.0', 6000],
          ['tcp', '0.0.0.0', 81],
          ['tcp', '127.0.0.1', 82],
        ],
      ],
      [
        'bind6',
        'post_bind6',
        [
          // Ports of their own: a dual-stack bind to :: would collide with the IPv4 binds above (EADDRINUSE).
          ['udp', '::', 90],
          ['udp', '::1', 91],
          ['tcp', '::', 6001],
        ],
      ],
    ] as const) {
      await attached(prog, attachType, async () => {
        for (const [proto, address, port] of cases) {
          const v6 = address.includes(':');
          const k = proto === 'udp' ? await t.lab.caller.call({ op: 'bind', family: v6 ? 6 : 4, addr: address, port }) : await t.lab.caller.call({ op: 'listen', addr: address, port });
          // post_bind runs once the port is taken, before a TCP socket listens.
          const sock = t.emu.socket({ protocol: proto, address, port, ...(proto === 'tcp' ? { listening: false } : {}) });
          const e = t.emu.program(prog).testRun(new Uint8Array(0), { socket: sock });
          const where = `${prog}: ${proto} bind ${address}:${port}`;
          expect([undefined, 'EPERM'], `${where}: the bind got as far as the hook`).toContain(k.error);
          expect(k.error === 'EPERM' ? 0 : 1, where).toBe(e.retval);
          expect(seen(t.emu), where).toBe(seen(t.kern));
        }
      });
    }
    const calls = (c: { map(n: string): { get(k: number): Buffer | Buffer[] | undefined } }) => [0, 1, 2].map((i) => (c.map('.bss').get(0) as Buffer).readBigUInt64LE(8 * i));
    expect(calls(t.emu)).toEqual(calls(t.kern));
  });
});

describeRoot('struct bpf_sock as a cgroup sock program sees it: the loads and stores the verifier takes, hook by hook', () => {
  const HOOKS = { sock_create: 2, sock_release: 34, post_bind4: 12, post_bind6: 13 } as const;
  for (const [hook, attach] of Object.entries(HOOKS)) {
    it(`${hook}: every load and store at every offset and width, taken or refused as by the verifier`, () => {
      const { diffs, taken } = accessDiffs(
        'cgroup_sock',
        attach,
        80,
        (emu) => {
          const socket = hook.startsWith('post_bind') ? emu.socket({ protocol: 'udp', address: hook === 'post_bind6' ? '::1' : '127.0.0.1', port: 53 }) : emu.socket({ protocol: 'tcp', port: 0 });
          emu.program('p').testRun(new Uint8Array(0), { socket });
        },
        /bpf_sock/,
      );
      expect(diffs).toEqual([]);
      // sock_create and sock_release write bound_dev_if, mark and priority (4 bytes each); post_bind nothing.
      expect(taken.store).toBe(hook.startsWith('sock_') ? 3 : 0);
    });
  }
});

describeRoot('bpf_get_retval and bpf_set_retval in cgroup hooks: the error a call gets, the emulator against the kernel', () => {
  // One program per case, attached alone to a test cgroup; the call made by a
  // process in it, and the emulated run's callRetval: the same error (or none).
  const A = BPF_ATTACH_TYPE;
  const SET = (v: number) => `r1 = ${v}\ncall bpf_set_retval#187`;
  const cases: [string, 'cgroup_sock_addr' | 'cgroup_sock', number, string][] = [
    ['connect4 returning 1', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, 'r0 = 1'],
    ['connect4 returning 0', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, 'r0 = 0'],
    ['connect4 setting -EACCES, returning 1', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, `${SET(-13)}\nr0 = 1`],
    ['connect4 setting -EACCES, returning 0', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, `${SET(-13)}\nr0 = 0`],
    ['connect4 setting 0, returning 0', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, `${SET(0)}\nr0 = 0`],
    ['connect4 setting -5000 (no errno), returning 0', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, `${SET(-5000)}\nr0 = 0`],
    ['connect4 returning 1 only while bpf_get_retval is 0', 'cgroup_sock_addr', A.CGROUP_INET4_CONNECT, 'call bpf_get_retval#186\nr1 = r0\nr0 = 1\nif r1 == 0 goto +1\nr0 = 0'],
    ['bind4 returning 2 (the flag, no verdict)', 'cgroup_sock_addr', A.CGROUP_INET4_BIND, 'r0 = 2'],
    ['bind4 returning 3 (the flag and the verdict)', 'cgroup_sock_addr', A.CGROUP_INET4_BIND, 'r0 = 3'],
    ['sock_create setting -EACCES, returning 0', 'cgroup_sock', A.CGROUP_INET_SOCK_CREATE, `${SET(-13)}\nr0 = 0`],
    ['sock_create setting -EPROTONOSUPPORT, returning 1', 'cgroup_sock', A.CGROUP_INET_SOCK_CREATE, `${SET(-93)}\nr0 = 1`],
  ];
  let lab: Lab;
  beforeAll(() => {
    lab = new Lab('rv');
  }, 60_000);
  afterAll(() => lab?.close());

  for (const [what, type, attach, body] of cases)
    it(what, async () => {
      const spec = BpfObjectSpec.fromInstructions(assemble(`${body}\nexit`).bytes, { type, name: 'p', expectedAttachType: attach });
      using kern = spec.load();
      const emu = spec.emulate();
      let answer: Awaited<ReturnType<Caller['call']>>;
      let e;
      {
        using _link = attachCgroupLink({ cgroup: lab.cgroup, program: kern.program('p'), attachType: attach });
        if (attach === A.CGROUP_INET_SOCK_CREATE) {
          answer = await lab.caller.call({ op: 'socket', family: 4, proto: 'udp' });
          e = emu.program('p').testRun(new Uint8Array(0), { socket: emu.socket({ protocol: 'udp', port: 0 }) });
        } else if (attach === A.CGROUP_INET4_BIND) {
          answer = await lab.caller.call({ op: 'bind', addr: '127.0.0.1', port: 0 });
          e = emu.program('p').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'udp', address: '127.0.0.1', port: 0 }) });
        } else {
          // Nothing listens on port 9: a connection let through is refused by the peer, not the hook.
          answer = await lab.caller.call({ op: 'tcp-connect', addr: '127.0.0.1', port: 9 });
          e = emu.program('p').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'tcp', address: '127.0.0.1', port: 9 }) });
        }
      }
      const ERR: Record<number, string> = { [-1]: 'EPERM', [-13]: 'EACCES', [-93]: 'EPROTONOSUPPORT' };
      if (e.callRetval === 0) expect(answer.error ?? 'none').toMatch(/^(none|ECONNREFUSED)$/);
      else expect(answer.error).toBe(ERR[e.callRetval!]);
    });
});
