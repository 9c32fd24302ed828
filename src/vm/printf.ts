// The BPF printf family (bpf_trace_printk, bpf_trace_vprintk, bpf_snprintf)
// as Linux formats it: bpf_bprintf_prepare's rules for what a format may hold
// and how much room its arguments take, then vsnprintf's for flags, width,
// signs and padding. Checked against the kernel's bpf_snprintf output in
// test/vm/printf.test.ts.

import { EINVAL, ENOSPC } from './maps.js';

/** MAX_BPRINTF_BIN_ARGS: the room the arguments take once copied (strings inline). */
const BIN_ARGS_MAX = 512;
/** MAX_BPRINTF_VARARGS */
export const BPRINTF_VARARGS_MAX = 12;

/** How the formatter reads the program's memory: `len` bytes at `addr`, or a NUL-terminated string of at most `max` bytes; undefined where nothing is. */
export interface PrintfMemory {
  bytes(addr: bigint, len: number): Uint8Array | undefined;
  string(addr: bigint, max: number): string | undefined;
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
// ispunct: printable, not a space, not alphanumeric.
const isPunct = (c: number) => c > 0x20 && c < 0x7f && !/[A-Za-z0-9]/.test(String.fromCharCode(c));
const isEnd = (c: number | undefined) => c === undefined || c === 0 || isSpace(c) || isPunct(c);

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  width: number;
}

/** vsnprintf's number(): a sign for signed conversions, then padding with spaces or zeroes to the width. */
function number(spec: Spec, value: bigint, signed: boolean, base: 10 | 16, upper: boolean): string {
  let sign = '';
  let v = value;
  if (signed) {
    if (v < 0n) {
      sign = '-';
      v = -v;
    } else if (spec.plus) sign = '+';
    else if (spec.space) sign = ' ';
  }
  let digits = v.toString(base);
  if (upper) digits = digits.toUpperCase();
  const pad = Math.max(0, spec.width - sign.length - digits.length);
  if (spec.left) return sign + digits + ' '.repeat(pad);
  return spec.zero ? sign + '0'.repeat(pad) + digits : ' '.repeat(pad) + sign + digits;
}

/** pointer_string(): hex digits, zero-padded to 16 unless the format gives a width. */
const pointer = (spec: Spec, v: bigint) => number(spec.width ? spec : { ...spec, zero: !spec.left, width: 16 }, BigInt.asUintN(64, v), false, 16, false);

/** A string, or a character, widened with spaces (a '0' flag pads with spaces too). */
const widen = (spec: Spec, s: string) => (spec.left ? s.padEnd(spec.width) : s.padStart(spec.width));

const hex = (b: number) => b.toString(16).padStart(2, '0');

/**
 * `fmt` formatted with `args` (u64 each, as the helpers take them), or a
 * negative errno: -EINVAL for what the kernel refuses (a control character
 * other than a space, DEL, a conversion other than
 * d i u x X c s p… with at most "ll", precision, more conversions than
 * arguments, a %s or %p extension followed by a letter or digit), -ENOSPC
 * when the arguments, strings included, need more than 512 bytes.
 */
