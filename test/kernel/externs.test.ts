// kfuncs, .kconfig and __ksym externs against the running kernel. Expected
// values come from outside bpf-ts: the kernel config read here with zlib,
// uname -r, /proc/kallsyms, bpftool's dump of /sys/kernel/btf/vmlinux, and
// the kernel's own verdicts (test runs, verifier messages).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, Insns } from '../../src/object/instruction.js';
import { ExternResolver } from '../../src/programs/externs.js';
import { relocate } from '../../src/programs/load.js';
import { describeRoot } from '../helpers/root.js';
import { bigOutput } from '../helpers/big-output.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const VARIANTS = ['', '.clang14', '.clang19'];

/** id of a named FUNC/VAR in the running kernel's BTF, as bpftool prints it. */
let dump: string | undefined;
function vmlinuxId(kind: 'FUNC' | 'VAR', name: string): number {
  const out = (dump ??= bigOutput('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux']));
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(out);
  if (!m) throw new Error(`bpftool: no ${kind} ${name} in vmlinux`);
  return Number(m[1]);
}

function configText(): string {
  return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
}
function configValue(name: string): string | undefined {
  return configText()
    .split('\n')
    .find((l) => l.startsWith(name + '='))
    ?.slice(name.length + 1);
}

describeRoot('kfuncs', () => {
  for (const v of VARIANTS) {
    const file = `fixtures/kfuncs${v}.o`;
    it(`${file}: calls bpf_dynptr_from_xdp/bpf_dynptr_size by their vmlinux BTF ids, and the kernel runs them`, () => {
      const spec = openObject(file);
      const p = spec.program('xdp_dynptr_len');
      using ext = new ExternResolver(file, spec.file.externs);
      const bytes = relocate(p, { source: file, littleEndian: true, mapFds: new Map(), externs: ext });
      const insns = new Insns(bytes, true);
      const calls = p.relocations.filter((r) => r.kind === 'kfunc');
      expect(calls.map((r) => [insns.src(r.insnIndex), insns.imm(r.insnIndex), insns.off(r.insnIndex)])).toEqual([
        [BPF_PSEUDO_KFUNC_CALL, vmlinuxId('FUNC', 'bpf_dynptr_from_xdp'), 0],
        [BPF_PSEUDO_KFUNC_CALL, vmlinuxId('FUNC', 'bpf_dynptr_size'), 0],
      ]);
      using coll = spec.load();
      // bpf_dynptr_size() of the frame decides the verdict: 60 bytes → DROP.
      expect(coll.program('xdp_dynptr_len').testRun(new Uint8Array(60)).retval).toBe(XDP_DROP);
      expect(coll.program('xdp_dynptr_len').testRun(new Uint8Array(64)).retval).toBe(XDP_PASS);
    });

    it(`${file}: a __weak kfunc the kernel lacks is poisoned as libbpf does, and its guard reads 0`, () => {
      const spec = openObject(file);
      const p = spec.program('xdp_weak_missing');
      using ext = new ExternResolver(file, spec.file.externs);
      const insns = new Insns(relocate(p, { source: file, littleEndian: true, mapFds: new Map([['.data', 0]]), externs: ext }), true);
      const call = p.relocations.find((r) => r.kind === 'kfunc')!;
      expect([insns.src(call.insnIndex), insns.imm(call.insnIndex)]).toEqual([0, 2002000000 + 2]);
      using coll = spec.load();
      expect(coll.program('xdp_weak_missing').testRun(new Uint8Array(64)).retval).toBe(XDP_PASS);
      expect(coll.map('.data').get(0)!.readUInt32LE(0)).toBe(0);
    });

    it(`fixtures/kfunc_missing${v}.o: a strong kfunc the kernel lacks fails the load, naming it and the kernel`, () => {
      const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
      let err: unknown;
      try {
        openObject(`fixtures/kfunc_missing${v}.o`).load();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('EXTERN_UNRESOLVED');
      expect((err as BpfError).message).toContain('kfunc bpf_ts_missing_kfunc');
      expect((err as BpfError).message).toContain(release);
    });
  }
});

describeRoot('.kconfig and __ksym externs', () => {
  for (const v of VARIANTS) {
    const file = `fixtures/externs${v}.o`;
    it(`${file}: values from the running kernel reach the program`, () => {
      using coll = openObject(file).load({ programs: ['xdp_externs'] });
      expect(coll.program('xdp_externs').testRun(new Uint8Array(64)).retval).toBe(XDP_PASS);
      const bss = coll.map('.bss').get(0)!;
      const spec = openObject(file);
      const at = (name: string) => spec.variable(name).variable.offset;
      const [maj = NaN, min = NaN, patch = NaN] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim().split(/[.-]/).map(Number);
      expect(bss.readUInt32LE(at('out_version'))).toBe((maj << 16) + (min << 8) + Math.min(patch, 255));
      expect(bss[at('out_cookie')]).toBe(1);
      const jit = configValue('CONFIG_BPF_JIT');
      expect(bss[at('out_jit')]).toBe(jit === 'y' ? 1 : jit === 'm' ? 2 : 0);
      expect(bss[at('out_syscall')]).toBe(configValue('CONFIG_BPF_SYSCALL') === 'y' ? 1 : 0);
      expect(bss.readUInt32LE(at('out_hz'))).toBe(Number(configValue('CONFIG_HZ')));
      expect(bss[at('out_missing')]).toBe(0);
      const missingInt = spec.variable('out_missing_int');
      expect(missingInt.map.name).toBe('.data'); // initialised to 77 in the source
      expect(coll.map('.data').get(0)!.readBigUInt64LE(missingInt.variable.offset)).toBe(0n);
      const lv = (configValue('CONFIG_LOCALVERSION') ?? '""').slice(1, -1).slice(0, 15);
      expect(
        bss
          .subarray(at('out_localversion'), at('out_localversion') + 16)
          .toString('latin1')
          .replace(/\0+$/, ''),
      ).toBe(lv);
      const kallsyms = readFileSync('/proc/kallsyms', 'latin1')
        .split('\n')
        .find((l) => / tcp_v4_connect$/.test(l))!;
      expect(bss.readBigUInt64LE(at('out_tcp_v4_connect'))).toBe(BigInt('0x' + kallsyms.split(' ')[0]));
      expect(bss.readBigUInt64LE(at('out_weak_var'))).toBe(0n);
      // The .kconfig map is frozen: user space cannot change what the program saw.
      expect(() => coll.map('.kconfig').set(0, Buffer.alloc(coll.map('.kconfig').valueSize))).toThrow(/EPERM/);
    });

    it(`${file}: a typed __ksym is loaded by its vmlinux BTF VAR id; the kernel needs its address in kallsyms`, () => {
      const spec = openObject(file);
      const p = spec.program('xdp_typed_ksym');
      using ext = new ExternResolver(file, spec.file.externs);
      const insns = new Insns(relocate(p, { source: file, littleEndian: true, mapFds: new Map([['.data', 0]]), externs: ext }), true);
      const r = p.relocations.find((x) => x.kind === 'extern')!;
      expect([insns.src(r.insnIndex), insns.imm(r.insnIndex), insns.imm(r.insnIndex + 1)]).toEqual([BPF_PSEUDO_BTF_ID, vmlinuxId('VAR', 'bpf_prog_active'), 0]);
      // Without CONFIG_KALLSYMS_ALL kallsyms lists no data symbols and the kernel refuses the load.
      const listed = readFileSync('/proc/kallsyms', 'latin1')
        .split('\n')
        .some((l) => / bpf_prog_active$/.test(l));
      if (listed) {
        using coll = spec.load({ programs: ['xdp_typed_ksym'] });
        coll.program('xdp_typed_ksym').testRun(new Uint8Array(64));
        expect(coll.map('.data').get(0)!.readUInt32LE(spec.variable('out_prog_active_ok').variable.offset)).toBe(1);
      } else {
        expect(() => spec.load({ programs: ['xdp_typed_ksym'] })).toThrow(/failed to find the address for kernel symbol 'bpf_prog_active'/);
      }
    });
  }
});
