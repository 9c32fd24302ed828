// tcx (Linux 6.6+): sched_cls programs on a device's ingress/egress hook
// without a qdisc, attached through a bpf_link (BPF_LINK_CREATE, attach type
// BPF_TCX_INGRESS / BPF_TCX_EGRESS). Like an XDP link, the attachment lives
// as long as the link: keep the TcxLink, or pin it to outlast the process.
//
// What is on a hook comes from BPF_PROG_QUERY with target_ifindex, which the
// kernel resolves in the caller's namespace and which names the link holding
// each program; link info alone has an ifindex but no namespace.

import { BpfError } from '../errors.js';
import { BpfLink, programOptionFd, type ProgramOption } from '../link/link.js';
import { dumpLinks } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns.js';
import * as cmd from '../sys/bpf-cmd.js';
import { EEXIST, EINVAL, ENOENT, ESTALE } from '../sys/errno.js';
import { Fd, fdKind } from '../sys/fd.js';
import { withIdFd } from '../sys/ids.js';
import { linkInfo, progInfo } from '../sys/info.js';
import { getFdById, objGet } from '../sys/obj-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';
import { resolveInterface, unlessVanished, type InterfaceRef } from './iface.js';
import { linkCreate, linkDetach } from '../sys/link-attr.js';
import { BPF_F_AFTER, BPF_F_BEFORE, BPF_F_ID, progDetach, progQuery } from '../sys/prog-attach-attr.js';
import { TC_DIRECTIONS, isTcDirection, type TcDirection, type TcNetnsOption } from './tc.js';
import { trustedPinAt } from '../sys/bpffs.js';

export function tcxAttachType(direction: TcDirection): number {
  return direction === 'ingress' ? BPF_ATTACH_TYPE.TCX_INGRESS : BPF_ATTACH_TYPE.TCX_EGRESS;
}

/** One program on a tcx hook. */
export interface TcxProgram {
  ifindex: number;
  ifname: string;
  direction: TcDirection;
  progId: number;
  progName?: string;
  /** The bpf_link holding it; 0 when it was attached with BPF_PROG_ATTACH. */
  linkId: number;
}

export type AttachTcxOptions = TcNetnsOption &
  ProgramOption & {
    iface: InterfaceRef;
    direction: TcDirection;
  };

/** An owned tcx link. Keep it referenced, or pin it: dropping it detaches the program. */
export class TcxLink extends BpfLink {
  readonly ifindex: number;
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly netns: string | undefined;

  constructor(fd: Fd, info: { ifindex: number; ifname: string; direction: TcDirection; netns?: string | undefined }) {
    super(fd);
    this.ifindex = info.ifindex;
    this.ifname = info.ifname;
    this.direction = info.direction;
    this.netns = info.netns;
  }
}

/** Attach a sched_cls program to a device's tcx hook through BPF_LINK_CREATE. */
export function attachTcx(opts: AttachTcxOptions): TcxLink {
  if (!isTcDirection(opts.direction)) throw new BpfError('USAGE', `direction must be ingress or egress, got ${String(opts.direction)}`);
  const progFd = programOptionFd(opts, 'attachTcx');
  return withNetns(opts.netns, () => {
    // target_ifindex is resolved in the caller's namespace: stay inside for it.
    const { ifindex, ifname } = resolveInterface(opts.iface, opts.netns);
    const info = progInfo(progFd, {}, 'tcx program');
    if (info.type !== BPF_PROG_TYPE.SCHED_CLS) {
      throw new BpfError('USAGE', `program ${info.name || info.id} is a ${progTypeName(info.type)} program; tcx takes sched_cls programs`);
    }
    const what = `tcx ${opts.direction} link on ${ifname}`;
    let raw: number;
    try {
      raw = linkCreate({ progFd, target: ifindex, attachType: tcxAttachType(opts.direction) }, what);
    } catch (e) {
      if (e instanceof BpfSyscallError && e.errno === EEXIST) {
        throw new BpfError('ALREADY_ATTACHED', `attach ${what}: program ${info.id} is already on the ${opts.direction} tcx hook of ${ifname}`, { cause: e });
      }
      if (e instanceof BpfSyscallError && e.errno === EINVAL) {
        throw new BpfError('SYSCALL', `${e.message} (tcx needs Linux 6.6 or later; without --link the program goes on the clsact qdisc instead)`, { cause: e });
      }
      throw e;
    }
    const fd = new Fd(raw, what);
    try {
      return new TcxLink(fd, { ifindex, ifname, direction: opts.direction, netns: opts.netns });
    } catch (e) {
      fd.close();
      throw e;
    }
  });
}

function progName(id: number): string | undefined {
  try {
    return withIdFd('prog', id, (fd) => progInfo(fd).name) ?? undefined;
  } catch {
    return undefined;
  }
}

/** BPF_PROG_QUERY of one tcx hook, in the calling thread's namespace. */
function queryHook(ifindex: number, ifname: string, direction: TcDirection): TcxProgram[] {
  let r;
  try {
    r = progQuery(ifindex, tcxAttachType(direction), { linkIds: true }, `tcx ${direction} of ${ifname}`);
  } catch (e) {
    // No tcx in this kernel: nothing can be attached there.
    if (e instanceof BpfSyscallError && e.errno === EINVAL) return [];
    throw e;
  }
  return r.progIds.map((progId, i) => {
    const p: TcxProgram = { ifindex, ifname, direction, progId, linkId: r.linkIds[i] ?? 0 };
    const name = progName(progId);
    if (name !== undefined) p.progName = name;
    return p;
  });
}

