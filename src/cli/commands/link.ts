// bpf-ts link list|show|detach: every bpf_link in the kernel with its
// program and target, like `bpftool link list` (tracing, XDP, tcx, cgroup,
// perf events…); one link in detail; and cutting one from its hook, like
// `bpftool link detach`, removing the pins that held it.

import { BpfError } from '../../errors.js';
import type { BpfLink } from '../../link/link.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import { isNotSupported } from '../../sys/errno.js';
import type { LinkInfo, ProgInfo } from '../../sys/info.js';
import { listLinks, listPrograms, progInfoById } from '../../sys/ids.js';
import { linkTypeName } from '../../sys/link-type.js';
import { BpfSyscallError } from '../../sys/syscall-error.js';
import { progTypeName } from '../../uapi/bpf.js';
import { type CommandContext, defineCommand } from '../command.js';
import { table } from '../format.js';
import { checkBpffsOption, findLinkPins, linkIsDefunct, removeLinkPin } from '../link-pins.js';
import { holdersOf, printHolders } from '../holders.js';
import { linkTarget } from '../link-target.js';
import { openLinkTarget, pinAt, pinOfTarget } from '../target.js';

const USAGE = 'bpf-ts link list [--json] | link show PIN_PATH|id:N [--json] | link detach PIN_PATH|id:N [--bpffs DIR] [--json] | link pin PIN_PATH|id:N PATH [--json]';

/** A link's program by id, or null when it is gone or this process may not open it (then a warning names CAP_SYS_ADMIN). */
function programById(id: number, ctx: CommandContext): ProgInfo | null {
  const p = progInfoById(id);
  if (p === 'denied') ctx.warn?.("the program's name and type are not shown: opening a program by id needs CAP_SYS_ADMIN");
  return p === 'denied' ? null : p;
}

/** The JSON shape of one link, shared by list, show and detach. */
function linkJson(l: LinkInfo, p: ProgInfo | null) {
  return { id: l.id, type: linkTypeName(l.type), progId: l.progId, progName: p?.name ?? null, progType: p ? progTypeName(p.type) : null, target: linkTarget(l), details: l.details };
}

function list(ctx: CommandContext): number {
  const links = listLinks();
  const progs = new Map(listPrograms().map((p) => [p.id, p]));
  const rows = links.map((l) => linkJson(l, progs.get(l.progId) ?? null));
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
}

/** "12 xdp_pass (xdp)", or the id alone when the program could not be opened. */
function programText(id: number, p: ProgInfo | null): string {
  return p ? `${id} ${p.name || '(no name)'} (${progTypeName(p.type)})` : `${id}`;
}

function show(target: string | undefined, ctx: CommandContext): number {
  using link = openLinkTarget(target);
  const info = link.info();
  const p = programById(info.progId, ctx);
  const defunct = linkIsDefunct(info);
  const pinnedAt = pinOfTarget(target);
  const holders = holdersOf('link', info.id, ctx, pinnedAt);
  if (ctx.json) {
    ctx.printJson({ ...linkJson(info, p), defunct, pinnedAt, ...holders });
    return 0;
  }
  ctx.print(`link ${info.id}: ${linkTypeName(info.type)}`);
  ctx.print(`  program    ${programText(info.progId, p)}`);
  ctx.print(`  target     ${linkTarget(info) || '-'}`);
  ctx.print(`  state      ${defunct ? 'detached (its hook is gone, or it was detached; it holds nothing)' : 'attached'}`);
  printHolders(ctx, holders);
  return 0;
}

/** BPF_LINK_DETACH, with what to do when the link type has no detach. */
function detachOrExplain(link: BpfLink, info: LinkInfo, pin: string | null): void {
  try {
    link.detach();
  } catch (e) {
    if (!(e instanceof BpfSyscallError && isNotSupported(e.errno))) throw e;
    const type = linkTypeName(info.type);
    throw new BpfError(
      'KERNEL_UNSUPPORTED',
      `link ${info.id}: the kernel cannot detach a ${type} link while it lives; it goes when the last process holding it closes it` +
        (pin ? ` and its pin is removed (rm ${pin})` : ' and its pins are removed'),
    );
  }
}

function detach(target: string | undefined, bpffs: string, ctx: CommandContext): number {
  using link = openLinkTarget(target);
  const info = link.info();
  const wasDefunct = linkIsDefunct(info);
  const pin = pinOfTarget(target);
  detachOrExplain(link, info, pin);
  // A pin of a detached link holds nothing: the pin named goes (opened and
  // checked above), or for id:N every pin on this bpffs seen to hold it.
  const removedPins = pin ? [pin] : findLinkPins(bpffs, [info.id]).map((held) => held.path);
  for (const path of removedPins) removeLinkPin(path);
  const p = programById(info.progId, ctx);
  if (ctx.json) {
    ctx.printJson({ ...linkJson(info, p), detached: !wasDefunct, removedPins });
    return 0;
  }
  const what = `link ${info.id} (${linkTypeName(info.type)}${linkTarget(info) ? `, ${linkTarget(info)}` : ''}), program ${programText(info.progId, p)}`;
  ctx.print(wasDefunct ? `${what} was already detached` : `detached ${what}`);
  for (const path of removedPins) ctx.print(`removed pin ${path}`);
  return 0;
}

export const link = defineCommand({
  name: 'link',
  summary: 'list the bpf_links in the kernel (what is attached where); show one; detach one; pin one',
  usage: USAGE,
  options: {
    bpffs: { type: 'string' },
  },
  run(positionals, values, ctx) {
    const [sub, target, ...more] = positionals;
    if (sub === 'list' && target === undefined) return list(ctx);
    if ((sub === 'show' || sub === 'detach') && more.length === 0) {
      if (sub === 'show') return show(target, ctx);
      checkBpffsOption(values.bpffs);
      return detach(target, values.bpffs ?? DEFAULT_BPFFS, ctx);
    }
    if (sub === 'pin' && more.length <= 1) return pinAt(() => openLinkTarget(target), 'link', more[0], ctx);
    if (sub === 'list' || sub === 'show' || sub === 'detach' || sub === 'pin')
      throw new BpfError('USAGE', `link ${sub}: unexpected argument ${sub === 'list' ? target : more[sub === 'pin' ? 1 : 0]} (usage: ${USAGE})`);
    throw new BpfError('USAGE', `link needs a sub-command: list, show, detach or pin (usage: ${USAGE})`);
  },
});
