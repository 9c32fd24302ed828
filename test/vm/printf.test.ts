// bpf_snprintf / bpf_trace_printk formatting in the emulator against the
// kernel's (root): random formats — flags, widths, every conversion the
// kernel takes with its length modifiers, strings, IPv4/IPv6 addresses,
// %px, %c, %% and formats it refuses — set as fixtures/printf.o's .rodata
// `fmt` before load, run by the kernel (a syscall program: the arguments in
// its context, the result and output back) and by the emulator. A format
// the verifier refuses must be -EINVAL in the emulator. Without root, a few
// formats whose output is fixed by C's printf rules.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { FIXTURES } from '../helpers/oracle.js';
import { cases, type Rng, REPLAYING, runCases, seedLine, summary } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';

const FILE = 'test/vm/printf.test.ts';
const OBJ = join(FIXTURES, 'printf.o');
/** struct printf_args: args[12] @0, ptrs @96, ret @100, text[64] @104, out[256] @168. */
const CTX_SIZE = 168 + 256;
const FMT_SIZE = 128;

interface Case {
  fmt: string;
  args: bigint[];
  ptrs: number;
  text: Buffer;
}

const EDGES = [0n, 1n, 9n, 10n, 255n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, 0xffffffff80000000n, 1234567890123n];
const NUMBERS = ['d', 'i', 'u', 'x', 'X'];
const POINTERS = ['s', 'pks', 'pI4', 'pi4', 'pI6', 'pi6'];
const REFUSED = ['%hd', '%.2d', '%q', '%lc', '%5%', '%sx', '%pa', '%lls', '%*d', '%pI5', '%#x', '%lp'];

function randomCase(rng: Rng): Case {
  const args: bigint[] = [];
  let ptrs = 0;
  let fmt = '';
  let afterString = false;
  const literal = () => {
    if (afterString && rng.chance(0.8)) fmt += rng.pick([' ', '|', ',', '\n']);
    const n = rng.int(6);
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.02)) fmt += rng.pick(['\x01', '\x7f', '\x80']);
      else if (rng.chance(0.05)) fmt += rng.pick(['\n', '\t']);
      else {
        const c = String.fromCharCode(0x20 + rng.int(95));
        fmt += c === '%' ? '%%' : c;
      }
    }
  };
  const specs = rng.chance(0.08) ? 13 : 1 + rng.int(6);
  // A letter or digit right after %s refuses the format: mostly something else comes next.
  literal();
  for (let s = 0; s < specs && fmt.length < 100; s++) {
    afterString = false;
    if (rng.chance(0.04)) {
      // Its argument, were it taken: a number, so no pointer reaches a numeric conversion.
      fmt += rng.pick(REFUSED);
      args.push(rng.pick(EDGES));
    } else if (rng.chance(0.06)) fmt += '%%';
    else {
      let flags = '';
      for (let k = rng.int(4); k > 0; k--) flags += rng.pick(['0', '+', '-', ' ']);
      const width = rng.chance(0.5) ? String(1 + rng.int(24)) : '';
      const r = rng.int(10);
      let conv: string;
      if (r < 6) conv = rng.pick(['', 'l', 'll']) + rng.pick(NUMBERS);
      else if (r < 7) conv = 'c';
      else if (r < 8) conv = 'px';
      else conv = rng.pick(POINTERS);
      fmt += `%${flags}${width}${conv}`;
      afterString = conv === 's' || conv === 'pks';
      if (POINTERS.includes(conv)) ptrs |= 1 << args.length;
      args.push(
        POINTERS.includes(conv) ? BigInt(rng.int(64)) : conv === 'c' ? BigInt(rng.int(256)) : rng.chance(0.6) ? rng.pick(EDGES) : BigInt.asUintN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())),
      );
    }
    literal();
  }
  while (args.length < 12) args.push(rng.pick(EDGES));
  // Strings of printable characters with NULs among them, an address's bytes anywhere.
  const text = Buffer.from(rng.bytes(64).map((b) => (rng.chance(0.15) ? 0 : rng.chance(0.05) ? b : 0x20 + (b % 95))));
  return { fmt: fmt.slice(0, FMT_SIZE - 1), args: args.slice(0, 12), ptrs: ptrs & 0xfff, text };
}

