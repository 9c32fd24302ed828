// `bpf-ts load OBJ --netfilter FAMILY:HOOK [--priority N]`: hook the object's
// netfilter program into a namespace's netfilter and leave it there, as
// `load --xdp --link` does: through a bpf_link pinned on bpffs (at
// --pin-link, or under <bpffs>/bpf-ts/), which `detach --pin-link PATH`
// removes. Without the pin nothing would outlive the command.

import { BpfError } from '../errors.js';
import { attachNetfilter } from '../link/netfilter.js';
import type { CommandContext } from './command.js';
import type { LoadValues } from './commands/load.js';
import { defaultNetfilterLinkPin } from './default-pins.js';
import { pinLinkVerified } from './link-pins.js';
import { loadForHook, NETFILTER_PROGRAM, parseNetfilterHook, parsePriority } from './run-one.js';

export function loadNetfilter(file: string, values: LoadValues & { netfilter: string }, ctx: CommandContext, bpffs: string): number {
  for (const f of ['xdp', 'tc', 'cgroup', 'sk-msg', 'mode', 'direction', 'handle', 'replace', 'pin-maps'] as const) {
    if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not go with --netfilter`);
  }
  const { family, hook } = parseNetfilterHook(values.netfilter);
  const priority = parsePriority(values.priority);
  const netns = values.netns;
  const loaded = loadForHook(file, NETFILTER_PROGRAM, { program: values.program, set: values.set, maxEntries: values['max-entries'], ignoreMemoryLimit: values['ignore-memory-limit'] === true }, ctx);
  const prog = loaded.prog;
  using coll = loaded.coll;
  using link = attachNetfilter(coll.program(prog.name), { family, hook, priority, netns });
  const pin = values['pin-link'] ?? defaultNetfilterLinkPin(bpffs, family, hook, link.id, netns);
  // Verified after pinning: a detach between LINK_CREATE and the pin leaves nothing attached.
  pinLinkVerified(link.fd.value, pin, `netfilter link ${link.id}`);
  const progId = coll.program(prog.name).info().id;
  const out = { program: prog.name, progId, netfilter: { family, hook, priority }, ...(netns ? { netns } : {}), linkId: link.id, linkPin: pin };
  if (ctx.json) ctx.printJson(out);
  else {
    ctx.print(`hooked ${prog.name} (id ${progId}) into netfilter ${family} ${hook}${netns ? ` of netns ${netns}` : ''}, priority ${priority}, through bpf_link ${link.id} pinned at ${pin}`);
    ctx.print(`unhook it with: bpf-ts detach --pin-link ${pin}`);
  }
  return 0;
}
