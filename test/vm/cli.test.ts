// `bpf-ts test-run --asm FILE --emulate` and `bpf-ts disasm OBJ`: in-process,
// and test-run once as an unprivileged user (no root, no kernel needed).

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOk, cliProcess, ensureDist, fixture, unprivilegedWrapper } from '../helpers/cli.js';
import { ROOT, parseReadelf, relocationsFor } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';

const SUITE = join(ROOT, '..', 'shared', 'bpf_conformance', 'tests');
const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-vm-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o644 });
  return p;
};

describe('bpf-ts test-run --asm --emulate', () => {
  it('runs plain assembler with --mem-hex: r1 = the memory, r2 = its length', async () => {
    const p = file('load.s', 'r0 = *(u16 *)(r1 + 1)\nr0 <<= 8\nr0 += r2\nexit\n');
    const j = (await cliOk('test-run', '--asm', p, '--emulate', '--mem-hex', '11 22 33', '--json')).json();
    // bytes 22 33 little-endian = 0x3322, << 8, + 3 bytes of memory
    expect(j).toEqual({ retval: (0x3322 << 8) + 3, instructions: 4 });
  });

  it('prints a u64 that does not fit a double as a decimal string', async () => {
    const p = file('big.s', 'lddw %r0, 0xfffffffffffffffe\nexit\n');
    expect((await cliOk('test-run', '--asm', p, '--emulate', '--json')).json().retval).toBe('18446744073709551614');
    const small = file('small.s', 'mov %r0, -1\nrsh %r0, 11\nexit\n');
    expect((await cliOk('test-run', '--asm', small, '--emulate', '--json')).json().retval).toBe(2 ** 53 - 1);
  });

  it.skipIf(!existsSync(SUITE))('runs conformance .data files with their -- mem and checks -- result', async () => {
    const j = (await cliOk('test-run', '--asm', join(SUITE, 'ldxh.data'), '--emulate', '--json')).json();
    const text = readFileSync(join(SUITE, 'ldxh.data'), 'utf8');
    const [, result = 'none'] = /^-- result\n(\S+)/m.exec(text) ?? [];
    const want = BigInt(result);
    expect(j).toMatchObject({ retval: Number(want), expected: Number(want), matches: true });
    // A different memory changes the answer, and the exit code says it no longer matches.
    const r = await cli('test-run', '--asm', join(SUITE, 'ldxh.data'), '--emulate', '--mem-hex', '00 00 00 00', '--json');
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ retval: 0, matches: false });
  });

  it('a fault is one line naming the instruction; bad usage is explained', async () => {
    const p = file('oob.s', 'ldxw %r0, [%r1+8]\nexit\n');
    const r = await cli('test-run', '--asm', p, '--emulate', '--mem-hex', '01020304', '--json');
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('EMU_FAULT');
    expect(r.stderr.trim()).toMatch(/^bpf-ts: .*oob\.s: instruction 0 \(r0 = \*\(u32 \*\)\(r1 \+ 8\)\): read of 4 bytes at 0x[0-9a-f]+ \(mem\+8, region of 4 bytes\): outside mem \(4 bytes\)$/);
    expect((await cli('test-run', '--asm', p)).stderr).toMatch(/--asm runs in the kernel as the program type --type names .*add --emulate without --type/);
    expect((await cli('test-run', '--emulate')).stderr).toMatch(/--asm FILE/);
    const bad = file('bad.s', 'mov %r0, 1\nfrob %r1\nexit\n');
    expect((await cli('test-run', '--asm', bad, '--emulate')).stderr).toMatch(/bad\.s:2: invalid mnemonic "frob"/);
  });

  describeRoot('--asm FILE --type xdp: in the kernel, and with --emulate on the same packet', () => {
    // Drops frames shorter than 64 bytes: the verdicts follow from the frame lengths, not from either runner.
    const minLen = () => file('min_len.s', 'r2 = *(u32 *)(r1 + 4)\nr1 = *(u32 *)(r1 + 0)\nr2 -= r1\nr0 = 1\nif r2 < 64 goto +1\nr0 = 2\nexit\n');
    it.each([
      [60, 'XDP_DROP'],
      [64, 'XDP_PASS'],
    ])('%i bytes: %s from both', async (len, verdict) => {
      const hexFrame = '00'.repeat(len);
      const kernel = (await cliOk('test-run', '--asm', minLen(), '--type', 'xdp', '--data-hex', hexFrame, '--json')).json();
      const emulated = (await cliOk('test-run', '--asm', minLen(), '--type', 'xdp', '--data-hex', hexFrame, '--emulate', '--json')).json();
      expect([kernel.verdict, emulated.verdict]).toEqual([verdict, verdict]);
      expect(kernel.dataOutHex).toBe(hexFrame);
    });

    it('the verifier refuses in its words, naming the file and the instruction', async () => {
      const r = await cli('test-run', '--asm', file('ctx8.s', 'r0 = *(u64 *)(r1 + 0)\nexit\n'), '--type', 'xdp', '--data-hex', '00'.repeat(64));
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(/ctx8\.s: xdp program ctx8 rejected by the verifier at instruction 0: invalid bpf_context access off=0 size=8$/);
    });
  });

  const wrap = unprivilegedWrapper();
  const asNobody = !!wrap && process.getuid?.() === 0;
  // tsc may have to build dist/ first (slow on a busy machine): not part of the test's time.
  beforeAll(() => {
    if (asNobody) ensureDist();
  }, 300_000);
  it.skipIf(!asNobody)('works as an unprivileged user', async () => {
    const p = file('nobody.s', 'mov %r0, 6\nmul %r0, 7\nexit\n');
    const r = await cliProcess(['test-run', '--asm', p, '--emulate', '--json'], { wrap });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ retval: 42, instructions: 3 });
  });
});

