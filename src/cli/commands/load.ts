// bpf-ts load OBJ --xdp IFACE | --tc IFACE | --cgroup PATH / --sk-msg MAP:
// load and attach, and leave it attached after exiting, as `ip link set dev
// IFACE xdp obj OBJ` and `tc filter add … bpf obj OBJ` do. Never replaces an
// attached program unless --replace says so. TC is in ../load-tc.ts, cgroup
// and sk_msg in ../load-cgroup.ts.

import { warnLoad } from '../load-warnings.js';
import { defaultXdpLinkPin } from '../default-pins.js';
import { resolveInterface } from '../../attach/iface.js';
import { attachXdp, attachXdpLink, queryXdp } from '../../attach/xdp.js';
import { withNetns } from '../../netns.js';
import { checkBpffsOption, clearDefunctLinkPin, pinLinkVerified } from '../link-pins.js';
import { openObject } from '../../collection.js';
import { BpfError } from '../../errors.js';
import { DEFAULT_BPFFS } from '../../maps/pin.js';
import { defineCommand, type OptionSpec, type OptionValues } from '../command.js';
import { loadCgroup } from '../load-cgroup.js';
import { loadNetfilter } from '../load-netfilter.js';
import { loadTc } from '../load-tc.js';
import { loadPinLinks } from '../load-tracing.js';
import { applyMaxEntries, MAX_ENTRIES_OPTION } from '../max-entries.js';
import { parseMode, selectXdpProgram, xdpProgramNames } from '../xdp-select.js';

const loadOptions = {
  xdp: { type: 'string' },
  tc: { type: 'string' },
  netfilter: { type: 'string' },
  direction: { type: 'string' },
  priority: { type: 'string' },
  handle: { type: 'string' },
  cgroup: { type: 'string' },
  'attach-type': { type: 'string' },
  'sk-msg': { type: 'string' },
  'sk-msg-program': { type: 'string' },
  mode: { type: 'string' },
  program: { type: 'string' },
  'pin-maps': { type: 'string' },
  replace: { type: 'boolean' },
  link: { type: 'boolean' },
  'pin-link': { type: 'string' },
  netns: { type: 'string' },
  bpffs: { type: 'string' },
  'pin-links': { type: 'string' },
  set: { type: 'string', multiple: true },
  'ignore-memory-limit': { type: 'boolean' },
  ...MAX_ENTRIES_OPTION,
} as const satisfies OptionSpec;

/** load's parsed options (its TC and cgroup halves take them too). */
export type LoadValues = OptionValues<typeof loadOptions>;