function context(c: Case): Buffer {
  const ctx = Buffer.alloc(CTX_SIZE);
  c.args.forEach((a, i) => ctx.writeBigUInt64LE(BigInt.asUintN(64, a), 8 * i));
  ctx.writeUInt32LE(c.ptrs, 96);
  c.text.copy(ctx, 104);
  return ctx;
}

function specFor(fmt: string): BpfObjectSpec {
  const b = Buffer.alloc(FMT_SIZE);
  b.write(fmt, 'latin1');
  return openObject(OBJ).setGlobal('fmt', b);
}

/** bpf_snprintf's result and what it wrote (up to the NUL it put in, or 255 bytes). */
function outcome(ctxOut: Uint8Array): string {
  const c = Buffer.from(ctxOut);
  const ret = c.readInt32LE(100);
  return ret < 0 ? `error ${ret}` : `${ret}: ${JSON.stringify(c.subarray(168, 168 + Math.min(ret, 256)).toString('latin1'))}`;
}

const emulated = (c: Case) =>
  outcome(
    specFor(c.fmt)
      .emulate()
      .program('snprintf_run')
      .testRun(new Uint8Array(0), { ctx: context(c) }).ctxOut!,
  );

describe('bpf_snprintf in the emulator', () => {
  it.each([
    ['%d|%5d|%-5d|%05d|%+d|% d', [-42n, 42n, 42n, -42n, 7n, 7n], '-42|   42|42   |-0042|+7| 7'],
    ['%x|%X|%8x|%-8X|%lx|%llu', [255n, 255n, 0xbeefn, 0xbeefn, 1n << 40n, (1n << 64n) - 1n], 'ff|FF|    beef|BEEF    |10000000000|18446744073709551615'],
    ['%u|%d|%ld|%i', [0xffffffffn, 0xffffffffn, 0xffffffffn, 1n << 31n], '4294967295|-1|4294967295|-2147483648'],
    ['%c%c%3c|%-3c|', [0x41n, 0x62n, 0x43n, 0x44n], 'Ab  C|D  |'],
  ] as const)('%s: as C printf formats it', (fmt, args, want) => {
    const c: Case = { fmt, args: [...args, ...Array<bigint>(12 - args.length).fill(0n)], ptrs: 0, text: Buffer.alloc(64) };
    expect(emulated(c)).toBe(`${want.length + 1}: ${JSON.stringify(`${want}\0`)}`);
  });

  it('%s, %pI4, %pi4, %pI6, %pi6 read the memory the pointer gives', () => {
    const text = Buffer.alloc(64);
    text.write('hello\0', 0, 'latin1');
    Buffer.from([10, 0, 0, 1]).copy(text, 8);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(text, 16);
    const c: Case = { fmt: '%s|%-7s|%pI4|%pi4|%pI6|%pi6', args: [0n, 0n, 8n, 8n, 16n, 16n, ...Array<bigint>(6).fill(0n)], ptrs: 0x3f, text };
    const want = 'hello|hello  |10.0.0.1|010.000.000.001|2001:0db8:0000:0000:0000:0000:0000:0001|20010db8000000000000000000000001';
    expect(emulated(c)).toBe(`${want.length + 1}: ${JSON.stringify(`${want}\0`)}`);
  });

  it('a format the kernel refuses is -EINVAL: precision, %h, too many conversions, a character that is not printable ASCII', () => {
    for (const fmt of ['%.2d', '%hd', '%d'.repeat(13), 'a\x01b', '%sx'])
      expect(emulated({ fmt, args: Array<bigint>(12).fill(0n), ptrs: 0, text: Buffer.alloc(64) }), JSON.stringify(fmt)).toBe('error -22');
  });

  it('bpf_trace_printk: the line, and its length as the result (-EINVAL for a bad format)', () => {
    // r1 = "n=%d\n" on the stack, trace_printk(fmt, 6, -5)
    const text = ['r1 = 0x0a64253d6e ll', '*(u64 *)(r10 - 8) = r1', 'r1 = r10', 'r1 += -8', 'r2 = 6', 'r3 = -5', 'call bpf_trace_printk#6', 'exit'].join('\n');
    const spec = BpfObjectSpec.fromInstructions(assemble(text).bytes, { type: 'xdp', name: 'p' });
    const em = spec.emulate();
    const r = em.program('p').testRun(Buffer.alloc(64));
    expect(r.printk).toEqual(['n=-5']);
    expect(r.retval).toBe('n=-5\n'.length);
  });
});

