// cgroup sockopt programs in the emulator. The kernel has no test run for
// them, so the comparison is with the calls themselves: fixtures/
// sockopt_policy.o's `set` and `get` attached to a test cgroup, a process in
// that cgroup and a test network namespace making sockets and calling
// setsockopt/getsockopt on them, against the emulator's run of the same call.
// What the program read (`seen`) must be the same in both. setsockopt: when
// the emulator says the call fails, it failed with that errno; when it says
// the kernel's setsockopt is called with (level, optname, value), the call
// answered and left the socket's options as that call made by a process
// outside the cgroup does; when it says the program answered it alone, the
// call succeeded and changed nothing. getsockopt: the emulator is given what
// the kernel's getsockopt answers (the same call outside the cgroup) and
// must say what the caller in the cgroup got: the error, or the bytes and
// the length.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { type EmulatedCollection, type SockoptCall, sockAddrCtx } from '../../src/vm/index.js';
import { accessDiffs, type CallAnswer, hostTcp, labWithObject } from '../helpers/cgroup-lab.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { Rng } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';
import { SET_POOL } from '../helpers/tcp-options.js';
import { codeAndMessage } from '../helpers/thrown.js';

/** .bss of the fixture (llvm-readelf's symbol table): seen 0 (48 bytes), calls 0x30, max_mark 0x40, priority_eacces 0x44, custom 0x48, bad_optlen 0x4c, ttl_denied 0x50. */
const BSS = { seen: 0, seenSize: 48, calls: 0x30, maxMark: 0x40, eacces: 0x44, custom: 0x48, badOptlen: 0x4c, ttlDenied: 0x50, size: 0x54 };
const SOL_SOCKET = 1;
const SOL_IP = 0;
const SOL_TCP = 6;
const SOL_CUSTOM = 0xdeadbeef | 0;
const [SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_PRIORITY, SO_MARK, IP_TOS, IP_TTL, TCP_CONGESTION] = [7, 8, 9, 12, 36, 1, 2, 13];

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
interface Globals {
  maxMark?: number;
  eacces?: boolean;
  badOptlen?: number;
  custom?: number;
  ttlDenied?: boolean;
}
function bss(g: Globals): Buffer {
  const b = Buffer.alloc(BSS.size);
  b.writeUInt32LE((g.maxMark ?? 0) >>> 0, BSS.maxMark);
  b.writeUInt32LE(g.eacces ? 1 : 0, BSS.eacces);
  b.writeInt32LE(g.badOptlen ?? 0, BSS.badOptlen);
  b.writeUInt32LE((g.custom ?? 0) >>> 0, BSS.custom);
  b.writeUInt32LE(g.ttlDenied ? 1 : 0, BSS.ttlDenied);
  return b;
}
const seenOf = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).subarray(0, BSS.size).toString('hex');

