// Pure parts of the kernel layer: no syscalls, runs without root.
import { describe, expect, test } from 'vitest';
import { parseCpuList } from '../src/sys/cpus.js';
import { errnoName, errnoNumber, isNotSupported } from '../src/sys/errno.js';
import { BpfSyscallError } from '../src/sys/syscall-error.js';
import { BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_OBJ_GET, BPF_MAP_LOOKUP_BATCH, bpfCmdName } from '../src/sys/bpf-cmd.js';
import { encodeMapCreate, MAP_CREATE_ATTR_SIZE } from '../src/sys/map-attr.js';
import { encodeInto, readI32, readU16, readU32, readU64, u16, u32, u64, u8 } from '../src/maps/codec.js';
import { normalizeMapSpec, sanitizeMapName, expectedMapFlags } from '../src/maps/map.js';
import { BPF_MAP_TYPE as T, isPerCpuMapType, mapTypeName } from '../src/sys/map-type.js';
import { BpfError } from '../src/errors.js';
import { linkTypeName } from '../src/sys/link-type.js';
import { readU32 as readAttrU32, readU64 as readAttrU64 } from '../src/sys/endian.js';

describe('possible CPU lists', () => {
  test.each([
    ['0', 1],
    ['0-1\n', 2],
    ['0-7', 8],
    ['0,2-5', 5],
    ['0-3,8-11', 8],
    ['0,1,2', 3],
  ])('%j has %i CPUs', (text, n) => expect(parseCpuList(text)).toBe(n));
  test('garbage is rejected', () => {
    expect(() => parseCpuList('')).toThrow();
    expect(() => parseCpuList('a-b')).toThrow();
    expect(() => parseCpuList('5-2')).toThrow();
    for (const bad of ['', 'a-b', '5-2']) {
      expect(() => parseCpuList(bad)).toThrowError(expect.objectContaining({ name: 'BpfError', code: 'IO', message: expect.stringContaining('/sys/devices/system/cpu/possible') }));
    }
  });
});

describe('errno', () => {
  test('names', () => {
    expect([1, 2, 3, 4, 5, 7, 9, 11, 12, 13, 14, 16, 17, 19, 20, 22, 28, 34, 38, 95, 524].map(errnoName)).toEqual([
      'EPERM',
      'ENOENT',
      'ESRCH',
      'EINTR',
      'EIO',
      'E2BIG',
      'EBADF',
      'EAGAIN',
      'ENOMEM',
      'EACCES',
      'EFAULT',
      'EBUSY',
      'EEXIST',
      'ENODEV',
      'ENOTDIR',
      'EINVAL',
      'ENOSPC',
      'ERANGE',
      'ENOSYS',
      'EOPNOTSUPP',
      'ENOTSUPP',
    ]);
    expect(errnoName(4242)).toBe('errno 4242');
    expect(errnoNumber('ENOTSUPP')).toBe(524);
    expect(isNotSupported(524) && isNotSupported(95) && !isNotSupported(22)).toBe(true);
  });
});

describe('BpfSyscallError', () => {
  test('message names command, object, errno and a hint', () => {
    const e = new BpfSyscallError(BPF_MAP_CREATE, 1, 'map "counters"');
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('SYSCALL');
    expect(e.command).toBe('BPF_MAP_CREATE');
    expect(e.errno).toBe(1);
    expect(e.errnoName).toBe('EPERM');
    // The hint is computed from this process's CapEff (test/security/caps-hints.test.ts covers it).
    expect(e.message).toMatch(/^BPF_MAP_CREATE \(map "counters"\): EPERM: (needs CAP_BPF, which this process lacks|this process has the capabilities this call needs)/);
  });
  test('hints depend on the command', () => {
    expect(new BpfSyscallError(BPF_MAP_UPDATE_ELEM, 7).message).toBe('BPF_MAP_UPDATE_ELEM: E2BIG: map is full (max_entries reached) or the array index is out of range');
    expect(new BpfSyscallError(BPF_MAP_UPDATE_ELEM, 1).message).toMatch(/frozen/);
    expect(new BpfSyscallError(BPF_OBJ_GET, 2).message).toBe('BPF_OBJ_GET: ENOENT: no such pinned object at this path');
    expect(new BpfSyscallError(BPF_MAP_LOOKUP_BATCH, 28).message).toMatch(/larger batch/);
    expect(new BpfSyscallError(BPF_MAP_CREATE, 524).message).toMatch(/ENOTSUPP: operation not supported/);
    expect(bpfCmdName(99)).toBe('bpf cmd 99');
  });
});

