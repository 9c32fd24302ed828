// Socket lookup (sk_lookup) programs in the emulator, as BPF_PROG_TEST_RUN
// runs them: fixtures/sk_lookup_assign.o reads its struct bpf_sk_lookup and
// the struct bpf_sock of the sockets its SOCKMAP and SOCKHASH hold, and
// bpf_sk_assign picks one as local_port's bits say. Against the kernel: real
// sockets in a network namespace this file makes (TCP listeners and
// established connections, bound and connected UDP sockets, IPv4, IPv6,
// dual-stack and v6-only, SO_REUSEPORT, SO_MARK/SO_PRIORITY), the same
// sockets described to the emulator with the kernel's own cookies (SO_COOKIE),
// and random lookups: the same verdict, cookie, context back, everything the
// program saw, or the same refusal.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { createNetns, deleteNetns, withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';
import { type EmulatedSocketSpec, skLookupCtx } from '../../src/vm/index.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { tcp } from '../helpers/packets.js';
import { codeAndMessage } from '../helpers/thrown.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** struct bpf_sk_lookup as a test run takes it. */
function lookupCtx(f: { family: number; protocol: number; remote?: number[]; local?: number[]; remotePort?: number; localPort: number }): Buffer {
  const b = Buffer.alloc(72);
  b.writeUInt32LE(f.family, 8);
  b.writeUInt32LE(f.protocol, 12);
  const put = (addr: number[] | undefined, at4: number, at6: number) => {
    if (!addr) return;
    Buffer.from(addr).copy(b, addr.length === 4 ? at4 : at6);
  };
  put(f.remote, 16, 20);
  put(f.local, 40, 44);
  b.writeUInt16BE(f.remotePort ?? 0, 36);
  b.writeUInt32LE(f.localPort, 60);
  return b;
}

/** An Ethernet frame holding an IPv6 TCP segment (no extension headers). */
function tcp6(src: number[], sport: number, dst: number[], dport: number): Buffer {
  const f = Buffer.alloc(14 + 40 + 20);
  f.writeUInt16BE(0x86dd, 12);
  f[14] = 0x60;
  f.writeUInt16BE(20, 18); // payload length
  f[20] = 6; // next header: TCP
  f[21] = 64;
  Buffer.from(src).copy(f, 22);
  Buffer.from(dst).copy(f, 38);
  f.writeUInt16BE(sport, 54);
  f.writeUInt16BE(dport, 56);
  f[66] = 5 << 4;
  f[67] = 0x02; // SYN
  return f;
}

/** local_port's bits as the program reads them (bpf/sk_lookup_assign.c). */
const bits = (o: { slot: number; flags?: number; key?: number; flags2?: number; nullSecond?: boolean; drop?: boolean }) =>
  o.slot | ((o.flags ?? 0) << 3) | (o.key === undefined ? 0 : (1 << 6) | (o.key << 7)) | ((o.flags2 ?? 0) << 10) | (o.nullSecond ? 1 << 12 : 0) | (o.drop ? 1 << 13 : 0);

/** struct seen's fields this file asserts (offsets from llvm-objdump of the fixture: found1 at 0x48, err1 at 0x58). */
const seenOf = (b: Buffer) => ({
  family: b.readUInt32LE(0),
  protocol: b.readUInt32LE(4),
  localPort: b.readUInt32LE(0x3c),
  found1: b.readUInt32LE(0x48),
  err1: b.readBigInt64LE(0x58),
  err2: b.readBigInt64LE(0x60),
});

