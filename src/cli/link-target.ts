// Where a bpf_link is attached, in one line, as `link list`, `link show`,
// `prog show` and `pins` print it.

import type { LinkInfo } from '../sys/info.js';
import { attachTypeName } from '../uapi/bpf.js';

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