describe('cgroup sockopt programs in the emulator', () => {
  const setup = (g: Globals = {}) => {
    const emu = openObject(fixture('sockopt_policy.o')).emulate();
    emu.map('.bss').set(0, bss(g));
    return emu;
  };
  const set = (emu: EmulatedCollection, call: SockoptCall) => emu.program('set').testRun(new Uint8Array(0), { sockopt: call });
  const get = (emu: EmulatedCollection, call: SockoptCall) => emu.program('get').testRun(new Uint8Array(0), { sockopt: call });

  it('setsockopt: a value lowered, one refused (EPERM, or EACCES by bpf_set_retval), one answered by the program, a longer value, a new optname', () => {
    const emu = setup({ maxMark: 100 });
    expect(set(emu, { level: SOL_SOCKET, optname: SO_MARK, optval: u32(500) })).toMatchObject({ retval: 1, callRetval: 0, sockopt: { level: 1, optname: 36, optval: u32(100), optlen: 4 } });
    expect(set(emu, { level: SOL_SOCKET, optname: SO_PRIORITY, optval: u32(9) })).toMatchObject({ retval: 0, callRetval: -1, sockopt: { optval: null } });
    emu.map('.bss').set(0, bss({ maxMark: 100, eacces: true }));
    expect(set(emu, { level: SOL_SOCKET, optname: SO_PRIORITY, optval: u32(9) }).callRetval).toBe(-13);
    // optlen 0: the caller's bytes go on, as given.
    expect(set(emu, { level: SOL_SOCKET, optname: SO_PRIORITY, optval: u32(3) }).sockopt).toEqual({ level: 1, optname: 12, optval: u32(3), optlen: 4 });
    // optlen -1: the program answered; the kernel's setsockopt is not called.
    expect(set(emu, { level: SOL_IP, optname: IP_TOS, optval: u32(0x10) })).toMatchObject({ callRetval: 0, sockopt: { optval: null } });
    expect(set(emu, { level: SOL_TCP, optname: TCP_CONGESTION, optval: Buffer.from('cubic') }).sockopt).toEqual({ level: 6, optname: 13, optval: Buffer.from('reno\0'), optlen: 5 });
    expect(set(emu, { level: SOL_SOCKET, optname: SO_RCVBUF, optval: u32(65536) }).sockopt).toEqual({ level: 1, optname: SO_SNDBUF, optval: u32(65536), optlen: 4 });
    // What the program read: level 1, optname 8, optlen 4, retval 0, a 16-byte buffer, an unbound IPv4 TCP socket, the bytes.
    const seen = Buffer.from(seenOf(emu), 'hex');
    expect([0, 4, 8, 12, 16, 20, 24, 28].map((o) => seen.readInt32LE(o))).toEqual([1, 8, 4, 0, 16, 2, 1, 6]);
    expect(seen.subarray(32, 36)).toEqual(u32(65536));
  });

  it("setsockopt: an optlen past the buffer is EFAULT, unless the caller gave more than a page (the kernel then takes the caller's value)", () => {
    const emu = setup({ badOptlen: 17 });
    expect(set(emu, { level: SOL_SOCKET, optname: SO_KEEPALIVE, optval: u32(1) })).toMatchObject({ callRetval: -14, sockopt: { optval: null } });
    const long = Buffer.alloc(5000, 1);
    emu.map('.bss').set(0, bss({ badOptlen: 5000 }));
    expect(set(emu, { level: SOL_SOCKET, optname: SO_KEEPALIVE, optval: long }).sockopt).toEqual({ level: 1, optname: 9, optval: long, optlen: 5000 });
    emu.map('.bss').set(0, bss({ badOptlen: -2 }));
    expect(set(emu, { level: SOL_SOCKET, optname: SO_KEEPALIVE, optval: long }).callRetval).toBe(-14);
  });

  it("getsockopt: the kernel's answer rewritten, its error cleared, an optlen past the buffer (EFAULT)", () => {
    const emu = setup({ custom: 0x1234 });
    expect(get(emu, { level: SOL_SOCKET, optname: SO_MARK, optval: u32(77) })).toMatchObject({ callRetval: 0, sockopt: { optval: u32(0), optlen: 4 } });
    // The kernel knows no SOL_CUSTOM (ENOPROTOOPT): the program answers, retval 0.
    expect(get(emu, { level: SOL_CUSTOM, optname: 1, optval: Buffer.alloc(0), optlen: 8, error: 92 })).toMatchObject({ callRetval: 0, sockopt: { optval: u32(0x1234), optlen: 4 } });
    // seen.retval: -ENOPROTOOPT; seen.optlen: the caller's 8; the buffer zeroed.
    const seen = Buffer.from(seenOf(emu), 'hex');
    expect([seen.readInt32LE(8), seen.readInt32LE(12), seen.readInt32LE(16)]).toEqual([8, -92, 8]);
    expect(get(emu, { level: SOL_IP, optname: IP_TTL, optval: Buffer.alloc(0), optlen: 4, error: 92 })).toMatchObject({ callRetval: -92, sockopt: { optval: null } });
    emu.map('.bss').set(0, bss({ badOptlen: 9 }));
    expect(get(emu, { level: SOL_IP, optname: IP_TTL, optval: u32(64), optlen: 8 }).callRetval).toBe(-14);
  });

  it('refuses a call it cannot run on, in words', () => {
    const emu = setup();
    expect(codeAndMessage(() => emu.program('set').testRun(new Uint8Array(0)))).toBe(
      'USAGE: program set: give the setsockopt call it runs on: testRun(new Uint8Array(0), { sockopt: { level: 1, optname: 36, optval } }) (SOL_SOCKET, SO_MARK)',
    );
    expect(codeAndMessage(() => set(emu, { level: 1, optname: 36, optval: u32(1), optlen: -1 }))).toBe(
      "USAGE: program set (setsockopt): optlen -1: the caller's length is 0 or more (a negative one fails with EINVAL before the hook)",
    );
    expect(codeAndMessage(() => get(emu, { level: 1, optname: 36, optval: Buffer.alloc(8), optlen: 4 }))).toBe('USAGE: program get (getsockopt): the kernel answered 8 bytes into a 4-byte buffer');
    expect(codeAndMessage(() => set(emu, { level: 1, optname: 36, optval: u32(1), error: 92 }))).toBe(
      'USAGE: program set (setsockopt): error is the kernel getsockopt answer: setsockopt runs the program first',
    );
  });
});

