// sock_ops programs in the emulator. The kernel has no test run for them:
// it runs them at points of a TCP connection's life. So the emulator is
// held to the kernel by fixtures/sockops_policy.o attached to a test cgroup
// whose process makes whole TCP connections (listener, connect, data both
// ways, close) in a test namespace: the program records every call the
// kernel makes — the op, every struct bpf_sock_ops field, and what its
// helper calls returned under a random policy — and each record is then
// replayed in the emulator on an emulated socket given the counters the
// kernel's record shows (the emulator runs no TCP); the emulated record must
// be the kernel's, byte for byte. The record's layout is bpftool's
// (fixtures/sockops_policy.btf.txt).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { openObject } from '../../src/collection.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import type { EmulatedCollection, EmulatedSocket, SockOpsCall } from '../../src/vm/index.js';
import { accessDiffs, hostTcp, labWithObject } from '../helpers/cgroup-lab.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { Rng } from '../helpers/fuzz.js';
import { GET_POOL, SET_POOL } from '../helpers/tcp-options.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';

/** Byte offsets of a struct's members, from bpftool's BTF dump of the fixture. */
function members(struct: string): Map<string, number> {
  const text = readFileSync(fixture('sockops_policy.btf.txt'), 'utf8');
  const at = text.indexOf(`STRUCT '${struct}' size=`);
  if (at < 0) throw new Error(`no struct ${struct} in sockops_policy.btf.txt`);
  const out = new Map<string, number>();
  for (const line of text.slice(at).split('\n').slice(1)) {
    const m = /^\t'(\w+)' type_id=\d+ bits_offset=(\d+)$/.exec(line);
    if (!m) break;
    out.set(m[1]!, Number(m[2]) / 8);
  }
  return out;
}
const REC = members('record');
const CFG = members('config');
const OPT = members('opt');
const OPT_SIZE = 28; // bpftool: STRUCT 'opt' size=28
const BSS_SIZE = 224; // cfg (216 bytes) and record_layout (8), llvm-readelf's symbol table

const SOL_SOCKET = 1;
const SOL_TCP = 6;
const TCP_LISTEN = 10;

/** One record's fields by name. */
function fields(rec: Buffer) {
  const u32 = (name: string, i = 0) => rec.readUInt32LE(REC.get(name)! + 4 * i);
  const u64 = (name: string) => rec.readBigUInt64LE(REC.get(name)!);
  return { u32, u64 };
}

interface Opt {
  level: number;
  optname: number;
  val: Buffer;
}

/** struct config in .bss. */
function bss(c: {
  act: number;
  deny: number;
  cb?: number;
  reply?: number;
  txhash?: number;
  mapFlags?: bigint;
  set?: (Opt | null)[];
  get?: ({ level: number; optname: number; len: number } | null)[];
}): Buffer {
  const b = Buffer.alloc(BSS_SIZE);
  b.writeUInt32LE(c.act >>> 0, CFG.get('act_ops')!);
  b.writeUInt32LE(c.deny >>> 0, CFG.get('deny_ops')!);
  if (c.cb !== undefined) {
    b.writeUInt32LE(1, CFG.get('set_cb')!);
    b.writeInt32LE(c.cb, CFG.get('cb_flags')!);
  }
  if (c.reply !== undefined) {
    b.writeUInt32LE(1, CFG.get('set_reply')!);
    b.writeUInt32LE(c.reply >>> 0, CFG.get('reply')!);
  }
  if (c.txhash !== undefined) {
    b.writeUInt32LE(1, CFG.get('set_txhash')!);
    b.writeUInt32LE(c.txhash >>> 0, CFG.get('txhash')!);
  }
  if (c.mapFlags !== undefined) {
    b.writeUInt32LE(1, CFG.get('map_update')!);
    b.writeBigUInt64LE(c.mapFlags, CFG.get('map_flags')!);
  }
  (c.set ?? []).forEach((o, i) => {
    if (!o) return;
    const at = CFG.get('set')! + i * OPT_SIZE;
    b.writeInt32LE(o.level, at + OPT.get('level')!);
    b.writeInt32LE(o.optname, at + OPT.get('optname')!);
    b.writeUInt32LE(o.val.length, at + OPT.get('len')!);
    o.val.copy(b, at + OPT.get('val')!);
  });
  (c.get ?? []).forEach((o, i) => {
    if (!o) return;
    const at = CFG.get('get')! + i * OPT_SIZE;
    b.writeInt32LE(o.level, at + OPT.get('level')!);
    b.writeInt32LE(o.optname, at + OPT.get('optname')!);
    b.writeUInt32LE(o.len, at + OPT.get('len')!);
  });
  return b;
}

