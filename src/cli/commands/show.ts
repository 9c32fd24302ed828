// bpf-ts show: every interface with an XDP program, like `bpftool net list`.

import { listXdp } from '../../attach/xdp.js';
import { BpfError } from '../../errors.js';
import type { Command } from '../command.js';
import { table } from '../format.js';

export const show: Command = {
  name: 'show',
  summary: 'list interfaces with XDP programs: mode, program id and name, link or netlink',
  usage: 'bpf-ts show [--netns NAME] [--json]',
  options: { netns: { type: 'string' } },
  run(positionals, values, ctx) {
    if (positionals.length !== 0) throw new BpfError('USAGE', `show takes no positional arguments (usage: ${this.usage})`);
    const netns = values.netns as string | undefined;
    const rows = listXdp({ netns }).flatMap((s) =>
      s.programs.map((p) => ({
        interface: s.ifname,
        ifindex: s.ifindex,
        mode: p.mode,
        progId: p.progId,
        name: p.name ?? null,
        link: p.viaLink,
        ...(p.linkId !== undefined ? { linkId: p.linkId } : {}),
      })),
    );
    if (ctx.json) ctx.printJson({ xdp: rows, ...(netns ? { netns } : {}) });
    else if (rows.length === 0) ctx.print(`no XDP programs attached${netns ? ` in netns ${netns}` : ''}`);
    else ctx.print(table(['INTERFACE', 'IFINDEX', 'MODE', 'ID', 'NAME', 'ATTACHED BY'], rows.map((r) => [r.interface, r.ifindex, r.mode, r.progId, r.name, r.link ? `bpf_link${r.linkId !== undefined ? ' ' + r.linkId : ''}` : 'netlink'])));
    return 0;
  },
};