describe('bpf-ts test-run --emulate --sockopt', () => {
  const OBJ = fixture('sockopt_policy.o');
  const run = (prog: string, sockopt: string, ...more: string[]) => cliOk('test-run', OBJ, '--program', prog, '--emulate', '--sockopt', sockopt, ...more);
  const lastLine = async (p: Promise<{ stdout: string }>) => (await p).stdout.trimEnd().split('\n').at(-1);

  it("says what the kernel's setsockopt gets, or that the program answered, or the error", async () => {
    expect((await run('set', 'SOL_SOCKET SO_MARK 500', '--set', 'max_mark=100')).stdout).toMatch(
      /^set: retval 1 \(0x1\) \(emulated, \d+ instructions\)\nthe kernel's setsockopt gets SOL_SOCKET SO_MARK, 4 bytes: 64000000\n$/,
    );
    expect(await lastLine(run('set', 'SOL_SOCKET SO_RCVBUF 65536'))).toBe("the kernel's setsockopt gets SOL_SOCKET SO_SNDBUF (was SOL_SOCKET SO_RCVBUF), 4 bytes: 00000100 (as given)");
    expect(await lastLine(run('set', 'SOL_TCP TCP_CONGESTION str:cubic'))).toBe("the kernel's setsockopt gets SOL_TCP TCP_CONGESTION, 5 bytes: 72656e6f00");
    expect(await lastLine(run('set', '0 1 16'))).toBe("the program answers the call: setsockopt returns 0 (the kernel's is not called)");
    expect(await lastLine(run('set', 'SOL_SOCKET SO_PRIORITY 9', '--set', 'priority_eacces=1'))).toBe('the call fails: EACCES');
    expect((await run('set', 'SOL_SOCKET SO_MARK 500', '--set', 'max_mark=100', '--json')).json()).toMatchObject({
      retval: 1,
      allowed: true,
      sockopt: { level: 1, optname: 36, optvalHex: '64000000', optlen: 4 },
    });
  });

  it("says what the getsockopt caller gets: the program's bytes, the kernel's answer, or the error", async () => {
    expect(await lastLine(run('get', 'SOL_SOCKET SO_MARK 77'))).toBe('the caller gets 4 bytes: 00000000');
    expect(await lastLine(run('get', '0xdeadbeef 1 error ENOPROTOOPT size 8', '--set', 'custom=0x1234'))).toBe('the caller gets 4 bytes: 34120000');
    expect(await lastLine(run('get', '0xdeadbeef 2 error ENOPROTOOPT size 8'))).toBe("the caller's buffer and length are left as they were");
    expect(await lastLine(run('get', 'SOL_IP IP_TTL 64 size 8'))).toBe("the caller gets 4 bytes: 40000000 (the kernel's answer)");
    expect(await lastLine(run('get', 'SOL_IP IP_TTL 64', '--set', 'ttl_denied=1'))).toBe('the call fails: EPERM');
    expect((await run('get', 'SOL_IP IP_TTL error 92 size 4', '--set', 'ttl_denied=1', '--json')).json()).toMatchObject({ retval: 0, allowed: false, callRetval: -92 });
  });

  it('refuses in words: no call, a malformed one, --sockopt for another program type, a kernel run', async () => {
    const errors: [string[], string][] = [
      [
        ['--program', 'set', '--emulate'],
        "bpf-ts: set is a cgroup sockopt program: give the setsockopt or getsockopt call it runs on, e.g. --sockopt 'SOL_SOCKET SO_MARK 42' (setsockopt: the caller's value; getsockopt: the kernel's answer)\n",
      ],
      [
        ['--program', 'set', '--emulate', '--sockopt', 'SOL_SOCKET'],
        'bpf-ts: --sockopt "SOL_SOCKET": optname (none): write it as \'LEVEL OPTNAME [VALUE] [size N] [error ERRNO]\' (SOL_SOCKET SO_MARK 42; a VALUE is an int, str:TEXT or hex:BYTES)\n',
      ],
      [['--program', 'get', '--emulate', '--sockopt', '1 36 error EWHAT'], 'bpf-ts: --sockopt "1 36 error EWHAT": error EWHAT: an errno name or number (ENOPROTOOPT, 92)\n'],
      [['--program', 'get', '--emulate', '--sockopt', '1 36 hex:abc'], 'bpf-ts: --sockopt "1 36 hex:abc": hex:abc: hex: takes whole bytes (hex:2a000000)\n'],
      [
        ['--program', 'get', '--emulate', '--sockopt', '1 36 1', '--data-hex', '00'.repeat(14)],
        'bpf-ts: get is a cgroup sockopt program: it runs on a setsockopt or getsockopt call (--sockopt), not on a packet or a context\n',
      ],
      [
        ['--program', 'set', '--sockopt', '1 36 1'],
        'bpf-ts: set is a cgroup sockopt program: the kernel has no test run for those (it runs them in setsockopt and getsockopt): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n',
      ],
    ];
    for (const [args, stderr] of errors) expect(await cli('test-run', OBJ, ...args)).toMatchObject({ code: 1, stdout: '', stderr });
    expect(await cli('test-run', fixture('sysctl_guard.o'), '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward', '--sockopt', '1 36 1')).toMatchObject({
      code: 1,
      stderr: "bpf-ts: program guard (cgroup_sysctl): --sockopt is a cgroup sockopt program's input\n",
    });
  });
});

