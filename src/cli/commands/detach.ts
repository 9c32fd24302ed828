// bpf-ts detach --xdp IFACE: remove the XDP program, whether netlink put it
// there or a bpf_link holds it (then the link is detached, and the pin
// `load --link` made for it is removed). --tc, --cgroup and --sk-msg are in
// ../detach-tc.ts and ../detach-cgroup.ts.

import { resolveInterface } from '../../attach/iface.js';
import { detachXdp, type XdpDetachment } from '../../attach/xdp.js';
import { withNetns } from '../../netns.js';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import { type CommandContext, defineCommand, type OptionSpec, type OptionValues } from '../command.js';
import { detachCgroupCli, detachSkMsgCli } from '../detach-cgroup.js';
import { detachTcCli } from '../detach-tc.js';
import { parseMode } from '../xdp-select.js';
import { detachLinksDir } from '../load-tracing.js';
import { defaultXdpLinkPin } from '../default-pins.js';
import { checkBpffsOption, detachPinnedLink, findLinkPins, readLinkPin, removeLinkPin } from '../link-pins.js';

const detachOptions = {
  xdp: { type: 'string' },
  tc: { type: 'string' },
  direction: { type: 'string' },
  priority: { type: 'string' },
  handle: { type: 'string' },
  'remove-qdisc': { type: 'boolean' },
  cgroup: { type: 'string' },
  'attach-type': { type: 'string' },
  'program-id': { type: 'string' },
  'sk-msg': { type: 'string' },
  mode: { type: 'string' },
  'pin-link': { type: 'string' },
  netns: { type: 'string' },
  bpffs: { type: 'string' },
  links: { type: 'string' },
} as const satisfies OptionSpec;

/** detach's parsed options (its TC and cgroup halves take them too). */
export type DetachValues = OptionValues<typeof detachOptions>;

