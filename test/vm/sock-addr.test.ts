// cgroup sock_addr programs in the emulator. The kernel has no test run for
// them, so the comparison is with the calls themselves: fixtures/
// sock_addr_nat.o's hooks attached to a test cgroup, a node process in that
// cgroup and in a test network namespace (loopback only) connecting, sending,
// receiving and binding, and the address each call ended up with (the peer
// a connection reached, the source a datagram arrived from, the address a
// socket was bound to, EPERM) against the address the emulator's run of the
// same hook leaves in its ctx — and what the program read (its `seen`), the
// same in both.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { attachCgroupLink, cgroup2Mount } from '../../src/attach/cgroup.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import type { BpfCollection } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { setLinkUp } from '../../src/netlink/link.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { createNetns, deleteNetns, netnsPath, withNetns } from '../../src/netns.js';
import { type EmulatedCollection, type EmulatedSocket, sockAddrCtx } from '../../src/vm/index.js';
import { cli, cliOk, fixture, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';

const CHILD = join(ROOT, 'test', 'vm', 'sock-addr-child.cjs');

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

// ---------------------------------------------------------------- against the kernel's calls

/** The child in the cgroup, spoken to line by line. */
class Caller {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  stderr = '';

  constructor(netns: string, cgroup: string) {
    // The shell moves itself into the cgroup, then becomes node: its sockets belong to the cgroup.
    this.child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', 'sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "${process.execPath}" "${CHILD}"`], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.#lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async call(op: Record<string, unknown>): Promise<{ error?: string; remote?: [string, number]; local?: number | [string, number]; from?: [string, number]; timeout?: boolean; ok?: boolean }> {
    this.child.stdin.write(JSON.stringify(op) + '\n');
    const r = await this.#lines.next();
    if (r.done) throw new Error(`the caller exited; stderr: ${this.stderr}`);
    return JSON.parse(r.value as string);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describeRoot('cgroup sock_addr: the emulator against the kernel running the hooks in real calls', () => {
  let cg: string;
  let ns: string;
  let caller: Caller;
  let kern: BpfCollection;
  let emu: EmulatedCollection;

  beforeAll(async () => {
    cg = join(cgroup2Mount(), `bpf-ts-${uniqueName('sa')}`);
    mkdirSync(cg);
    ns = uniqueName('sans');
    createNetns(ns);
    withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      setLinkUp(sock, 1); // lo
    });
    const spec = openObject(fixture('sock_addr_nat.o'));
    kern = spec.load({ ignorePinning: true });
    emu = spec.emulate();
    fill(kern, Buffer.alloc(BSS.size));
    fill(emu, Buffer.alloc(BSS.size));
    caller = new Caller(ns, cg);
    // The backends, listening before any hook is attached.
    expect(await caller.call({ op: 'listen', addr: '127.0.0.1', port: 8080 })).toEqual({ ok: true });
    expect(await caller.call({ op: 'listen', addr: '::1', port: 8080 })).toEqual({ ok: true });
  }, 60_000);

  afterAll(() => {
    try {
      caller?.kill();
      kern?.close();
    } finally {
      if (ns) deleteNetns(ns, { force: true });
      // The cgroup empties once the child has gone.
      for (let i = 0; i < 100 && cg && existsSync(cg); i++) {
        try {
          rmdirSync(cg);
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
      }
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
      const spec = (text: string) => BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'cgroup_sock_addr', name: 'p', expectedAttachType: attach });
      const kernelTakes = (text: string) => {
        try {
          spec(text).load().close();
          return true;
        } catch (e) {
          if (e instanceof BpfError && e.code === 'VERIFIER') return false;
          throw e;
        }
      };
      const emulatorTakes = (text: string) => {
        try {
          spec(text).emulate().program('p').testRun(new Uint8Array(0), { ctx });
          return true;
        } catch (e) {
          if (e instanceof BpfError && e.code === 'EMU_FAULT' && /bpf_sock_addr/.test(e.message)) return false;
          throw e;
        }
      };
      const diffs: string[] = [];
      const taken = { load: 0, store: 0 };
      for (let off = 0; off < 72; off++)
        for (const size of [1, 2, 4, 8]) {
          if (off % size) continue;
          for (const op of ['load', 'store'] as const) {
            const insn = op === 'load' ? `r2 = *(u${size * 8} *)(r1 + ${off})` : `*(u${size * 8} *)(r1 + ${off}) = r1`;
            // r1 is the context when the store runs; the kernel refuses storing a pointer, so store r0 (0).
            const text = op === 'load' ? `${insn}\nr0 = 1\nexit` : `r0 = 0\n*(u${size * 8} *)(r1 + ${off}) = r0\nr0 = 1\nexit`;
            const k = kernelTakes(text);
            if (k) taken[op]++;
            if (emulatorTakes(text) !== k) diffs.push(`${op} ${size} at ${off}: kernel ${k ? 'takes' : 'refuses'} it`);
          }
        }
      expect(diffs).toEqual([]);
      expect(taken.load).toBeGreaterThan(0);
      expect(taken.store).toBeGreaterThan(0);
    });
  }
});