describe('bpf_setsockopt and bpf_getsockopt in the emulator', () => {
  /** fixtures/connect_sockopt.o with req set: level, optname, optlen, an int value. */
  const setup = (level: number, optname: number, value: number, optlen = 4) => {
    const emu = openObject(fixture('connect_sockopt.o')).emulate();
    const bss = Buffer.alloc(36);
    bss.writeInt32LE(level, 0);
    bss.writeInt32LE(optname, 4);
    bss.writeUInt32LE(optlen, 8);
    bss.writeUInt32LE(value >>> 0, 12);
    emu.map('.bss').set(0, bss);
    return emu;
  };
  const connect = (emu: EmulatedCollection, socket = emu.socket({ protocol: 'udp', port: 0 })) => {
    emu.program('connect_opt').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'udp', address: '127.0.0.1', port: 9 }), socket });
    const res = (emu.map('.bss').get(0) as Buffer).subarray(0x14);
    return { set: res.readInt32LE(0), get: res.readInt32LE(4), got: res.readUInt32LE(8), socket };
  };

  it("sets the calling socket's options, which getsockopt reads back and the socket keeps; refuses what the kernel refuses", () => {
    const marked = connect(setup(SOL_SOCKET, SO_MARK, 0x2a));
    expect([marked.set, marked.get, marked.got, marked.socket.mark]).toEqual([0, 0, 0x2a, 0x2a]);
    const keep = connect(setup(SOL_SOCKET, SO_KEEPALIVE, 5));
    expect([keep.got, keep.socket.sockopts.keepalive]).toEqual([1, true]);
    // A short optlen, an option bpf does not take, a level it does not know: EINVAL, the buffer zeroed.
    expect(connect(setup(SOL_SOCKET, SO_MARK, 7, 2))).toMatchObject({ set: -22, get: -22, got: 0 });
    expect(connect(setup(SOL_SOCKET, 3, 7))).toMatchObject({ set: -22, get: -22 });
    expect(connect(setup(77, 1, 7))).toMatchObject({ set: -22, get: -22 });
  });

  it('faults, naming it, on an option the kernel takes whose effect it does not model', () => {
    expect(codeAndMessage(() => connect(setup(SOL_SOCKET, SO_SNDBUF, 4096)))).toMatch(
      /^EMU_FAULT: connect_opt: .*bpf_setsockopt of SOL_SOCKET SO_SNDBUF \(its value depends on the host's sysctls or the TCP state\) is not emulated/,
    );
    const tcpConnect = (emu: EmulatedCollection) =>
      emu.program('connect_opt').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'tcp', address: '127.0.0.1', port: 9 }), socket: emu.socket({ protocol: 'tcp', port: 0 }) });
    expect(codeAndMessage(() => tcpConnect(setup(SOL_TCP, 10, 5000)))).toMatch(/bpf_setsockopt of SOL_TCP TCP_WINDOW_CLAMP \(its floor depends on the kernel build: SOCK_MIN_RCVBUF\) is not emulated/);
    // SOL_TCP on a UDP socket: EINVAL, as sol_tcp_sockopt has it.
    expect(connect(setup(SOL_TCP, 1, 1))).toMatchObject({ set: -22, get: -22, got: 0 });
    expect(codeAndMessage(() => connect(setup(41, 67, 1)))).toMatch(/bpf_setsockopt of SOL_IPV6 option 67 is not emulated/);
  });

  it('bpf-ts test-run --emulate --addr says which options the program set on the calling socket; JSON too', async () => {
    const bss = Buffer.alloc(36);
    bss.writeInt32LE(SOL_SOCKET, 0);
    bss.writeInt32LE(SO_MARK, 4);
    bss.writeUInt32LE(4, 8);
    bss.writeUInt32LE(42, 12);
    const args = ['test-run', fixture('connect_sockopt.o'), '--emulate', '--addr', 'udp 10.0.0.1:53', '--entry', `.bss:00000000=${bss.toString('hex')}`];
    expect((await cliOk(...args)).stdout).toMatch(/\naddress: 10\.0\.0\.1:53 \(unchanged\)\nsocket: mark 42 \(set by the program\)\n$/);
    expect((await cliOk(...args, '--json')).json()).toMatchObject({ retval: 1, allowed: true, socket: { mark: 42 } });
    // Nothing set (an option bpf may not set: EINVAL): no socket line.
    bss.writeInt32LE(3, 4);
    expect((await cliOk(...args.slice(0, -1), `.bss:00000000=${bss.toString('hex')}`)).stdout).not.toMatch(/socket:/);
  });

  it("a run's default calling socket is a new one each time: what an earlier run set is gone", () => {
    const emu = setup(SOL_SOCKET, SO_MARK, 9);
    const run = () => emu.program('connect_opt').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: 'udp', address: '127.0.0.1', port: 9 }) });
    const socket = () => emu.unboundSocket(2, 'udp'); // the default of an IPv4 UDP call
    run();
    expect([socket().mark, socket().priority]).toEqual([9, 0]);
    // The next run sets SO_PRIORITY on its (new) socket: the mark of the first is gone.
    emu.map('.bss').set(0, Buffer.concat([Buffer.from(new Int32Array([SOL_SOCKET, SO_PRIORITY, 4, 3]).buffer), Buffer.alloc(20)]));
    run();
    expect([socket().mark, socket().priority]).toEqual([0, 3]);
  });
});

