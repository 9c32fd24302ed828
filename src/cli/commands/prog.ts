// bpf-ts prog list: every program in the kernel, like `bpftool prog list`.

import { BpfError } from '../../errors.js';
import { listPrograms } from '../../sys/ids.js';
import { progTypeName } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';
import { table } from '../format.js';

export const prog = defineCommand({
  name: 'prog',
  summary: 'list the programs loaded in the kernel',
  usage: 'bpf-ts prog list [--json]',
  options: {},
  run(positionals, _values, ctx) {
    if (positionals[0] !== 'list') throw new BpfError('USAGE', `prog needs a sub-command: list (usage: ${this.usage})`);
    const progs = listPrograms({ mapIds: true });
    if (ctx.json) {
      ctx.printJson(progs.map((p) => ({ id: p.id, name: p.name, type: progTypeName(p.type), tag: p.tag, xlatedBytes: p.xlatedProgLen, jitedBytes: p.jitedProgLen, mapIds: p.mapIds })));
    } else {
      ctx.print(
        table(
          ['ID', 'NAME', 'TYPE', 'TAG', 'XLATED', 'MAPS'],
          progs.map((p) => [p.id, p.name, progTypeName(p.type), p.tag, p.xlatedProgLen, p.mapIds.join(',')]),
        ),
      );
    }
    return 0;
  },
});
