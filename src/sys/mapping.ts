// The lifetime of mmap'd ranges that JavaScript holds views of (mmapable
// array maps, global data, ring buffers). An ArrayBuffer over unmapped memory
// crashes the process when touched, and an external ArrayBuffer cannot be
// detached from JS: so a range is unmapped only once no ArrayBuffer over it
// is reachable, and until then retire() leaves private zeroed pages in place
// of the kernel's (the BPF map is released, the range stays valid).

import * as ffi from './ffi.js';

// The held value must not reference the buffer (a registry holds its held
// values strongly: the buffer would never be collected, the range never unmapped).
const unmapOnCollect = new FinalizationRegistry<{ address: bigint; length: number }>(({ address, length }) => {
  ffi.munmap({ address, length, buffer: NO_BUFFER });
});
const NO_BUFFER = new ArrayBuffer(0);

/** Unmap `m` once its ArrayBuffer is garbage collected. */
export function unmapWhenCollected(m: ffi.Mapping): void {
  unmapOnCollect.register(m.buffer, { address: m.address, length: m.length });
}

/**
 * Give `m`'s pages back now (swapped for private zeroed memory in place, so
 * views kept by the caller read zeros rather than crash). Call
 * unmapWhenCollected(m) once per mapping, at creation or here.
 */
export function retire(m: ffi.Mapping): void {
  // If the swap fails the kernel's pages stay mapped until the buffer is collected.
  ffi.remapAnonymous(m);
}