// ---------------------------------------------------------------- against the kernel's calls

/** The options the tests set and read, their values, and what to read back after a setsockopt. */
const OPTIONS: { level: number; name: number; tcp?: boolean; value: (rng: Rng) => Buffer }[] = [
  { level: SOL_SOCKET, name: SO_MARK, value: (r) => u32(r.pick([0, 7, 99, 100, 101, 5000, 0xffffffff])) },
  { level: SOL_SOCKET, name: SO_PRIORITY, value: (r) => u32(r.int(11)) },
  { level: SOL_IP, name: IP_TOS, value: (r) => u32(r.pick([0, 0x10, 0xb8, 0x28])) },
  { level: SOL_TCP, name: TCP_CONGESTION, tcp: true, value: (r) => Buffer.from(r.pick(['cubic', 'reno', 'bbr', 'nope', 'cubic\0', 'reno\0xx'])) },
  { level: SOL_SOCKET, name: SO_RCVBUF, value: (r) => u32(r.pick([4096, 65536, 100000])) },
  { level: SOL_CUSTOM, name: 1, value: (r) => u32(r.u32()) },
  { level: SOL_CUSTOM, name: 2, value: (r) => u32(r.u32()) },
  { level: SOL_SOCKET, name: SO_KEEPALIVE, value: (r) => u32(r.int(2)) },
  { level: SOL_IP, name: IP_TTL, value: (r) => u32(r.pick([1, 64, 255, 0, 300])) },
];
const READBACK = (tcp: boolean): [number, number, number][] => [
  [SOL_SOCKET, SO_MARK, 4],
  [SOL_SOCKET, SO_PRIORITY, 4],
  [SOL_IP, IP_TOS, 4],
  [SOL_SOCKET, SO_SNDBUF, 4],
  [SOL_SOCKET, SO_RCVBUF, 4],
  [SOL_SOCKET, SO_KEEPALIVE, 4],
  [SOL_IP, IP_TTL, 4],
  ...(tcp ? ([[SOL_TCP, TCP_CONGESTION, 16]] as [number, number, number][]) : []),
];
const randomGlobals = (rng: Rng): Globals => ({
  maxMark: rng.pick([0, 100, 0xffffffff]),
  eacces: rng.chance(0.5),
  badOptlen: rng.pick([0, 0, 0, 0, 3, 17, 5000, -1, -2]),
  custom: rng.u32(),
  ttlDenied: rng.chance(0.3),
});

