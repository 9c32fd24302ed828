// bpf-ts detach --xdp IFACE: remove the XDP program, whether netlink put it
// there or a bpf_link holds it (then the link is detached, and the pin
// `load --link` made for it is removed). --tc, --cgroup and --sk-msg are in
// ../detach-tc.ts and ../detach-cgroup.ts.

import { existsSync, rmSync } from 'node:fs';
import { detachXdp } from '../../attach/xdp.js';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import type { Command } from '../command.js';
import { detachCgroupCli, detachSkMsgCli } from '../detach-cgroup.js';
import { detachTcCli } from '../detach-tc.js';
import { parseMode } from '../xdp-select.js';
import { defaultXdpLinkPin } from '../default-pins.js';

export const detach: Command = {
  name: 'detach',
  aliases: ['unload'],
  summary: 'detach XDP, TC (clsact filters and tcx), cgroup or sk_msg programs (alias: unload)',
  usage:
    'bpf-ts detach --xdp IFACE [--mode M] | --tc IFACE [--direction ingress|egress] [--priority N --handle N] [--remove-qdisc] | --cgroup PATH [--attach-type T] [--program-id N] | --sk-msg PIN|id:N [--program-id N] [--netns NAME] [--bpffs DIR] [--json]',
  options: {
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
    netns: { type: 'string' },
    bpffs: { type: 'string' },
  },
  run(positionals, values, ctx) {
    if (positionals.length !== 0) throw new BpfError('USAGE', `detach takes no positional arguments (usage: ${this.usage})`);
    const kinds = (['xdp', 'tc', 'cgroup', 'sk-msg'] as const).filter((k) => values[k] !== undefined);
    if (kinds.length > 1) throw new BpfError('USAGE', `detach takes one of --xdp, --tc, --cgroup, --sk-msg (got ${kinds.map((k) => '--' + k).join(' and ')})`);
    const bpffs = (values.bpffs as string | undefined) ?? DEFAULT_BPFFS;
    if (values.tc !== undefined) return detachTcCli(values, ctx, bpffs);
    if (values.cgroup !== undefined) return detachCgroupCli(values, ctx, bpffs);
    if (values['sk-msg'] !== undefined) return detachSkMsgCli(values, ctx, bpffs);
    const iface = values.xdp as string | undefined;
    if (!iface) throw new BpfError('USAGE', 'detach needs --xdp IFACE, --tc IFACE, --cgroup PATH or --sk-msg MAP');
    for (const f of ['direction', 'priority', 'handle', 'remove-qdisc', 'attach-type', 'program-id'] as const) {
      if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not apply to --xdp`);
    }
    const netns = values.netns as string | undefined;
    const mode = values.mode === undefined ? undefined : parseMode(values.mode, 'auto');
    // The pin load --link made: detaching through it needs no CAP_SYS_ADMIN (no walk of link ids).
    const linkPins = [defaultXdpLinkPin((values.bpffs as string | undefined) ?? DEFAULT_BPFFS, iface, netns)];
    const r = detachXdp(iface, { mode, netns, linkPins });
    if (r.detached.length === 0) {
      throw new BpfError('NOT_ATTACHED', `${r.ifname}: no XDP program is attached${mode && mode !== 'auto' ? ` in ${mode} mode` : ''}`);
    }
    const removedPins: string[] = [];
    if (r.detached.some((d) => d.linkId !== undefined)) {
      const pin = defaultXdpLinkPin((values.bpffs as string | undefined) ?? DEFAULT_BPFFS, r.ifname, netns);
      if (existsSync(pin)) {
        rmSync(pin);
        removedPins.push(pin);
      }
    }
    if (ctx.json) ctx.printJson({ interface: r.ifname, ifindex: r.ifindex, detached: r.detached, removedPins });
    else {
      for (const d of r.detached) ctx.print(`detached program id ${d.progId} (${d.mode} mode${d.linkId !== undefined ? `, bpf_link ${d.linkId}` : ''}) from ${r.ifname}`);
      for (const p of removedPins) ctx.print(`removed link pin ${p}`);
    }
    return 0;
  },
};