export const detach = defineCommand({
  name: 'detach',
  aliases: ['unload'],
  summary: 'detach XDP, TC (clsact filters and tcx), cgroup or sk_msg programs (alias: unload)',
  usage:
    'bpf-ts detach --xdp IFACE [--mode M] | --pin-link PATH | --links DIR | --tc IFACE [--direction ingress|egress] [--priority N --handle N] [--remove-qdisc] | --cgroup PATH [--attach-type T] [--program-id N] | --sk-msg PIN|id:N [--program-id N] [--netns NAME] [--bpffs DIR] [--json]',
  options: detachOptions,
  run(positionals, values, ctx) {
    if (positionals.length !== 0) throw new BpfError('USAGE', `detach takes no positional arguments (usage: ${this.usage})`);
    const kinds = (['xdp', 'tc', 'cgroup', 'sk-msg', 'pin-link', 'links'] as const).filter((k) => values[k] !== undefined);
    if (kinds.length > 1) throw new BpfError('USAGE', `detach takes one of --xdp, --tc, --cgroup, --sk-msg, --pin-link, --links (got ${kinds.map((k) => '--' + k).join(' and ')})`);
    // Links pinned by load --pin-links: each pin is checked on its own (lstat, bpffs).
    if (values.links !== undefined) return detachLinksDir(values.links, ctx);
    // An explicit --bpffs that is not a (trusted) bpffs is refused before anything is touched.
    checkBpffsOption(values.bpffs);
    const bpffs = values.bpffs ?? DEFAULT_BPFFS;
    if (values['pin-link'] !== undefined) return detachPinLinkCli(values['pin-link'], values, ctx);
    if (values.tc !== undefined) return detachTcCli({ ...values, tc: values.tc }, ctx, bpffs);
    if (values.cgroup !== undefined) return detachCgroupCli({ ...values, cgroup: values.cgroup }, ctx, bpffs);
    if (values['sk-msg'] !== undefined) return detachSkMsgCli({ ...values, 'sk-msg': values['sk-msg'] }, ctx, bpffs);
    const iface = values.xdp;
    if (!iface) throw new BpfError('USAGE', 'detach needs --xdp IFACE, --tc IFACE, --cgroup PATH, --sk-msg MAP or --pin-link PATH');
    for (const f of ['direction', 'priority', 'handle', 'remove-qdisc', 'attach-type', 'program-id'] as const) {
      if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not apply to --xdp`);
    }
    const netns = values.netns;
    const mode = values.mode === undefined ? undefined : parseMode(values.mode, 'auto');
    // The default link pin is named after the interface; it may outlive it.
    let ifname = iface;
    let gone: BpfError | undefined;
    try {
      ifname = withNetns(netns, () => resolveInterface(iface, netns)).ifname;
    } catch (e) {
      if (!(e instanceof BpfError && e.code === 'NO_SUCH_INTERFACE')) throw e;
      gone = e;
    }
    const defaultPin = defaultXdpLinkPin(bpffs, ifname, netns);
    let r: XdpDetachment | undefined;
    let nothing: BpfError | undefined;
    if (!gone) {
      try {
        // Through the pin load --link made: no walk of link ids (which needs CAP_SYS_ADMIN).
        r = detachXdp(iface, { mode, netns, linkPins: [defaultPin] });
      } catch (e) {
        if (!(e instanceof BpfError && e.code === 'NOT_ATTACHED')) throw e;
        nothing = e;
      }
    }
    const removedPins: string[] = [];
    // Pins of the links just detached, wherever on this bpffs they are (custom --pin-link too).
    const linkIds = (r?.detached ?? []).flatMap((d) => (d.linkId !== undefined ? [d.linkId] : []));
    if (linkIds.length > 0) {
      for (const held of findLinkPins(bpffs, linkIds, [defaultPin])) {
        removeLinkPin(held.path);
        removedPins.push(held.path);
      }
    }
    // A pin whose link went defunct earlier (device deleted, or a detach raced a load) goes too.
    const removedDefunctPins: string[] = [];
    if (!removedPins.includes(defaultPin)) {
      let held: ReturnType<typeof readLinkPin> = null;
      try {
        held = readLinkPin(defaultPin);
      } catch (e) {
        // Best effort: no bpffs there, or a path bpf-ts will not trust (load says why).
        if (!(e instanceof BpfError && (e.code === 'NOT_BPFFS' || e.code === 'PIN_UNSAFE'))) throw e;
      }
      if (held && held !== 'other' && held.defunct) {
        removeLinkPin(held.path);
        removedDefunctPins.push(held.path);
      }
    }
    if (!r || r.detached.length === 0) {
      if (removedDefunctPins.length === 0) {
        throw gone ?? nothing ?? new BpfError('NOT_ATTACHED', `${ifname}: no XDP program is attached${mode && mode !== 'auto' ? ` in ${mode} mode` : ''}`);
      }
      if (ctx.json) ctx.printJson({ interface: ifname, detached: [], removedPins: [], removedDefunctPins });
      else for (const p of removedDefunctPins) ctx.print(`nothing attached to ${ifname}; removed ${p}, which held a bpf_link that was no longer attached`);
      return 0;
    }
    if (ctx.json) ctx.printJson({ interface: r.ifname, ifindex: r.ifindex, detached: r.detached, removedPins, ...(removedDefunctPins.length ? { removedDefunctPins } : {}) });
    else {
      for (const d of r.detached) ctx.print(`detached program id ${d.progId} (${d.mode} mode${d.linkId !== undefined ? `, bpf_link ${d.linkId}` : ''}) from ${r.ifname}`);
      for (const p of removedPins) ctx.print(`removed link pin ${p}`);
      for (const p of removedDefunctPins) ctx.print(`removed ${p}, which held a bpf_link that was no longer attached`);
    }
    return 0;
  },
});

function detachPinLinkCli(path: string, values: DetachValues, ctx: CommandContext): number {
  for (const f of ['direction', 'priority', 'handle', 'remove-qdisc', 'attach-type', 'program-id', 'mode', 'netns'] as const) {
    if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not apply to --pin-link (the pin names the link)`);
  }
  const held = detachPinnedLink(path);
  if (ctx.json) ctx.printJson({ pinLink: held.path, linkId: held.linkId, progId: held.progId, detached: !held.defunct, removedPins: [held.path] });
  else {
    ctx.print(held.defunct ? `bpf_link ${held.linkId} was no longer attached` : `detached bpf_link ${held.linkId} (program id ${held.progId})`);
    ctx.print(`removed link pin ${held.path}`);
  }
  return 0;
}