const int = (v: number, len = 4) => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(v >>> 0);
  return b.subarray(0, len);
};

/** A connected IPv4 TCP socket of `emu`: 10.0.0.1:40000 to 10.0.0.2:80. */
const connected = (emu: EmulatedCollection, cookie?: bigint) => emu.socket({ protocol: 'tcp', address: '10.0.0.1', port: 40000, remote: { address: '10.0.0.2', port: 80 }, cookie });

/** Run the fixture on one call; the record it emitted. */
function runOne(emu: EmulatedCollection, socket: EmulatedSocket, call: SockOpsCall) {
  const r = emu.program('record').testRun(new Uint8Array(0), { socket, sockOps: call });
  expect(r.events).toHaveLength(1);
  return { run: r, rec: r.events[0]!.data, f: fields(r.events[0]!.data) };
}

describe('sock_ops programs in the emulator', () => {
  it('reads the socket and its tcp_sock from struct bpf_sock_ops, as the kernel lays them out', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    const sock = connected(emu, 77n);
    Object.assign(sock.tcp, { sndCwnd: 23, srttUs: 800, rttMin: 95, sndSsthresh: 40, rcvNxt: 1001, sndNxt: 2002, sndUna: 1999, mssCache: 1448, dataSegsOut: 3, bytesAcked: 5n << 32n });
    const { f, run } = runOne(emu, sock, { op: 'ACTIVE_ESTABLISHED_CB', skb: { data: Buffer.alloc(32), len: 32, tcpFlags: 0x112, hwtstamp: 9n } });
    expect([f.u32('op'), f.u32('family'), f.u32('local_port'), f.u32('is_fullsock'), f.u32('state')]).toEqual([4, 2, 40000, 1, 1]);
    // Addresses in network order; remote_port is the port's big-endian bytes in the upper half (htonl).
    expect([f.u32('local_ip4'), f.u32('remote_ip4')]).toEqual([Buffer.from([10, 0, 0, 1]).readUInt32LE(), Buffer.from([10, 0, 0, 2]).readUInt32LE()]);
    expect(f.u32('remote_port')).toBe(0x50000000);
    expect([f.u32('snd_cwnd'), f.u32('srtt_us'), f.u32('rtt_min'), f.u32('snd_ssthresh'), f.u32('rcv_nxt'), f.u32('snd_nxt'), f.u32('snd_una'), f.u32('mss_cache'), f.u32('data_segs_out')]).toEqual([
      23, 800, 95, 40, 1001, 2002, 1999, 1448, 3,
    ]);
    expect([f.u64('bytes_acked'), f.u64('bytes_received'), f.u64('cookie'), f.u64('skb_hwtstamp')]).toEqual([5n << 32n, 0n, 77n, 9n]);
    // skb_tcp_flags is a u16: the 1-byte read gets its low byte.
    expect([f.u32('has_skb'), f.u32('skb_room'), f.u32('skb_len'), f.u32('skb_tcp_flags'), f.u32('flags_byte')]).toEqual([1, 20, 32, 0x112, 0x12]);
    expect([f.u32('has_sk'), f.u32('sk_state'), f.u32('sk_family')]).toEqual([1, 1, 2]);
    expect(run.sockOps).toEqual({ reply: 0, replylong: [0, 0, 0, 0], callResult: 0 });
  });

  it('a request socket has no tcp_sock: its fields read 0, ctx->sk is NULL, bpf_setsockopt and the flags are -EINVAL', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    emu.map('.bss').set(0, bss({ act: 1 << 1, deny: 0, cb: 4, set: [{ level: SOL_TCP, optname: 1, val: int(1) }], get: [{ level: SOL_SOCKET, optname: 36, len: 4 }], txhash: 5 }));
    const sock = connected(emu);
    sock.tcp.sndCwnd = 30;
    const { f } = runOne(emu, sock, { op: 'TIMEOUT_INIT', request: true });
    expect([f.u32('is_fullsock'), f.u32('state'), f.u32('snd_cwnd'), f.u32('rtt_min'), f.u32('has_sk'), f.u32('cb_ret')]).toEqual([0, 12, 0, 0, 0, -22 >>> 0]);
    expect([f.u32('set_ret'), f.u32('get_ret'), f.u32('after_txhash')]).toEqual([-22 >>> 0, -22 >>> 0, 0]);
    expect(sock.tcp.txhash).toBe(0); // the write is dropped
  });

  it("takes the program's reply, and tcp_call_bpf's -1 when it returns 0", () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    const sock = connected(emu);
    emu.map('.bss').set(0, bss({ act: 1 << 1, deny: 0, reply: 250 }));
    const run = (deny: number) => {
      emu.map('.bss').set(0, bss({ act: 1 << 1, deny, reply: 250 }));
      return runOne(emu, sock, { op: 'TIMEOUT_INIT', args: [7, 8] }).run;
    };
    expect(run(0).sockOps).toEqual({ reply: 250, replylong: [250, 8, 0, 0], callResult: 250 });
    expect(run(1 << 1).sockOps).toEqual({ reply: 250, replylong: [250, 8, 0, 0], callResult: -1 });
    expect(run(0).retval).toBe(1);
  });

  it('bpf_sock_ops_cb_flags_set replaces the flags with those it knows and returns the rest; TCP_BPF_SOCK_OPS_CB_FLAGS refuses unknown ones', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    const sock = connected(emu);
    emu.map('.bss').set(0, bss({ act: 1 << 4, deny: 0, cb: 0x18c }));
    const { f } = runOne(emu, sock, { op: 'ACTIVE_ESTABLISHED_CB' });
    expect([f.u32('cb_ret'), f.u32('after_cb_flags'), sock.tcp.cbFlags]).toEqual([0x180, 0x0c, 0x0c]);
    emu.map('.bss').set(
      0,
      bss({
        act: 1 << 10,
        deny: 0,
        set: [
          { level: SOL_TCP, optname: 1008, val: int(0x80) },
          { level: SOL_TCP, optname: 1008, val: int(0x7f) },
        ],
      }),
    );
    const g = runOne(emu, sock, { op: 'STATE_CB', args: [1, 4] }).f;
    expect([g.u32('cb_flags'), g.u32('set_ret', 0), g.u32('set_ret', 1), g.u32('after_cb_flags')]).toEqual([0x0c, -22 >>> 0, 0, 0x7f]);
    // A timestamp callback: no locked tcp_sock; the flag helpers say EOPNOTSUPP.
    emu.map('.bss').set(0, bss({ act: 1 << 20, deny: 0, cb: 1, set: [{ level: SOL_SOCKET, optname: 36, val: int(1) }] }));
    const h = runOne(emu, sock, { op: 'TSTAMP_SENDMSG_CB' }).f;
    expect([h.u32('is_fullsock'), h.u32('has_sk'), h.u32('cb_flags'), h.u32('snd_cwnd'), h.u32('cb_ret'), h.u32('set_ret')]).toEqual([1, 1, 0, 0, -95 >>> 0, -95 >>> 0]);
  });

  it('SOL_TCP options: the kernel checks, TCP_BPF_IW only before data, TCP_BPF_SNDCWND_CLAMP sets snd_ssthresh, HZ rounds the timers', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate({ hz: 250, tcpCongestionAvailable: ['reno', 'cubic', 'bbr'] });
    const sock = connected(emu);
    const set = (op: number, ...opts: Opt[]) => {
      emu.map('.bss').set(0, bss({ act: 0xffff, deny: 0, set: opts, get: opts.map((o) => ({ level: o.level, optname: o.optname, len: o.optname === 13 ? 8 : 4 })) }));
      const { f, rec } = runOne(emu, sock, { op });
      const got = (i: number) => rec.subarray(REC.get('got')! + 16 * i, REC.get('got')! + 16 * i + 8);
      return { f, got };
    };
    // TCP_BPF_IW before any data segment went out: snd_cwnd is the value; after, EINVAL.
    let r = set(4, { level: SOL_TCP, optname: 1001, val: int(40) });
    expect([r.f.u32('set_ret'), r.f.u32('after_cwnd'), r.f.u32('get_ret')]).toEqual([0, 40, -22 >>> 0]);
    sock.tcp.dataSegsOut = 1;
    r = set(4, { level: SOL_TCP, optname: 1001, val: int(50) });
    expect([r.f.u32('set_ret'), r.f.u32('after_cwnd')]).toEqual([-22 >>> 0, 40]);
    r = set(4, { level: SOL_TCP, optname: 1002, val: int(17) });
    expect([r.f.u32('set_ret'), r.f.u32('after_ssthresh'), r.f.u32('after_cwnd'), sock.tcp.sndCwndClamp]).toEqual([0, 17, 40, 17]);
    // 4001 µs is two jiffies at HZ 250 (read back 8000); 4000 is one (below TCP_TIMEOUT_MIN); 200001 above 200 ms.
    r = set(4, { level: SOL_TCP, optname: 1004, val: int(4001) }, { level: SOL_TCP, optname: 1003, val: int(4000) }, { level: SOL_TCP, optname: 1003, val: int(200001) });
    expect([0, 1, 2].map((i) => r.f.u32('set_ret', i) | 0)).toEqual([0, -22, -22]);
    expect([r.got(0).readUInt32LE(), r.got(1).readUInt32LE()]).toEqual([8000, 200000]);
    r = set(4, { level: SOL_TCP, optname: 2, val: int(87) }, { level: SOL_TCP, optname: 4, val: int(32768) }, { level: SOL_TCP, optname: 44, val: int(1001) });
    expect([0, 1, 2].map((i) => r.f.u32('set_ret', i) | 0)).toEqual([-22, -22, 0]);
    expect(r.got(2).readUInt32LE()).toBe(1004); // 251 jiffies
    // TCP_CONGESTION: a name the kernel has; "cdg" is -ENOTSUPP (524) from bpf; an unknown one -ENOENT; bbr's init sets snd_ssthresh.
    r = set(4, { level: SOL_TCP, optname: 13, val: Buffer.from('bbr\0') }, { level: SOL_TCP, optname: 13, val: Buffer.from('cdg') }, { level: SOL_TCP, optname: 13, val: Buffer.from('vegas') });
    expect([0, 1, 2].map((i) => r.f.u32('set_ret', i) | 0)).toEqual([0, -524, -2]);
    expect([r.got(0).toString('latin1'), sock.tcp.congestion, r.f.u32('after_ssthresh')]).toEqual(['bbr\0\0\0\0\0', 'bbr', 0x7fffffff]);
    // A closed or listening socket's new congestion control is not initialised until the connection (tcp_reinit_congestion_control).
    Object.assign(sock.tcp, { congestion: 'cubic', sndSsthresh: 99 });
    emu.map('.bss').set(0, bss({ act: 1 << 10, deny: 0, set: [{ level: SOL_TCP, optname: 13, val: Buffer.from('bbr') }] }));
    const closed = runOne(emu, sock, { op: 'STATE_CB', state: 7, args: [7, 2] }).f;
    expect([closed.u32('set_ret'), closed.u32('after_ssthresh'), sock.tcp.congestion]).toEqual([0, 99, 'bbr']);
  });

  it('bpf_sock_hash_update from the established and listen callbacks only; the kernel flag checks', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    const sock = connected(emu, 5n);
    const upd = (op: number, flags: bigint) => {
      emu.map('.bss').set(0, bss({ act: 0xffff, deny: 0, mapFlags: flags }));
      return runOne(emu, sock, { op }).f.u32('map_ret') | 0;
    };
    expect([upd(3, 0n), upd(4, 2n), upd(4, 3n), upd(4, 1n), upd(5, 1n), upd(11, 2n)]).toEqual([-95, -2, -22, 0, -17, 0]);
    expect(emu.map('socks').get(Buffer.from(new BigUint64Array([5n]).buffer))).toEqual(Buffer.from(new BigUint64Array([5n]).buffer));
  });

  it('says what it needs, and what it does not model', () => {
    const emu = openObject(fixture('sockops_policy.o')).emulate();
    const p = emu.program('record');
    const udp = emu.socket({ protocol: 'udp', port: 53 });
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0)))).toBe(
      "USAGE: program record: give the TCP socket (EmulatedCollection.socket()) and the event it runs on: testRun(new Uint8Array(0), { socket, sockOps: { op: 'ACTIVE_ESTABLISHED_CB' } })",
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { socket: udp, sockOps: { op: 4 } }))).toBe(
      `USAGE: program record: sock_ops programs run on TCP sockets; socket cookie ${udp.cookie} is UDP`,
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { socket: connected(emu), sockOps: { op: 'ESTABLISHED' as 'VOID' } }))).toMatch(
      /^USAGE: program record: sock_ops op "ESTABLISHED" is not one of VOID, TIMEOUT_INIT, /,
    );
    emu.map('.bss').set(0, bss({ act: 1 << 4, deny: 0, set: [{ level: SOL_TCP, optname: 10, val: int(5000) }] }));
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { socket: connected(emu), sockOps: { op: 4 } }))).toMatch(
      /^EMU_FAULT: record: .*bpf_setsockopt of SOL_TCP TCP_WINDOW_CLAMP \(its floor depends on the kernel build: SOCK_MIN_RCVBUF\) is not emulated/,
    );
    emu.map('.bss').set(0, bss({ act: 1 << 4, deny: 0, get: [{ level: SOL_TCP, optname: 1005, len: 16 }] }));
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { socket: connected(emu), sockOps: { op: 4 } }))).toMatch(
      /bpf_getsockopt of SOL_TCP TCP_BPF_SYN \(the SYN: the emulator keeps no packets of a connection\) is not emulated/,
    );
  });
});