describe('socket lookup programs in the emulator', () => {
  const setup = () => {
    const emu = openObject(fixture('sk_lookup_assign.o')).emulate();
    const listener = emu.socket({ protocol: 'tcp', address: '127.0.0.1', port: 7001 });
    const udp = emu.socket({ protocol: 'udp', port: 7002 });
    const shared = emu.socket({ protocol: 'tcp', address: '127.0.0.1', port: 7005, reuseport: true });
    const v6only = emu.socket({ protocol: 'udp', address: '::1', port: 7004, v6only: true });
    emu.map('socks').set(0, listener);
    emu.map('socks').set(1, udp);
    emu.map('socks').set(3, v6only);
    emu.map('socks').set(4, shared);
    emu.map('by_key').set(5, listener);
    return { emu, prog: emu.program('pick'), listener, udp, shared };
  };

  it('bpf_sk_assign picks the socket: SK_PASS, its cookie in ctxOut, the socket in the result', () => {
    const { emu, prog, listener } = setup();
    expect(listener.cookie).toBe(1n);
    const r = prog.testRun(new Uint8Array(0), { ctx: lookupCtx({ family: AF_INET, protocol: IPPROTO_TCP, localPort: bits({ slot: 0 }) }) });
    expect(r.verdict).toBe('SK_PASS');
    expect(r.ctxOut!.readBigUInt64LE(0)).toBe(1n);
    expect(r.socket).toBe(listener);
    expect(seenOf(emu.map('.bss').get(0) as Buffer)).toEqual({ family: AF_INET, protocol: IPPROTO_TCP, localPort: 0, found1: 1, err1: 0n, err2: 0n });
    // The user side of a SOCKMAP reads the socket's cookie, as the kernel's does.
    expect(emu.map('socks').get(0)).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    expect(emu.map('socks').get(2)).toBeUndefined();
  });

  it("the kernel's refusals: a UDP socket for TCP, an IPv6-only socket for IPv4, a second pick without REPLACE, unknown flags", () => {
    const { emu, prog, udp, listener } = setup();
    const run = (localPort: number, protocol = IPPROTO_TCP, family = AF_INET) => {
      const r = prog.testRun(new Uint8Array(0), { ctx: lookupCtx({ family, protocol, localPort }) });
      return { ...seenOf(emu.map('.bss').get(0) as Buffer), cookie: r.ctxOut!.readBigUInt64LE(0) };
    };
    expect(run(bits({ slot: 1 }))).toMatchObject({ err1: -91n, cookie: 0n }); // EPROTOTYPE
    expect(run(bits({ slot: 1 }), IPPROTO_UDP)).toMatchObject({ err1: 0n, cookie: udp.cookie });
    expect(run(bits({ slot: 3 }), IPPROTO_UDP)).toMatchObject({ err1: -97n, cookie: 0n }); // EAFNOSUPPORT
    expect(run(bits({ slot: 0, flags: 4 }))).toMatchObject({ err1: -22n, cookie: 0n }); // EINVAL
    expect(run(bits({ slot: 0, key: 5 }))).toMatchObject({ err1: 0n, err2: -17n, cookie: listener.cookie }); // EEXIST
    expect(run(bits({ slot: 0, key: 5, flags2: 1, nullSecond: true }))).toMatchObject({ err1: 0n, err2: 0n, cookie: 0n }); // REPLACE with NULL
    expect(run(bits({ slot: 0, drop: true }))).toMatchObject({ err1: 0n, cookie: 0n }); // SK_DROP keeps no socket
  });

  it('a socket with SO_REUSEPORT is refused unless picked with BPF_SK_LOOKUP_F_NO_REUSEPORT', () => {
    const { prog, shared } = setup();
    const ctx = (flags: number) => ({ ctx: lookupCtx({ family: AF_INET, protocol: IPPROTO_TCP, localPort: bits({ slot: 4, flags }) }) });
    expect(codeAndMessage(() => prog.testRun(new Uint8Array(0), ctx(0)))).toBe(
      `INVALID_ARGUMENT: program pick: it chose socket cookie ${shared.cookie}, which has SO_REUSEPORT: a test run cannot pick from its group (assign with BPF_SK_LOOKUP_F_NO_REUSEPORT) (BPF_PROG_TEST_RUN refuses it: EOPNOTSUPP)`,
    );
    expect(prog.testRun(new Uint8Array(0), ctx(2)).socket).toBe(shared);
  });

  it('refuses the contexts the kernel refuses, naming the field', () => {
    const { prog } = setup();
    const ok = lookupCtx({ family: AF_INET, protocol: IPPROTO_TCP, localPort: 0 });
    const with_ = (f: (b: Buffer) => void) => {
      const b = Buffer.from(ok);
      f(b);
      return { ctx: b };
    };
    const msg = (o: { ctx?: Buffer }, data = new Uint8Array(0)) => codeAndMessage(() => prog.testRun(data, o));
    expect(msg({})).toBe('USAGE: program pick: a socket lookup test run needs a struct bpf_sk_lookup ctx (family, protocol, addresses and ports) (BPF_PROG_TEST_RUN refuses it: EINVAL)');
    expect(msg({ ctx: ok }, new Uint8Array(14))).toBe('USAGE: program pick: a socket lookup test run takes no packet, only its struct bpf_sk_lookup ctx (BPF_PROG_TEST_RUN refuses it: EINVAL)');
    expect(msg(with_((b) => b.writeUInt32LE(9, 0)))).toBe('USAGE: program pick: its sk (cookie) field is set: the run fills it in (BPF_PROG_TEST_RUN refuses it: EINVAL)');
    expect(msg(with_((b) => b.writeUInt32LE(1, 64)))).toBe(
      'USAGE: program pick: bytes from offset 64 (ingress_ifindex) are set: a test run takes fields up to local_port (BPF_PROG_TEST_RUN refuses it: EINVAL)',
    );
    expect(msg(with_((b) => b.writeUInt32LE(0x10000, 60)))).toBe('USAGE: program pick: local_port 65536 is not a port (BPF_PROG_TEST_RUN refuses it: ERANGE)');
    expect(msg(with_((b) => b.writeUInt32LE(1, 8)))).toBe('USAGE: program pick: family 1 is neither AF_INET (2) nor AF_INET6 (10) (BPF_PROG_TEST_RUN refuses it: EAFNOSUPPORT)');
  });

  it('sockets: a SOCKMAP takes only sockets of its emulation, in its slots; sockets are described in words or refused', () => {
    const { emu, listener } = setup();
    expect(codeAndMessage(() => emu.map('socks').set(8, listener))).toBe('SYSCALL: emulated map socks: set: E2BIG');
    expect(codeAndMessage(() => emu.map('socks').set(0, 5))).toBe('SYSCALL: emulated map socks: set: EINVAL: a sockmap holds sockets: set one EmulatedCollection.socket() made');
    expect(codeAndMessage(() => emu.map('socks').set(0, listener, 'noexist'))).toBe('SYSCALL: emulated map socks: set: EEXIST');
    const other = openObject(fixture('sk_lookup_assign.o')).emulate().socket({ protocol: 'udp', port: 1 });
    expect(codeAndMessage(() => emu.map('socks').set(2, other))).toBe('SYSCALL: emulated map socks: set: EINVAL: socket cookie 1 belongs to another emulation');
    expect(codeAndMessage(() => emu.socket({ protocol: 'udp', port: 9, cookie: 1n }))).toBe('USAGE: emulated socket: cookie 1 is taken by another socket of this emulation');
    expect(codeAndMessage(() => emu.socket({ protocol: 'tcp', address: '10.0.0.300', port: 9 }))).toBe('USAGE: emulated socket tcp 10.0.0.300:9: "10.0.0.300" is not an IPv4 or IPv6 address');
    expect(codeAndMessage(() => emu.socket({ protocol: 'tcp', port: 70000 }))).toBe('USAGE: emulated socket tcp :70000: port 70000 is not 0..65535');
    expect(codeAndMessage(() => emu.socket({ protocol: 'udp', port: 0, remote: { address: '1.2.3.4', port: 5 } }))).toBe(
      'USAGE: emulated socket udp :0: a connected or SO_REUSEPORT socket is bound to a port',
    );
    // Port 0: a socket not bound yet, which the kernel's SOCKMAP refuses.
    const unbound = emu.socket({ protocol: 'udp', port: 0 });
    expect(codeAndMessage(() => emu.map('socks').set(2, unbound))).toBe(`SYSCALL: emulated map socks: set: EOPNOTSUPP: socket cookie ${unbound.cookie} is not bound`);
    expect(codeAndMessage(() => emu.socket({ protocol: 'udp', address: '1.2.3.4', port: 9, v6only: true }))).toBe("USAGE: emulated socket udp 1.2.3.4:9: v6only is an IPv6 socket's option");
    expect(emu.socket({ protocol: 'udp', port: 9 }).cookie).toBe(6n); // after the four setup() made and the unbound one
    expect(emu.map('socks').delete(0)).toBe(true);
    expect(emu.map('socks').get(0)).toBeUndefined();
  });
});

