// `bpf-ts load OBJ --tc IFACE`: load the object's sched_cls program and put
// it on the device's ingress or egress hook, where it stays after we exit —
// as a cls_bpf filter on clsact (like `tc filter add … bpf da obj OBJ sec S`),
// or with --link through a tcx bpf_link pinned on bpffs.

import type { LoadValues } from './commands/load.js';
import { warnLoad } from './load-warnings.js';
import { basename } from 'node:path';
import { attachTc } from '../attach/tc.js';
import { attachTcx } from '../attach/tcx.js';
import { openObject } from '../collection.js';
import { applyMaxEntries } from './max-entries.js';
import { BpfError } from '../errors.js';
import type { CommandContext } from './command.js';
import { defaultTcxLinkPin } from './default-pins.js';
import { clearDefunctLinkPin, pinLinkVerified } from './link-pins.js';
import { parseDirection, parseUint, selectTcProgram, tcProgramNames } from './tc-select.js';

type Values = LoadValues;

export function loadTc(objPath: string, values: Values & { tc: string }, ctx: CommandContext, bpffs: string): number {
  const iface = values.tc;
  const netns = values.netns;
  if (values.mode !== undefined) throw new BpfError('USAGE', '--mode is for --xdp; TC has --direction ingress|egress');
  const priority = parseUint(values.priority, '--priority', 0xffff);
  const handle = parseUint(values.handle, '--handle', 0xffffffff);
  if (values.link && (priority !== undefined || handle !== undefined || values.replace)) {
    throw new BpfError('USAGE', '--priority, --handle and --replace are for cls_bpf filters; a tcx --link has none');
  }
  if (values['pin-link'] && !values.link) throw new BpfError('USAGE', '--pin-link goes with --link');

  // A custom link pin path is checked (and a defunct link's pin cleared) before anything is loaded.
  const customPin = values.link ? values['pin-link'] : undefined;
  const removedDefunctPin = customPin ? clearDefunctLinkPin(customPin, `the tcx link for ${iface}`) : undefined;

  const spec = openObject(objPath);
  applyMaxEntries(spec, values['max-entries']);
  const prog = selectTcProgram(spec, values.program, values.direction);
  const direction = parseDirection(values.direction, prog);
  using coll = spec.load({
    ignoreMemoryLimit: values['ignore-memory-limit'] === true,
    programs: tcProgramNames(spec, prog),
    programType: 'sched_cls',
    bpffs,
    pinMaps: values['pin-maps'],
  });
  warnLoad(ctx, coll);
  const p = coll.program(prog.name);
  const common = {
    program: prog.name,
    section: prog.section,
    pinnedMaps: [...coll.createdPins],
    reusedMaps: [...coll.reusedPins],
    ...(netns ? { netns } : {}),
  };
  let out: Record<string, unknown>;
  try {
    if (values.link) {
      using link = attachTcx({ iface, direction, program: p, netns });
      const pinPath = values['pin-link'] ?? defaultTcxLinkPin(bpffs, link.ifname, direction, link.id, netns);
      try {
        // Verified after pinning: a detach between LINK_CREATE and the pin leaves nothing attached.
        pinLinkVerified(link.fd.value, pinPath, `tcx link ${link.id}`);
      } catch (e) {
        try {
          link.detach();
        } catch {
          // already detached
        }
        throw e;
      }
      out = {
        interface: link.ifname,
        ifindex: link.ifindex,
        direction,
        progId: link.progId,
        link: true,
        linkId: link.id,
        linkPin: pinPath,
        ...(removedDefunctPin ? { removedDefunctPin } : {}),
        ...common,
      };
    } else {
      const att = attachTc({
        iface,
        direction,
        program: p,
        netns,
        priority,
        handle,
        replace: values.replace === true,
        // What iproute2 writes, so `tc filter show` reads the same either way.
        name: `${basename(objPath)}:[${prog.section}]`,
      });
      out = {
        interface: att.ifname,
        ifindex: att.ifindex,
        direction,
        progId: att.progId,
        priority: att.priority,
        handle: att.handle,
        name: att.name,
        directAction: att.directAction,
        link: false,
        createdQdisc: att.createdQdisc,
        ...(att.replacedProgId !== undefined ? { replacedProgId: att.replacedProgId } : {}),
        ...common,
      };
    }
  } catch (e) {
    // Nothing stays pinned from a load that did not attach, nor the directories made for it.
    coll.removeCreated();
    throw e;
  }
  if (ctx.json) ctx.printJson(out);
  else {
    const where = `${out.interface} (ifindex ${out.ifindex}) ${direction}`;
    if (out.link) ctx.print(`attached ${prog.name} (id ${out.progId}) to ${where} through tcx bpf_link ${out.linkId} pinned at ${out.linkPin}`);
    else {
      if (out.createdQdisc) ctx.print(`added clsact qdisc to ${out.interface}`);
      ctx.print(`attached ${prog.name} (id ${out.progId}) to ${where} as cls_bpf filter priority ${out.priority} handle ${out.handle}, direct-action`);
      if (out.replacedProgId !== undefined) ctx.print(`replaced program id ${out.replacedProgId}`);
    }
    for (const name of common.reusedMaps) ctx.print(`reused pinned map ${name}`);
    for (const pin of common.pinnedMaps) ctx.print(`pinned map at ${pin}`);
  }
  return 0;
}