describe('bpf-ts test-run --emulate --sock-ops', () => {
  // A policy for ACTIVE_ESTABLISHED_CB: the callback flags 0x0c, reply 7, TCP_BPF_IW 40.
  const entry = `.bss:00000000=${bss({ act: 1 << 4, deny: 0, cb: 0x0c, reply: 7, set: [{ level: SOL_TCP, optname: 1001, val: int(40) }] }).toString('hex')}`;
  const args = ['test-run', fixture('sockops_policy.o'), '--emulate', '--socket', 'tcp 10.0.0.1:40000 -> 10.0.0.2:80', '--entry', entry];

  it('runs the program on the event, and prints its reply and what it set on the socket', async () => {
    const r = await cliOk(...args, '--sock-ops', 'ACTIVE_ESTABLISHED_CB snd_cwnd 10 data_segs_out 0');
    expect(r.stdout).toMatch(/^record: retval 1 \(0x1\) \(emulated, \d+ instructions\)\nreply: 7 \(tcp_call_bpf returns it\)\nsocket: sockOpsCbFlags 12, sndCwnd 40 \(set by the program\)\n$/);
    // After data went out TCP_BPF_IW is refused: the window stays.
    expect((await cliOk(...args, '--sock-ops', '4 data_segs_out 3')).stdout).toMatch(/\nsocket: sockOpsCbFlags 12 \(set by the program\)\n$/);
    const j = (await cliOk(...args, '--sock-ops', 'ACTIVE_ESTABLISHED_CB', '--json')).json() as Record<string, unknown>;
    expect(j).toMatchObject({ retval: 1, sockOps: { reply: 7, replylong: [7, 0, 0, 0], callResult: 7 }, socket: { sockOpsCbFlags: 12, sndCwnd: 40 } });
    // Not an op the policy acts on: nothing set; reply is args[0] (one union in the kernel), left as it was.
    expect((await cliOk(...args, '--sock-ops', 'RTO_CB args 2,250,0')).stdout).toMatch(/\nreply: 2 \(tcp_call_bpf returns it\)\n$/);
  });

  it('refuses in words: no event, no socket, a malformed event, a kernel run', async () => {
    const bad = async (...argv: string[]) => {
      const r = await cli(...argv);
      return [r.code, r.stderr];
    };
    const obj = fixture('sockops_policy.o');
    expect(await bad('test-run', obj, '--emulate')).toEqual([
      1,
      "bpf-ts: record is a sock_ops program: give the TCP event it runs on, e.g. --sock-ops ACTIVE_ESTABLISHED_CB --socket 'tcp 10.0.0.1:40000 -> 10.0.0.2:80'\n",
    ]);
    expect(await bad('test-run', obj, '--emulate', '--sock-ops', 'RTO_CB')).toEqual([
      1,
      "bpf-ts: record is a sock_ops program: it runs on one TCP socket, --socket 'tcp ADDR:PORT -> PEER:PORT' (a connection) or 'tcp ADDR:PORT' (a listener)\n",
    ]);
    expect(await bad(...args, '--sock-ops', 'RTO_CB snd_wnd 3')).toEqual([
      1,
      `bpf-ts: --sock-ops "RTO_CB snd_wnd 3": unknown word "snd_wnd"; write it as 'OP [args A,B,…] [request] [state S] [FIELD N]…' (OP a BPF_SOCK_OPS_* name or number, e.g. ACTIVE_ESTABLISHED_CB; FIELD a struct bpf_sock_ops tcp field, e.g. snd_cwnd 10)\n`,
    ]);
    expect((await bad(...args, '--sock-ops', 'established'))[1]).toMatch(/^bpf-ts: program record: sock_ops op "established" is not one of VOID, TIMEOUT_INIT, /);
    expect(await bad('test-run', obj, '--sock-ops', 'RTO_CB')).toEqual([
      1,
      "bpf-ts: record is a sock_ops program: the kernel has no test run for those (it runs them in a TCP connection's events): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n",
    ]);
    expect(await bad('test-run', fixture('connect_sockopt.o'), '--emulate', '--sock-ops', 'RTO_CB', '--addr', 'tcp 10.0.0.1:80')).toEqual([
      1,
      "bpf-ts: program connect_opt (cgroup_sock_addr): --sock-ops is a sock_ops program's input\n",
    ]);
  });
});

