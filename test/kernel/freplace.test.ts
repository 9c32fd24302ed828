// freplace: an EXT program is loaded against a function of a program the
// caller gives. The attach_btf_id bpf-ts computes must be the id bpftool
// shows for that function in the target program's BTF; the kernel's
// verdict on the load is its own (it refuses trampolines on some kernels,
// as it refuses fentry: bpf-ts must then name that cause).

import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { resolveAttachTarget } from '../../src/programs/attach-target.js';
import { BPF_PROG_TYPE } from '../../src/uapi/bpf.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('freplace with a target program', () => {
  for (const v of ['', '.clang14', '.clang19']) {
    it(`fixtures/freplace_ext${v}.o against freplace_target${v}.o's decide()`, () => {
      using target = openObject(`fixtures/freplace_target${v}.o`).load();
      const prog = target.program('xdp_decider');
      expect(prog.testRun(new Uint8Array(60)).verdict).toBe('XDP_PASS');
      const show = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(prog.id), '-j'], { encoding: 'utf8' }));
      const dump = execFileSync('bpftool', ['btf', 'dump', 'id', String(show.btf_id)], { encoding: 'utf8' });
      const decideId = Number(/^\[(\d+)\] FUNC 'decide'/m.exec(dump)![1]);

      const spec = openObject(`fixtures/freplace_ext${v}.o`);
      const ext = spec.program('drop_everything');
      expect([ext.type, ext.attachTarget]).toEqual([BPF_PROG_TYPE.EXT, 'decide']);
      const t = resolveAttachTarget(ext, BPF_PROG_TYPE.EXT, null, spec.path, { progFd: prog.fd.value });
      expect([t.attachBtfId, t.attachBtfObjFd]).toEqual([decideId, prog.fd.value]);

      let err: unknown;
      try {
        using coll = spec.load({ freplace: { progFd: prog.fd.value } });
        expect(coll.program('drop_everything').info().type).toBe(BPF_PROG_TYPE.EXT);
      } catch (e) {
        err = e;
      }
      if (err) {
        expect((err as BpfError).message).toMatch(/refused by the kernel \(EPERM\): the kernel would not attach a BPF trampoline/);
      }
      expect(() => spec.load()).toThrow(/replaces a function of another program: give the target program/);
    });
  }
});