/** What is on one device's tcx hooks (both, or one direction). */
export function queryTcx(iface: InterfaceRef, options: TcNetnsOption & { direction?: TcDirection } = {}): TcxProgram[] {
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    const dirs = options.direction ? [options.direction] : TC_DIRECTIONS;
    return dirs.flatMap((d) => queryHook(ifindex, ifname, d));
  });
}

/** Every tcx program on every device of the namespace, for `bpf-ts show`. */
export function listTcx(options: TcNetnsOption = {}): TcxProgram[] {
  return withNetns(options.netns, () => {
    using sock = NetlinkSocket.open();
    return dumpLinks(sock).flatMap((l) => unlessVanished(l, () => TC_DIRECTIONS.flatMap((d) => queryHook(l.ifindex, l.ifname, d)), []));
  });
}

export interface DetachTcxOptions extends TcNetnsOption {
  /** Default: both hooks. */
  direction?: TcDirection;
  /** Only this program. */
  progId?: number;
  /**
   * Where a link may be pinned (e.g. the pin `load --tc --link` made). A link
   * found there is detached through its pin, which needs only access to the
   * pin; opening it by id needs CAP_SYS_ADMIN.
   */
  linkPin?: (direction: TcDirection, linkId: number) => string;
}

/** The link's fd from its pin when there is one there, else by id; null when it is gone. */
function openTcxLink(linkId: number, pin: string | undefined): Fd | null {
  // A pin bpf-ts may not trust (a symlink another user planted) is not opened: the link is found by id instead.
  if (pin && trustedPinAt(pin)) {
    const fd = new Fd(objGet(pin, 0, `tcx link pinned at ${pin}`), `link ${pin}`);
    if (fdKind(fd.value) === 'link' && linkInfo(fd.value, `link pinned at ${pin}`).id === linkId) return fd;
    fd.close();
  }
  const raw = getFdById(cmd.BPF_LINK_GET_FD_BY_ID, linkId);
  return raw === null ? null : new Fd(raw, `tcx link ${linkId}`);
}

/**
 * BPF_PROG_DETACH of the program `progId` (attached without a link) by its
 * place on the hook, not by its fd: an fd from the id needs CAP_SYS_ADMIN
 * (BPF_PROG_GET_FD_BY_ID), while the kernel's mprog detach accepts "the
 * first" (BPF_F_BEFORE alone) or "the one after program id N" (BPF_F_AFTER |
 * BPF_F_ID, the id resolved inside the kernel), with the revision the query
 * saw so a hook changed meanwhile is refused (ESTALE) and asked again.
 * False when the program is no longer there without a link.
 */
function detachTcxProgAt(ifindex: number, ifname: string, direction: TcDirection, progId: number): boolean {
  const attachType = tcxAttachType(direction);
  const what = `tcx ${direction} program ${progId} on ${ifname}`;
  for (let attempt = 0; ; attempt++) {
    const q = progQuery(ifindex, attachType, { linkIds: true }, `tcx ${direction} of ${ifname}`);
    const i = q.progIds.indexOf(progId);
    if (i < 0 || q.linkIds[i]) return false;
    try {
      progDetach(
        i === 0
          ? { target: ifindex, attachType, flags: BPF_F_BEFORE, expectedRevision: q.revision }
          : { target: ifindex, attachType, flags: BPF_F_AFTER | BPF_F_ID, relative: q.progIds[i - 1]!, expectedRevision: q.revision },
        what,
      );
      return true;
    } catch (e) {
      // ESTALE: the hook changed since the query; ENOENT: the program before it went away.
      if (e instanceof BpfSyscallError && (e.errno === ESTALE || e.errno === ENOENT) && attempt < 16) continue;
      throw e;
    }
  }
}

export interface TcxDetachment {
  ifindex: number;
  ifname: string;
  detached: { direction: TcDirection; progId: number; linkId: number }[];
}

/**
 * Take programs off a device's tcx hooks: BPF_LINK_DETACH for link-held
 * ones (the link object lives on, defunct, until its pins and fds go),
 * BPF_PROG_DETACH for the others. Returns what was detached, possibly
 * nothing (callers decide whether that is an error).
 */
export function detachTcx(iface: InterfaceRef, options: DetachTcxOptions = {}): TcxDetachment {
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    const dirs = options.direction ? [options.direction] : TC_DIRECTIONS;
    const detached: TcxDetachment['detached'] = [];
    for (const direction of dirs) {
      for (const p of queryHook(ifindex, ifname, direction)) {
        if (options.progId !== undefined && p.progId !== options.progId) continue;
        if (p.linkId) {
          const link = openTcxLink(p.linkId, options.linkPin?.(direction, p.linkId));
          let done = false;
          if (link) {
            try {
              const l = linkInfo(link.value, `tcx link ${p.linkId}`);
              // The query named this link for this hook; check before cutting it.
              if (l.details.kind === 'tcx' && l.details.ifindex === ifindex && l.details.attachType === tcxAttachType(direction)) {
                linkDetach(link.value, `tcx link ${p.linkId} on ${ifname} ${direction}`);
                done = true;
              }
            } finally {
              link.close();
            }
          }
          if (done) detached.push({ direction, progId: p.progId, linkId: p.linkId });
          continue;
        }
        if (detachTcxProgAt(ifindex, ifname, direction, p.progId)) detached.push({ direction, progId: p.progId, linkId: 0 });
      }
    }
    return { ifindex, ifname, detached };
  });
}