// ---------------------------------------------------------------- against the kernel

function randomPolicy(rng: Rng) {
  // Every op may act but TCP_LISTEN_CB: a listener's options pass to its connections (the kernel clones the
  // socket), which the replay here would have to copy; the emulator's sockets are the caller's to make.
  const act = rng.u32() & ~(1 << 11) & rng.pick([0x1fffff, 0x30, 0x1f0, 0x100410, rng.u32()]);
  const deny = rng.chance(0.3) ? rng.u32() & rng.u32() : 0;
  const pickSet = (): Opt | null => {
    if (rng.chance(0.25)) return null;
    // TCP_BPF_IW more often: whether data went out decides it, late in a connection.
    const o = rng.chance(0.15) ? SET_POOL.find((p) => p.optname === 1001)! : rng.pick(SET_POOL);
    const v = rng.pick(o.values);
    let val = typeof v === 'string' ? Buffer.from(v, 'latin1') : int(v);
    if (typeof v === 'number' && rng.chance(0.1)) val = int(v, rng.pick([2, 8]));
    return { level: o.level, optname: o.optname, val };
  };
  const pickGet = () => {
    if (rng.chance(0.25)) return null;
    const [level, optname] = rng.pick(GET_POOL);
    const len = optname === 13 && level === SOL_TCP ? rng.pick([1, 2, 4, 6, 16]) : rng.pick([4, 4, 4, 4, 2, 8]);
    return { level, optname, len };
  };
  return {
    act,
    deny,
    cb: rng.chance(0.7) ? rng.pick([0, 0x7f, 0x0f, 0x04, 0x08, 0x0c, 0x10, 0x20, 0xff, -1]) : undefined,
    // No reply 1: NEEDS_ECN would turn ECN on, which sets bits of the socket's TOS the record does not show.
    reply: rng.chance(0.5) ? rng.pick([0, 2, 250, 3000, 0xffffffff]) : undefined,
    txhash: rng.chance(0.4) ? rng.u32() : undefined,
    mapFlags: rng.chance(0.4) ? BigInt(rng.int(4)) : undefined,
    set: [pickSet(), pickSet(), pickSet()],
    get: [pickGet(), pickGet(), pickGet()],
  };
}