describe('bpf_sk_lookup_tcp/udp in the emulator: the sockets emu.socket() made', () => {
  /** tc_lookup's answer for an IPv4 tuple (fixtures/sk_lookup_helpers.o: .bss answer at 0, query at 0x48). */
  const ask = (emu: ReturnType<ReturnType<typeof openObject>['emulate']>, q: { udp?: boolean; src: number[]; sport: number; dst: number[]; dport: number; netns?: bigint; flags?: bigint }) => {
    const query = Buffer.alloc(64);
    query.writeUInt32LE(q.udp ? 1 : 0, 0);
    query.writeUInt32LE(12, 4);
    query.writeBigUInt64LE(q.netns ?? 0xffffffffn, 8);
    query.writeBigUInt64LE(q.flags ?? 0n, 16);
    Buffer.from([...q.src, ...q.dst]).copy(query, 24);
    query.writeUInt16BE(q.sport, 32);
    query.writeUInt16BE(q.dport, 34);
    emu.map('.bss').set(0, Buffer.concat([Buffer.alloc(0x48), query]));
    const frame = Buffer.alloc(64);
    frame.writeUInt16BE(0x0800, 12);
    emu.program('tc_lookup').testRun(frame);
    const a = emu.map('.bss').get(0) as Buffer;
    return a.readUInt32LE(0) ? { state: a.readUInt32LE(8), port: a.readUInt32LE(20) } : null;
  };

  it('a connection before a listener, an address before the wildcard; another namespace id, flags, or nothing there: none', () => {
    const emu = openObject(fixture('sk_lookup_helpers.o')).emulate();
    emu.socket({ protocol: 'tcp', port: 80 }); // 0.0.0.0:80, listening
    emu.socket({ protocol: 'tcp', address: '10.0.0.2', port: 80 });
    emu.socket({ protocol: 'tcp', address: '10.0.0.2', port: 80, remote: { address: '192.0.2.1', port: 40000 }, accepted: true });
    emu.socket({ protocol: 'udp', address: '10.0.0.2', port: 53 });
    const from = (src: number[], sport: number, dst: number[], extra = {}) => ask(emu, { src, sport, dst, dport: 80, ...extra });
    expect(from([192, 0, 2, 1], 40000, [10, 0, 0, 2])).toEqual({ state: 1, port: 80 }); // TCP_ESTABLISHED
    expect(from([192, 0, 2, 1], 40001, [10, 0, 0, 2])).toEqual({ state: 10, port: 80 }); // TCP_LISTEN on 10.0.0.2
    expect(from([192, 0, 2, 1], 40001, [10, 0, 0, 3])).toEqual({ state: 10, port: 80 }); // the wildcard listener
    expect(ask(emu, { udp: true, src: [1, 1, 1, 1], sport: 5, dst: [10, 0, 0, 2], dport: 53 })).toEqual({ state: 7, port: 53 }); // TCP_CLOSE: a bound UDP socket
    expect(from([192, 0, 2, 1], 40000, [10, 0, 0, 2], { netns: 0n })).toBeNull();
    expect(from([192, 0, 2, 1], 40000, [10, 0, 0, 2], { flags: 1n })).toBeNull();
    expect(ask(emu, { src: [1, 1, 1, 1], sport: 5, dst: [10, 0, 0, 2], dport: 81 })).toBeNull();
  });
});

