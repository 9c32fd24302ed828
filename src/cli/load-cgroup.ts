// `bpf-ts load OBJ --cgroup PATH [--sk-msg MAP]`: in one load (so both
// share the object's maps) attach the object's cgroup program (sock_ops, …)
// to a cgroup v2 directory and its sk_msg program to one of its sockmaps.
//
// After the CLI exits, the cgroup holds the cgroup program (and, through
// it, the maps it uses). The sockmap, however, drops its sk_msg program as
// soon as its last fd or pin is gone, so the map is pinned unless the load
// already pinned it (declared pinning, --pin-maps). The sk_msg program is
// attached first: a socket added to the map takes the map's programs at that
// moment, so it must be there before sock_ops starts adding sockets.

import type { LoadValues } from './commands/load.js';
import { warnLoad } from './load-warnings.js';
import { basename } from 'node:path';
import { attachCgroup, attachCgroupLink, BPF_F_ALLOW_MULTI, resolveCgroup, type CgroupLink } from '../attach/cgroup.js';
import { attachSkMsg, detachSkMsg } from '../attach/sk-msg.js';
import { openObject } from '../collection.js';
import { applyMaxEntries } from './max-entries.js';
import { BpfError } from '../errors.js';
import { pinFd, removeEmptyDirs, unpin } from '../maps/pin.js';
import { cgroupAttachTypeFor, selectCgroupProgram, selectSkMsgProgram } from './cgroup-select.js';
import type { CommandContext } from './command.js';
import { defaultCgroupLinkPin, defaultSkMsgMapPin } from './default-pins.js';
import { clearDefunctLinkPin, pinLinkVerified, removeLinkPin } from './link-pins.js';

type Values = LoadValues;

const NOT_HERE = ['mode', 'direction', 'priority', 'handle', 'netns'] as const;