describeRoot('sock_ops: the emulator against the kernel running the program through whole TCP connections', () => {
  const t = labWithObject('sops', 'sockops_policy.o');

  it('100 connections under random policies: every call the kernel made, replayed, records the same bytes', async () => {
    const spec = openObject(fixture('sockops_policy.o'));
    const opts = hostTcp(t.lab.netns);
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('record'), attachType: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS });
    using reader = new RingBufferReader(t.kern.maps.get('calls')!);
    const rng = new Rng(0x50c0b5);
    const ops = new Map<number, number>();
    const results = new Map<string, number>();
    let calls = 0;
    for (let round = 0; round < 100; round++) {
      const policy = randomPolicy(rng);
      const cfg = bss(policy);
      t.kern.map('.bss').set(0, cfg);
      const port = 20000 + round;
      const talk = await t.lab.caller.call({ op: 'tcp-talk', addr: '127.0.0.1', port, bytes: rng.pick([1, 1000, 100_000]) });
      expect(talk.error, JSON.stringify(talk)).toBeUndefined();
      const recs: Buffer[] = [];
      reader.consume((d) => recs.push(Buffer.from(d)));
      expect(recs.length).toBeGreaterThan(5);
      // The replay: a fresh emulation (the kernel's sockets are gone with the round), one emulated socket per cookie.
      const emu = spec.emulate(opts);
      emu.map('.bss').set(0, cfg);
      const socks = new Map<bigint, EmulatedSocket>();
      for (const rec of recs) {
        const f = fields(rec);
        const op = f.u32('op');
        const cookie = f.u64('cookie');
        const request = f.u32('is_fullsock') === 0;
        let sock = socks.get(cookie);
        if (!sock) {
          const addr = (name: string) => [...rec.subarray(REC.get(name)!, REC.get(name)! + 4)].join('.');
          const at = REC.get('remote_port')!;
          const remotePort = (rec[at + 2]! << 8) | rec[at + 3]!;
          const listening = f.u32('state') === TCP_LISTEN;
          sock = emu.socket({
            protocol: 'tcp',
            address: addr('local_ip4'),
            port: f.u32('local_port'),
            cookie,
            ...(listening ? {} : { remote: { address: addr('remote_ip4'), port: remotePort }, accepted: f.u32('local_port') === port }),
          });
          // node's listeners have SO_REUSEADDR, which their connections inherit (the kernel clones the listener).
          if (listening || f.u32('local_port') === port) sock.sockopts.reuseaddr = true;
          socks.set(cookie, sock);
        }
        // The counters the kernel's TCP has (the emulator runs none), when the call shows them:
        // not on a request socket; only rtt_min in a timestamp callback.
        if (!request) sock.tcp.rttMin = f.u32('rtt_min');
        if (!request && op <= 15)
          Object.assign(sock.tcp, {
            sndCwnd: f.u32('snd_cwnd'),
            srttUs: f.u32('srtt_us'),
            sndSsthresh: f.u32('snd_ssthresh'),
            rcvNxt: f.u32('rcv_nxt'),
            sndNxt: f.u32('snd_nxt'),
            sndUna: f.u32('snd_una'),
            mssCache: f.u32('mss_cache'),
            ecnFlags: f.u32('ecn_flags'),
            rateDelivered: f.u32('rate_delivered'),
            rateIntervalUs: f.u32('rate_interval_us'),
            packetsOut: f.u32('packets_out'),
            retransOut: f.u32('retrans_out'),
            totalRetrans: f.u32('total_retrans'),
            segsIn: f.u32('segs_in'),
            dataSegsIn: f.u32('data_segs_in'),
            segsOut: f.u32('segs_out'),
            dataSegsOut: f.u32('data_segs_out'),
            lostOut: f.u32('lost_out'),
            sackedOut: f.u32('sacked_out'),
            txhash: f.u32('sk_txhash'),
            bytesReceived: f.u64('bytes_received'),
            bytesAcked: f.u64('bytes_acked'),
          });
        const th = rec.subarray(REC.get('th')!, REC.get('th')! + 20);
        const room = f.u32('skb_room');
        const skb = f.u32('has_skb')
          ? {
              data: room ? Buffer.concat([th, Buffer.alloc((th[12]! >> 4) * 4 - 20)]) : Buffer.alloc(0),
              len: f.u32('skb_len'),
              tcpFlags: f.u32('skb_tcp_flags'),
              hwtstamp: f.u64('skb_hwtstamp'),
            }
          : undefined;
        const args = [0, 1, 2, 3].map((i) => f.u32('args', i));
        const e = emu.program('record').testRun(new Uint8Array(0), { socket: sock, sockOps: { op, args, request, state: f.u32('state'), skb } });
        expect(e.events).toHaveLength(1);
        const mine = e.events[0]!.data;
        if (!mine.equals(rec)) {
          const diff = [...REC.keys()].filter((k, i, all) => {
            const end = REC.get(all[i + 1]!) ?? rec.length;
            return !mine.subarray(REC.get(k)!, end).equals(rec.subarray(REC.get(k)!, end));
          });
          const show = (b: Buffer) =>
            diff.map((k, i) => `${k}=${b.subarray(REC.get(k)!, REC.get(diff[i + 1]!) ?? REC.get([...REC.keys()][[...REC.keys()].indexOf(k) + 1]!) ?? b.length).toString('hex')}`).join(' ');
          expect.fail(
            `round ${round}, call ${recs.indexOf(rec)} (op ${op}, cookie ${cookie}, policy ${JSON.stringify(policy, (_k, v) => (typeof v === 'bigint' ? Number(v) : v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))}): differs in ${diff.join(', ')}\nkernel ${show(rec)}\nemu    ${show(mine)}`,
          );
        }
        ops.set(op, (ops.get(op) ?? 0) + 1);
        for (let i = 0; i < 3; i++) {
          const r = f.u32('set_ret', i) | 0;
          results.set(`set ${r}`, (results.get(`set ${r}`) ?? 0) + 1);
        }
        calls++;
      }
    }
    // What the kernel's connections went through: the connection's callbacks on both sides, request sockets,
    // the flags' callbacks, options taken and refused.
    for (const op of [1, 2, 3, 4, 5, 6, 10, 11, 12]) expect(ops.get(op) ?? 0, `op ${op}: ${JSON.stringify([...ops])}`).toBeGreaterThan(0);
    for (const r of ['set 0', 'set -22']) expect(results.get(r) ?? 0, JSON.stringify([...results])).toBeGreaterThan(3);
    expect(calls).toBeGreaterThan(400);
  }, 180_000);

  it('every load and store of struct bpf_sock_ops: the verifier and the emulator agree', () => {
    const { diffs, taken } = accessDiffs(
      'sock_ops',
      BPF_ATTACH_TYPE.CGROUP_SOCK_OPS,
      224,
      (emu) => {
        const socket = emu.socket({ protocol: 'tcp', address: '127.0.0.1', port: 1, remote: { address: '127.0.0.1', port: 2 } });
        emu.program('p').testRun(new Uint8Array(0), { socket, sockOps: { op: 4 } });
      },
      /bpf_sock_ops: a \d-byte (read|write) at offset \d+ \(the kernel's verifier refuses it\)/,
    );
    expect(diffs).toEqual([]);
    // 4-byte reads of every u32 field but the pointers' and u64s' halves, 8-byte reads of those, 1/2-byte of skb_tcp_flags; reply and sk_txhash written.
    expect(taken).toEqual({ load: 44 + 6 + 2, store: 2 });
  }, 60_000);
});
