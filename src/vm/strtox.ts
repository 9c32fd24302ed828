// bpf_strtol / bpf_strtoul as the kernel parses (kernel/bpf/helpers.c over
// lib/kstrtox.c): leading white space (the kernel's isspace, which counts
// 0xA0 too), one '-', at most 63 bytes after them, the base from flags (0:
// "0x" with a hex digit after it is 16, a leading "0" is 8, else 10; 16 also
// skips a "0x"), digits until the first that is not one of the base's. The
// result is the bytes consumed, or -EINVAL (no digit, a bad base or flag)
// or -ERANGE (past 64 bits, or past the signed range for strtol).

import { EINVAL, ERANGE } from './maps.js';

const BASE_MASK = 0x1f;

/** The kernel's isspace (lib/ctype.c): \t \n \v \f \r, space, and 0xA0. */
const isSpace = (c: number) => (c >= 9 && c <= 13) || c === 32 || c === 0xa0;
const digit = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lc = c | 0x20;
  return lc >= 0x61 && lc <= 0x66 ? lc - 0x61 + 10 : 99;
};

/** __bpf_strtoull: [consumed, value, negative], or a negative errno. */
function strtoull(buf: Uint8Array, flags: bigint): [number, bigint, boolean] | number {
  let base = Number(flags & BigInt(BASE_MASK));
  if (buf.length === 0) return -EINVAL;
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return -EINVAL;
  if (flags & ~BigInt(BASE_MASK)) return -EINVAL;
  let i = 0;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  const negative = i < buf.length && buf[i] === 0x2d;
  if (negative) i++;
  const consumed = i;
  if (buf.length - consumed === 0) return -EINVAL;
  // A copy of at most 63 bytes, NUL-terminated: parsing stops at its end.
  const str = new Uint8Array(64);
  str.set(buf.subarray(consumed, consumed + Math.min(buf.length - consumed, 63)));
  let s = 0;
  if (base === 0) {
    if (str[0] === 0x30) base = (str[1]! | 0x20) === 0x78 && digit(str[2]!) < 16 ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && str[0] === 0x30 && (str[1]! | 0x20) === 0x78) s = 2;
  let res = 0n;
  let len = 0;
  let overflow = false;
  const b = BigInt(base);
  for (; ; s++, len++) {
    const v = digit(str[s]!);
    if (v >= base) break;
    // The kernel checks only once the top 4 bits are in use, then on every digit.
    if (res >> 60n !== 0n && res > (0xffffffffffffffffn - BigInt(v)) / b) overflow = true;
    res = BigInt.asUintN(64, res * b + BigInt(v));
  }
  if (overflow) return -ERANGE;
  if (len === 0) return -EINVAL;
  return [consumed + s, res, negative];
}

/** bpf_strtol: [result, value] (value 0 on an error, as the kernel writes *res first). */
export function bpfStrtol(buf: Uint8Array, flags: bigint): [number, bigint] {
  const r = strtoull(buf, flags);
  if (typeof r === 'number') return [r, 0n];
  const [consumed, u, negative] = r;
  const v = negative ? BigInt.asIntN(64, -u) : BigInt.asIntN(64, u);
  // -u must come out negative (or zero), u positive: else it does not fit an s64.
  if (negative ? v > 0n : v < 0n) return [-ERANGE, 0n];
  return [consumed, v];
}

/** bpf_strtoul: [result, value]; a '-' is -EINVAL. */
export function bpfStrtoul(buf: Uint8Array, flags: bigint): [number, bigint] {
  const r = strtoull(buf, flags);
  if (typeof r === 'number') return [r, 0n];
  const [consumed, u, negative] = r;
  return negative ? [-EINVAL, 0n] : [consumed, u];
}