export function loadCgroup(objPath: string, values: Values, ctx: CommandContext, bpffs: string): number {
  const cgroupArg = values.cgroup;
  const mapName = values['sk-msg'];
  for (const f of NOT_HERE) if (values[f] !== undefined) throw new BpfError('USAGE', `--${f} does not apply to --cgroup / --sk-msg`);
  if (!cgroupArg) {
    if (values.program) throw new BpfError('USAGE', '--program picks the cgroup program; the sk_msg program is --sk-msg-program');
    for (const f of ['attach-type', 'link', 'pin-link'] as const) if (values[f]) throw new BpfError('USAGE', `--${f} goes with --cgroup`);
  }
  if (values['sk-msg-program'] && !mapName) throw new BpfError('USAGE', '--sk-msg-program goes with --sk-msg MAP');
  if (values['pin-link'] && !values.link) throw new BpfError('USAGE', '--pin-link goes with --link');
  if (values.replace && !mapName) throw new BpfError('USAGE', '--replace swaps the sk_msg program of --sk-msg MAP; cgroup hooks take several programs');
  const cgroup = cgroupArg ? resolveCgroup(cgroupArg) : undefined;
  // A custom link pin path is checked (and a defunct link's pin cleared) before anything is loaded.
  const customPin = values.link ? values['pin-link'] : undefined;
  const removedDefunctPin = customPin ? clearDefunctLinkPin(customPin, `the cgroup link for ${cgroupArg}`) : undefined;

  const spec = openObject(objPath);
  applyMaxEntries(spec, values['max-entries']);
  const cgProg = cgroup ? selectCgroupProgram(spec, values.program) : undefined;
  const attachType = cgProg ? cgroupAttachTypeFor(cgProg, values['attach-type']) : undefined;
  const msgProg = mapName ? selectSkMsgProgram(spec, values['sk-msg-program']) : undefined;
  using coll = spec.load({
    ignoreMemoryLimit: values['ignore-memory-limit'] === true,
    programs: [cgProg, msgProg].filter((p) => p !== undefined).map((p) => p.name),
    bpffs,
    pinMaps: values['pin-maps'],
  });
  warnLoad(ctx, coll);
  const map = mapName ? coll.map(mapName) : undefined;

  const undo: (() => void)[] = [];
  let link: CgroupLink | undefined;
  const out: Record<string, unknown> = {};
  try {
    if (msgProg && map && mapName) {
      const prog = coll.program(msgProg.name);
      let mapPin = coll.createdPins.find((p) => basename(p) === mapName);
      const reused = coll.reusedPins.has(mapName);
      if (!mapPin && !reused) {
        mapPin = defaultSkMsgMapPin(bpffs, mapName, map.id);
        const dirs = pinFd(map.fd.value, mapPin, { mkdir: true, label: `map ${mapName}` });
        const made = mapPin;
        undo.push(() => {
          unpin(made);
          removeEmptyDirs(dirs);
        });
      }
      const att = attachSkMsg({ mapFd: map.fd.value, progFd: prog.fd.value, replace: values.replace === true });
      undo.push(() => detachSkMsg(map.fd.value, { progId: att.progId }));
      out.skMsg = {
        map: mapName,
        mapId: att.mapId,
        ...(mapPin ? { mapPin } : { mapPinReused: true }),
        program: msgProg.name,
        progId: att.progId,
        attachType: att.attachTypeName,
        ...(att.replacedProgId !== undefined ? { replacedProgId: att.replacedProgId } : {}),
      };
    }
    if (cgProg && cgroup && attachType !== undefined) {
      const progFd = coll.program(cgProg.name).fd.value;
      if (values.link) {
        link = attachCgroupLink({ cgroup, progFd, attachType });
        const pinPath = values['pin-link'] ?? defaultCgroupLinkPin(bpffs, link.cgroupId, link.attachTypeName, link.id);
        const l = link;
        undo.push(() => l.detach());
        pinLinkVerified(link.fd.value, pinPath, `cgroup link ${link.id}`);
        undo.push(() => removeLinkPin(pinPath));
        out.cgroup = { path: cgroup, cgroupId: Number(link.cgroupId), program: cgProg.name, progId: link.progId, attachType: link.attachTypeName, link: true, linkId: link.id, linkPin: pinPath };
      } else {
        const att = attachCgroup({ cgroup, progFd, attachType, flags: BPF_F_ALLOW_MULTI });
        out.cgroup = { path: cgroup, cgroupId: Number(att.cgroupId), program: cgProg.name, progId: att.progId, attachType: att.attachTypeName, flags: 'multi', link: false };
      }
    }
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // keep the original error
      }
    }
    coll.removeCreated();
    throw e;
  } finally {
    link?.close();
  }
  if (removedDefunctPin) out.removedDefunctPin = removedDefunctPin;
  out.pinnedMaps = [...coll.createdPins];
  out.reusedMaps = [...coll.reusedPins];
  if (ctx.json) ctx.printJson(out);
  else {
    const cg = out.cgroup as { path: string; program: string; progId: number; attachType: string; link: boolean; linkId?: number; linkPin?: string } | undefined;
    const sm = out.skMsg as { map: string; mapId: number; mapPin?: string; program: string; progId: number; replacedProgId?: number } | undefined;
    if (sm) {
      ctx.print(`attached ${sm.program} (id ${sm.progId}) to map ${sm.map} (id ${sm.mapId}) as msg_verdict${sm.replacedProgId !== undefined ? `, replacing program id ${sm.replacedProgId}` : ''}`);
      if (sm.mapPin) ctx.print(`map ${sm.map} pinned at ${sm.mapPin} (the pin keeps the sk_msg program attached)`);
    }
    if (cg) {
      ctx.print(`attached ${cg.program} (id ${cg.progId}) to cgroup ${cg.path} (${cg.attachType}${cg.link ? `, through bpf_link ${cg.linkId} pinned at ${cg.linkPin}` : ', multi'})`);
    }
    for (const pin of out.pinnedMaps as string[]) if (pin !== sm?.mapPin) ctx.print(`pinned map at ${pin}`);
  }
  return 0;
}
