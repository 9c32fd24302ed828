// The interpreter's rules beyond arithmetic: memory regions and faults,
// stack frames, calls, callx, the budget, helpers, byte order, and how it
// reports a fault in a real object (instruction, its text, its C line).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { BpfError } from '../../src/errors.js';
import { parseObject } from '../../src/object/object.js';
import { FUNC_ADDR_ID, Memory } from '../../src/vm/memory.js';
import { type HelperDef, Vm, type VmOptions } from '../../src/vm/vm.js';
import { FIXTURES } from '../helpers/oracle.js';

for (const tier of ['compile', 'interpret'] as const) {
  const vmOf = (text: string, opts: VmOptions = {}, le = true) => new Vm({ instructions: assemble(text, { littleEndian: le }).bytes, name: 't', littleEndian: le }, { tier, ...opts });
  const run = (text: string, args: bigint[] = [], opts: VmOptions = {}) => vmOf(text, opts).run(args).retval;

  function error(f: () => unknown): BpfError {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      return e as BpfError;
    }
    throw new Error('expected a BpfError');
  }

  describe(`memory (${tier})`, () => {
    it('reads and writes a region through r1, and faults one byte past its end', () => {
      const vm = vmOf('r0 = *(u32 *)(r1 + 0)\n*(u8 *)(r1 + 3) = 0x7f\nr2 = *(u8 *)(r1 + 4)\nexit');
      const mem = Uint8Array.from([0x11, 0x22, 0x33, 0x44]);
      const base = vm.memory.add('mem', mem).id;
      const e = error(() => vm.run([Memory.address(base)]));
      expect(e.code).toBe('EMU_FAULT');
      expect(e.message).toBe(`t: instruction 2 (r2 = *(u8 *)(r1 + 4)): read of 1 bytes at 0x${base.toString(16)}00000004 (mem+4, region of 4 bytes): outside mem (4 bytes)`);
      expect(mem[3]).toBe(0x7f); // the store before the fault landed
    });

    it('null and made-up pointers fault; read-only regions refuse stores', () => {
      expect(error(() => run('r0 = *(u64 *)(r1 + 0)\nexit', [0n])).message).toMatch(/instruction 0 \(r0 = \*\(u64 \*\)\(r1 \+ 0\)\): read of 8 bytes at 0x0 \(no memory region there\)/);
      expect(error(() => run('r0 = *(u8 *)(r1 + 0)\nexit', [0x1234_5678_9abcn])).code).toBe('EMU_FAULT');
      const vm = vmOf('*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit');
      const ro = vm.memory.add('rodata', new Uint8Array(8), { writable: false });
      expect(error(() => vm.run([Memory.address(ro.id)])).message).toMatch(/write of 4 bytes .*: rodata is read-only/);
    });

    it('the stack is 512 bytes below r10, zeroed each run; r10 + 0 is outside it', () => {
      expect(run('r0 = *(u64 *)(r10 - 512)\nexit')).toBe(0n);
      expect(run('*(u64 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit')).toBe((1n << 64n) - 1n);
      expect(error(() => run('r0 = *(u8 *)(r10 + 0)\nexit')).message).toMatch(/outside stack\[frame 0\] \(512 bytes\)/);
      expect(error(() => run('r0 = *(u8 *)(r10 - 513)\nexit')).code).toBe('EMU_FAULT');
      const vm = vmOf('r0 = *(u64 *)(r10 - 8)\n*(u64 *)(r10 - 8) = 5\nexit');
      expect(vm.run().retval).toBe(0n);
      expect(vm.run().retval).toBe(0n);
    });

    it('follows the program byte order (bpfeb loads big-endian)', () => {
      const text = 'r0 = *(u32 *)(r1 + 0)\nr0 = be32 r0\nexit';
      for (const le of [true, false]) {
        const vm = vmOf('r0 = *(u32 *)(r1 + 0)\nexit', {}, le);
        const r = vm.memory.add('m', Uint8Array.from([0x11, 0x22, 0x33, 0x44]));
        expect(vm.run([Memory.address(r.id)]).retval).toBe(le ? 0x44332211n : 0x11223344n);
        // be32 is a swap on little-endian targets only
        const vm2 = vmOf(text, {}, le);
        const r2 = vm2.memory.add('m', Uint8Array.from([0x11, 0x22, 0x33, 0x44]));
        expect(vm2.run([Memory.address(r2.id)]).retval).toBe(0x11223344n);
      }
    });
  });

  describe(`refused before running (${tier})`, () => {
    it('r10 is read-only', () => {
      const e = error(() => vmOf('r10 = 0\nr0 = 0\nexit'));
      expect(e.code).toBe('INSN_INVALID');
      expect(e.message).toBe('t: instruction 0 (r10 = 0): r10 is the read-only frame pointer');
    });
    it('a register read before any path writes it', () => {
      expect(error(() => vmOf('if r1 == 0x0 goto +1\nr0 = 1\nexit')).message).toMatch(/instruction 2 \(exit\): reads r0 before any path writes it/);
      expect(error(() => vmOf('r0 = r3\nexit')).message).toMatch(/reads r3/);
      // after a helper call r1-r5 are gone
      expect(error(() => vmOf('call bpf_ktime_get_ns#5\nr0 = r1\nexit')).message).toMatch(/instruction 1 \(r0 = r1\): reads r1/);
    });
    it('a jump out of the program or into an ld_imm64', () => {
      expect(error(() => vmOf('goto +5\nexit')).message).toMatch(/jumps to 6, outside the program/);
      expect(error(() => vmOf('goto +1\nr0 = 1 ll\nexit')).message).toMatch(/jumps into the middle of the ld_imm64 at 1/);
    });
  });

  describe(`calls (${tier})`, () => {
    it('bpf-to-bpf: r1-r5 in, r0 out, r6-r9 preserved, a fresh stack frame the callee can point into', () => {
      const text = [
        'r6 = 6',
        '*(u64 *)(r10 - 8) = 0x11',
        'r1 = r10',
        'r1 += -8',
        'call f',
        'r0 += r6', // 6 preserved although f set r6 = 100
        'r2 = *(u64 *)(r10 - 8)', // f wrote its own frame, and ours through r1
        'r0 += r2',
        'exit',
        'f:',
        'r6 = 100',
        '*(u64 *)(r10 - 8) = 0x22',
        'r0 = *(u64 *)(r1 + 0)', // caller's slot: 0x11
        '*(u64 *)(r1 + 0) = 0x33',
        'exit',
      ].join('\n');
      expect(run(text.replace('call f', 'call pc+5'))).toBe(0x11n + 6n + 0x33n);
    });

    it('8 frames deep is fine, 9 is EMU_LIMIT', () => {
      // f(n): n == 0 ? 0 : f(n - 1) + 1; main calling f(n) uses n + 2 frames.
      const rec = 'r1 = {N}\ncall pc+1\nexit\nr0 = 0\nif r1 == 0x0 goto +3\nr1 += -1\ncall pc-4\nr0 += 1\nexit';
      expect(run(rec.replace('{N}', '6'))).toBe(6n);
      const e = error(() => run(rec.replace('{N}', '7')));
      expect(e.code).toBe('EMU_LIMIT');
      expect(e.message).toBe('t: instruction 6 (call pc-4): call depth exceeds 8 frames');
    });

    it('callx calls a function address from ld_imm64 (BPF_PSEUDO_FUNC)', () => {
      expect(run('r2 = func(pc+4) ll\ncallx r2\nr0 += 1\nexit\nr0 = 41\nexit')).toBe(42n);
      expect(error(() => run('r2 = 0x100000001 ll\ncallx r2\nexit')).message).toMatch(/callx target 0x100000001 is not a function address/);
    });

    it('helpers get r1-r5 and memory, return r0; unknown ones are named', () => {
      const seen: bigint[] = [];
      const helpers = new Map<number, HelperDef>([
        [
          6,
          {
            name: 'bpf_trace_printk',
            fn: (ctx, r1, r2) => {
              seen.push(r2);
              return BigInt(ctx.memory.view(r1, Number(r2))!.length) + 1000n;
            },
          },
        ],
      ]);
      const text = '*(u32 *)(r10 - 4) = 0\nr1 = r10\nr1 += -4\nr2 = 4\ncall bpf_trace_printk#6\nexit';
      expect(run(text, [], { helpers })).toBe(1004n);
      expect(seen).toEqual([4n]);
      const e = error(() => run('r1 = 0\ncall bpf_map_lookup_elem#1\nexit'));
      expect(e.code).toBe('EMU_UNKNOWN_HELPER');
      expect(e.message).toBe('t: instruction 1 (call bpf_map_lookup_elem#1): calls helper bpf_map_lookup_elem#1, which this emulator does not provide');
    });
  });

  describe(`registers (${tier})`, () => {
    it('reg() reads r0..r10 after a run and refuses a register eBPF does not have', () => {
      const vm = vmOf('r0 = 7\nr5 = -1\nexit');
      vm.run();
      expect([vm.reg(0), vm.reg(5), vm.reg(10) & 0xffffffffn]).toEqual([7n, 0xffffffffffffffffn, 512n]);
      for (const r of [11, -1, 1.5]) {
        const e = error(() => vm.reg(r));
        expect(e.code).toBe('INVALID_ARGUMENT');
        expect(e.message).toBe(`t: there is no register r${r} (eBPF has r0..r10)`);
      }
    });
  });

  describe(`budget (${tier})`, () => {
    it('stops an endless loop after 1,000,000 instructions by default, or the given budget', () => {
      const e = error(() => run('r0 = 0\ngoto -1\nexit'));
      expect(e.code).toBe('EMU_LIMIT');
      expect(e.message).toMatch(/^t: instruction 1 \(goto -1\): instruction budget of 1000000 exhausted/);
      expect(error(() => run('r0 = 0\ngoto -1\nexit', [], { budget: 50 })).message).toMatch(/budget of 50 exhausted/);
      const ok = vmOf('r0 = 0\nr1 = 10\nr0 += 1\nr1 += -1\nif r1 != 0x0 goto -3\nexit').run();
      expect(ok).toEqual({ retval: 10n, instructions: 2 + 10 * 3 + 1 });
    });
  });

  describe(`programs from ELF objects (${tier})`, () => {
    const obj = parseObject(new Uint8Array(readFileSync(join(FIXTURES, 'globals.o'))), 'fixtures/globals.o');
    const spec = obj.programs.find((p) => p.name === 'xdp_globals')!;

    it('a fault names the instruction, its text and the C source line from .BTF.ext', () => {
      // Every ld_imm64 of a global resolves to a 64-byte zeroed region.
      const vm = new Vm({ instructions: spec.instructions, name: spec.name, lineInfo: spec.lineInfo, relocations: spec.relocations, littleEndian: obj.littleEndian }, { ldImm64: () => 0n, tier });
      // struct xdp_md is 24 bytes; give only 4, so reading data_end at +4 faults.
      const ctx = vm.memory.add('xdp_md', new Uint8Array(4), { kind: 'context' });
      const e = error(() => vm.run([Memory.address(ctx.id)]));
      expect(e.code).toBe('EMU_FAULT');
      const src = readFileSync(join(FIXTURES, '..', 'bpf', 'globals.c'), 'utf8').split('\n');
      const li = spec.lineInfo.filter((l) => l.insnOff <= 0).at(-1)!;
      expect(src[li.line - 1]?.trim()).toBe(li.source.trim()); // the line info really is that C line
      expect(e.message).toBe(
        `xdp_globals: instruction 0 (r2 = *(u32 *)(r1 + 4)): read of 4 bytes at 0x${ctx.id.toString(16)}00000004 (xdp_md+4, region of 4 bytes): outside xdp_md (4 bytes) at ${li.fileName}:${li.line}: ${li.source.trim()}`,
      );
    });

    it('refuses map references it was not given, naming the map', () => {
      const e = error(() => new Vm({ instructions: spec.instructions, name: spec.name, relocations: spec.relocations }));
      expect(e.message).toMatch(/^xdp_globals: instruction 2 \(r3 = 0x0 ll\) refers to map \.bss, which this emulator was not given/);
    });
  });
}

