// Every section name of bpf/section_table.c, loaded on its own with the
// program type, expected attach type and flags its section says (and the
// attach_btf_id it names). The kernel is the judge: each program either
// loads, or is refused for a reason this test derives from the kernel itself
// (its config, its BTF's enum bpf_attach_type, its verifier's words), and
// bpf-ts's message must say that reason.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BPF_F_SLEEPABLE, BPF_PROG_TYPE as P } from '../../src/uapi/bpf.js';
import { describeRoot } from '../helpers/root.js';
import { bigOutput } from '../helpers/big-output.js';

const config = (): string => gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
let maxAttach: number | undefined;
/** __MAX_BPF_ATTACH_TYPE from bpftool's C dump of the running kernel's BTF. */
function kernelMaxAttachType(): number {
  if (maxAttach === undefined) {
    const c = bigOutput('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c']);
    maxAttach = Number(/__MAX_BPF_ATTACH_TYPE = (\d+)/.exec(c)![1]);
  }
  return maxAttach;
}

// The kernel lets only these be sleepable (its verifier's own list).
const SLEEPABLE_OK = (section: string) => /^(fentry|fexit|fmod_ret|lsm|iter|uprobe|uretprobe|usdt|struct_ops)[.]/.test(section) || section === 'syscall';

describeRoot('every section name, loaded alone', () => {
  const spec = openObject('fixtures/section_table.o');
  it.each(spec.programs.map((p) => [p.section, p.name] as const))('%s', (section, name) => {
    const p = spec.program(name);
    let err: BpfError | undefined;
    try {
      using coll = spec.load({ programs: [name], programType: p.type === null ? 'xdp' : undefined });
      expect(coll.programs.size).toBe(1);
      expect(coll.skipped.length).toBe(spec.programs.length - 1);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      err = e;
    }
    const why = err ? `${err.code}: ${err.message}` : 'loaded';
    if (p.expectedAttachType !== null && p.expectedAttachType >= kernelMaxAttachType()) {
      expect(why).toMatch(/newer than this kernel/);
    } else if (p.progFlags & BPF_F_SLEEPABLE && !SLEEPABLE_OK(section)) {
      expect(why).toMatch(/can be sleepable/); // the verifier's words
    } else if (section === 'lirc_mode2') {
      // Needs CONFIG_BPF_LIRC_MODE2; without it the kernel does not know the type.
      if (/^CONFIG_BPF_LIRC_MODE2=y/m.test(config())) expect(why).toBe('loaded');
      else expect(why).toMatch(/EINVAL/);
    } else if (p.type === P.EXT) {
      expect(err?.code).toBe('ATTACH_TARGET');
      expect(why).toMatch(/give the target program/);
    } else if (p.type === P.STRUCT_OPS) {
      // No .struct_ops map in this object puts it in a kernel struct (tcp_cc.o does: struct-ops.test.ts).
      expect(why).toMatch(/not used by any .struct_ops map/);
    } else if (/^(fentry|fexit|fmod_ret|lsm|lsm_cgroup)[./]/.test(section)) {
      // BPF trampolines: the kernel's verdict decides; a refusal must name the trampoline, never "run as root".
      if (err) {
        expect(why).toMatch(/BPF trampoline/);
        expect(why).not.toMatch(/run as root/);
      }
    } else {
      expect(why).toBe('loaded');
    }
  });

  it('tp_btf and iter programs load with the attach_btf_id their section names', () => {
    for (const name of ['s_tp_btf_sys_enter', 's_iter_task']) {
      using coll = spec.load({ programs: [name] });
      expect(coll.program(name).info().type).toBe(P.TRACING);
    }
  });

  it('a tracing target the kernel lacks is named', () => {
    const file = openObject('fixtures/section_table.o');
    const p = file.program('s_tp_btf_sys_enter');
    p.attachTarget = 'bpf_ts_no_such_tracepoint';
    expect(() => file.load({ programs: [p.name] })).toThrow(/attach target typedef btf_trace_bpf_ts_no_such_tracepoint is not in the BTF of this kernel/);
  });
});
