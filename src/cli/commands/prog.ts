// bpf-ts prog list|dump: the programs in the kernel, like `bpftool prog
// list`, and one program's instructions as the kernel runs them, like
// `bpftool prog dump xlated`.

import { BpfError } from '../../errors.js';
import type { XlatedProgram } from '../../programs/xlated.js';
import { listPrograms } from '../../sys/ids.js';
import { progTypeName } from '../../uapi/bpf.js';
import { type CommandContext, defineCommand } from '../command.js';
import { table } from '../format.js';
import { openProgTarget } from '../target.js';

const USAGE = 'bpf-ts prog list [--json] | prog dump PIN_PATH|id:N [--json]';

function list(ctx: CommandContext): number {
  const progs = listPrograms({ mapIds: true });
  if (ctx.json) {
    ctx.printJson(progs.map((p) => ({ id: p.id, name: p.name, type: progTypeName(p.type), tag: p.tag, xlatedBytes: p.xlatedProgLen, jitedBytes: p.jitedProgLen, mapIds: p.mapIds, btfId: p.btfId })));
  } else {
    ctx.print(
      table(
        ['ID', 'NAME', 'TYPE', 'TAG', 'XLATED', 'MAPS'],
        progs.map((p) => [p.id, p.name, progTypeName(p.type), p.tag, p.xlatedProgLen, p.mapIds.join(',')]),
      ),
    );
  }
  return 0;
}

function dump(target: string | undefined, ctx: CommandContext): number {
  let x: XlatedProgram;
  {
    using prog = openProgTarget(target);
    x = prog.xlated();
  }
  // What the kernel would not show this process, and what would show it.
  const unnamed = x.lines.some((l) => l.call && l.call.kind !== 'function' && l.call.name === undefined);
  if (unnamed && !x.addressesShown) {
    ctx.warn?.('helper and kfunc calls are shown as "call ?": the kernel hides their addresses from this process (needs CAP_SYSLOG, or kernel.kptr_restrict=0 and kernel.perf_event_paranoid<=1)');
  }
  if (!x.sourceShown) ctx.warn?.("no source lines or function names: the program's BTF opens by id only with CAP_SYS_ADMIN");
  if (!x.mapNamesShown) ctx.warn?.('maps are shown by id: they open by id only with CAP_SYS_ADMIN');
  if (ctx.json) {
    ctx.printJson({
      id: x.id,
      name: x.name,
      type: x.type,
      tag: x.tag,
      jited: x.jited,
      addressesShown: x.addressesShown,
      sourceShown: x.sourceShown,
      mapNamesShown: x.mapNamesShown,
      maps: x.maps,
      instructions: x.lines.map((l) => ({
        insn: l.slot,
        text: l.text,
        ...(l.function ? { function: l.function } : {}),
        ...(l.source ? { source: l.source } : {}),
        ...(l.map ? { map: l.map } : {}),
        ...(l.call ? { call: l.call } : {}),
      })),
    });
    return 0;
  }
  ctx.print(`${x.name || '(no name)'} (id ${x.id}, ${x.type}, tag ${x.tag}${x.jited ? ', JITed' : ''}), as the kernel runs it:`);
  if (x.maps.length > 0) ctx.print(`maps: ${x.maps.map((m) => (m.name !== undefined ? `${m.name} (id ${m.id}, ${m.type})` : `id ${m.id}`)).join(', ')}`);
  const w = String(x.lines.at(-1)?.slot ?? 0).length;
  for (const l of x.lines) {
    if (l.function) ctx.print(`${l.function.prototype}:`);
    if (l.source) ctx.print(`; ${l.source.text}  [${l.source.file}:${l.source.line}]`);
    ctx.print(`${String(l.slot).padStart(w + 2)}: ${l.text}`);
  }
  return 0;
}

export const prog = defineCommand({
  name: 'prog',
  summary: "list the programs loaded in the kernel; dump one's instructions as the kernel runs them",
  usage: USAGE,
  options: {},
  run(positionals, _values, ctx) {
    const [sub, target, ...more] = positionals;
    if (sub === 'list' && target === undefined) return list(ctx);
    if (sub === 'dump' && more.length === 0) return dump(target, ctx);
    if (sub === 'list' || sub === 'dump') throw new BpfError('USAGE', `prog ${sub}: unexpected argument ${sub === 'list' ? target : more[0]} (usage: ${USAGE})`);
    throw new BpfError('USAGE', `prog needs a sub-command: list or dump (usage: ${USAGE})`);
  },
});
