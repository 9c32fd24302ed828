// Element operations, iteration, batches, per-CPU values and freezing on
// real kernel maps.
import assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import { afterAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap, type MapCreateSpec } from '../../src/maps/map.js';
import { readU32, readU64, u32, u64 } from '../../src/maps/codec.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { BPF_F_NO_PREALLOC } from '../../src/sys/map-attr.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';
import { BpfError } from '../../src/errors.js';
import { listMaps, mapIds } from '../../src/sys/ids.js';
import { thrown } from '../helpers/thrown.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sortedHex = (keys: Iterable<Uint8Array>) => [...keys].map(hex).sort();

describeRoot('map operations', () => {
  const open: BpfMap[] = [];
  const make = (spec: MapCreateSpec) => {
    const m = BpfMap.create(spec);
    open.push(m);
    return m;
  };
  afterAll(() => open.forEach((m) => m.close()));

  test("a map type by bpftool's name: the kernel reports the type it names; a misspelt one is refused before any syscall", () => {
    const m = make({ name: 'ops_by_name', type: 'lru_percpu_hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    expect(m.type).toBe(T.LRU_PERCPU_HASH);
    const shown = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(m.id)], { encoding: 'utf8' })) as { type: string };
    expect(shown.type).toBe('lru_percpu_hash');
    const e = thrown(() => make({ name: 'ops_misspelt', type: 'lru_percpu_hsh' as 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }));
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/^map "ops_misspelt": unknown map type "lru_percpu_hsh" \(known: hash, array, prog_array, .*, arena; or a BPF_MAP_TYPE number\)$/);
  });

  test('hash: set/get/has/delete round trip with bytes, numbers and bigints', () => {
    const m = make({ name: 'ops_hash', type: T.HASH, keySize: 8, valueSize: 8, maxEntries: 64 });
    expect(m.get(1n)).toBeUndefined();
    expect(m.has(1n)).toBe(false);
    m.set(1n, 1000n);
    m.set(u64(2), Buffer.from('abcdefgh'));
    m.set(3, 0xdeadbeef);
    expect(readU64(m.get(1n)!)).toBe(1000n);
    expect(m.get(2)!.toString()).toBe('abcdefgh');
    expect(readU64(m.get(3)!)).toBe(0xdeadbeefn);
    expect(m.has(2n)).toBe(true);
    expect(m.delete(2n)).toBe(true);
    expect(m.delete(2n)).toBe(false);
    expect(m.has(2n)).toBe(false);
    expect(m.get(2n)).toBeUndefined();
    // Returned values are copies, not views of the scratch buffer.
    const v = m.get(1n)!;
    m.set(1n, 7n);
    expect(readU64(v)).toBe(1000n);
  });

  test('scalar fast path: u32 keys and u32/u64 number values store the same bytes as encodeInto', () => {
    const m = make({ name: 'ops_fast', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    const m4 = make({ name: 'ops_fast4', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
    m.set(-1, 2 ** 40 + 5);
    m.set(0x8000_0000, 7);
    m4.set(3, -2);
    m4.set(4, 0xffff_fffe);
    // -1 and 0xffffffff are the same key; the byte-keyed lookups are the reference.
    expect(readU64(m.get(u32(0xffff_ffff))!)).toBe(2n ** 40n + 5n);
    expect(readU64(m.get(u32(0x8000_0000))!)).toBe(7n);
    expect(readU32(m4.get(u32(3))!)).toBe(0xffff_fffe);
    expect(readU32(m4.get(u32(4))!)).toBe(0xffff_fffe);
    expect(sortedHex(m.keys())).toEqual([hex(u32(0x8000_0000)), hex(u32(0xffff_ffff))].sort());
    // Out of range or non-integer still goes through the checked path.
    expect(thrown(() => m.get(2 ** 32))).toBeInstanceOf(BpfError);
    expect(thrown(() => m.get(1.5))).toBeInstanceOf(BpfError);
    expect(thrown(() => m4.set(1, 2 ** 32))).toBeInstanceOf(BpfError);
    expect(thrown(() => m.set(1, -1.5))).toBeInstanceOf(BpfError);
  });

  test('lookupInto: the caller buffer gets the value (reused, switched, unaligned, wider views); absent keys leave it untouched', () => {
    const m = make({ name: 'ops_into', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    m.set(1, 0xffff_fffe); // u64 below 2^32: two word stores
    m.set(2, 2 ** 40 + 5);
    m.set(Buffer.from(u32(3)), u64(0x0102030405060708n)); // a byte key: copied inline
    // The reference: the values as a walk of the whole map returns them.
    const all = new Map([...m.entries()].map(([k, v]) => [readU32(k), readU64(v as Buffer)]));
    expect(all).toEqual(
      new Map([
        [1, 0xffff_fffen],
        [2, 2n ** 40n + 5n],
        [3, 0x0102030405060708n],
      ]),
    );
    const out = Buffer.alloc(8);
    expect(m.lookupInto(1, out)).toBe(true);
    expect(readU64(out)).toBe(0xffff_fffen);
    expect(m.lookupInto(2, out)).toBe(true); // the same buffer again
    expect(readU64(out)).toBe(2n ** 40n + 5n);
    const other = new Uint8Array(8); // another buffer: the copy follows it
    expect(m.lookupInto(u32(3), other)).toBe(true);
    expect(readU64(other)).toBe(0x0102030405060708n);
    expect(readU64(out)).toBe(2n ** 40n + 5n);
    const backing = new Uint8Array(10);
    const odd = backing.subarray(1, 9); // not 4-byte aligned
    expect(m.lookupInto(2, odd)).toBe(true);
    expect(readU64(odd)).toBe(2n ** 40n + 5n);
    expect([backing[0], backing[9]]).toEqual([0, 0]);
    out.fill(0xaa);
    expect(m.lookupInto(9, out)).toBe(false);
    expect(out.every((b) => b === 0xaa)).toBe(true);
    // Sizes are bytes: 8 elements of a wider array are 16 bytes, not 8.
    expect(thrown(() => m.lookupInto(1, Buffer.alloc(4))).code).toBe('VALUE_SIZE');
    expect(thrown(() => m.lookupInto(1, new Uint16Array(8) as unknown as Uint8Array)).code).toBe('VALUE_SIZE');
  });

  test('update flags: noexist on an existing key is EEXIST, exist on a missing one is ENOENT', () => {
    const m = make({ name: 'ops_flags', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
    m.set(1, 1, 'noexist');
    const e = thrown(() => m.set(1, 2, 'noexist'));
    expect(e).toBeInstanceOf(BpfSyscallError);
    expect(e).toBeInstanceOf(BpfError);
    const se = e as BpfSyscallError;
    expect(se.errnoName).toBe('EEXIST');
    expect(se.errno).toBe(17);
    expect(se.code).toBe('SYSCALL');
    expect(se.command).toBe('BPF_MAP_UPDATE_ELEM');
    expect(se.message).toBe('BPF_MAP_UPDATE_ELEM (map "ops_flags"): EEXIST: element already exists (BPF_NOEXIST)');
    expect(readU32(m.get(1)!)).toBe(1);
    expect((thrown(() => m.set(2, 2, 'exist')) as BpfSyscallError).errnoName).toBe('ENOENT');
    m.set(1, 5, 'exist');
    expect(readU32(m.get(1)!)).toBe(5);
    // An unknown flag is refused before the syscall, never taken as BPF_ANY.
    expect(thrown(() => m.set(3, 3, 'exists' as never))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'map "ops_flags": unknown update flag "exists" (one of: any, noexist, exist, lock)' });
    expect(thrown(() => m.set(3, 3, ['noexist', 'exist']))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(m.has(3)).toBe(false);
    // 'lock' reaches the kernel as BPF_F_LOCK: refused (EINVAL) on a value without a bpf_spin_lock.
    expect((thrown(() => m.set(1, 6, ['exist', 'lock'])) as BpfSyscallError).errnoName).toBe('EINVAL');
    expect(readU32(m.get(1)!)).toBe(5);
  });

  test('a full hash map reports E2BIG with a hint', () => {
    const m = make({ name: 'ops_full', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
    m.set(1, 1);
    m.set(2, 2);
    const e = thrown(() => m.set(3, 3)) as BpfSyscallError;
    expect(e.errnoName).toBe('E2BIG');
    expect(e.message).toMatch(/map is full/);
  });

  test('wrong key or value size is a BpfError naming the map', () => {
    const m = make({ name: 'ops_sizes', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    const k = thrown(() => m.get(Buffer.alloc(8))) as BpfError;
    expect(k.code).toBe('KEY_SIZE');
    expect(k.message).toBe('map "ops_sizes": key is 8 bytes, but the map\'s key_size is 4');
    expect(thrown(() => m.set(1, Buffer.alloc(4))).code).toBe('VALUE_SIZE');
    expect(thrown(() => m.set(1n << 40n, 1)).message).toBe('map "ops_sizes": key 1099511627776 does not fit in 4 bytes (the map\'s key_size)');
    expect(thrown(() => m.set(2 ** 32, 1)).code).toBe('KEY_SIZE');
    // Signed and unsigned spellings of the same bits are both accepted.
    m.set(-1, -1n);
    expect(m.get(0xffffffff)).toEqual(Buffer.alloc(8, 0xff));
  });

  test('array: every index exists, delete is refused, keys are 0..n-1', () => {
    const m = make({ name: 'ops_array', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 5 });
    expect(readU32(m.get(4)!)).toBe(0);
    m.set(4, 44);
    expect(readU32(m.get(4)!)).toBe(44);
    expect(m.get(5)).toBeUndefined();
    expect((thrown(() => m.set(5, 1)) as BpfSyscallError).errnoName).toBe('E2BIG');
    // The kernel refuses with EINVAL; we say why before asking it.
    expect(thrown(() => m.delete(1))).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_array" is array: every index of an array always exists and cannot be deleted; write zeros to clear it' });
    expect([...m.keys()].map((k) => readU32(k))).toEqual([0, 1, 2, 3, 4]);
  });

  test('keys() and entries() see exactly what was set (order-independent)', () => {
    const m = make({ name: 'ops_keys', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1000 });
    const want = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const k = (i * 2654435761) >>> 0;
      want.set(k, i);
      m.set(k, i);
    }
    expect(sortedHex(m.keys())).toEqual(sortedHex([...want.keys()].map(u32)));
    const got = new Map([...m.entries()].map(([k, v]) => [readU32(k), readU32(v)]));
    expect(got).toEqual(want);
    // get() inside the walk does not disturb it.
    let n = 0;
    for (const k of m.keys()) {
      expect(m.get(k)).toBeDefined();
      n++;
    }
    expect(n).toBe(500);
    expect([...make({ name: 'ops_empty', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 4 }).keys()]).toEqual([]);
  });

  test('lpm_trie: longest prefix match lookups', () => {
    const m = make({ name: 'ops_lpm', type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 16, flags: BPF_F_NO_PREALLOC });
    const key = (prefix: number, ip: string) => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(prefix, 0);
      Buffer.from(ip.split('.').map(Number)).copy(b, 4);
      return b;
    };
    m.set(key(8, '10.0.0.0'), 8);
    m.set(key(24, '10.1.2.0'), 24);
    expect(readU32(m.get(key(32, '10.1.2.3'))!)).toBe(24);
    expect(readU32(m.get(key(32, '10.9.9.9'))!)).toBe(8);
    expect(m.get(key(32, '11.0.0.1'))).toBeUndefined();
  });

  test('per-CPU array: one value per possible CPU, padded slots handled', () => {
    const cpus = possibleCpus();
    const m = make({ name: 'ops_pcpu_arr', type: T.PERCPU_ARRAY, keySize: 4, valueSize: 12, maxEntries: 2 });
    expect(m.perCpu).toBe(true);
    expect(m.cpus).toBe(cpus);
    // get() is for single-value maps: a per-CPU map points to getPerCpu().
    expect(thrown(() => m.delete(0))).toMatchObject({
      code: 'MAP_INVALID',
      message: 'map "ops_pcpu_arr" is percpu_array: every index of an array always exists and cannot be deleted; write zeros to clear it',
    });
    expect(thrown(() => m.get(0))).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_pcpu_arr" is percpu_array, which holds one value per CPU: use getPerCpu() instead of get()' });
    const zero = m.getPerCpu(0)!;
    expect(zero).toHaveLength(cpus);
    zero.forEach((v) => expect(v).toEqual(Buffer.alloc(12)));
    const vals = Array.from({ length: cpus }, (_, c) => Buffer.from(`cpu-${c}`.padEnd(12, '*')));
    m.setPerCpu(1, vals);
    expect(m.getPerCpu(1)).toEqual(vals);
    // A single value is stored on every CPU.
    m.set(0, Buffer.from('same-on-all!'));
    expect(m.getPerCpu(0)!.map((b) => b.toString())).toEqual(Array(cpus).fill('same-on-all!'));
    expect(thrown(() => m.setPerCpu(0, [Buffer.alloc(12)].concat(vals))).code).toBe('VALUE_SIZE');
  });

  test('per-CPU hash: values, keys and batch reads', () => {
    const cpus = possibleCpus();
    const m = make({ name: 'ops_pcpu_hash', type: T.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 64 });
    for (let k = 0; k < 10; k++)
      m.setPerCpu(
        k,
        Array.from({ length: cpus }, (_, c) => BigInt(k * 100 + c)),
      );
    const v = m.getPerCpu(7)!;
    expect(v.map((b) => readU64(b))).toEqual(Array.from({ length: cpus }, (_, c) => BigInt(700 + c)));
    const batch = m.getBatchPerCpu({ batchSize: 3 });
    expect(batch).toHaveLength(10);
    for (const [k, vals] of batch) {
      expect(vals.map((b) => readU64(b))).toEqual(Array.from({ length: cpus }, (_, c) => BigInt(readU32(k) * 100 + c)));
    }
    // The key walk gives the same per-CPU values as the batch.
    const walk = [...m.entriesPerCpu()];
    expect(sortedHex(walk.map(([k]) => k))).toEqual(sortedHex(batch.map(([k]) => k)));
    for (const [k, vals] of walk) expect(vals).toEqual(m.getPerCpu(k));
    // The single-value iterations refuse a per-CPU map as get() does, naming the per-CPU call.
    expect(thrown(() => m.entries())).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_pcpu_hash" is percpu_hash, which holds one value per CPU: use entriesPerCpu() instead of entries()' });
    expect(thrown(() => m.getBatch())).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_pcpu_hash" is percpu_hash, which holds one value per CPU: use getBatchPerCpu() instead of getBatch()' });
    expect(thrown(() => m.entriesBatch())).toMatchObject({
      code: 'MAP_INVALID',
      message: 'map "ops_pcpu_hash" is percpu_hash, which holds one value per CPU: use entriesBatchPerCpu() instead of entriesBatch()',
    });
    expect(thrown(() => [...m])).toMatchObject({ code: 'MAP_INVALID' });
    const nonPcpu = make({ name: 'ops_not_pcpu', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(thrown(() => nonPcpu.getPerCpu(0)).code).toBe('MAP_INVALID');
    expect(thrown(() => nonPcpu.getBatchPerCpu())).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_not_pcpu": getBatchPerCpu needs a per-CPU map, this is hash' });
    expect(thrown(() => nonPcpu.entriesPerCpu())).toMatchObject({ code: 'MAP_INVALID', message: 'map "ops_not_pcpu": entriesPerCpu needs a per-CPU map, this is hash' });
  });

  test('batch lookup of 10k entries equals the per-key walk', () => {
    const m = make({ name: 'ops_batch', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 10_000 });
    const entries: [number, bigint][] = Array.from({ length: 10_000 }, (_, i) => [i * 7 + 1, BigInt(i) * 3n]);
    expect(m.setBatch(entries)).toBe(10_000);
    const walk = new Map([...m.entries()].map(([k, v]) => [hex(k), hex(v)]));
    expect(walk.size).toBe(10_000);
    for (const batchSize of [64, 1000, 4096]) {
      const batch = m.getBatch({ batchSize });
      expect(batch).toHaveLength(10_000);
      expect(new Map(batch.map(([k, v]) => [hex(k), hex(v)]))).toEqual(walk);
    }
    expect(readU64(m.get(7 * 9999 + 1)!)).toBe(9999n * 3n);
  });

  test('batch on an array, deleteBatch and lookup-and-delete batch', () => {
    const arr = make({ name: 'ops_batch_arr', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 100 });
    arr.setBatch(Array.from({ length: 100 }, (_, i) => [i, i * i] as [number, number]));
    const got = arr.getBatch({ batchSize: 33 });
    expect(got.map(([k, v]) => [readU32(k), readU32(v)])).toEqual(Array.from({ length: 100 }, (_, i) => [i, i * i]));

    const h = make({ name: 'ops_batch_del', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 100 });
    h.setBatch(Array.from({ length: 50 }, (_, i) => [i, i] as [number, number]));
    // Missing keys (1000, 2000) are skipped, not fatal.
    expect(h.deleteBatch([0, 1, 1000, 2, 3, 2000, 4])).toBe(5);
    expect(h.has(0)).toBe(false);
    expect(h.has(5)).toBe(true);
    const drained = [...h.entriesBatch({ andDelete: true, batchSize: 8 })];
    expect(drained).toHaveLength(45);
    expect([...h.keys()]).toEqual([]);
  });

  test('batch falls back to the key walk for map types without batch support', () => {
    const m = make({ name: 'ops_lpm_batch', type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 16, flags: BPF_F_NO_PREALLOC });
    const keys = [Buffer.from([8, 0, 0, 0, 10, 0, 0, 0]), Buffer.from([16, 0, 0, 0, 192, 168, 0, 0])];
    expect(m.setBatch(keys.map((k, i) => [k, i + 1] as [Buffer, number]))).toBe(2);
    expect(sortedHex(m.getBatch().map(([k]) => k))).toEqual(sortedHex(keys));
    expect(m.deleteBatch(keys)).toBe(2);
    expect(m.getBatch()).toEqual([]);
  });

  test('freeze: a frozen array rejects updates from user space with EPERM', () => {
    const m = make({ name: 'ops_rodata', type: T.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1 });
    m.set(0, Buffer.from('initial-rodata!!'));
    m.freeze();
    expect(m.get(0)!.toString()).toBe('initial-rodata!!');
    const e = thrown(() => m.set(0, Buffer.alloc(16))) as BpfSyscallError;
    expect(e).toBeInstanceOf(BpfSyscallError);
    expect(e.errnoName).toBe('EPERM');
    expect(e.message).toMatch(/frozen/);
    expect(m.get(0)!.toString()).toBe('initial-rodata!!');
  });

  test('create writes initialValue and freezes when the spec says so', () => {
    const m = make({
      name: '.rodata',
      type: T.ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
      initialValue: u64(0x1122334455667788n),
      freeze: true,
    });
    expect(readU64(m.get(0)!)).toBe(0x1122334455667788n);
    expect((thrown(() => m.set(0, 1n)) as BpfSyscallError).errnoName).toBe('EPERM');
  });

  test('queue: push with set, pop with lookupAndDelete (no key)', () => {
    const q = make({ name: 'ops_queue', type: T.QUEUE, keySize: 0, valueSize: 4, maxEntries: 4 });
    q.set(Buffer.alloc(0), 1);
    q.set(Buffer.alloc(0), 2);
    expect(readU32(q.lookupAndDelete()!)).toBe(1);
    expect(readU32(q.lookupAndDelete()!)).toBe(2);
    expect(q.lookupAndDelete()).toBeUndefined();
  });

  test('closed maps refuse operations with CLOSED; close is idempotent; using disposes', () => {
    const m = BpfMap.create({ name: 'ops_closed', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    m.get(0);
    m.close();
    m.close();
    expect(m.closed).toBe(true);
    expect(thrown(() => m.get(0)).code).toBe('CLOSED');
    let leaked: BpfMap;
    {
      using d = BpfMap.create({ name: 'ops_using', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      leaked = d;
    }
    expect(leaked.closed).toBe(true);
  });

  test('fromId and fromFd open the same map; ids and info are listed', () => {
    const m = make({ name: 'ops_byid', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 3 });
    m.set(9, 99);
    const again = BpfMap.fromId(m.id);
    open.push(again);
    expect(again.id).toBe(m.id);
    expect(readU32(again.get(9)!)).toBe(99);
    const dup = BpfMap.fromFd(m.fd.dup());
    open.push(dup);
    expect(dup.id).toBe(m.id);
    expect(mapIds()).toContain(m.id);
    const info = listMaps().find((i) => i.id === m.id);
    expect(info).toMatchObject({ name: 'ops_byid', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 3 });
    // As BpfProgram.fromId and BpfLink.fromId say it: a typed error naming the id.
    expect(thrown(() => BpfMap.fromId(0x7fffffff))).toMatchObject({ code: 'MAP_NOT_FOUND', message: 'no map with id 2147483647' });
  });

  test('get returns genuine, independent Buffers: unchanged by thousands of later gets and by later sets', () => {
    const m = make({ name: 'ops_getbufs', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 256 });
    const expected = (k: number) => BigInt(k * 1000 + 1);
    for (let k = 0; k < 256; k++) m.set(k, k * 1000 + 1);
    // 5000 gets of 8 bytes span several of Node's 8 KiB Buffer pools.
    const got: Buffer[] = [];
    for (let i = 0; i < 5000; i++) got.push(m.get(i & 255)!);
    for (let k = 0; k < 256; k++) m.set(k, 0);
    for (let i = 0; i < 5000; i++) m.get(i & 255);
    const wrong = got.map((b, i) => [i, readU64(b)] as const).filter(([i, v]) => v !== expected(i & 255));
    expect(wrong).toEqual([]);
    // Independent memory: writing one value changes no other, not even one of the same key.
    got[0]!.fill(0xff);
    expect(readU64(got[256]!)).toBe(expected(0));
    expect(readU64(got[1]!)).toBe(expected(1));
    // Real Buffers (prototype Buffer.prototype), so strict deep equality with Buffer.from holds.
    expect(Object.getPrototypeOf(got[1])).toBe(Buffer.prototype);
    expect(Buffer.isBuffer(got[1])).toBe(true);
    assert.deepStrictEqual(got[1], Buffer.from(u64(expected(1))));
  });

  test('a lookup the kernel refuses (write-only fd: EPERM) is a BpfSyscallError naming the map from get, lookupInto and has', () => {
    const m = make({ name: 'ops_wronly', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 4 });
    m.set(1, 5);
    const w = BpfMap.fromId(m.id, { writeOnly: true });
    open.push(w);
    w.set(2, 6); // writes are allowed
    expect(readU64(m.get(2)!)).toBe(6n);
    for (const e of [thrown(() => w.get(1)), thrown(() => w.lookupInto(1, Buffer.alloc(8))), thrown(() => w.has(1))]) {
      expect(e).toBeInstanceOf(BpfSyscallError);
      expect((e as BpfSyscallError).errnoName).toBe('EPERM');
      expect(e.message).toContain('ops_wronly');
    }
  });
});
