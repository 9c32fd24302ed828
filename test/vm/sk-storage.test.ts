// Socket local storage (BPF_MAP_TYPE_SK_STORAGE) in the emulator: one value
// per socket, which bpf_sk_storage_get finds or makes and
// bpf_sk_storage_delete drops, and which user space reads by socket (the
// kernel's by socket fd). Held to the kernel by fixtures/sk_storage_ops.o
// attached to a test cgroup through whole TCP connections: every call's
// record (what the lookup found, the delete's answer), replayed on one
// emulated socket per socket cookie, is the kernel's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { openObject } from '../../src/collection.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import type { EmulatedCollection, EmulatedSocket } from '../../src/vm/index.js';
import { labWithObject } from '../helpers/cgroup-lab.js';
import { fixture } from '../helpers/cli.js';
import { Rng } from '../helpers/fuzz.js';
import { btfStructMembers } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';

/** struct record's members (bpftool's BTF dump of the fixture): byte offsets. */
const REC = btfStructMembers(readFileSync(fixture('sk_storage_ops.btf.txt'), 'utf8'), 'record');
/** .bss: cfg at 0 (create_ops, init_ops, delete_ops, get_flags at 16), record_layout at 24 (llvm-readelf, bpftool). */
const cfgBytes = (c: { create: number; init: number; del: number; flags: bigint }) => {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(c.create >>> 0, 0);
  b.writeUInt32LE(c.init >>> 0, 4);
  b.writeUInt32LE(c.del >>> 0, 8);
  b.writeBigUInt64LE(c.flags, 16);
  return b;
};
const state = (calls: number, lastOp: number) => Buffer.from(new Uint32Array([calls, lastOp]).buffer);

function emulated(c: Parameters<typeof cfgBytes>[0]): EmulatedCollection {
  const emu = openObject(fixture('sk_storage_ops.o')).emulate();
  emu.map('.bss').set(0, cfgBytes(c));
  return emu;
}
const run = (emu: EmulatedCollection, socket: EmulatedSocket, op: number, request = false) => {
  const rec = emu.program('count').testRun(new Uint8Array(0), { socket, sockOps: { op, request } }).events[0]!.data;
  const u32 = (n: string) => rec.readUInt32LE(REC.get(n)!);
  return { rec, got: u32('got'), calls: u32('calls'), lastOp: u32('last_op'), del: rec.readInt32LE(REC.get('del_ret')!) };
};
const tcp = (emu: EmulatedCollection, port: number) => emu.socket({ protocol: 'tcp', address: '10.0.0.1', port, remote: { address: '10.0.0.2', port: 80 } });

describe('sk_storage maps in the emulator', () => {
  it('bpf_sk_storage_get finds a socket its value, makes it with F_CREATE (zeroed or from value), and bpf_sk_storage_delete drops it', () => {
    const emu = emulated({ create: 1 << 4, init: 1 << 4, del: 1 << 10, flags: 1n });
    const [a, b] = [tcp(emu, 1000), tcp(emu, 1001)];
    // Not made outside create_ops; made from init (100 calls, last op 99) in op 4, then counted.
    expect(run(emu, a, 3)).toMatchObject({ got: 0 });
    expect(run(emu, a, 4)).toMatchObject({ got: 1, calls: 100, lastOp: 99 });
    expect(run(emu, a, 12)).toMatchObject({ got: 1, calls: 101, lastOp: 4 });
    expect(emu.map('store').get(a)).toEqual(state(102, 12));
    // Another socket has its own; deleting one leaves the other.
    expect(run(emu, b, 4)).toMatchObject({ got: 1, calls: 100 });
    expect(run(emu, a, 10)).toMatchObject({ got: 1, calls: 102, del: 0 });
    expect(emu.map('store').get(a)).toBeUndefined();
    expect(run(emu, a, 10)).toMatchObject({ got: 0, del: -2 });
    expect(emu.map('store').get(b)).toEqual(state(101, 4));
    // A request socket: ctx->sk is NULL, nothing looked up.
    expect(run(emu, b, 1, true)).toMatchObject({ got: 0, del: 0 });
  });

  it('flags above F_CREATE find nothing; without a value the new storage is zeroed', () => {
    const bad = emulated({ create: 0xffff, init: 0, del: 0, flags: 2n });
    expect(run(bad, tcp(bad, 1), 4).got).toBe(0);
    const zero = emulated({ create: 0xffff, init: 0, del: 0, flags: 1n });
    const s = tcp(zero, 1);
    expect(run(zero, s, 4)).toMatchObject({ got: 1, calls: 0, lastOp: 0 });
  });

  it('user space reads, writes and deletes it by socket, with the kernel flags; other keys and walks are refused', () => {
    const emu = emulated({ create: 0, init: 0, del: 0, flags: 0n });
    const m = emu.map('store');
    const s = tcp(emu, 1);
    expect(codeAndMessage(() => m.set(s, state(5, 5), 'exist'))).toBe('SYSCALL: emulated map store: set: ENOENT');
    m.set(s, state(7, 3), 'noexist');
    expect(codeAndMessage(() => m.set(s, state(5, 5), 'noexist'))).toBe('SYSCALL: emulated map store: set: EEXIST');
    // The program finds what user space wrote.
    expect(run(emu, s, 4)).toMatchObject({ got: 1, calls: 7, lastOp: 3 });
    expect([m.has(s), m.delete(s), m.delete(s), m.has(s)]).toEqual([true, true, false, false]);
    expect(codeAndMessage(() => m.get(0))).toBe("USAGE: emulated map store: get: an sk_storage map is keyed by socket: pass an EmulatedSocket (the kernel's takes a socket fd)");
    expect(codeAndMessage(() => [...m.keys()])).toBe("SYSCALL: emulated map store: keys: EOPNOTSUPP: an sk_storage map's keys are sockets: get(socket) each");
    expect(codeAndMessage(() => emu.map('calls').get(s))).toBe('USAGE: emulated map calls: get: a socket is the key of an sk_storage map only; this one is a ringbuf');
  });
});

