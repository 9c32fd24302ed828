// src/sys/ffi.ts allocNative: small blocks are cut from shared slabs, large
// ones allocated alone. Whatever the path, a block is zeroed, 8-byte aligned,
// and its `address` is where its `bytes` are: libc's memcpy (through koffi,
// independent of ffi.ts) reads at the address exactly what was written
// through the bytes, block by block, so no two blocks overlap.

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { allocNative, type NativeBuffer } from '../src/sys/ffi.js';

const koffi = createRequire(import.meta.url)('koffi');
const memcpy = koffi.load('libc.so.6').func('void *memcpy(uint8_t *dst, uintptr_t src, size_t n)') as (dst: Buffer, src: bigint, n: number) => unknown;

describe('allocNative', () => {
  it('blocks of every size up to a slab and beyond: zeroed, aligned, disjoint, at their address', () => {
    const sizes = [1, 3, 8, 13, 64, 80, 200, 1000, 1023, 1024, 1025, 4096, 20000];
    const blocks: NativeBuffer[] = [];
    for (let round = 0; round < 40; round++) for (const n of sizes) blocks.push(allocNative(n));
    blocks.forEach((b, i) => {
      expect(b.bytes.every((x) => x === 0)).toBe(true);
      expect(b.address % 8n).toBe(0n);
      b.bytes.fill((i % 251) + 1);
    });
    // Written through every block's bytes first, then read back at every address: an overlap would show.
    blocks.forEach((b, i) => {
      const out = Buffer.alloc(b.bytes.byteLength);
      memcpy(out, b.address, out.byteLength);
      expect(out.every((x) => x === (i % 251) + 1)).toBe(true);
    });
  });
});