describe('skLookupCtx and bpf-ts test-run --lookup', () => {
  it('skLookupCtx: the struct bpf_sk_lookup of a lookup in words, IPv4 and IPv6', () => {
    expect(skLookupCtx({ protocol: 'udp', remote: { address: '192.0.2.1', port: 5353 }, local: { address: '10.0.0.2', port: 8003 } })).toEqual(
      lookupCtx({ family: AF_INET, protocol: IPPROTO_UDP, remote: [192, 0, 2, 1], local: [10, 0, 0, 2], remotePort: 5353, localPort: 8003 }),
    );
    const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), last];
    expect(skLookupCtx({ protocol: 'tcp', remote: { address: '2001:db8::1', port: 40000 }, local: { address: '2001:db8::2', port: 443 } })).toEqual(
      lookupCtx({ family: AF_INET6, protocol: IPPROTO_TCP, remote: v6(1), local: v6(2), remotePort: 40000, localPort: 443 }),
    );
    expect(codeAndMessage(() => skLookupCtx({ protocol: 'tcp', remote: { address: '::1', port: 1 }, local: { address: '10.0.0.2', port: 2 } }))).toBe(
      'USAGE: lookup tcp ::1:1 -> 10.0.0.2:2: one end is IPv4 and the other IPv6',
    );
  });

  it('--emulate --lookup: the verdict and the socket chosen, in words and as JSON; the inputs it needs, in words', async () => {
    const lookup = ['--lookup', 'udp 192.0.2.1:5353 -> 10.0.0.2:8003'];
    const text = await cliOk('test-run', fixture('sk_lookup.o'), '--emulate', ...lookup);
    expect(text.stdout).toBe(
      "steer_ports: SK_PASS (retval 1) (emulated, 16 instructions)\nsocket chosen: none\n(the emulator's SOCKMAPs and SOCKHASHes start empty: give them sockets with --socket 'MAP[KEY]=tcp|udp ADDR:PORT')\n",
    );
    // --socket: the socket in the map's slot, the one chosen named; a TCP lookup it refuses (EPROTOTYPE), and steer_ports drops.
    const withSocket = await cliOk('test-run', fixture('sk_lookup.o'), '--emulate', ...lookup, '--socket', 'target[0]=udp 0.0.0.0:7000');
    expect(withSocket.stdout).toBe('steer_ports: SK_PASS (retval 1) (emulated, 34 instructions)\nsocket chosen: cookie 1 (udp 0.0.0.0:7000, target[0])\n');
    const tcp = await cliOk('test-run', fixture('sk_lookup.o'), '--emulate', '--lookup', 'tcp [2001:db8::1]:1 -> [2001:db8::2]:8009', '--socket', 'target[0]=tcp [::]:7000 v6only', '--json');
    expect(tcp.json()).toMatchObject({ retval: 1, verdict: 'SK_PASS', socketCookie: 1 });
    const refused = await cliOk('test-run', fixture('sk_lookup.o'), '--emulate', '--lookup', 'tcp 192.0.2.1:1 -> 10.0.0.2:8009', '--socket', 'target[0]=tcp [::]:7000 v6only');
    expect(refused.stdout).toMatch(/^steer_ports: SK_DROP \(retval 0\).*\nsocket chosen: none\n$/);
    const json = (await cliOk('test-run', fixture('sk_lookup.o'), '--emulate', ...lookup, '--json')).json();
    expect(json).toMatchObject({
      retval: 1,
      verdict: 'SK_PASS',
      socketCookie: null,
      ctxOutHex: skLookupCtx({ protocol: 'udp', remote: { address: '192.0.2.1', port: 5353 }, local: { address: '10.0.0.2', port: 8003 } }).toString('hex'),
    });
    const errors: [string[], string][] = [
      [[], "bpf-ts: steer_ports is a sk_lookup program: give the lookup it runs on, e.g. --lookup 'tcp 192.0.2.1:40000 -> 10.0.0.2:8003' (or --ctx-hex with a struct bpf_sk_lookup)\n"],
      [['--data-hex', '00'.repeat(14)], "bpf-ts: steer_ports is a sk_lookup program: it runs on a lookup (--lookup 'tcp 192.0.2.1:40000 -> 10.0.0.2:8003'), not on a packet\n"],
      [['--lookup', 'tcp 1.2.3.4 -> 5.6.7.8:9'], `bpf-ts: --lookup "tcp 1.2.3.4 -> 5.6.7.8:9": write it as 'tcp|udp SRC:PORT -> DST:PORT' (IPv6 in brackets: [2001:db8::1]:443)\n`],
      [[...lookup, '--ctx-hex', '00'], 'bpf-ts: give the lookup as --lookup or as --ctx-hex (a struct bpf_sk_lookup), not both\n'],
      [[...lookup, '--socket', 'target[0]=udp 7000'], `bpf-ts: --socket "target[0]=udp 7000": write it as '[MAP[KEY]=]tcp|udp ADDR:PORT [-> PEER:PORT] [reuseport] [v6only]' (IPv6 in brackets)\n`],
      [[...lookup, '--socket', 'target[1]=udp 0.0.0.0:7000'], 'bpf-ts: emulated map target: set: E2BIG\n'],
    ];
    for (const [args, stderr] of errors) {
      const r = await cli('test-run', fixture('sk_lookup.o'), '--emulate', ...args);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr });
    }
    const xdp = await cli('test-run', fixture('drop_all.o'), '--emulate', ...lookup, '--data-hex', '00'.repeat(14));
    expect(xdp.stderr).toMatch(/--lookup is the input of sk_lookup programs\n$/);
  });
});

describe('bpf-ts test-run --emulate --socket for an XDP or TC program', () => {
  it('tc_no_listener_drop: a SYN to 10.0.0.2:80 passes with a listener there (--socket without a map slot), is dropped without one', async () => {
    const syn = tcp({ dst: '10.0.0.2', dport: 80, flags: 2 }).toString('hex');
    const run = (...more: string[]) => cliOk('test-run', fixture('sk_lookup_helpers.o'), '--program', 'tc_no_listener_drop', '--emulate', '--data-hex', syn, ...more);
    expect((await run('--socket', 'tcp 10.0.0.2:80')).stdout).toMatch(/^tc_no_listener_drop: TC_ACT_OK \(retval 0\) \(emulated, \d+ instructions\)\n$/);
    expect((await run('--socket', 'tcp 0.0.0.0:80')).stdout).toMatch(/^tc_no_listener_drop: TC_ACT_OK /);
    expect((await run('--socket', 'tcp 10.0.0.3:80')).stdout).toMatch(/^tc_no_listener_drop: TC_ACT_SHOT \(retval 2\)/);
    expect((await run()).stdout).toMatch(/^tc_no_listener_drop: TC_ACT_SHOT \(retval 2\)/);
  });
});

// ---------------------------------------------------------------- against the kernel

const SOL_SOCKET = 1;
const SO_REUSEPORT = 15;
const SO_PRIORITY = 12;
const SO_MARK = 36;
const SO_COOKIE = 57;
const SO_REUSEADDR = 2;
const SO_BINDTODEVICE = 25;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;

function sockaddr(address: string, port: number): Buffer {
  if (!address.includes(':')) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    Buffer.from(address.split('.').map(Number)).copy(b, 4);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  // The addresses this file uses: ::, ::1 and ::ffff:a.b.c.d.
  if (address === '::1') b[23] = 1;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) {
    b.writeUInt16BE(0xffff, 18);
    Buffer.from(mapped[1]!.split('.').map(Number)).copy(b, 20);
  }
  return b;
}

const check = (r: number, what: string) => {
  if (r < 0) throw new Error(`${what}: errno ${-r}`);
  return r;
};