export function bprintf(fmt: Uint8Array, args: readonly bigint[], memory: PrintfMemory): string | number {
  let out = '';
  let used = 0;
  let n = 0;
  const at = (i: number): number | undefined => (i < fmt.length ? fmt[i] : undefined);
  // Arguments are copied into the 512-byte buffer: numbers 4-byte aligned, chars and strings as they are.
  const take = (size: number, align: boolean): boolean => {
    if (align) used = (used + 3) & ~3;
    if (BIN_ARGS_MAX - used < size) return false;
    used += size;
    return true;
  };
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    // Control characters (spaces aside) and DEL are refused; Linux 6.18 lets bytes from 0x80 through.
    if ((c < 0x20 && !isSpace(c)) || c === 0x7f) return -EINVAL;
    if (c !== 0x25) {
      out += String.fromCharCode(c);
      continue;
    }
    if (at(i + 1) === 0x25) {
      out += '%';
      i++;
      continue;
    }
    if (n >= args.length) return -EINVAL;
    const arg = args[n]!;
    // A %s or %p?s string, copied into what room the arguments have left (cut to it; none: -ENOSPC).
    const copyString = (): string | number => {
      const s = stringArg(arg, memory, at(i + 1));
      if (typeof s === 'number') return s;
      if (BIN_ARGS_MAX === used) return -ENOSPC;
      const str = s.slice(0, BIN_ARGS_MAX - used - 1);
      used += str.length + 1;
      return str;
    };
    i++;
    const spec: Spec = { left: false, plus: false, space: false, zero: false, width: 0 };
    for (;;) {
      const f = at(i);
      if (f === 0x30) spec.zero = true;
      else if (f === 0x2b) spec.plus = true;
      else if (f === 0x2d) spec.left = true;
      else if (f === 0x20) spec.space = true;
      else break;
      i++;
    }
    while (at(i) !== undefined && at(i)! >= 0x30 && at(i)! <= 0x39) spec.width = spec.width * 10 + (at(i++)! - 0x30);
    if (spec.left) spec.zero = false;
    const conv = at(i);
    if (conv === 0x70) {
      // %p and its extensions.
      const ext = at(i + 1);
      if (isEnd(ext)) {
        // The kernel prints a plain %p hashed (a per-boot secret): the value itself here, in the same form as %px.
        if (!take(8, true)) return -ENOSPC;
        out += pointer(spec, arg);
        n++;
        continue;
      }
      // After an extension the output skips the letters and digits that follow it (vsnprintf's pointer formats).
      const skip = () => {
        while (at(i + 1) !== undefined && /[A-Za-z0-9]/.test(String.fromCharCode(at(i + 1)!))) i++;
      };
      if ((ext === 0x6b || ext === 0x75) && at(i + 2) === 0x73) {
        // %pks, %pus: a string copied in first, printed as it is (no width).
        i += 2;
        const str = copyString();
        if (typeof str === 'number') return str;
        out += str;
        skip();
        n++;
        continue;
      }
      if (ext === 0x4b || ext === 0x78 || ext === 0x73 || ext === 0x53 || ext === 0x42) {
        i++;
        if (!take(8, ext !== 0x42)) return -ENOSPC;
        // %px: 16 hex digits; %pK hashed as %p (the value here); %ps, %pS, %pB a symbol, or 0x and the address when none.
        const sym = `0x${BigInt.asUintN(64, arg).toString(16)}`;
        out += ext === 0x78 || ext === 0x4b ? pointer(spec, arg) : ext === 0x42 ? sym : widen(spec, sym);
        skip();
        n++;
        continue;
      }
      if ((ext !== 0x69 && ext !== 0x49) || (at(i + 2) !== 0x34 && at(i + 2) !== 0x36)) return -EINVAL;
      const v6 = at(i + 2) === 0x36;
      const lower = ext === 0x69;
      i += 2;
      const size = v6 ? 16 : 4;
      if (BIN_ARGS_MAX - used < size) return -ENOSPC;
      // An address the program cannot read prints as zeroes.
      const ip = memory.bytes(arg, size) ?? new Uint8Array(size);
      let s: string;
      if (!v6) s = [...ip].map((b) => (lower ? String(b).padStart(3, '0') : String(b))).join('.');
      else if (lower) s = [...ip].map(hex).join('');
      else s = Array.from({ length: 8 }, (_, k) => hex(ip[2 * k]!) + hex(ip[2 * k + 1]!)).join(':');
      // Formatted in first, printed as it is (no width).
      used += s.length + 1;
      out += s;
      skip();
      n++;
      continue;
    }
    if (conv === 0x73) {
      const str = copyString();
      if (typeof str === 'number') return str;
      out += widen(spec, str);
      n++;
      continue;
    }
    if (conv === 0x63) {
      if (BIN_ARGS_MAX === used) return -ENOSPC;
      used++;
      out += widen(spec, String.fromCharCode(Number(arg & 0xffn)));
      n++;
      continue;
    }
    let size = 4;
    if (at(i) === 0x6c) {
      size = 8;
      i++;
    }
    if (at(i) === 0x6c) i++;
    const k = at(i);
    if (k !== 0x69 && k !== 0x64 && k !== 0x75 && k !== 0x78 && k !== 0x58) return -EINVAL;
    if (!take(size, true)) return -ENOSPC;
    const bits = size * 8;
    const signed = k === 0x69 || k === 0x64;
    const v = signed ? BigInt.asIntN(bits, arg) : BigInt.asUintN(bits, arg);
    out += number(spec, v, signed, k === 0x78 || k === 0x58 ? 16 : 10, k === 0x58);
    n++;
  }
  return out;
}

/** A %s argument: -EINVAL when the conversion runs into a letter or digit; a string the program cannot read prints empty. */
function stringArg(addr: bigint, memory: PrintfMemory, next: number | undefined): string | number {
  if (!isEnd(next)) return -EINVAL;
  return memory.string(addr, BIN_ARGS_MAX) ?? '';
}

/** The format's bytes up to its NUL (-EINVAL without one in `size` bytes). */
export function formatBytes(raw: Uint8Array): Uint8Array | number {
  const end = raw.indexOf(0);
  return end < 0 ? -EINVAL : raw.subarray(0, end);
}
