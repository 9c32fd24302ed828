// Emulated maps: the kernel's rules for each type, through the user-side calls
// (the ones BpfMap answers too) and the program-side ones helpers use.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { BPF_MAP_TYPE as T } from '../../src/uapi/bpf.js';
import { EmulatedMap } from '../../src/vm/maps.js';
import { Memory } from '../../src/vm/memory.js';

const mk = (type: number, keySize: number, valueSize: number, maxEntries: number, cpus = 1) => new EmulatedMap(new Memory(), { name: 'm', type, keySize, valueSize, maxEntries, flags: 0 }, { cpus });
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const errno = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('emulated maps', () => {
  it('hash: noexist/exist flags, full map E2BIG, delete', () => {
    const m = mk(T.HASH, 4, 4, 2);
    m.set(1, u32(10));
    expect(errno(() => m.set(1, u32(11), 'noexist'))).toMatch(/EEXIST/);
    expect(errno(() => m.set(9, u32(11), 'exist'))).toMatch(/ENOENT/);
    m.set(2, u32(20));
    expect(errno(() => m.set(3, u32(30)))).toMatch(/E2BIG/);
    m.set(2, u32(21), 'exist');
    expect(m.get(2)).toEqual(u32(21));
    expect(m.delete(1)).toBe(true);
    expect(m.delete(1)).toBe(false);
    expect([...m.keys()]).toEqual([u32(2)]);
  });

  it('array: every index exists, noexist is EEXIST, out of range E2BIG; lookup address is inside the value array', () => {
    const m = mk(T.ARRAY, 4, 8, 3);
    expect([...m.keys()]).toHaveLength(3);
    expect(m.get(2)).toEqual(Buffer.alloc(8));
    expect(errno(() => m.set(0, Buffer.alloc(8), 'noexist'))).toMatch(/EEXIST/);
    expect(errno(() => m.set(3, Buffer.alloc(8)))).toMatch(/E2BIG/);
    const a0 = m.lookupAddress(u32(0), 0);
    expect(m.lookupAddress(u32(2), 0) - a0).toBe(16n);
    expect(m.lookupAddress(u32(3), 0)).toBe(0n);
  });

  it('per-CPU array: one value per CPU; a program updates its own CPU', () => {
    const m = mk(T.PERCPU_ARRAY, 4, 8, 1, 3);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(5n);
    expect(m.updateFromProgram(u32(0), v, 0, 2)).toBe(0);
    expect((m.get(0) as Buffer[]).map((b) => b.readBigUInt64LE(0))).toEqual([0n, 0n, 5n]);
    m.set(
      0,
      [0, 1, 2].map(() => Buffer.alloc(8, 1)),
    );
    expect((m.get(0) as Buffer[]).every((b) => b.equals(Buffer.alloc(8, 1)))).toBe(true);
  });

  it('LRU hash: a full map evicts the least recently used entry', () => {
    const m = mk(T.LRU_HASH, 4, 4, 2);
    m.set(1, u32(1));
    m.set(2, u32(2));
    m.lookupAddress(u32(1), 0); // 1 is now more recent than 2
    m.set(3, u32(3));
    expect(m.has(2)).toBe(false);
    expect(m.has(1) && m.has(3)).toBe(true);
  });

  it('LPM trie: longest prefix; bits past the prefix do not count; prefix over the key size is EINVAL', () => {
    const m = mk(T.LPM_TRIE, 8, 4, 16);
    const key = (len: number, a: number[]) => Buffer.concat([u32(len), Buffer.from(a)]);
    m.set(key(8, [10, 0, 0, 0]), u32(8));
    m.set(key(24, [10, 1, 2, 99]), u32(24)); // stored as 10.1.2.0/24
    expect(m.get(key(24, [10, 1, 2, 0]))).toEqual(u32(24));
    const hit = (a: number[]) => {
      const addr = m.lookupAddress(key(32, a), 0);
      return addr === 0n ? undefined : Buffer.from(m.memory.view(addr, 4)!).readUInt32LE(0);
    };
    expect(hit([10, 1, 2, 3])).toBe(24);
    expect(hit([10, 1, 3, 3])).toBe(8);
    expect(hit([11, 0, 0, 0])).toBeUndefined();
    expect(errno(() => m.set(key(33, [1, 2, 3, 4]), u32(0)))).toMatch(/EINVAL/);
  });

  it('queue and stack: FIFO and LIFO, full is E2BIG unless BPF_EXIST', () => {
    const q = mk(T.QUEUE, 0, 4, 2);
    const s = mk(T.STACK, 0, 4, 2);
    for (const m of [q, s]) {
      expect(m.push(u32(1), 0)).toBe(0);
      expect(m.push(u32(2), 0)).toBe(0);
      expect(m.push(u32(3), 0)).toBe(-7);
    }
    expect(q.lookupAndDelete()).toEqual(u32(1));
    expect(s.lookupAndDelete()).toEqual(u32(2));
    expect(q.push(u32(3), 2)).toBe(0); // BPF_EXIST drops the oldest
    expect([q.lookupAndDelete(), q.lookupAndDelete(), q.lookupAndDelete()]).toEqual([u32(2), u32(3), undefined]);
  });
});