describe('MAP_CREATE attr layout', () => {
  test('fields land at the UAPI offsets', () => {
    const b = encodeMapCreate({
      mapType: 1,
      keySize: 2,
      valueSize: 3,
      maxEntries: 4,
      mapFlags: 5,
      innerMapFd: 6,
      numaNode: 7,
      mapName: 'abcdefghijklmnopq',
      mapIfindex: 8,
      btfFd: 9,
      btfKeyTypeId: 10,
      btfValueTypeId: 11,
      btfVmlinuxValueTypeId: 12,
      mapExtra: 0x1_0000_0002n,
    });
    expect(b.byteLength).toBe(MAP_CREATE_ATTR_SIZE);
    expect([0, 4, 8, 12, 16, 20, 24].map((o) => readAttrU32(b, o))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(b.toString('latin1', 28, 44)).toBe('abcdefghijklmno\0'); // 15 bytes + NUL
    expect([44, 48, 52, 56, 60].map((o) => readAttrU32(b, o))).toEqual([8, 9, 10, 11, 12]);
    expect(readAttrU64(b, 64)).toBe(0x1_0000_0002n);
  });
});

describe('key/value codec', () => {
  const enc = (size: number, v: Parameters<typeof encodeInto>[1]) => {
    const b = Buffer.alloc(size);
    encodeInto(b, v, 'key', 'm');
    return b;
  };
  test('scalars in host byte order, signed or unsigned', () => {
    expect(enc(4, 0x01020304)).toEqual(u32(0x01020304));
    expect(readU32(enc(4, -1))).toBe(0xffffffff);
    expect(readU64(enc(8, 2 ** 40 + 5))).toBe(2n ** 40n + 5n);
    expect(readU64(enc(8, -2))).toBe(2n ** 64n - 2n);
    expect(readU64(enc(8, 2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
    expect(readU16(enc(2, 0xbeef))).toBe(0xbeef);
    expect(enc(1, 255)).toEqual(u8(255));
    expect(readI32(enc(4, -5n))).toBe(-5);
    expect(readU16(u16(7))).toBe(7);
    expect(readU64(u64(9n))).toBe(9n);
  });
  test('size and range errors', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as BpfError).code;
      }
      return 'none';
    };
    expect(code(() => enc(4, Buffer.alloc(3)))).toBe('KEY_SIZE');
    expect(code(() => enc(4, 2 ** 32))).toBe('KEY_SIZE');
    expect(code(() => enc(2, -40000))).toBe('KEY_SIZE');
    expect(code(() => enc(8, 2n ** 64n))).toBe('KEY_SIZE');
    expect(code(() => enc(12, 1))).toBe('KEY_SIZE');
    expect(code(() => enc(4, 1.5))).toBe('KEY_SIZE');
    const v = Buffer.alloc(4);
    expect(code(() => encodeInto(v, Buffer.alloc(5), 'value', 'm'))).toBe('VALUE_SIZE');
  });
});

describe('map definitions', () => {
  test('names are sanitised for the kernel', () => {
    expect(sanitizeMapName('counters')).toBe('counters');
    expect(sanitizeMapName('.rodata.str1.1')).toBe('.rodata.str1.1');
    expect(sanitizeMapName('a-b c/d:e')).toBe('a_b_c_d_e');
    expect(sanitizeMapName('x'.repeat(40))).toHaveLength(15);
  });
  test('normalisation mirrors what the kernel reports', () => {
    const base = { name: 'x', keySize: 0, valueSize: 0, maxEntries: 0 };
    const perf = normalizeMapSpec({ ...base, type: T.PERF_EVENT_ARRAY });
    expect(perf.maxEntries).toBeGreaterThan(0);
    expect([perf.keySize, perf.valueSize]).toEqual([4, 4]);
    expect(normalizeMapSpec({ ...base, type: T.RINGBUF, keySize: 4, maxEntries: 4096 })).toMatchObject({ keySize: 0, valueSize: 0 });
    expect(normalizeMapSpec({ ...base, type: T.HASH_OF_MAPS, keySize: 4 }).valueSize).toBe(4);
    expect(expectedMapFlags({ ...base, type: T.DEVMAP })).toBe(1 << 7);
    expect(expectedMapFlags({ ...base, type: T.HASH, flags: 1 })).toBe(1);
  });
  test('type facts and names', () => {
    expect([T.PERCPU_HASH, T.PERCPU_ARRAY, T.LRU_PERCPU_HASH, T.PERCPU_CGROUP_STORAGE].every(isPerCpuMapType)).toBe(true);
    expect(isPerCpuMapType(T.HASH)).toBe(false);
    expect(mapTypeName(T.LPM_TRIE)).toBe('lpm_trie');
    expect(linkTypeName(11)).toBe('tcx');
  });
});
