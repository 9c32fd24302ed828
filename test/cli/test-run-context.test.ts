// `test-run --ctx-hex`: programs that take a context and no packet (syscall,
// raw tracepoint, struct_ops) run from the shell on their context alone, and
// a syscall program's context comes back as the kernel left it. Expected
// values follow from the C sources: add_args (bpf/libbpf_conventions.c) sets
// sum = a + b and returns a * 2; scale_state (bpf/struct_ops_deferred.c)
// returns 0x11 without a state; step (bpf/arena_fixed.c) returns 40 + 2 + 200
// on a fresh load.

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('test-run --ctx-hex', () => {
  it('a syscall program: its argument struct in, the struct it wrote back out', async () => {
    // struct add_args { int a = 7; int b = 5; int sum = 0; }
    const r = (await cliOk('test-run', fixture('libbpf_conventions.o'), '--program', 'add_args', '--ctx-hex', '07000000 05000000 00000000', '--json')).json();
    expect(r).toEqual({ retval: 14, verdict: null, durationNs: 0, dataOutHex: '', ctxOutHex: '07000000050000000c000000' });
    const text = await cliOk('test-run', fixture('libbpf_conventions.o'), '--program', 'add_args', '--ctx-hex', '07000000 05000000 00000000');
    expect(text.stdout).toBe('add_args: retval 14 (0xe)\ncontext after the run: 07000000050000000c000000\n');
  });

  it('--emulate: the emulator hands back what the kernel does', async () => {
    const args = ['test-run', fixture('libbpf_conventions.o'), '--program', 'add_args', '--ctx-hex', 'fbffffff 09000000 ffffffff', '--json'];
    const kernel = (await cliOk(...args)).json();
    const emulated = (await cliOk(...args, '--emulate')).json();
    // a = -5, b = 9: sum 4, retval -10 as a u32.
    expect(kernel).toMatchObject({ retval: 0xfffffff6, ctxOutHex: 'fbffffff0900000004000000' });
    expect({ retval: emulated.retval, verdict: emulated.verdict, ctxOutHex: emulated.ctxOutHex }).toEqual({ retval: kernel.retval, verdict: null, ctxOutHex: kernel.ctxOutHex });
  });

  it('--asm --type syscall: a hand-written syscall program (sleepable, as the kernel requires) in the kernel and the emulator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfts-ctx-'));
    try {
      const file = join(dir, 'inc.s');
      // ctx->n += 1; return ctx->n
      writeFileSync(file, 'r2 = *(u32 *)(r1 + 0)\nr2 += 1\n*(u32 *)(r1 + 0) = r2\nr0 = r2\nexit\n');
      for (const extra of [[], ['--emulate']]) {
        const r = (await cliOk('test-run', '--asm', file, '--type', 'syscall', '--ctx-hex', '29000000', '--json', ...extra)).json();
        expect({ retval: r.retval, ctxOutHex: r.ctxOutHex }, extra.join(' ') || 'kernel').toEqual({ retval: 42, ctxOutHex: '2a000000' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a struct_ops program of bpf_dummy_ops, its one u64 argument a NULL state; nothing is registered', async () => {
    const r = await cliOk('test-run', fixture('struct_ops_deferred.o'), '--program', 'scale_state', '--ctx-hex', '0000000000000000');
    expect(r.stdout).toBe('scale_state: retval 17 (0x11)\n');
  });

  it('a syscall program that reads no context runs without --ctx-hex; a packet is refused, saying why', async () => {
    expect((await cliOk('test-run', fixture('arena_fixed.o'), '--json')).json()).toMatchObject({ retval: 242, verdict: null });
    const bad = await cli('test-run', fixture('arena_fixed.o'), '--data-hex', '000000000000000000000000080045000000');
    expect([bad.code, bad.stderr]).toEqual([1, 'bpf-ts: step is a syscall program: it runs once on its context alone (--ctx-hex HEX), without --data-hex or --repeat\n']);
  });

  it('an XDP program takes an xdp_md beside its packet', async () => {
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex (u32 each), all 0.
    const r = (await cliOk('test-run', fixture('icmp_even_drop.o'), '--data-hex', '000000000000000000000000080045000000', '--ctx-hex', '00'.repeat(24), '--json')).json();
    expect(r).toMatchObject({ retval: 2, verdict: 'XDP_PASS', ctxOutHex: '00'.repeat(24) });
  });
});
