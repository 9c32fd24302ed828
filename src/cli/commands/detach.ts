// bpf-ts detach --xdp IFACE: remove the XDP program, whether netlink put it
// there or a bpf_link holds it (then the link is detached, and the pin
// `load --link` made for it is removed).

import { existsSync, rmSync } from 'node:fs';
import { detachXdp } from '../../attach/xdp.js';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import type { Command } from '../command.js';
import { parseMode } from '../xdp-select.js';
import { defaultLinkPin } from './load.js';

export const detach: Command = {
  name: 'detach',
  aliases: ['unload'],
  summary: 'detach the XDP program from an interface (alias: unload)',
  usage: 'bpf-ts detach --xdp IFACE [--mode native|skb|hw|auto] [--netns NAME] [--bpffs DIR] [--json]',
  options: {
    xdp: { type: 'string' },
    mode: { type: 'string' },
    netns: { type: 'string' },
    bpffs: { type: 'string' },
  },
  run(positionals, values, ctx) {
    if (positionals.length !== 0) throw new BpfError('USAGE', `detach takes no positional arguments (usage: ${this.usage})`);
    const iface = values.xdp as string | undefined;
    if (!iface) throw new BpfError('USAGE', 'detach needs --xdp IFACE');
    const netns = values.netns as string | undefined;
    const mode = values.mode === undefined ? undefined : parseMode(values.mode, 'auto');
    const r = detachXdp(iface, { mode, netns });
    if (r.detached.length === 0) {
      throw new BpfError('NOT_ATTACHED', `${r.ifname}: no XDP program is attached${mode && mode !== 'auto' ? ` in ${mode} mode` : ''}`);
    }
    const removedPins: string[] = [];
    if (r.detached.some((d) => d.linkId !== undefined)) {
      const pin = defaultLinkPin((values.bpffs as string | undefined) ?? DEFAULT_BPFFS, r.ifname, netns);
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