/** The sockets: each made for real in the namespace and described to the emulator. */
const SOCKETS: (EmulatedSocketSpec & { reuseaddr?: boolean })[] = [
  { protocol: 'tcp', address: '127.0.0.1', port: 7001, mark: 0x77, priority: 3 },
  { protocol: 'udp', address: '0.0.0.0', port: 7002 },
  { protocol: 'tcp', address: '::', port: 7003, family: 'ipv6' },
  { protocol: 'udp', address: '::1', port: 7004, v6only: true },
  { protocol: 'tcp', address: '127.0.0.1', port: 7005, reuseport: true },
  { protocol: 'tcp', address: '127.0.0.1', port: 7006, remote: { address: '127.0.0.1', port: 7001 } },
  { protocol: 'udp', address: '127.0.0.1', port: 7007, reuseport: true },
  { protocol: 'udp', address: '127.0.0.1', port: 7008, remote: { address: '127.0.0.1', port: 7002 } },
  { protocol: 'tcp', address: '::ffff:127.0.0.1', port: 7009, family: 'ipv6' },
  { protocol: 'tcp', address: '::1', port: 7010, remote: { address: '::1', port: 7003 } },
  { protocol: 'udp', address: '::1', port: 7011, remote: { address: '::1', port: 7004 } },
  { protocol: 'tcp', address: '::ffff:127.0.0.1', port: 7012, family: 'ipv6', remote: { address: '::ffff:127.0.0.1', port: 7001 } },
  // Bound to lo (SO_BINDTODEVICE): found from lo only.
  { protocol: 'udp', address: '0.0.0.0', port: 7013, boundDevIf: 1 },
  { protocol: 'tcp', address: '0.0.0.0', port: 7014, boundDevIf: 1 },
  // Two UDP sockets on one address and port (SO_REUSEADDR): the connected one for its peer, the other for the rest.
  { protocol: 'udp', address: '127.0.0.1', port: 7015, reuseaddr: true },
  { protocol: 'udp', address: '127.0.0.1', port: 7015, reuseaddr: true, remote: { address: '127.0.0.1', port: 7002 } },
];
/** The connections the listeners accepted (the kernel has them too): sockets 5, 9 and 11 from the server's side. */
const ACCEPTED: EmulatedSocketSpec[] = [
  { protocol: 'tcp', address: '127.0.0.1', port: 7001, remote: { address: '127.0.0.1', port: 7006 }, accepted: true },
  { protocol: 'tcp', address: '::1', port: 7003, remote: { address: '::1', port: 7010 }, accepted: true },
  { protocol: 'tcp', address: '127.0.0.1', port: 7001, remote: { address: '127.0.0.1', port: 7012 }, accepted: true },
];
/** socks slots 0-6 and by_key keys 0-6 (7 of each stays empty): sockets by index. */
const SOCKS = [0, 1, 2, 3, 4, 5, 6];
const BY_KEY = [8, 9, 11, 3, 7, 4, 10];