describe('Memory regions', () => {
  it('a region re-mapped under its old id takes that id off the free list: later regions get other ids', () => {
    const m = new Memory();
    const a = m.add('a', new Uint8Array(8));
    m.remove(a);
    // What a packet's re-mapping does (bpf_xdp_adjust_tail): the same id again.
    const again = m.add('a', new Uint8Array(16), { id: a.id });
    const b = m.add('b', new Uint8Array(8));
    const c = m.add('c', new Uint8Array(8));
    expect(new Set([again.id, b.id, c.id]).size).toBe(3);
    expect(m.regions[a.id]).toBe(again);
  });

  it('a 300th region gets an id: ids count past 0xbf, the one function addresses use', () => {
    // An emulation that made many sockets (each one a region) failed at the 190th with "region id 191 is reserved".
    const m = new Memory();
    const ids = Array.from({ length: 300 }, (_, i) => m.add(`r${i}`, new Uint8Array(8)).id);
    expect(new Set(ids).size).toBe(300);
    expect(ids).not.toContain(FUNC_ADDR_ID);
    expect(FUNC_ADDR_ID).toBe(0xbf);
  });

  it('addresses are id * 2^32 + offset for every id: numbers where exact (ids below 2^21), bigints above', () => {
    for (const id of [16, 0x1fffff, 0x200000, 0xfffffffe]) {
      const want = (BigInt(id) << 32n) | 0xfffffffen;
      expect(Memory.address(id, 0xfffffffe)).toBe(want);
      const v = Memory.addressValue(id, 0xfffffffe);
      expect(typeof v).toBe(id < 0x200000 ? 'number' : 'bigint');
      expect(BigInt(v)).toBe(want);
    }
  });
});
