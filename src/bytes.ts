// New Buffers for values copied out of native or emulated memory (map values,
// packets), made the cheapest way V8 and Node allow. No imports: the object
// layer and the emulator may use it.

// Up to 64 bytes go into one of V8's on-heap typed arrays, made by Node's own
// Buffer class (FastBuffer, Buffer's species) from a length, not into a view
// of Node's shared 8 KB pool (Buffer.allocUnsafe): each pool is external
// memory, which V8 weighs towards full GCs (one pool per 1,024 u64 values).
// get() of a u64 in a loop: ~1,700 -> ~1,470 ns CPU; a 64-byte packet's
// copy ~165 -> ~95 ns. Beyond 64 bytes V8 allocates a backing store outside
// the heap, slower than the pool.
const SMALL_BUFFER = 64;
const FastBuffer = (Buffer as unknown as { [Symbol.species]?: unknown })[Symbol.species];
const smallBuffer: (len: number) => Buffer =
  typeof FastBuffer === 'function' && FastBuffer !== Buffer ? (len) => new (FastBuffer as new (len: number) => Buffer)(len) : (len) => Buffer.allocUnsafe(len);

/** An uninitialised Buffer of `len` bytes (the caller fills all of it). */
export function newBuffer(len: number): Buffer {
  return len <= SMALL_BUFFER ? smallBuffer(len) : Buffer.allocUnsafe(len);
}

/**
 * A new Buffer with `len` bytes of `src` from `off`: one view per call, where
 * Buffer.from(src.subarray(...)) creates two.
 */
export function copyOut(src: Buffer, off: number, len: number): Buffer {
  const out = newBuffer(len);
  copyBytes(src, off, out, len);
  return out;
}

// Small values (the usual u32/u64) copy faster byte by byte than through a
// native copy. Only copyOut calls this, with Buffers: a call site V8 sees one
// receiver type at stays fast (lookupInto's user buffers made it ~20 ns slower).
function copyBytes(src: Buffer, off: number, dest: Buffer, len: number): void {
  if (len <= 32) for (let i = 0; i < len; i++) dest[i] = src[off + i]!;
  else dest.set(src.subarray(off, off + len));
}