describeRoot('socket lookup: the emulator against BPF_PROG_TEST_RUN', () => {
  const ns = `bpf-ts-skl-${process.pid}`;
  const fds: number[] = [];
  const cookies: bigint[] = [];
  beforeAll(() => {
    createNetns(ns);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    withNetns(ns, () => {
      for (const s of SOCKETS) {
        const v6 = s.family === 'ipv6' || s.address!.includes(':');
        const fd = check(ffi.socket(v6 ? AF_INET6 : AF_INET, (s.protocol === 'tcp' ? 1 : 2) | ffi.SOCK_CLOEXEC, 0), 'socket');
        fds.push(fd);
        const int = (v: number) => Buffer.from(new Uint32Array([v]).buffer);
        if (s.reuseport) check(ffi.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, int(1)), 'SO_REUSEPORT');
        if (s.v6only) check(ffi.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, int(1)), 'IPV6_V6ONLY');
        if (s.mark) check(ffi.setsockopt(fd, SOL_SOCKET, SO_MARK, int(s.mark)), 'SO_MARK');
        if (s.priority) check(ffi.setsockopt(fd, SOL_SOCKET, SO_PRIORITY, int(s.priority)), 'SO_PRIORITY');
        if (s.reuseaddr) check(ffi.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, int(1)), 'SO_REUSEADDR');
        if (s.boundDevIf) check(ffi.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from('lo\0')), 'SO_BINDTODEVICE');
        check(ffi.bind(fd, sockaddr(s.address!, s.port)), `bind ${s.address}:${s.port}`);
        if (s.remote) check(ffi.connect(fd, sockaddr(s.remote.address, s.remote.port)), `connect to ${s.remote.address}:${s.remote.port}`);
        else if (s.protocol === 'tcp') check(ffi.listen(fd, 4), 'listen');
        const c = Buffer.alloc(8);
        check(ffi.getsockopt(fd, SOL_SOCKET, SO_COOKIE, c), 'SO_COOKIE');
        cookies.push(c.readBigUInt64LE(0));
      }
    });
  });
  afterAll(() => {
    for (const fd of fds) ffi.close(fd);
    deleteNetns(ns, { force: true });
  });

  const setup = () => {
    const spec = openObject(fixture('sk_lookup_assign.o'));
    const kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate();
    const sockets = SOCKETS.map(({ reuseaddr: _, ...s }, i) => emu.socket({ ...s, cookie: cookies[i]! }));
    SOCKS.forEach((s, slot) => {
      kern.map('socks').set(slot, fds[s]!);
      emu.map('socks').set(slot, sockets[s]!);
    });
    BY_KEY.forEach((s, key) => {
      kern.map('by_key').set(key, fds[s]!);
      emu.map('by_key').set(key, sockets[s]!);
    });
    return { kern, emu };
  };

  it("a SOCKMAP and SOCKHASH read back each socket's cookie (SO_COOKIE), in the kernel and the emulator", () => {
    const { kern, emu } = setup();
    using _k = kern;
    for (const m of ['socks', 'by_key'] as const)
      for (let k = 0; k < 8; k++) {
        const want = (m === 'socks' ? SOCKS : BY_KEY)[k];
        const kv = kern.map(m).get(k) ?? null;
        expect(kv === null ? null : kv.readBigUInt64LE(0), `${m}[${k}]`).toBe(want === undefined ? null : cookies[want]!);
        expect(emu.map(m).get(k) ?? null).toEqual(kv);
      }
  });

  it("every socket's struct bpf_sock, field by field, as the kernel shows it (through the SOCKMAP, the SOCKHASH and ctx->sk)", () => {
    const { kern, emu } = setup();
    using _k = kern;
    const fields = ['bound_dev_if', 'family', 'type', 'protocol', 'mark', 'priority', 'src_ip4', 'src_ip6', 'src_port', 'dst_port', 'dst_ip4', 'dst_ip6', 'state', 'rx_queue_mapping'];
    const at = [0, 4, 8, 12, 16, 20, 24, 28, 44, 48, 52, 56, 72, 76, 80];
    const sock = (b: Buffer, o: number) => Object.fromEntries(fields.map((f, i) => [f, b.subarray(o + at[i]!, o + at[i + 1]!).toString('hex')]));
    let compared = 0;
    for (let slot = 0; slot < 8; slot++)
      for (const family of [AF_INET, AF_INET6])
        for (const protocol of [IPPROTO_TCP, IPPROTO_UDP]) {
          // An unknown flag keeps the first socket from being picked; the second is picked when it may be (ctx->sk then reads it).
          const ctx = lookupCtx({ family, protocol, localPort: bits({ slot, flags: 4, key: slot, flags2: 2 }) });
          const k = kern.program('pick').testRun(new Uint8Array(0), { ctx });
          const e = emu.program('pick').testRun(new Uint8Array(0), { ctx });
          const kb = kern.map('.bss').get(0)!;
          const eb = emu.map('.bss').get(0) as Buffer;
          const where = `slot/key ${slot}, family ${family}, protocol ${protocol}`;
          for (const [name, off] of [
            ['sk1', 0x68],
            ['sk2', 0x68 + 80],
            ['after', 0x68 + 160],
          ] as const)
            expect(sock(eb, off), `${where}: ${name}`).toEqual(sock(kb, off));
          expect({ retval: e.retval, ctxOut: e.ctxOut, seen: eb.toString('hex') }, where).toEqual({ retval: k.retval, ctxOut: k.ctxOut, seen: kb.toString('hex') });
          if (kb.readUInt32LE(0x50)) compared++;
        }
    // ctx->sk read a picked socket in the kernel's runs four times: the listener on
    // ::ffff:127.0.0.1 (key 0) for TCP over IPv4 and IPv6, the v6-only UDP socket
    // (key 3) for UDP over IPv6, the SO_REUSEPORT listener (key 5) for TCP over IPv4.
    expect(compared).toBe(4);
  });

  it('bpf_sk_lookup_tcp/udp and bpf_skc_lookup_tcp from TC and XDP: 600 random tuples find the socket the kernel finds, or none', () => {
    // A second device in the namespace: a packet on it does not find the sockets bound to lo.
    execFileSync('ip', ['-n', ns, 'link', 'add', 'bpfts-d0', 'type', 'veth', 'peer', 'name', 'bpfts-d1']); // both ends in the test's namespace
    const [{ ifindex: d0 }] = JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'bpfts-d0'], { encoding: 'utf8' })) as [{ ifindex: number }];
    const spec = openObject(fixture('sk_lookup_helpers.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate({ devices: { [d0]: {} } });
    for (const [i, { reuseaddr: _, ...s }] of SOCKETS.entries()) emu.socket({ ...s, cookie: cookies[i]! });
    for (const s of ACCEPTED) emu.socket(s);
    let seed = 0x10c;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const v4 = (a: string) => a.split('.').map(Number);
    const v6 = (a: string): number[] => {
      const b = new Array<number>(16).fill(0);
      if (a === '::1') b[15] = 1;
      const m = /^::ffff:(.*)$/.exec(a);
      if (m) b.splice(10, 6, 0xff, 0xff, ...v4(m[1]!));
      return b;
    };
    const all = [...SOCKETS, ...ACCEPTED];
    const frame = Buffer.alloc(64);
    frame.writeUInt16BE(0x0800, 12);
    const found = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      // A tuple aimed at one socket (its local end, its peer as the source), then perhaps bent.
      const target = all[rnd(all.length)]!;
      const family = rnd(4) === 0 ? (target.address!.includes(':') ? 4 : 6) : target.address!.includes(':') && !target.address!.startsWith('::ffff:') ? 6 : rnd(2) ? 4 : 6;
      const addr = (a: string | undefined, any: boolean): number[] => {
        const text = a ?? (target.address!.includes(':') ? '::' : '0.0.0.0');
        const wild = text === '0.0.0.0' || text === '::';
        if (family === 4) {
          if (wild || any) return rnd(2) ? [127, 0, 0, 1] : [10, rnd(256), rnd(256), 1];
          return text.includes(':') ? (text.startsWith('::ffff:') ? v6(text).slice(12) : [127, 0, 0, 6]) : v4(text);
        }
        if (wild || any) return rnd(2) ? v6('::1') : v6(`::ffff:127.0.0.${rnd(3)}`);
        return text.includes(':') ? v6(text) : v6(`::ffff:${text}`);
      };
      const daddr = addr(target.address, rnd(8) === 0);
      const saddr = target.remote && rnd(4) ? addr(target.remote.address, false) : addr(undefined, true);
      const sport = target.remote && rnd(4) ? target.remote.port : [7002, 40000, 7006][rnd(3)]!;
      const dport = rnd(10) ? target.port : 7000 + rnd(20);
      const tuple = Buffer.alloc(40);
      const n = family === 4 ? 4 : 16;
      Buffer.from(saddr).copy(tuple, 0);
      Buffer.from(daddr).copy(tuple, n);
      tuple.writeUInt16BE(sport, 2 * n);
      tuple.writeUInt16BE(dport, 2 * n + 2);
      const size = rnd(30) === 0 ? [8, 24, 40][rnd(3)]! : family === 4 ? 12 : 36;
      const netns = [0xffffffffn, 0xffffffffn, 0xffffffffn, 0xffffffffn, 0n, 3n, 0x1_ffffffffn, 0x80000000n, 0x1_00000000n][rnd(9)]!;
      const query = Buffer.alloc(64);
      query.writeUInt32LE(target.protocol === 'udp' ? 1 : rnd(8) === 0 ? 1 : 0, 0);
      query.writeUInt32LE(size, 4);
      query.writeBigUInt64LE(netns, 8);
      query.writeBigUInt64LE(rnd(40) === 0 ? 1n : 0n, 16);
      tuple.copy(query, 24);
      const prog = [
        ['tc_lookup', 'xdp_lookup'],
        ['tc_skc_lookup', 'xdp_skc_lookup'],
      ][target.protocol === 'tcp' && rnd(3) === 0 ? 1 : 0]![rnd(2)]!;
      // .bss: answer at 0 (72 bytes), query at 0x48 (llvm-readelf's symbol table of the fixture).
      const bssOf = (b: Buffer) => Buffer.concat([b.subarray(0, 0x48), query]);
      // A quarter of the packets arrive on bpfts-d0: __sk_buff ifindex (offset 40), xdp_md ingress_ifindex (12).
      const ctx = rnd(4) ? undefined : prog.startsWith('tc') ? Buffer.alloc(192) : Buffer.alloc(24);
      if (ctx && prog.startsWith('tc')) ctx.writeUInt32LE(d0, 40);
      else if (ctx) {
        ctx.writeUInt32LE(frame.length, 4);
        ctx.writeUInt32LE(d0, 12);
      }
      const opts = ctx ? { ctx } : {};
      const k = withNetns(ns, () => {
        kern.map('.bss').set(0, bssOf(kern.map('.bss').get(0)!));
        kern.program(prog).testRun(frame, opts);
        return kern.map('.bss').get(0)!;
      });
      emu.map('.bss').set(0, bssOf(emu.map('.bss').get(0) as Buffer));
      emu.program(prog).testRun(frame, opts);
      const e = emu.map('.bss').get(0) as Buffer;
      expect(e.toString('hex'), `case ${i}: ${prog} query ${query.toString('hex')}`).toBe(k.toString('hex'));
      const what = k.readUInt32LE(0) ? `found state ${k.readUInt32LE(8)}` : 'none';
      found.set(what, (found.get(what) ?? 0) + 1);
      // The cases that tell the rules apart: a socket bound to lo, from lo and from bpfts-d0; port 7015's two sockets.
      const port = k.readUInt32LE(20);
      if (port === 7013 || port === 7014) found.set(`bound to lo, found from ${ctx ? 'd0' : 'lo'}`, 1);
      if (port === 7015) found.set(`7015 ${k.readUInt32LE(8) === 1 ? 'connected' : 'unconnected'}`, 1);
    }
    // Listeners (10), connections (1) and UDP sockets (7: unconnected, TCP_CLOSE) were found, and nothing for some.
    expect([...found.keys()].sort()).toEqual(['7015 connected', '7015 unconnected', 'bound to lo, found from lo', 'found state 1', 'found state 10', 'found state 7', 'none']);
  });

  it('tc_no_listener_drop: a SYN to each socket (and to ports and addresses nobody has) gets the verdict the kernel gives, and the same counts', () => {
    const spec = openObject(fixture('sk_lookup_helpers.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate();
    for (const [i, { reuseaddr: _, ...s }] of SOCKETS.entries()) emu.socket({ ...s, cookie: cookies[i]! });
    for (const s of ACCEPTED) emu.socket(s);
    const frames: Buffer[] = [];
    for (const s of [...SOCKETS, ...ACCEPTED]) {
      const v6 = s.address!.includes(':');
      const peer = s.remote ?? { address: v6 ? '::1' : '127.0.0.1', port: 40000 };
      for (const dport of [s.port, s.port + 100]) {
        if (!v6 || s.address!.startsWith('::ffff:')) {
          const dst = v6 ? s.address!.slice(7) : s.address === '0.0.0.0' ? '127.0.0.9' : s.address!;
          const src = peer.address.startsWith('::ffff:') ? peer.address.slice(7) : peer.address.includes(':') ? '127.0.0.1' : peer.address;
          frames.push(tcp({ src, dst, sport: peer.port, dport, flags: 2 }));
        }
        const six = (a: string) =>
          a === '::1'
            ? [...new Array<number>(15).fill(0), 1]
            : a === '::'
              ? [...new Array<number>(15).fill(0), 1]
              : [...new Array<number>(10).fill(0), 0xff, 0xff, ...a.replace('::ffff:', '').split('.').map(Number)];
        frames.push(tcp6(six(peer.address.includes(':') ? peer.address : `::ffff:${peer.address}`), peer.port, six(v6 ? s.address! : `::ffff:${s.address}`), dport));
      }
    }
    const verdicts = new Set<string>();
    for (const f of frames) {
      const k = withNetns(ns, () => kern.program('tc_no_listener_drop').testRun(f));
      const e = emu.program('tc_no_listener_drop').testRun(f);
      expect(e.verdict, f.toString('hex')).toBe(k.verdict);
      verdicts.add(k.verdict!);
    }
    expect([...verdicts].sort()).toEqual(['TC_ACT_OK', 'TC_ACT_SHOT']);
    const counts = (m: { get(k: number): Buffer | Buffer[] | undefined }) => [0, 1].map((i) => (m.get(i) as Buffer).readBigUInt64LE(0));
    expect(counts(emu.map('verdicts'))).toEqual(counts(kern.map('verdicts')));
  });

  it('400 random lookups: the same verdict, cookie, context back and everything the program read, or the same refusal', () => {
    const { kern, emu } = setup();
    using _k = kern;
    let seed = 0x5eed;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const addr = (len: number) => Array.from({ length: len }, () => rnd(256));
    const seenAnswers = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const family = [AF_INET, AF_INET6, AF_INET, AF_INET6, 0x10002, 3][rnd(6)]!;
      const protocol = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_TCP, IPPROTO_UDP, 0x10006, rnd(256)][rnd(6)]!;
      const ctx = lookupCtx({ family, protocol, remote: addr(4), local: addr(4), remotePort: rnd(65536), localPort: rnd(1 << 14) });
      Buffer.from(addr(16)).copy(ctx, 20);
      Buffer.from(addr(16)).copy(ctx, 44);
      const odd = rnd(20);
      if (odd === 0) ctx.writeUInt16LE(rnd(65536), 38); // the padding after remote_port
      if (odd === 1) ctx.writeUInt32LE(0x10000 + rnd(100), 60); // local_port beyond a u16
      if (odd === 2) ctx.writeUInt32LE(1 + rnd(100), 64); // ingress_ifindex
      if (odd === 3) ctx.writeUInt32LE(1, 4); // the cookie
      const input = odd === 4 ? Buffer.concat([ctx, Buffer.alloc(8)]) : odd === 5 ? Buffer.concat([ctx, Buffer.from([0, 1])]) : odd === 6 ? ctx.subarray(0, 64) : ctx;
      const answer = (run: () => { retval: number; ctxOut?: Buffer | null }, seen: () => Buffer) => {
        try {
          const r = run();
          return { retval: r.retval, ctxOut: r.ctxOut?.toString('hex'), seen: seen().toString('hex') };
        } catch (e) {
          if (!(e instanceof BpfError)) throw e;
          const errno = (e as { errno?: number }).errno;
          return { refused: errno ?? /refuses it: (\w+)\)$/.exec(e.message)?.[1] ?? e.message };
        }
      };
      const k = answer(
        () => kern.program('pick').testRun(new Uint8Array(0), { ctx: input }),
        () => kern.map('.bss').get(0)!,
      );
      const e = answer(
        () => emu.program('pick').testRun(new Uint8Array(0), { ctx: input }),
        () => emu.map('.bss').get(0) as Buffer,
      );
      const errnoName: Record<number, string> = { 7: 'E2BIG', 22: 'EINVAL', 34: 'ERANGE', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT' };
      const kn = 'refused' in k ? { refused: errnoName[k.refused as number] ?? k.refused } : k;
      expect(e, `case ${i}: ctx ${input.toString('hex')}`).toEqual(kn);
      seenAnswers.add('refused' in kn ? `refused ${kn.refused}` : `${kn.retval} ${kn.ctxOut!.slice(0, 16) === '0000000000000000' ? 'none' : 'picked'}`);
    }
    // Every kind of answer came up: picks, passes without one, drops, and each refusal.
    expect([...seenAnswers].sort()).toEqual(['0 none', '1 none', '1 picked', 'refused E2BIG', 'refused EAFNOSUPPORT', 'refused EINVAL', 'refused EOPNOTSUPP', 'refused ERANGE']);
  });
});

