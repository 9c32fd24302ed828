// Programs attached to a SOCKMAP / SOCKHASH (BPF_PROG_ATTACH with target_fd
// = the map): sk_msg verdicts (BPF_SK_MSG_VERDICT) run on every sendmsg of a
// socket in the map; sk_skb parsers/verdicts on its receive path.
//
// Lifetime: the map holds these programs, but only while the map has a
// *user* reference (an fd or a bpffs pin). When the last one goes, the
// kernel drops the map's programs (sock_map's map_release_uref), even if a
// program such as a sock_ops one still uses the map. A loader that exits
// must therefore pin the map to keep its sk_msg program attached.

import { BpfError } from '../errors.js';
import { programOptionFd, type ProgramOption } from '../link/link.js';
import * as cmd from '../sys/bpf-cmd.js';
import { ENOENT } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { withIdFd } from '../sys/ids.js';
import { mapInfo, progInfo } from '../sys/info.js';
import { getFdById } from '../sys/obj-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE as A, BPF_MAP_TYPE, mapTypeName } from '../uapi/bpf.js';
import { progAttach, progDetach, progQuery } from '../sys/prog-attach-attr.js';

/** Sockmap attach types by bpftool's names (`bpftool prog attach PROG <type> MAP`). */
export const SOCKMAP_ATTACH_TYPES: Readonly<Record<string, number>> = {
  msg_verdict: A.SK_MSG_VERDICT,
  stream_parser: A.SK_SKB_STREAM_PARSER,
  stream_verdict: A.SK_SKB_STREAM_VERDICT,
  skb_verdict: A.SK_SKB_VERDICT,
};

const NAME_OF = new Map(Object.entries(SOCKMAP_ATTACH_TYPES).map(([k, v]) => [v, k]));

export function sockmapAttachTypeName(t: number): string {
  return NAME_OF.get(t) ?? `attach_type_${t}`;
}

function checkSockmap(mapFd: number): { id: number; name: string } {
  const m = mapInfo(mapFd, 'sockmap');
  if (m.type !== BPF_MAP_TYPE.SOCKMAP && m.type !== BPF_MAP_TYPE.SOCKHASH) {
    throw new BpfError('USAGE', `map ${m.name || m.id} is a ${mapTypeName(m.type)} map; sk_msg and sk_skb programs attach to sockmap or sockhash maps`);
  }
  return { id: m.id, name: m.name };
}

export type AttachSkMsgOptions = ProgramOption & {
  mapFd: number;
  /** Default BPF_SK_MSG_VERDICT. */
  attachType?: number;
  /** Swap out a program already on this slot of the map instead of refusing (the kernel itself would swap silently). */
  replace?: boolean;
};

export interface SkMsgAttachment {
  mapId: number;
  mapName: string;
  progId: number;
  attachType: number;
  attachTypeName: string;
  replacedProgId?: number;
}

/** Programs on one slot of a sockmap (BPF_PROG_QUERY on the map, 5.19+). */
export function querySockmap(mapFd: number, attachType: number = A.SK_MSG_VERDICT): number[] {
  const { id } = checkSockmap(mapFd);
  return progQuery(mapFd, attachType, {}, `sockmap ${id} (${sockmapAttachTypeName(attachType)})`).progIds;
}

/** Attach a program to a sockmap/sockhash. BpfError 'ALREADY_ATTACHED' when the slot is taken and replace is off. */
export function attachSkMsg(opts: AttachSkMsgOptions): SkMsgAttachment {
  const attachType = opts.attachType ?? A.SK_MSG_VERDICT;
  const map = checkSockmap(opts.mapFd);
  const progFd = programOptionFd(opts, 'attachSkMsg');
  const progId = progInfo(progFd, {}, 'sk_msg program').id;
  const slot = sockmapAttachTypeName(attachType);
  const before = querySockmap(opts.mapFd, attachType);
  const other = before.find((p) => p !== progId);
  if (other !== undefined && !opts.replace) {
    throw new BpfError('ALREADY_ATTACHED', `map ${map.name || map.id} already has ${slot} program ${other}: detach it first, or replace it`);
  }
  progAttach({ target: opts.mapFd, progFd, attachType }, `attach ${slot} program ${progId} to map ${map.name || map.id}`);
  const out: SkMsgAttachment = { mapId: map.id, mapName: map.name, progId, attachType, attachTypeName: slot };
  if (other !== undefined) out.replacedProgId = other;
  return out;
}

export interface SkMsgDetachment {
  mapId: number;
  mapName: string;
  detached: { progId: number; attachType: number; attachTypeName: string }[];
}

/**
 * BPF_PROG_DETACH the program(s) on one slot of a sockmap (the kernel wants
 * the program's fd, so each is opened by id). BpfError 'NOT_ATTACHED' when
 * the slot is empty (or does not hold progId).
 */
export function detachSkMsg(mapFd: number, options: { attachType?: number; progId?: number } = {}): SkMsgDetachment {
  const attachType = options.attachType ?? A.SK_MSG_VERDICT;
  const map = checkSockmap(mapFd);
  const slot = sockmapAttachTypeName(attachType);
  const progIds = querySockmap(mapFd, attachType).filter((p) => options.progId === undefined || p === options.progId);
  const detached: SkMsgDetachment['detached'] = [];
  for (const progId of progIds) {
    const progFd = getFdById(cmd.BPF_PROG_GET_FD_BY_ID, progId);
    if (progFd === null) continue;
    try {
      progDetach({ target: mapFd, progFd, attachType }, `detach ${slot} program ${progId} from map ${map.name || map.id}`);
      detached.push({ progId, attachType, attachTypeName: slot });
    } catch (e) {
      if (!(e instanceof BpfSyscallError && e.errno === ENOENT)) throw e;
    } finally {
      ffi.close(progFd);
    }
  }
  if (detached.length === 0) {
    throw new BpfError(
      'NOT_ATTACHED',
      `map ${map.name || map.id} (id ${map.id}): ${options.progId !== undefined ? `program ${options.progId} is not its ${slot} program` : `no ${slot} program is attached`}`,
    );
  }
  return { mapId: map.id, mapName: map.name, detached };
}

/** Program ids of a sockmap by map id, for callers holding no fd. */
export function querySockmapById(mapId: number, attachType: number = A.SK_MSG_VERDICT): number[] | null {
  return withIdFd('map', mapId, (fd) => querySockmap(fd, attachType));
}
