// bpf-ts link list: every bpf_link in the kernel with its program and
// target, like `bpftool link list` (tracing, XDP, tcx, cgroup, perf events…).

import { BpfError } from '../../errors.js';
import type { LinkInfo } from '../../sys/info.js';
import { listLinks, listPrograms } from '../../sys/ids.js';
import { linkTypeName } from '../../sys/link-type.js';
import { attachTypeName, progTypeName } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';
import { table } from '../format.js';

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** One line describing where a link is attached. */
export function linkTarget(l: LinkInfo): string {
  const d = l.details;
  switch (d.kind) {
    case 'xdp':
      return `ifindex ${d.ifindex}`;
    case 'tcx':
    case 'netkit':
      return `ifindex ${d.ifindex} ${attachTypeName(d.attachType)}`;
    case 'cgroup':
      return `cgroup ${d.cgroupId} ${attachTypeName(d.attachType)}`;
    case 'netns':
      return `netns ${d.netnsIno} ${attachTypeName(d.attachType)}`;
    case 'tracing':
      return `${attachTypeName(d.attachType)} btf ${d.targetObjId}:${d.targetBtfId}`;
    case 'raw_tracepoint':
      return `tracepoint ${d.tpName}`;
    case 'netfilter':
      return `netfilter pf ${d.pf} hook ${d.hooknum} prio ${d.priority}`;
    case 'struct_ops':
    case 'sockmap':
      return `map ${d.mapId}`;
    case 'uprobe_multi':
      return `${d.retprobe ? 'uretprobe' : 'uprobe'} ${d.path} (${plural(d.count, 'function')}${d.pid ? `, pid ${d.pid}` : ''})`;
    case 'kprobe_multi':
      return `${d.retprobe ? 'kretprobe' : 'kprobe'} ${plural(d.count, 'function')}`;
    default:
      return '';
  }
}

export const link = defineCommand({
  name: 'link',
  summary: 'list the bpf_links in the kernel (what is attached where)',
  usage: 'bpf-ts link list [--json]',
  options: {},
  run(positionals, _values, ctx) {
    if (positionals[0] !== 'list') throw new BpfError('USAGE', `link needs a sub-command: list (usage: ${this.usage})`);
    const links = listLinks();
    const progs = new Map(listPrograms().map((p) => [p.id, p]));
    const rows = links.map((l) => {
      const p = progs.get(l.progId);
      return { id: l.id, type: linkTypeName(l.type), progId: l.progId, progName: p?.name ?? null, progType: p ? progTypeName(p.type) : null, target: linkTarget(l), details: l.details };
    });
    if (ctx.json) ctx.printJson(rows);
    else if (rows.length === 0) ctx.print('no bpf_links in the kernel');
    else
      ctx.print(
        table(
          ['ID', 'TYPE', 'PROG', 'NAME', 'TARGET'],
          rows.map((r) => [r.id, r.type, r.progId, r.progName, r.target]),
        ),
      );
    return 0;
  },
});
