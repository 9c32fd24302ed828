// `bpf-ts load OBJ --netfilter FAMILY:HOOK [--priority N]`: hook the object's
// netfilter program into a namespace's netfilter and leave it there, as
// `load --xdp --link` does: through a bpf_link pinned on bpffs (at
// --pin-link, or under <bpffs>/bpf-ts/), which `detach --pin-link PATH`
// removes. Without the pin nothing would outlive the command.

import { openObject } from '../collection.js';
import { BpfError } from '../errors.js';
import { attachNetfilter } from '../link/netfilter.js';
import { BPF_PROG_TYPE } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';
import type { LoadValues } from './commands/load.js';
import { defaultNetfilterLinkPin } from './default-pins.js';
import { pinLinkVerified } from './link-pins.js';
import { warnLoad } from './load-warnings.js';
import { applyMaxEntries } from './max-entries.js';
import { chooseProgram, parseNetfilterHook, parsePriority } from './run-one.js';
import { applySets } from './run-tracing.js';

export function loadNetfilter(file: string, values: LoadValues & { netfilter: string }, ctx: CommandContext, bpffs: string): number {
  for (const f of ['xdp', 'tc', 'cgroup', 'sk-msg', 'mode', 'direction', 'handle', 'replace', 'pin-maps'] as const) {
    if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not go with --netfilter`);
  }
  const { family, hook } = parseNetfilterHook(values.netfilter);
  const priority = parsePriority(values.priority);
  const netns = values.netns;
  const spec = openObject(file);
  applySets(spec, values.set);
  applyMaxEntries(spec, values['max-entries']);
  const prog = chooseProgram(spec, { kind: 'netfilter program', type: BPF_PROG_TYPE.NETFILTER, section: 'netfilter', option: '--netfilter' }, values.program);
  using coll = spec.load({ programs: [prog.name], ignorePinning: true, ignoreMemoryLimit: values['ignore-memory-limit'] === true });
  warnLoad(ctx, coll);
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
