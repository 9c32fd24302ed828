// Cgroup local storage (BPF_MAP_TYPE_CGROUP_STORAGE, PERCPU_CGROUP_STORAGE,
// bpf_get_local_storage) in the emulator, against the kernel with
// fixtures/cgroup_counters.o: a cgroup skb program's test runs, each with
// storage of its own (BPF_PROG_TEST_RUN makes it, the map never holds it);
// a sysctl program attached to a test cgroup, whose storage the map holds
// under the cgroup's id and the attach type — the same keys and counts as
// the emulator's runs for that cgroup; and what user space may do to such a
// map (write an existing cgroup's value; no new one, no delete), errno for
// errno.
import { describe, expect, it } from 'vitest';
import { attachCgroupLink, cgroupId } from '../../src/attach/cgroup.js';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { labWithObject } from '../helpers/cgroup-lab.js';
import { fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

/** `last` in .bss (BTF): struct counts { reads, writes, packets } (u64 each). */
const last = (c: { map(n: string): { get(k: number): unknown } }) => {
  const b = c.map('.bss').get(0) as Buffer;
  return [b.readBigUInt64LE(0), b.readBigUInt64LE(8), b.readBigUInt64LE(16)];
};
/** A counts key: struct bpf_cgroup_storage_key { u64 cgroup_inode_id; u32 attach_type; } (16 bytes with its padding). */
const countsKey = (cg: bigint, attachType: number) => {
  const k = Buffer.alloc(16);
  k.writeBigUInt64LE(cg);
  k.writeUInt32LE(attachType, 8);
  return k;
};
const counts = (reads: number, writes: number, packets: number) => Buffer.from(new BigUint64Array([BigInt(reads), BigInt(writes), BigInt(packets)]).buffer);
/** The errno a call failed with (the kernel's BpfSyscallError, the emulator's BpfError cause), or 0. */
function errnoOf(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return (e as { errno?: number }).errno ?? (e.cause as { errno?: number } | undefined)?.errno ?? -1;
  }
}
const frame = (len: number) => {
  const f = Buffer.alloc(len);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  return f;
};

describe('cgroup local storage in the emulator', () => {
  it("a sysctl program's storage is its cgroup's: one value per cgroup (and attach type), made at its first run", () => {
    const emu = openObject(fixture('cgroup_counters.o')).emulate();
    const run = (cgroup: number, write?: string) => emu.program('sysctl_count').testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_default_ttl', value: '64\n', write }, cgroup });
    run(7);
    run(7, '1\n');
    run(7);
    run(9, '1\n');
    expect([...emu.map('counts').keys()]).toEqual([countsKey(7n, BPF_ATTACH_TYPE.CGROUP_SYSCTL), countsKey(9n, BPF_ATTACH_TYPE.CGROUP_SYSCTL)]);
    expect(emu.map('counts').get(countsKey(7n, BPF_ATTACH_TYPE.CGROUP_SYSCTL))).toEqual(counts(2, 1, 0));
    // The task's cgroup when none is given.
    emu.program('sysctl_count').testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_default_ttl', value: '64\n' }, task: { cgroupId: 9 } });
    expect(emu.map('counts').get(countsKey(9n, BPF_ATTACH_TYPE.CGROUP_SYSCTL))).toEqual(counts(1, 1, 0));
  });
});

describeRoot('cgroup local storage: the emulator against the kernel', () => {
  it('a cgroup skb test run has storage of its own, fresh each run, shared by its repeats, never in the map', () => {
    const spec = openObject(fixture('cgroup_counters.o'));
    using kern = spec.load({ ignorePinning: true });
    const emu = spec.emulate({ cpus: 2 });
    for (const [repeat, len] of [
      [1, 60],
      [5, 100],
      [3, 1500],
    ] as const) {
      const k = kern.program('egress_count').testRun(frame(len), { repeat });
      const e = emu.program('egress_count').testRun(frame(len), { repeat });
      expect([e.retval, ...last(emu)]).toEqual([k.retval, ...last(kern)]);
      expect(last(kern)).toEqual([0n, 0n, BigInt(repeat)]);
    }
    expect([[...kern.map('counts').keys()], [...kern.map('bytes').keys()]]).toEqual([[], []]);
    expect([[...emu.map('counts').keys()], [...emu.map('bytes').keys()]]).toEqual([[], []]);
  });

  describe('a sysctl program attached to a test cgroup', () => {
    const t = labWithObject('cs', 'cgroup_counters.o');

    it('the map holds one value, under the cgroup id and attach type, counting what the program counted — as the emulated runs for that cgroup', async () => {
      using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('sysctl_count'), attachType: 'sysctl' });
      const cg = cgroupId(t.lab.cgroup);
      // Made at attach, zeroed: the kernel's map holds it before any run.
      expect([...t.kern.map('counts').keys()]).toEqual([countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL)]);
      expect(t.kern.map('counts').get(countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL))).toEqual(counts(0, 0, 0));
      const calls = ['r', 'w', 'r', 'r', 'w', 'r', 'w'];
      for (const c of calls) {
        const r = await t.lab.caller.call(
          c === 'r'
            ? { op: 'sysctl-read', name: 'net/ipv4/ip_default_ttl', pos: 0, size: 16 }
            : { op: 'sysctl-write', name: 'net/ipv4/ip_default_ttl', hex: Buffer.from('64\n').toString('hex'), pos: 0 },
        );
        expect(r.error).toBeUndefined();
        t.emu.program('sysctl_count').testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_default_ttl', value: '64\n', ...(c === 'w' ? { write: '64\n' } : {}) }, cgroup: cg });
      }
      expect([...t.emu.map('counts').keys()]).toEqual([...t.kern.map('counts').keys()]);
      expect(t.emu.map('counts').get(countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL))).toEqual(t.kern.map('counts').get(countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL)));
      expect(t.kern.map('counts').get(countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL))).toEqual(counts(4, 3, 0));
      expect(last(t.emu)).toEqual(last(t.kern));

      // User space: an existing value written (BPF_ANY, BPF_EXIST); no new one (ENOENT), no BPF_NOEXIST (EINVAL), no delete (EINVAL).
      const key = countsKey(cg, BPF_ATTACH_TYPE.CGROUP_SYSCTL);
      const other = countsKey(cg + 1n, BPF_ATTACH_TYPE.CGROUP_SYSCTL);
      const outcomes = (m: { set(k: Buffer, v: Buffer, f?: 'any' | 'exist' | 'noexist'): void; delete(k: Buffer): boolean }) => [
        errnoOf(() => m.set(key, counts(10, 20, 30))),
        errnoOf(() => m.set(key, counts(11, 21, 31), 'exist')),
        errnoOf(() => m.set(key, counts(1, 2, 3), 'noexist')),
        errnoOf(() => m.set(other, counts(1, 2, 3))),
        errnoOf(() => m.delete(key)),
      ];
      const want = outcomes(t.kern.map('counts'));
      expect(want).toEqual([0, 0, 22, 2, 22]);
      expect(outcomes(t.emu.map('counts'))).toEqual(want);
      expect(t.emu.map('counts').get(key)).toEqual(t.kern.map('counts').get(key));
    });
  });
});