describeRoot('sk_storage: the emulator against the kernel through whole TCP connections', () => {
  const t = labWithObject('skst', 'sk_storage_ops.o');

  it('60 connections under random lookup, create and delete policies: every record, replayed, is the kernel’s', async () => {
    const spec = openObject(fixture('sk_storage_ops.o'));
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('count'), attachType: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS });
    using reader = new RingBufferReader(t.kern.maps.get('calls')!);
    const rng = new Rng(0x5c57);
    const seen = { got: 0, missed: 0, deleted: 0, absent: 0 };
    for (let round = 0; round < 60; round++) {
      const masks = () => rng.pick([0xffff, 0xffff, rng.u32(), 1 << 4, (1 << 4) | (1 << 5) | (1 << 11)]);
      const c = { create: masks(), init: rng.u32(), del: rng.chance(0.7) ? rng.u32() & rng.u32() : 0, flags: rng.pick([1n, 1n, 1n, 1n, 0n, 2n, 3n]) };
      const cfg = cfgBytes(c);
      t.kern.map('.bss').set(0, cfg);
      const talk = await t.lab.caller.call({ op: 'tcp-talk', addr: '127.0.0.1', port: 22000 + round, bytes: rng.pick([1, 1000]) });
      expect(talk.error, JSON.stringify(talk)).toBeUndefined();
      const recs: Buffer[] = [];
      reader.consume((d) => recs.push(Buffer.from(d)));
      const emu = spec.emulate();
      emu.map('.bss').set(0, cfg);
      const socks = new Map<bigint, EmulatedSocket>();
      for (const rec of recs) {
        const cookie = rec.readBigUInt64LE(REC.get('cookie')!);
        let sock = socks.get(cookie);
        if (!sock) socks.set(cookie, (sock = emu.socket({ protocol: 'tcp', address: '127.0.0.1', port: 1 + socks.size, remote: { address: '127.0.0.1', port: 9 }, cookie })));
        const op = rec.readUInt32LE(REC.get('op')!);
        const mine = emu.program('count').testRun(new Uint8Array(0), { socket: sock, sockOps: { op, request: rec.readUInt32LE(REC.get('has_sk')!) === 0 } }).events[0]!.data;
        expect(mine.toString('hex'), `round ${round}, call ${recs.indexOf(rec)} (op ${op}), policy ${JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`).toBe(rec.toString('hex'));
        if (rec.readUInt32LE(REC.get('has_sk')!)) {
          if (rec.readUInt32LE(REC.get('got')!)) seen.got++;
          else seen.missed++;
          const del = rec.readInt32LE(REC.get('del_ret')!);
          if (del === 0 && (c.del >>> op) & 1) seen.deleted++;
          if (del === -2) seen.absent++;
        }
      }
    }
    expect(
      Object.values(seen).every((n) => n >= 10),
      JSON.stringify(seen),
    ).toBe(true);
  }, 120_000);
});