describe('bpf-ts disasm', () => {
  it('names globals from the relocations and prints each new C line above its instructions', async () => {
    const r = await cliOk('disasm', fixture('globals.o'));
    const lines = r.stdout.split('\n');
    // readelf: the ld_imm64 at byte 0x10 (slot 2) of section xdp is relocated against "hits".
    const rel = relocationsFor(parseReadelf(readFileSync(fixture('globals.readelf.txt'), 'utf8')), 'xdp').find((x) => x.offset === 0x10)!;
    expect(rel.symbolName).toBe('hits');
    expect(lines).toContain('   2: r3 = &hits ll');
    const src = readFileSync(join(ROOT, 'bpf', 'globals.c'), 'utf8').split('\n');
    const at = lines.indexOf('   2: r3 = &hits ll');
    const comment = /^; (.*) {2}\[\.\/globals\.c:(\d+)\]$/.exec(lines[at - 1] ?? '')!;
    expect(src[Number(comment[2]) - 1]?.trim()).toBe(comment[1]);
    expect(comment[1]).toContain('hits');
  });

  it('names maps at the slots readelf shows relocated against them', async () => {
    const r = await cliOk('disasm', fixture('icmp_even_drop.o'));
    const rels = relocationsFor(parseReadelf(readFileSync(fixture('icmp_even_drop.readelf.txt'), 'utf8')), 'xdp').filter((x) => x.symbolName === 'counters');
    expect(rels.length).toBe(2);
    for (const rel of rels) expect(r.stdout).toMatch(new RegExp(`^\\s+${rel.offset / 8}: r\\d = map\\[counters\\] ll$`, 'm'));
  });

  it('names local calls and helpers; --program picks one; --json has plain text that assembles back', async () => {
    const r = await cliOk('disasm', fixture('subprogs.o'), '--program', 'xdp_b');
    expect(r.stdout.split('\n')[0]).toBe('xdp_b (section xdp):');
    expect(r.stdout).toMatch(/^\s+1: call mul_two \(pc\+\d+\)$/m);
    expect(r.stdout).toMatch(/^\s+3: call add_one \(pc\+\d+\)$/m);
    const loop = (await cliOk('disasm', fixture('subprogs.o'), '--program', 'xdp_loop', '--json')).json();
    const texts = loop.programs[0].instructions.map((i: { text: string }) => i.text);
    expect(texts).toContain('call bpf_loop#181'); // BPF_FUNC_loop = 181 in the UAPI
    expect(texts).toContain('r2 = func(sum_index) ll');
    const plain = loop.programs[0].instructions.find((i: { text: string }) => i.text === 'r2 = func(sum_index) ll').plain;
    expect(plain).toMatch(/^r2 = func\(pc\+\d+\) ll$/);
    const miss = await cli('disasm', fixture('subprogs.o'), '--program', 'nope');
    expect(miss.code).toBe(1);
    expect(miss.stderr).toMatch(/no program named nope \(programs: .*xdp_b/);
  });
});