describeRoot('cgroup sockopt: the emulator against the kernel running the programs in setsockopt() and getsockopt()', () => {
  const t = labWithObject('so', 'sockopt_policy.o');
  const socketOf = (rng: Rng) => ({ family: rng.pick([4, 4, 6]) as 4 | 6, proto: rng.pick(['tcp', 'udp'] as const) });

  it("300 random setsockopt calls under random settings: the same error, or the same call of the kernel's setsockopt", async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('set'), attachType: 'setsockopt' });
    const rng = new Rng(0x50c0e7);
    const paths = { failed: 0, answered: 0, passed: 0, rewritten: 0 };
    for (let i = 0; i < 300; i++) {
      const g = randomGlobals(rng);
      for (const c of [t.kern, t.emu]) c.map('.bss').set(0, bss(g));
      const { family, proto } = socketOf(rng);
      const opt = rng.pick(OPTIONS.filter((o) => !o.tcp || proto === 'tcp'));
      let value = opt.value(rng);
      // Shorter, longer, or past a page.
      const shape = rng.int(10);
      if (shape === 0) value = value.subarray(0, rng.int(value.length));
      else if (shape === 1) value = Buffer.concat([value, Buffer.alloc(rng.pick([4, 20]))]);
      else if (shape === 2) value = Buffer.concat([value, Buffer.alloc(5000 - value.length)]);
      const readback = READBACK(proto === 'tcp');
      const inside = await t.lab.caller.call({ op: 'sockopt', family, proto, call: 'set', level: opt.level, name: opt.name, hex: value.toString('hex'), readback });
      const e = t.emu.program('set').testRun(new Uint8Array(0), {
        sockopt: { level: opt.level, optname: opt.name, optval: value },
        socket: t.emu.socket({ protocol: proto, port: 0, ...(family === 6 ? { family: 'ipv6' as const } : {}) }),
      });
      const what = `${proto}${family} set ${opt.level}/${opt.name} ${value.length} bytes ${value.subarray(0, 8).toString('hex')}, globals ${JSON.stringify(g)}`;
      expect(seenOf(t.emu), what).toBe(seenOf(t.kern));
      const o = e.sockopt!;
      let expected: CallAnswer;
      if (e.callRetval !== 0) {
        expected = { errno: -e.callRetval!, readback: (await t.lab.outsider().call({ op: 'sockopt', family, proto, call: 'get', level: SOL_SOCKET, name: SO_MARK, size: 4, readback })).readback! };
        paths.failed++;
      } else if (o.optval === null) {
        expected = { ok: true, readback: (await t.lab.outsider().call({ op: 'sockopt', family, proto, call: 'get', level: SOL_SOCKET, name: SO_MARK, size: 4, readback })).readback! };
        paths.answered++;
      } else {
        expected = await t.lab.outsider().call({ op: 'sockopt', family, proto, call: 'set', level: o.level, name: o.optname, hex: o.optval.toString('hex'), readback });
        if (o.level !== opt.level || o.optname !== opt.name || !o.optval.equals(value)) paths.rewritten++;
        else paths.passed++;
      }
      expect(inside, what).toEqual(expected);
    }
    expect(
      Object.values(paths).every((n) => n >= 10),
      JSON.stringify(paths),
    ).toBe(true);
  }, 120_000);

  it('300 random getsockopt calls under random settings: the same error, or the same bytes and length', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('get'), attachType: 'getsockopt' });
    const rng = new Rng(0x6e7507);
    const paths = { failed: 0, kernel: 0, program: 0 };
    for (let i = 0; i < 300; i++) {
      const g = randomGlobals(rng);
      for (const c of [t.kern, t.emu]) c.map('.bss').set(0, bss(g));
      const { family, proto } = socketOf(rng);
      // A socket with some options set first (no setsockopt program attached now).
      const setup: [number, number, string][] = [
        [SOL_SOCKET, SO_MARK, u32(rng.int(1000)).toString('hex')],
        [SOL_IP, IP_TTL, u32(1 + rng.int(255)).toString('hex')],
      ];
      const opt = rng.pick(OPTIONS.filter((o) => !o.tcp || proto === 'tcp'));
      const size = rng.pick([1, 2, 4, 4, 8, 16, 40, 5000]);
      const call = { op: 'sockopt', family, proto, setup, call: 'get', level: opt.level, name: opt.name, size };
      const inside = await t.lab.caller.call(call);
      const alone = await t.lab.outsider().call(call);
      const e = t.emu.program('get').testRun(new Uint8Array(0), {
        sockopt: { level: opt.level, optname: opt.name, optlen: size, ...(alone.errno ? { error: alone.errno, optval: Buffer.alloc(0) } : { optval: Buffer.from(alone.hex!, 'hex') }) },
        socket: t.emu.socket({ protocol: proto, port: 0, ...(family === 6 ? { family: 'ipv6' as const } : {}) }),
      });
      const what = `${proto}${family} get ${opt.level}/${opt.name} into ${size} bytes (alone: ${JSON.stringify(alone)}), globals ${JSON.stringify(g)}`;
      expect(seenOf(t.emu), what).toBe(seenOf(t.kern));
      const o = e.sockopt!;
      if (e.callRetval !== 0) {
        expect(inside, what).toEqual({ errno: -e.callRetval!, readback: [] });
        paths.failed++;
      } else {
        const optval = o.optval ?? Buffer.alloc(size);
        expect(inside, what).toEqual({ hex: optval.toString('hex'), n: o.optlen, readback: [] });
        if (alone.hex === optval.toString('hex')) paths.kernel++;
        else paths.program++;
      }
    }
    expect(
      Object.values(paths).every((n) => n >= 10),
      JSON.stringify(paths),
    ).toBe(true);
  }, 120_000);
});

