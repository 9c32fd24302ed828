// `bpf-ts btf dump` and `bpf-ts btf core`, in-process; no root needed (the
// committed 6.18 BTF stands in for /sys/kernel/btf/vmlinux).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli, cliOk } from '../helpers/cli.js';
import { TARGET_BTF_PATH } from '../helpers/target-btf.js';

describe('bpf-ts btf dump', () => {
  it('an object: every named type as C, or one with --type; --json has id/kind/name/c', async () => {
    const all = await cliOk('btf', 'dump', 'fixtures/lpm_blocklist.o');
    expect(all.stdout).toContain('struct ipv4_lpm_key {\n\t__u32 prefixlen;\n\t__u32 addr;\n};');
    expect(all.stdout).toContain('typedef unsigned int __u32;');
    const one = (await cliOk('btf', 'dump', 'fixtures/lpm_blocklist.o', '--type', 'ipv4_lpm_key', '--json')).json();
    expect(one).toEqual({ types: [{ id: expect.any(Number), kind: 'struct', name: 'ipv4_lpm_key', c: 'struct ipv4_lpm_key {\n\t__u32 prefixlen;\n\t__u32 addr;\n};' }] });
  });

  it('without --type, bare base types (int, float) are left out; --type still finds them', async () => {
    // bpftool's dump of the same object is the independent list of kinds.
    const named = readFileSync('fixtures/globals.btf.txt', 'utf8')
      .split('\n')
      .map((l) => /^\[(\d+)\] (\w+) '([^']+)'/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[3] !== '(anon)');
    const want = named.filter((m) => m[2] !== 'INT' && m[2] !== 'FLOAT').map((m) => Number(m[1]));
    expect(named.some((m) => m[2] === 'INT')).toBe(true);
    const all = (await cliOk('btf', 'dump', 'fixtures/globals.o', '--json')).json();
    expect(all.types.map((t: { id: number }) => t.id)).toEqual(want);
    expect((await cliOk('btf', 'dump', 'fixtures/globals.o')).stdout).not.toMatch(/\] int \*\//);
    const int = (await cliOk('btf', 'dump', 'fixtures/globals.o', '--type', 'unsigned int', '--json')).json();
    expect(int.types).toEqual([expect.objectContaining({ kind: 'int', name: 'unsigned int' })]);
  });

  it('raw kernel BTF needs --type, and finds the type by name (optionally with its kind)', async () => {
    const r = await cli('btf', 'dump', TARGET_BTF_PATH);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/types, too many to print: name one with --type NAME/);
    const ip = await cliOk('btf', 'dump', TARGET_BTF_PATH, '--type', 'struct iphdr');
    expect(ip.stdout).toContain('struct iphdr {\n\t__u8 ihl: 4;\n\t__u8 version: 4;');
    expect(ip.stdout).toContain('\t__u8 protocol;\n');
    const en = (await cliOk('btf', 'dump', TARGET_BTF_PATH, '--type', 'bpf_map_type', '--json')).json();
    expect(en.types[0].kind).toBe('enum');
    expect(en.types[0].c).toContain('BPF_MAP_TYPE_RINGBUF = 27,');
    const missing = await cli('btf', 'dump', TARGET_BTF_PATH, '--type', 'no_such_type_xyz');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no type named no_such_type_xyz/);
  });

  it.skipIf(!existsSync('/sys/kernel/btf/vmlinux'))("the running kernel's /sys/kernel/btf/vmlinux", async () => {
    const t = (await cliOk('btf', 'dump', '/sys/kernel/btf/vmlinux', '--type', 'struct task_struct', '--json')).json();
    expect(t.types).toHaveLength(1);
    expect(t.types[0].c).toMatch(/^struct task_struct \{/);
    expect(t.types[0].c).toContain('\tpid_t pid;');
  });

  it('usage errors', async () => {
    expect((await cli('btf')).stderr).toMatch(/btf needs a sub-command: dump, list or core/);
    expect((await cli('btf', 'dump')).stderr).toMatch(/btf dump takes one file or id/);
    expect((await cli('btf', 'dump', 'fixtures/nope.o')).stderr).toMatch(/fixtures\/nope\.o: cannot read: ENOENT/);
  });
});

describe('bpf-ts btf core', () => {
  it('core_echo_dropper: each relocation, its value on the target, the instruction before and after', async () => {
    const r = await cliOk('btf', 'core', 'fixtures/core_echo_dropper.o', '--target', TARGET_BTF_PATH);
    expect(r.stdout).toContain('program xdp_drop_echo_reply (section xdp): 6 relocations');
    const line = r.stdout.split('\n').find((l) => l.includes('struct iphdr.protocol'))!;
    expect(line).toMatch(/^10\s+field_byte_offset\s+0:7\s+struct iphdr\.protocol\s+9\s+r5 = \*\(u8 \*\)\(r4 \+ 9\)\s+r5 = \*\(u8 \*\)\(r4 \+ 9\)$/);
  });

  it('core_missing --json: the poisoned instruction and why', async () => {
    const j = (await cliOk('btf', 'core', 'fixtures/core_missing.o', '--target', TARGET_BTF_PATH, '--json')).json();
    expect(j.target).toBe(TARGET_BTF_PATH);
    expect(j.programs).toHaveLength(1);
    expect(j.programs[0].relocations).toEqual([
      {
        insn: 1,
        kind: 'field_byte_offset',
        typeId: expect.any(Number),
        access: '0:0',
        local: 'struct task_struct___missing.no_such_field_xyz',
        target: null,
        localValue: 0,
        targetValue: 0,
        poisoned: true,
        reason: 'field no_such_field_xyz not found in kernel BTF',
        before: 'r1 = 0',
        after: 'call unknown#195896080',
      },
    ]);
  });

  it('core_reads --json: enum and type relocations, 64-bit immediates', async () => {
    const j = (await cliOk('btf', 'core', 'fixtures/core_reads.o', '--target', TARGET_BTF_PATH, '--json')).json();
    const relos = j.programs[0].relocations;
    const ringbuf = relos.find((x: { kind: string }) => x.kind === 'enumval_value');
    expect(ringbuf).toMatchObject({ local: 'enum bpf_map_type::BPF_MAP_TYPE_RINGBUF', targetValue: 27, after: 'r1 = 0x1b ll' });
    const madeUp = relos.find((x: { local: string }) => x.local === 'struct type_not_in_any_kernel___local');
    expect(madeUp).toMatchObject({ kind: 'type_exists', localValue: 1, targetValue: 0, poisoned: false, target: null });
    expect(madeUp.after).toMatch(/= 0$/);
  });

  it('an object without CO-RE says so', async () => {
    expect((await cliOk('btf', 'core', 'fixtures/lpm_blocklist.o')).stdout).toBe('fixtures/lpm_blocklist.o: no CO-RE relocations\n');
  });
});