describeRoot('bpf_strncmp: the kernel and the emulator compare alike', () => {
  it('random strings against random constant strings, whole and on the first 3 bytes', () => {
    const r = runCases(FILE, 'strncmp', cases(40), (rng, note) => {
      const base = Buffer.from(rng.bytes(12).map((b) => 0x61 + (b % 4)));
      const text = Buffer.alloc(64);
      base.copy(text);
      if (rng.chance(0.3)) text[rng.int(12)] = rng.pick([0, 0x80, 0xff, 0x60]);
      const s2 = Buffer.from(base.subarray(0, rng.int(14)));
      if (s2.length && rng.chance(0.4)) s2[rng.int(s2.length)] = 0x61 + rng.int(5);
      const fmt = s2.toString('latin1').replace(/\0.*$/s, '');
      note(`text ${text.subarray(0, 13).toString('hex')}, s2 ${JSON.stringify(fmt)}`);
      const c: Case = { fmt, args: Array<bigint>(12).fill(0n), ptrs: 0, text };
      const both = (out: Uint8Array) => [Buffer.from(out).readInt32LE(100), Buffer.from(out).readInt32LE(96)];
      using coll = specFor(fmt).load();
      const k = both(coll.program('strncmp_run').testRun(new Uint8Array(0), { ctx: context(c) }).ctxOut!);
      const e = both(
        specFor(fmt)
          .emulate()
          .program('strncmp_run')
          .testRun(new Uint8Array(0), { ctx: context(c) }).ctxOut!,
      );
      if (k.join() !== e.join()) throw new Error(`kernel ${k.join(', ')}, emulator ${e.join(', ')}`);
    });
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
  });
});

describeRoot('bpf_snprintf: the kernel and the emulator format alike', () => {
  it('twelve 63-character strings need more than the 512 bytes arguments have: ENOSPC in both', () => {
    const text = Buffer.alloc(64, 0x61);
    text[63] = 0;
    const c: Case = { fmt: Array<string>(12).fill('%s').join(' '), args: Array<bigint>(12).fill(0n), ptrs: 0xfff, text };
    using coll = specFor(c.fmt).load();
    const kernel = outcome(coll.program('snprintf_run').testRun(new Uint8Array(0), { ctx: context(c) }).ctxOut!);
    expect(kernel).toBe('error -28');
    expect(emulated(c)).toBe(kernel);
  });

  it('every random format: the same result and output, or refused by the verifier and -EINVAL in the emulator', () => {
    let refused = 0;
    let compared = 0;
    console.log(seedLine(FILE));
    const r = runCases(FILE, 'printf', cases(150), (rng, note) => {
      const c = randomCase(rng);
      note(`format ${JSON.stringify(c.fmt)} (${Buffer.from(c.fmt, 'latin1').toString('hex')}), ptrs 0x${c.ptrs.toString(16)}, args ${c.args.join(' ')}, text ${c.text.toString('hex')}`);
      let kernel: string;
      try {
        using coll = specFor(c.fmt).load();
        kernel = outcome(coll.program('snprintf_run').testRun(new Uint8Array(0), { ctx: context(c) }).ctxOut!);
      } catch (e) {
        if (!(e instanceof BpfError && e.code === 'VERIFIER')) throw e;
        kernel = 'error -22';
        refused++;
      }
      compared++;
      const e = emulated(c);
      if (e !== kernel) throw new Error(`kernel ${kernel}, emulator ${e}`);
    });
    console.log(`${summary('printf', r)}; ${compared} formats, ${refused} refused by the verifier`);
    expect(r.failures, seedLine(FILE)).toEqual([]);
    expect([...r.codes]).toEqual([]);
    if (REPLAYING) return;
    expect(refused).toBeGreaterThan(5);
    expect(refused).toBeLessThan(compared / 2);
  });
});
