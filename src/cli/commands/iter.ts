// bpf-ts iter OBJ [--program P]: load an iterator program (iter/task,
// iter/bpf_map, …), run it once and print what it wrote, like
// `bpftool iter pin` followed by `cat`, without leaving a pin behind.

import { openObject } from '../../collection.js';
import { BpfError } from '../../errors.js';
import { attachIter } from '../../link/tracing.js';
import { BPF_ATTACH_TYPE } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';

export const iter = defineCommand({
  name: 'iter',
  summary: 'run a BPF iterator program once and print its output',
  usage: 'bpf-ts iter OBJ [--program NAME] [--json]',
  options: {
    program: { type: 'string' },
  },
  run(positionals, values, ctx) {
    if (positionals.length !== 1) throw new BpfError('USAGE', `iter takes exactly one object file (usage: ${this.usage})`);
    const spec = openObject(positionals[0]!);
    const iters = spec.programs.filter((p) => p.expectedAttachType === BPF_ATTACH_TYPE.TRACE_ITER);
    const name = values.program;
    let chosen;
    if (name) {
      chosen = spec.program(name);
      if (chosen.expectedAttachType !== BPF_ATTACH_TYPE.TRACE_ITER) throw new BpfError('USAGE', `${spec.path}: program ${name} (section ${chosen.section}) is not an iterator (iter/…)`);
    } else {
      if (iters.length === 0) throw new BpfError('USAGE', `${spec.path} has no iterator program (section iter/…)`);
      if (iters.length > 1) throw new BpfError('USAGE', `${spec.path} has ${iters.length} iterator programs (${iters.map((p) => p.name).join(', ')}): choose one with --program`);
      chosen = iters[0]!;
    }
    using coll = spec.load({ programs: [chosen.name], ignorePinning: true });
    using link = attachIter(coll.program(chosen.name));
    const output = link.read();
    if (ctx.json) ctx.printJson({ program: chosen.name, section: chosen.section, output: output.toString('utf8') });
    else if (output.length > 0) ctx.print(output.toString('utf8').replace(/\n$/, ''));
    return 0;
  },
});
