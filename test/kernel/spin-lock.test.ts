// BPF_F_LOCK against a map whose value holds a struct bpf_spin_lock
// (bpf/spin_lock.c): set(k, v, 'lock') and get(k, { lock: true }) copy the
// value under its lock; values the program writes under the lock read back
// exact after N runs; and a map without a lock is refused with the reason.
// Expected values come from the C source and the runs made here.
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';

const XDP_PASS = 2;
const EINVAL = 22;

/** struct counter { struct bpf_spin_lock lock; __u32 packets; __u64 bytes; } */
function counter(packets: number, bytes: bigint, lockWord = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(lockWord, 0);
  b.writeUInt32LE(packets, 4);
  b.writeBigUInt64LE(bytes, 8);
  return b;
}
const read = (b: Buffer) => ({ lock: b.readUInt32LE(0), packets: b.readUInt32LE(4), bytes: b.readBigUInt64LE(8) });

describeRoot('bpf_spin_lock values and the lock flag', () => {
  for (const file of ['fixtures/spin_lock.o', 'fixtures/spin_lock.clang14.o']) {
    it(`${file}: values written and read under the lock, and the program's locked increments, are exact`, () => {
      using c = openObject(file).load();
      const m = c.map('locked');
      expect(m.valueSize).toBe(16);
      // The kernel keeps the lock word out of user copies: a non-zero one given to set() is not stored.
      m.set(0, counter(5, 100n, 0xdeadbeef), 'lock');
      expect(read(m.get(0, { lock: true })!)).toEqual({ lock: 0, packets: 5, bytes: 100n });
      m.set(1, counter(7, 9n), ['exist', 'lock']);
      expect(read(m.get(1, { lock: true })!)).toEqual({ lock: 0, packets: 7, bytes: 9n });

      const runs = 1000;
      const packet = Buffer.alloc(60, 0xab);
      const r = c.program('xdp_locked_count').testRun(packet, { repeat: runs });
      expect(r.retval).toBe(XDP_PASS);
      expect(read(m.get(0, { lock: true })!)).toEqual({ lock: 0, packets: 5 + runs, bytes: 100n + BigInt(runs * packet.length) });
      // A second round adds exactly as much again; the other slots are untouched.
      c.program('xdp_locked_count').testRun(Buffer.alloc(64), { repeat: 10 });
      expect(read(m.get(0, { lock: true })!)).toEqual({ lock: 0, packets: 5 + runs + 10, bytes: 100n + BigInt(runs * 60 + 10 * 64) });
      expect(read(m.get(1)!)).toEqual({ lock: 0, packets: 7, bytes: 9n });
      expect(read(m.get(2, { lock: true })!)).toEqual({ lock: 0, packets: 0, bytes: 0n });
    });
  }

  it('a map whose value has no bpf_spin_lock: the kernel refuses the flag (EINVAL) and the error says why', () => {
    using m = BpfMap.create({ name: 'nolock_t', type: T.ARRAY, keySize: 4, valueSize: 16, maxEntries: 2 });
    for (const e of [thrown(() => m.set(0, counter(1, 1n), 'lock')), thrown(() => m.get(0, { lock: true }))]) {
      expect(e).toBeInstanceOf(BpfSyscallError);
      expect((e as BpfSyscallError).errno).toBe(EINVAL);
      expect((e as Error).message).toMatch(
        /^BPF_MAP_(UPDATE|LOOKUP)_ELEM \(map "nolock_t"\): EINVAL: the 'lock' flag \(BPF_F_LOCK\) needs a map whose value holds a struct bpf_spin_lock, described by the map's BTF; this map's value has none: drop 'lock'$/,
      );
    }
    // Without the flag the same calls work, and an EINVAL without it keeps the general hint.
    m.set(0, counter(3, 4n));
    expect(read(m.get(0)!)).toEqual({ lock: 0, packets: 3, bytes: 4n });
    expect((thrown(() => m.set(0, counter(3, 4n), 'noexist')) as Error).message).not.toMatch(/bpf_spin_lock/);
  });
});