export const load = defineCommand({
  name: 'load',
  summary: 'load an object and attach it: XDP, TC (clsact or tcx), cgroup, sk_msg, netfilter, tracing, struct_ops (stays attached)',
  usage:
    'bpf-ts load OBJ --xdp IFACE [--mode native|skb|hw|auto] | --tc IFACE [--direction ingress|egress] [--priority N] [--handle N] | --cgroup PATH [--attach-type T] [--sk-msg MAP [--sk-msg-program NAME]] | --netfilter FAMILY:HOOK [--priority N] [--program NAME] [--pin-maps DIR] [--replace] [--link [--pin-link PATH]] [--netns NAME] [--bpffs DIR] [--max-entries MAP=N]… [--ignore-memory-limit] [--json] | --pin-links DIR [--program NAME] [--set NAME=VALUE]… (tracing programs attached where sections say, struct_ops maps registered; pinned under DIR)',
  options: loadOptions,
  run(positionals, values, ctx) {
    const [file, ...more] = positionals;
    if (file === undefined || more.length > 0) throw new BpfError('USAGE', `load takes exactly one object file (usage: ${this.usage})`);
    if (values['pin-links'] !== undefined) {
      if (values.xdp || values.tc || values.cgroup || values['sk-msg'])
        throw new BpfError('USAGE', '--pin-links attaches tracing programs where their sections say; it does not go with --xdp, --tc or --cgroup');
      return loadPinLinks(file, values['pin-links'], { program: values.program, set: values.set }, ctx);
    }
    if (values.netfilter !== undefined) {
      checkBpffsOption(values.bpffs);
      return loadNetfilter(file, { ...values, netfilter: values.netfilter }, ctx, values.bpffs ?? DEFAULT_BPFFS);
    }
    const kinds = [values.xdp && '--xdp', values.tc && '--tc', (values.cgroup || values['sk-msg']) && '--cgroup/--sk-msg'].filter(Boolean);
    if (kinds.length > 1) throw new BpfError('USAGE', `load attaches one kind at a time: ${kinds.join(' and ')} given`);
    // An explicit --bpffs must be a bpf filesystem bpf-ts may trust, whether or not anything gets pinned.
    checkBpffsOption(values.bpffs);
    if (values.tc) return loadTc(file, { ...values, tc: values.tc }, ctx, values.bpffs ?? DEFAULT_BPFFS);
    if (values.cgroup || values['sk-msg']) return loadCgroup(file, values, ctx, values.bpffs ?? DEFAULT_BPFFS);
    const iface = values.xdp;
    if (!iface) throw new BpfError('USAGE', 'load needs where to attach: --xdp IFACE, --tc IFACE, --cgroup PATH or --sk-msg MAP');
    for (const f of ['direction', 'priority', 'handle', 'attach-type', 'sk-msg-program'] as const) {
      if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not apply to --xdp`);
    }
    const mode = parseMode(values.mode, 'native');
    const netns = values.netns;
    const bpffs = values.bpffs ?? DEFAULT_BPFFS;
    if (values['pin-link'] && !values.link) throw new BpfError('USAGE', '--pin-link goes with --link');
    if (values.link && values.replace) throw new BpfError('USAGE', '--replace works on netlink attachments; detach a link first');

    // Before loading anything: the link pin's path must be usable (no
    // symlinks, no directory another user owns); a defunct link's pin left
    // there (its device was deleted) is cleared, a live one is PIN_EXISTS.
    let linkPinPath: string | undefined;
    let removedDefunctPin: string | undefined;
    if (values.link) {
      const custom = values['pin-link'];
      linkPinPath = custom ?? defaultXdpLinkPin(bpffs, withNetns(netns, () => resolveInterface(iface, netns)).ifname, netns);
      removedDefunctPin = clearDefunctLinkPin(linkPinPath, `the XDP link for ${iface}`);
    }

    const spec = openObject(file);
    applyMaxEntries(spec, values['max-entries']);
    const prog = selectXdpProgram(spec, values.program);
    using coll = spec.load({
      ignoreMemoryLimit: values['ignore-memory-limit'] === true,
      programs: xdpProgramNames(spec, prog.name),
      programType: 'xdp',
      bpffs,
      pinMaps: values['pin-maps'],
    });
    warnLoad(ctx, coll);
    const p = coll.program(prog.name);
    let result: { ifname: string; ifindex: number; mode: string; progId: number; replacedProgId?: number; linkId?: number; linkPin?: string };
    try {
      if (values.link && linkPinPath) {
        using link = attachXdpLink({ iface, program: p, mode, netns });
        try {
          // Verified after pinning: a detach between LINK_CREATE and the pin leaves nothing attached.
          pinLinkVerified(link.fd.value, linkPinPath, `XDP link ${link.id}`, () => queryXdp(link.ifindex, { netns }).programs.some((s) => s.progId === link.progId));
        } catch (e) {
          try {
            link.detach();
          } catch {
            // already detached
          }
          throw e;
        }
        result = { ifname: link.ifname, ifindex: link.ifindex, mode: link.mode, progId: link.progId, linkId: link.id, linkPin: linkPinPath };
      } else {
        result = attachXdp({ iface, program: p, mode, netns, replace: values.replace === true });
      }
    } catch (e) {
      // Nothing stays pinned from a load that did not attach, nor the directories made for it.
      coll.removeCreated();
      throw e;
    }
    const out = {
      interface: result.ifname,
      ifindex: result.ifindex,
      program: prog.name,
      progId: result.progId,
      mode: result.mode,
      link: result.linkId !== undefined,
      ...(result.linkId !== undefined ? { linkId: result.linkId, linkPin: result.linkPin } : {}),
      ...(result.replacedProgId !== undefined ? { replacedProgId: result.replacedProgId } : {}),
      pinnedMaps: coll.createdPins,
      ...(removedDefunctPin ? { removedDefunctPin } : {}),
      skipped: coll.skipped,
      warnings: spec.file.warnings,
      ...(netns ? { netns } : {}),
    };
    if (ctx.json) ctx.printJson(out);
    else {
      ctx.print(
        `attached ${prog.name} (id ${out.progId}) to ${out.interface} (ifindex ${out.ifindex}) in ${out.mode} mode${out.link ? `, through bpf_link ${out.linkId} pinned at ${out.linkPin}` : ''}`,
      );
      if (removedDefunctPin) ctx.print(`removed ${removedDefunctPin}: it held a bpf_link that was no longer attached (its device was gone)`);
      if (mode === 'auto') ctx.print(`(--mode auto: the kernel chose ${out.mode})`);
      if (out.replacedProgId !== undefined) ctx.print(`replaced program id ${out.replacedProgId}`);
      for (const pin of out.pinnedMaps) ctx.print(`pinned map at ${pin}`);
      for (const s of out.skipped) ctx.print(`skipped ${s.name} (section "${s.section}"): ${s.reason}`);
      for (const w of spec.file.warnings) ctx.print(`warning: ${w}`);
    }
    return 0;
  },
});
