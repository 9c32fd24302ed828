// The kfuncs of the XDP fixtures, emulated: kfuncs.c's xdp_dynptr_len
// (bpf_dynptr_from_xdp + bpf_dynptr_size: XDP_DROP exactly for a 60-byte
// frame) and xdp_weak_missing (a __weak kfunc nobody provides reads as 0, so
// the guarded call is skipped and weak_seen becomes 0). Expected values come
// from bpf/kfuncs.c; test/vm/differential.test.ts checks the kernel agrees.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { FIXTURES } from '../helpers/oracle.js';
import { udp } from '../helpers/packets.js';

const frameOf = (len: number) => {
  const f = udp({ dport: 9 });
  return len <= f.length ? f.subarray(0, len) : Buffer.concat([f, Buffer.alloc(len - f.length)]);
};

describe('kfuncs, emulated', () => {
  it('bpf_dynptr_from_xdp + bpf_dynptr_size: the frame length (XDP_DROP at 60 bytes only)', () => {
    const em = openObject(join(FIXTURES, 'kfuncs.o')).emulate();
    const p = em.program('xdp_dynptr_len');
    expect([59, 60, 61, 14, 200].map((n) => p.testRun(frameOf(n)).verdict)).toEqual(['XDP_PASS', 'XDP_DROP', 'XDP_PASS', 'XDP_PASS', 'XDP_PASS']);
  });

  it('flags other than 0: bpf_dynptr_from_xdp fails and the program aborts', () => {
    const em = openObject(join(FIXTURES, 'kfuncs.o')).emulate({
      kfuncs: { bpf_dynptr_from_xdp: () => BigInt.asUintN(64, -22n) },
    });
    expect(em.program('xdp_dynptr_len').testRun(frameOf(60)).verdict).toBe('XDP_ABORTED');
  });

  it('a __weak kfunc no one provides is 0 to bpf_ksym_exists: the guarded call never runs', () => {
    const em = openObject(join(FIXTURES, 'kfuncs.o')).emulate();
    expect(em.map('.data').get(0)!).toEqual(Buffer.from([7, 0, 0, 0]));
    expect(em.program('xdp_weak_missing').testRun(frameOf(60)).verdict).toBe('XDP_PASS');
    expect(em.map('.data').get(0)!).toEqual(Buffer.from([0, 0, 0, 0]));
  });

  it('a strong kfunc the emulator lacks is EMU_UNKNOWN_HELPER naming it', () => {
    const em = openObject(join(FIXTURES, 'kfunc_missing.o')).emulate();
    const name = em.file.programs[0]!.name;
    expect(() => em.program(name).testRun(frameOf(60))).toThrow(/bpf_ts_missing_kfunc/);
  });
});