describeRoot('struct bpf_sockopt: the loads and stores the verifier takes, hook by hook', () => {
  for (const [hook, attach] of [
    ['setsockopt', BPF_ATTACH_TYPE.CGROUP_SETSOCKOPT],
    ['getsockopt', BPF_ATTACH_TYPE.CGROUP_GETSOCKOPT],
  ] as const)
    it(`${hook}: every load and store at every offset and width, taken or refused as by the verifier`, () => {
      const { diffs, taken } = accessDiffs('cgroup_sockopt', attach, 40, (e) => e.program('p').testRun(new Uint8Array(0), { sockopt: { level: 1, optname: 36, optval: u32(5) } }), /bpf_sockopt/);
      expect(diffs).toEqual([]);
      // Loads: sk, optval, optval_end (8 bytes), level, optname, optlen (4), and retval for getsockopt.
      // Stores: optlen; level and optname (setsockopt); retval (getsockopt).
      expect(taken).toEqual(hook === 'setsockopt' ? { load: 6, store: 3 } : { load: 7, store: 2 });
    });

  it('the program reads the socket through ctx->sk, as the verifier lets it', () => {
    // 1 for an IPv6 socket (sk->family 10), else 0.
    const spec = BpfObjectSpec.fromInstructions(assemble('r1 = *(u64 *)(r1 + 0)\nr2 = *(u32 *)(r1 + 4)\nr0 = 0\nif r2 != 10 goto +1\nr0 = 1\nexit').bytes, {
      type: 'cgroup_sockopt',
      name: 'p',
      expectedAttachType: BPF_ATTACH_TYPE.CGROUP_GETSOCKOPT,
    });
    spec.load().close();
    const emu = spec.emulate();
    const family = (f: 'ipv4' | 'ipv6') =>
      emu.program('p').testRun(new Uint8Array(0), { sockopt: { level: 1, optname: 36, optval: u32(5) }, socket: emu.socket({ protocol: 'udp', port: 0, family: f }) }).retval;
    expect([family('ipv4'), family('ipv6')]).toEqual([0, 1]);
  });
});