describeRoot('struct bpf_sk_lookup and struct bpf_sock: the loads the verifier takes', () => {
  const SK_LOOKUP_ATTACH = 36;
  /** Whether the kernel loads `text` as a socket lookup program. */
  const kernelTakes = (text: string): boolean => {
    try {
      BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'sk_lookup', name: 'p', expectedAttachType: SK_LOOKUP_ATTACH }).load().close();
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'VERIFIER') return false;
      throw e;
    }
  };
  const widths = [1, 2, 4, 8];

  it('bpf_sk_lookup: every load at every offset and width, taken or refused as by the verifier; every store refused', () => {
    const emu = (text: string): boolean => {
      const p = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'sk_lookup', name: 'p', expectedAttachType: SK_LOOKUP_ATTACH }).emulate().program('p');
      try {
        p.testRun(new Uint8Array(0), { ctx: lookupCtx({ family: AF_INET, protocol: IPPROTO_TCP, localPort: 80 }) });
        return true;
      } catch (e) {
        if (e instanceof BpfError && e.code === 'EMU_FAULT' && /bpf_sk_lookup/.test(e.message)) return false;
        throw e;
      }
    };
    const diffs: string[] = [];
    let taken = 0;
    for (let off = 0; off < 76; off++)
      for (const size of widths) {
        if (off % size) continue;
        for (const op of ['load', 'store'] as const) {
          const insn = op === 'load' ? `r2 = *(u${size * 8} *)(r1 + ${off})` : `*(u${size * 8} *)(r1 + ${off}) = r1`;
          const text = `${insn}\nr0 = 1\nexit`;
          const k = kernelTakes(text);
          if (k) taken++;
          if (emu(text) !== k) diffs.push(`${op} ${size} at ${off}: kernel ${k ? 'takes' : 'refuses'} it`);
        }
      }
    expect(diffs).toEqual([]);
    // The kernel's count on Linux 6.18: sk (one 8-byte load), then family to ingress_ifindex,
    // 15 u32 words (remote_port and its padding one of them) with their narrow loads (7 each); no store.
    expect(taken).toBe(1 + 15 * 7);
  });

  it("bpf_sock: every load through ctx->sk at every offset and width, taken or refused as the emulator's socket refuses it", () => {
    const emu = openObject(fixture('sk_lookup_assign.o')).emulate();
    const hooks = emu.socket({ protocol: 'tcp', port: 80 }).region.hooks!;
    const diffs: string[] = [];
    let taken = 0;
    for (let off = 0; off < 84; off++)
      for (const size of widths) {
        if (off % size) continue;
        const k = kernelTakes(`r2 = *(u64 *)(r1 + 0)\nif r2 == 0 goto +1\nr3 = *(u${size * 8} *)(r2 + ${off})\nr0 = 1\nexit`);
        if (k) taken++;
        let e = true;
        try {
          hooks.load(off, size);
        } catch (err) {
          if (!(err instanceof BpfError && err.code === 'EMU_FAULT')) throw err;
          e = false;
        }
        if (e !== k) diffs.push(`load ${size} at ${off}: kernel ${k ? 'takes' : 'refuses'} it`);
      }
    expect(diffs).toEqual([]);
    // The kernel's count: 1-, 2- and 4-byte loads at the start of family, type, protocol, src_port,
    // state and rx_queue_mapping (18); anywhere in the four addresses (70); dst_port's four (4 at
    // its start, 2, and 1 at either byte); bound_dev_if, mark and priority whole (3).
    expect(taken).toBe(18 + 70 + 4 + 3);
  });
});

describeRoot('bpf-ts test-run --lookup in the kernel', () => {
  it("the kernel's run: the verdict, its time, and the socket chosen (none: a fresh object's SOCKMAP is empty)", async () => {
    const r = await cliOk('test-run', fixture('sk_lookup.o'), '--lookup', 'tcp [2001:db8::1]:40000 -> [2001:db8::2]:8003');
    expect(r.stdout).toMatch(/^steer_ports: SK_PASS \(retval 1\), \d+ ns per run\nsocket chosen: none\n$/);
    const sock = await cli('test-run', fixture('sk_lookup.o'), '--lookup', 'tcp 1.2.3.4:1 -> 5.6.7.8:9', '--socket', 'target[0]=udp 0.0.0.0:7000');
    expect(sock.stderr).toBe("bpf-ts: --socket gives the emulator's socket maps sockets: add --emulate (the kernel's take socket fds, which a test in code hands them)\n");
  });
});
