// 64-bit arithmetic on pairs of int32 (lo, hi) without BigInt on the common
// paths. Results of the two-word operations land in RES_LO/RES_HI (module
// state, so nothing is allocated per instruction).

export let RES_LO = 0;
export let RES_HI = 0;

const TWO32 = 4294967296;

/** Unsigned high 32 bits of a 32x32-bit product. */
export function mulhiU(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  RES_LO = Math.imul(alo, blo);
  RES_HI = (mulhiU(alo, blo) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

const toBig = (lo: number, hi: number): bigint => {
  const h = hi >>> 0;
  // Below 2^53 (addresses, most values) the u64 is an exact number: one BigInt, not four.
  return h < 0x200000 ? BigInt(h * 4294967296 + (lo >>> 0)) : (BigInt(h) << 32n) | BigInt(lo >>> 0);
};
const fromBig = (v: bigint): void => {
  RES_LO = Number(BigInt.asIntN(32, v));
  RES_HI = Number(BigInt.asIntN(32, v >> 32n));
};
/** Set the result from a double holding an exact integer in [-2^53, 2^53]. */
const fromNum = (v: number): void => {
  const h = Math.floor(v / TWO32);
  RES_LO = (v - h * TWO32) | 0;
  RES_HI = h | 0;
};
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_EXACT = -MAX_EXACT;

/**
 * Set the result from a value handed in from outside the machine (an
 * argument, a helper's result, a context field): a safe-integer number, or
 * any bigint taken mod 2^64. Small ones (addresses, most values) are split
 * as numbers, without BigInt arithmetic.
 */
export function fromValue(v: bigint | number): void {
  if (typeof v === 'number' && Number.isSafeInteger(v)) fromNum(v);
  else if (typeof v === 'bigint' && v >= MIN_EXACT && v <= MAX_EXACT) fromNum(Number(v));
  else fromBig(BigInt(v));
}

/** Unsigned 64-bit division; the divisor is not zero. */
export function udiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    RES_LO = Math.floor((alo >>> 0) / (blo >>> 0)) | 0;
    RES_HI = 0;
  } else fromBig(toBig(alo, ahi) / toBig(blo, bhi));
}

export function umod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    RES_LO = ((alo >>> 0) % (blo >>> 0)) | 0;
    RES_HI = 0;
  } else fromBig(toBig(alo, ahi) % toBig(blo, bhi));
}

/** Signed 64-bit division truncating toward zero; INT64_MIN / -1 = INT64_MIN. Divisor not zero. */
export function sdiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === alo >> 31 && bhi === blo >> 31) {
    fromNum(Math.trunc(alo / blo)); // both fit int32: exact, and INT32_MIN / -1 = 2^31 fits 64 bits
  } else fromBig(BigInt.asIntN(64, BigInt.asIntN(64, toBig(alo, ahi)) / BigInt.asIntN(64, toBig(blo, bhi))));
}

/** Signed 64-bit remainder, sign of the dividend; x % -1 = 0. Divisor not zero. */
export function smod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === alo >> 31 && bhi === blo >> 31) fromNum(alo % blo || 0);
  else fromBig(BigInt.asIntN(64, toBig(alo, ahi)) % BigInt.asIntN(64, toBig(blo, bhi)));
}

export function lsh64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    RES_LO = lo;
    RES_HI = hi;
  } else if (s < 32) {
    RES_HI = (hi << s) | (lo >>> (32 - s));
    RES_LO = lo << s;
  } else {
    RES_HI = lo << (s - 32);
    RES_LO = 0;
  }
}

export function rsh64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    RES_LO = lo;
    RES_HI = hi;
  } else if (s < 32) {
    RES_LO = (lo >>> s) | (hi << (32 - s));
    RES_HI = hi >>> s;
  } else {
    // `| 0`: the compiled tier keeps registers as int32 and compares them signed
    // (JMP32 s<=); hi >>> 0 for a shift of exactly 32 would be a uint32.
    RES_LO = (hi >>> (s - 32)) | 0;
    RES_HI = 0;
  }
}

export function arsh64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    RES_LO = lo;
    RES_HI = hi;
  } else if (s < 32) {
    RES_LO = (lo >>> s) | (hi << (32 - s));
    RES_HI = hi >> s;
  } else {
    RES_LO = hi >> (s - 32);
    RES_HI = hi >> 31;
  }
}

export const bswap16 = (x: number): number => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
export const bswap32 = (x: number): number => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);

/** u64 of a pair. */
export const pairToBig = toBig;