describeRoot('bpf_setsockopt and bpf_getsockopt in a connect4 program: the emulator against the kernel', () => {
  // fixtures/connect_sockopt.o's .bss (llvm-readelf's symbol table): req at 0 (level, optname, optlen, val[8]), res at 0x14 (set_ret, get_ret, got[8]).
  const t = labWithObject('cso', 'connect_sockopt.o');
  const READ: [number, number, number][] = [
    [SOL_SOCKET, SO_MARK, 4],
    [SOL_SOCKET, SO_PRIORITY, 4],
    [SOL_SOCKET, 62, 4], // SO_BINDTOIFINDEX
    [SOL_SOCKET, 2, 4], // SO_REUSEADDR
    [SOL_SOCKET, 15, 4], // SO_REUSEPORT
    [SOL_SOCKET, SO_KEEPALIVE, 4],
    [SOL_IP, IP_TOS, 4],
  ];

  it('300 random options, values and lengths: the same results, bytes read, and options the socket is left with', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('connect_opt'), attachType: 'connect4' });
    const rng = new Rng(0xc0ec7);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      // The options the emulator models, some the kernel refuses (EINVAL), and other levels it refuses.
      const [level, optname] = rng.pick([
        [SOL_SOCKET, SO_MARK],
        [SOL_SOCKET, SO_PRIORITY],
        [SOL_SOCKET, 62],
        [SOL_SOCKET, 2],
        [SOL_SOCKET, 15],
        [SOL_SOCKET, SO_KEEPALIVE],
        [SOL_SOCKET, 1009], // SK_BPF_CB_FLAGS: 1 the only flag
        [SOL_SOCKET, 3], // SO_TYPE: not settable through bpf
        [SOL_SOCKET, 99],
        [SOL_IP, 2], // IP_TTL: not bpf's
        [SOL_IP, IP_TOS],
        [SOL_IP, IP_TOS],
        [5, 1],
        [255, 36],
      ] as const);
      const optlen = rng.pick([4, 4, 4, 4, 1, 2, 8]);
      const val = Buffer.alloc(8);
      // SO_BINDTOIFINDEX: devices of the namespace (lo is 1), none, and negative ones (EINVAL).
      // IP_TOS: DSCP and ECN bits, above a byte too.
      const tos = [0, 0x10, 0x12, 0x13, 0xb8, 0x28, 0x1e, 0x101, 0xff];
      val.writeUInt32LE(optname === 62 ? rng.pick([0, 1, 2, 0xffffffff, 0x80000000]) : level === SOL_IP ? rng.pick(tos) : rng.pick([0, 1, 2, 7, 100, 0xffff, 0x7fffffff, 0xffffffff, rng.u32()]));
      const bss = Buffer.alloc(36);
      bss.writeInt32LE(level, 0);
      bss.writeInt32LE(optname, 4);
      bss.writeUInt32LE(optlen, 8);
      val.copy(bss, 12);
      for (const c of [t.kern, t.emu]) c.map('.bss').set(0, bss);
      const proto = rng.pick(['tcp', 'udp'] as const);
      const inside = await t.lab.caller.call({ op: 'sockopt', family: 4, proto, call: 'connect', addr: '127.0.0.1', port: 9, readback: READ });
      const sock = t.emu.socket({ protocol: proto, port: 0 });
      t.emu.program('connect_opt').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: proto, address: '127.0.0.1', port: 9 }), socket: sock });
      const what = `${proto} level ${level} optname ${optname} optlen ${optlen} value ${val.readUInt32LE(0)}`;
      const res = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).subarray(0x14, 0x24).toString('hex');
      expect(res(t.emu), what).toBe(res(t.kern));
      // The socket's options after the connect: as getsockopt reads them in the kernel, as the emulated socket holds them.
      const u32le = (v: number | boolean) => u32(+v).toString('hex');
      expect(inside.readback, what).toEqual(
        [sock.mark, sock.priority, sock.boundDevIf, sock.sockopts.reuseaddr, sock.sockopts.reuseport, sock.sockopts.keepalive, sock.sockopts.tos].map((v) => ({ hex: u32le(v) })),
      );
      seen.add(`${(t.kern.map('.bss').get(0) as Buffer).readInt32LE(0x14)}`);
    }
    // Options taken (0) and refused (-EINVAL).
    expect([...seen].sort()).toEqual(['-22', '0']);
  }, 120_000);

  it('300 random SOL_TCP options and values on TCP and UDP sockets: the same results, bytes read, and TCP options the socket is left with', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('connect_opt'), attachType: 'connect4' });
    const emu = openObject(fixture('connect_sockopt.o')).emulate(hostTcp(t.lab.netns));
    // What getsockopt reads back after the connect (not TCP_MAXSEG: the connect sized mss_cache to the route).
    const READ_TCP: [number, number, number][] = [1, 4, 5, 6, 7, 18, 25, 16, 27, 44].map((o): [number, number, number] => [SOL_TCP, o, 4]);
    READ_TCP.push([SOL_TCP, TCP_CONGESTION, 16]);
    const rng = new Rng(0x7c9c07);
    const seen = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const o = rng.pick(SET_POOL.filter((p) => p.level === SOL_TCP));
      const v = rng.pick(o.values);
      // An int (sometimes short or long), or a congestion control's name (and its NUL, when it has one).
      const val = typeof v === 'string' ? Buffer.from(v, 'latin1') : u32(v);
      const optlen = typeof v === 'string' ? Math.min(8, v.length) : rng.pick([4, 4, 4, 4, 4, 2, 8]);
      const bss = Buffer.alloc(36);
      bss.writeInt32LE(SOL_TCP, 0);
      bss.writeInt32LE(o.optname, 4);
      bss.writeUInt32LE(optlen, 8);
      val.copy(bss, 12, 0, 8);
      for (const c of [t.kern, emu]) c.map('.bss').set(0, bss);
      const proto = rng.pick(['tcp', 'tcp', 'tcp', 'udp'] as const);
      const inside = await t.lab.caller.call({ op: 'sockopt', family: 4, proto, call: 'connect', addr: '127.0.0.1', port: 9, readback: proto === 'tcp' ? READ_TCP : [] });
      const sock = emu.socket({ protocol: proto, port: 0 });
      emu.program('connect_opt').testRun(new Uint8Array(0), { ctx: sockAddrCtx({ protocol: proto, address: '127.0.0.1', port: 9 }), socket: sock });
      const what = `${proto} optname ${o.optname} optlen ${optlen} value ${JSON.stringify(v)}`;
      const res = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).subarray(0x14, 0x24).toString('hex');
      expect(res(emu), what).toBe(res(t.kern));
      if (proto === 'tcp') {
        const tcp = sock.tcp;
        const name = Buffer.alloc(16);
        name.write(tcp.congestion, 'latin1');
        const ints = [+tcp.nodelay, tcp.keepIdle, tcp.keepIntvl, tcp.keepCnt, tcp.synCnt, tcp.userTimeout, tcp.notsentLowat, tcp.thinLinearTimeouts, tcp.saveSyn, tcp.rtoMaxMs];
        expect(inside.readback, what).toEqual([...ints.map((n) => ({ hex: u32(n).toString('hex') })), { hex: name.toString('hex') }]);
      }
      const r = (t.kern.map('.bss').get(0) as Buffer).readInt32LE(0x14);
      seen.set(r, (seen.get(r) ?? 0) + 1);
    }
    // Taken, refused (EINVAL), ENOPROTOOPT (TCP_SAVED_SYN), ENOENT (no such congestion control), -ENOTSUPP ("cdg").
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([-524, -92, -22, -2, 0]);
  }, 120_000);
});
