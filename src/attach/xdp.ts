// XDP attach, query, list and detach over rtnetlink: RTM_SETLINK carrying
// IFLA_XDP { IFLA_XDP_FD, IFLA_XDP_FLAGS, IFLA_XDP_EXPECTED_FD }, and the
// IFLA_XDP nest of RTM_GETLINK for what is attached. Programs attached
// through a bpf_link (see xdp-link.ts) are reported and detached too.
//
// Every operation optionally runs in another network namespace (`netns`):
// interface names, the netlink socket and LINK_CREATE are all resolved there.

import { BpfError } from '../errors.js';
import { programOptionFd, type ProgramOption } from '../link/link.js';
import { NetlinkError } from '../netlink/error.js';
import { dumpLinks, ifinfomsg, RTM_SETLINK } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns.js';
import * as cmd from '../sys/bpf-cmd.js';
import { EBUSY, EEXIST, EINVAL, EPERM } from '../sys/errno.js';
import { Fd, fdKind } from '../sys/fd.js';
import { linkInfo, progInfo } from '../sys/info.js';
import { BPF_LINK_TYPE } from '../sys/link-type.js';
import { objGet } from '../sys/obj-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { linkDetach } from '../sys/link-attr.js';
import * as ffi from '../sys/ffi.js';
import { withIdFd } from '../sys/ids.js';
import { getFdById } from '../sys/obj-attr.js';
import { resolveInterface, unlessVanished, type InterfaceRef } from './iface.js';
import { XDP_FLAGS_REPLACE, XDP_FLAGS_UPDATE_IF_NOEXIST, xdpModeFlag, type XdpAttachedState, type XdpAttachMode, type XdpMode } from './xdp-flags.js';
import { detachXdpLinkById, listXdpLinks, xdpLinkCandidates, type XdpLinkInfo } from './xdp-link.js';
import { occupiedSlots, readXdpState, slotOf, slotOwnedByLink, slotProgId, xdpSetAttrs, xdpStateOf, type XdpState } from './xdp-state.js';
import { trustedPinAt } from '../sys/bpffs.js';

export { attachXdpLink, XdpLink, listXdpLinks, type AttachXdpLinkOptions, type XdpLinkInfo } from './xdp-link.js';
export type { InterfaceRef } from './iface.js';
export type { XdpAttachedState, XdpAttachMode, XdpMode } from './xdp-flags.js';

// ------------------------------------------------------------------ query

/** One occupied mode slot of an interface. */
export interface XdpProgramSlot {
  mode: XdpAttachMode;
  progId: number;
  /** The program's name, when it could be read. */
  name?: string;
  /** Attached through a bpf_link (BPF_LINK_CREATE) rather than netlink. */
  viaLink: boolean;
  /** That link's id, when it could be identified. */
  linkId?: number;
}

export interface XdpStatus {
  ifindex: number;
  ifname: string;
  attached: XdpAttachedState;
  /** IFLA_XDP_PROG_ID: the program when exactly one mode is in use, else 0. */
  progId: number;
  skbProgId: number;
  drvProgId: number;
  hwProgId: number;
  programs: XdpProgramSlot[];
}

function progName(id: number): string | undefined {
  try {
    return withIdFd('prog', id, (fd) => progInfo(fd).name) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Who owns each occupied slot: netlink, or a bpf_link (identified when unambiguous). */
function slotsOf(sock: NetlinkSocket, s: XdpState, links: () => XdpLinkInfo[]): XdpProgramSlot[] {
  return occupiedSlots(s).map(({ mode, progId }): XdpProgramSlot => {
    const owned = slotOwnedByLink(sock, s.ifindex, mode);
    let candidates: XdpLinkInfo[] = [];
    if (owned !== false) {
      try {
        candidates = xdpLinkCandidates(s.ifindex, progId, links());
      } catch {
        // walking link ids needs privileges too: then we cannot tell
      }
    }
    // Unprivileged (owned undefined), a matching link is the best evidence there is.
    const slot: XdpProgramSlot = { mode, progId, viaLink: owned ?? candidates.length > 0 };
    const name = progName(progId);
    if (name !== undefined) slot.name = name;
    if (slot.viaLink && candidates.length === 1) slot.linkId = candidates[0]!.linkId;
    return slot;
  });
}

function toStatus(sock: NetlinkSocket, s: XdpState, links: () => XdpLinkInfo[]): XdpStatus {
  return {
    ifindex: s.ifindex,
    ifname: s.ifname,
    attached: s.state,
    progId: s.progId,
    skbProgId: s.skbProgId,
    drvProgId: s.drvProgId,
    hwProgId: s.hwProgId,
    programs: slotsOf(sock, s, links),
  };
}

/** Walk the link table at most once per call, and only if asked. */
function lazyLinks(): () => XdpLinkInfo[] {
  let cache: XdpLinkInfo[] | undefined;
  return () => (cache ??= listXdpLinks());
}

export interface XdpNetnsOption {
  /** Network namespace: a name under /var/run/netns or a path such as /proc/PID/ns/net. */
  netns?: string;
}

/** What is attached to one interface's XDP hook. */
export function queryXdp(iface: InterfaceRef, options: XdpNetnsOption = {}): XdpStatus {
  return withNetns(options.netns, () => {
    const { ifindex } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    return toStatus(sock, readXdpState(sock, ifindex), lazyLinks());
  });
}

/** Every interface (in the namespace) with an XDP program attached, for `bpf-ts show`. */
export function listXdp(options: XdpNetnsOption = {}): XdpStatus[] {
  return withNetns(options.netns, () => {
    using sock = NetlinkSocket.open();
    const links = lazyLinks();
    return dumpLinks(sock)
      .map(xdpStateOf)
      .filter((s) => s.state !== 'none')
      .flatMap((s) => unlessVanished(s, () => [toStatus(sock, s, links)], []));
  });
}

// ----------------------------------------------------------------- attach

export type AttachXdpOptions = XdpNetnsOption &
  ProgramOption & {
    /** The interface, by name or index. */
    iface: InterfaceRef;
    /** Default 'auto': the kernel picks native when the driver has it, else skb. */
    mode?: XdpMode;
    /**
     * Swap out whatever program is attached (atomically, with
     * XDP_FLAGS_REPLACE). With expectedProgFd, only if that program is the
     * one attached; otherwise the attached one is looked up by id.
     */
    replace?: boolean | { expectedProgFd?: number };
  };

export interface XdpAttachment {
  ifindex: number;
  ifname: string;
  /** The mode the kernel actually attached in (what 'auto' resolved to). */
  mode: XdpAttachMode;
  progId: number;
  /** The program that was replaced, if any. */
  replacedProgId?: number;
}

function describeSlots(slots: XdpProgramSlot[]): string {
  if (slots.length === 0) return 'nothing is attached now';
  return slots.map((o) => `program ${o.progId} is attached in ${o.mode} mode${o.viaLink ? ` through bpf_link${o.linkId ? ` ${o.linkId}` : ''}` : ''}`).join('; ');
}

/**
 * Attach an XDP program with RTM_SETLINK. Without `replace` the attach is
 * exclusive (XDP_FLAGS_UPDATE_IF_NOEXIST): when a program is already there
 * it stays attached and BpfError 'ALREADY_ATTACHED' says which one.
 */
export function attachXdp(opts: AttachXdpOptions): XdpAttachment {
  const progFd = programOptionFd(opts, 'attachXdp');
  if (opts.iface === undefined) throw new BpfError('USAGE', 'attachXdp: give iface (an interface name or index)');
  const ref = opts.iface;
  const requested = opts.mode ?? 'auto';
  return withNetns(opts.netns, () => {
    const { ifindex, ifname } = resolveInterface(ref, opts.netns);
    const progId = progInfo(progFd, {}, 'XDP program').id;
    using sock = NetlinkSocket.open();
    const before = readXdpState(sock, ifindex);
    // Who holds what, asked now: the error path below must not reuse the socket mid-reply.
    const beforeSlots = slotsOf(sock, before, lazyLinks());

    let flags = xdpModeFlag(requested);
    let expectedFd: number | undefined;
    let ownedExpectedFd: number | null = null;
    let replacedProgId: number | undefined;
    const replace = opts.replace ? (opts.replace === true ? {} : opts.replace) : undefined;

    if (!replace) {
      flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
    } else {
      // Replace in the slot that is occupied; for 'auto' that is the one mode in use.
      let slot: XdpAttachMode | undefined = requested === 'auto' ? undefined : requested;
      if (!slot) {
        const occupied = occupiedSlots(before);
        if (occupied.length > 1) {
          throw new BpfError('USAGE', `${ifname} has XDP programs in several modes (${occupied.map((o) => o.mode).join(', ')}): say which mode to replace`);
        }
        if (occupied.length === 1) {
          slot = occupied[0]!.mode;
          flags = xdpModeFlag(slot);
        }
      }
      const old = slot ? slotProgId(before, slot) : 0;
      if (old) {
        const owner = beforeSlots.find((o) => o.progId === old && o.viaLink);
        if (owner) {
          throw new BpfError(
            'ALREADY_ATTACHED',
            `replace XDP program on ${ifname}: program ${old} is attached through bpf_link${owner.linkId ? ` ${owner.linkId}` : ''}, which netlink cannot replace: detach it first`,
          );
        }
        replacedProgId = old;
      }
      if (replace.expectedProgFd !== undefined) {
        expectedFd = replace.expectedProgFd;
      } else if (old) {
        ownedExpectedFd = getFdById(cmd.BPF_PROG_GET_FD_BY_ID, old);
        if (ownedExpectedFd !== null) expectedFd = ownedExpectedFd;
        else replacedProgId = undefined; // it went away meanwhile: a plain attach will do
      }
      if (expectedFd !== undefined) flags |= XDP_FLAGS_REPLACE;
    }

    const op = `${replace ? 'replace' : 'attach'} XDP program ${progId} on ${ifname} (${requested} mode)`;
    const conflictHint = (errno: number): string | undefined => {
      if (errno === EINVAL && requested === 'hw') {
        return 'hw mode needs a NIC that offloads XDP and a program loaded for that device';
      }
      if (errno !== EEXIST && errno !== EBUSY) return undefined;
      const occupied = beforeSlots;
      const owned = occupied.find((o) => o.viaLink);
      if (owned) return `program ${owned.progId} is attached through bpf_link${owned.linkId ? ` ${owned.linkId}` : ''}, which netlink cannot replace: detach it first`;
      if (errno === EEXIST && expectedFd !== undefined) return 'the attached program is not the expected one (did it change meanwhile?)';
      const other = occupied.find((o) => requested !== 'auto' && o.mode !== requested);
      if (other) return `program ${other.progId} is attached in ${other.mode} mode, and native and skb cannot be active together: detach it first`;
      return replace ? 'a program is attached in another mode or through a bpf_link: detach it first' : 'a program is already attached: use --replace';
    };
    try {
      sock.ack(
        { type: RTM_SETLINK, flags: 0, header: ifinfomsg(ifindex), attrs: xdpSetAttrs(progFd, flags, expectedFd) },
        {
          op,
          kind: 'xdp',
          ifname,
          override: (errno) => {
            const hint = conflictHint(errno);
            if (!hint) return undefined;
            return { code: errno === EINVAL ? 'NETLINK' : 'ALREADY_ATTACHED', hint };
          },
        },
      );
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ALREADY_ATTACHED') {
        let now = '';
        try {
          now = describeSlots(slotsOf(sock, readXdpState(sock, ifindex), lazyLinks()));
        } catch {
          // keep the kernel's error as it is
        }
        throw new BpfError('ALREADY_ATTACHED', now ? `${e.message} [${ifname}: ${now}]` : e.message, { cause: e });
      }
      throw e;
    } finally {
      if (ownedExpectedFd !== null) ffi.close(ownedExpectedFd);
    }

    const after = readXdpState(sock, ifindex);
    const mode = slotOf(after, progId);
    if (!mode) {
      throw new BpfError('NETLINK', `${op}: the kernel accepted the request but does not report the program as attached (${describeSlots(slotsOf(sock, after, lazyLinks()))})`);
    }
    return { ifindex, ifname, mode, progId, ...(replacedProgId ? { replacedProgId } : {}) };
  });
}

// ----------------------------------------------------------------- detach

export interface DetachXdpOptions extends XdpNetnsOption {
  /** Only this mode's program; default: every attached one. */
  mode?: XdpMode;
  /**
   * bpffs pins that may hold the bpf_link of a link-owned program (e.g. the
   * one `load --link` made). Tried first: detaching through a pin needs only
   * access to the pin, where finding the link by walking link ids needs
   * CAP_SYS_ADMIN.
   */
  linkPins?: string[];
}

/** Detach through the first pin holding an XDP link for `progId` on `ifindex`; its link id, or undefined. */
function detachThroughPins(pins: readonly string[], ifindex: number, progId: number, ifname: string): number | undefined {
  for (const path of pins) {
    // A pin bpf-ts may not trust (a symlink another user planted) is not opened: the detach goes on without it.
    if (!trustedPinAt(path)) continue;
    const fd = new Fd(objGet(path, 0, `XDP link pinned at ${path}`), `link ${path}`);
    try {
      if (fdKind(fd.value) !== 'link') continue;
      const info = linkInfo(fd.value, `link pinned at ${path}`);
      if (info.type !== BPF_LINK_TYPE.XDP || info.details.kind !== 'xdp' || info.details.ifindex !== ifindex || info.progId !== progId) continue;
      linkDetach(fd.value, `XDP link ${info.id} on ${ifname} (pinned at ${path})`);
      return info.id;
    } finally {
      fd.close();
    }
  }
  return undefined;
}

/** The XDP links for `progId` on `ifindex`, by walking link ids: EPERM there says what to do instead. */
function linkCandidatesByWalk(ifindex: number, progId: number, ifname: string, links: () => XdpLinkInfo[], pins: readonly string[]): XdpLinkInfo[] {
  try {
    return xdpLinkCandidates(ifindex, progId, links());
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errno === EPERM) {
      const where = pins.length ? `no pin at ${pins.join(', ')} holds it, and ` : '';
      throw new BpfError(
        'SYSCALL',
        `detach XDP from ${ifname}: program ${progId} is attached through a bpf_link; ${where}finding the link by id (${e.command}) ${e.message.slice(e.message.indexOf(': EPERM: ') + 9)}; or name the link's pin (--bpffs / the pin load --link made)`,
        { cause: e },
      );
    }
    throw e;
  }
}

export interface XdpDetachment {
  ifindex: number;
  ifname: string;
  detached: { mode: XdpAttachMode; progId: number; linkId?: number }[];
}

/**
 * Detach XDP from an interface. Netlink-attached programs go with
 * IFLA_XDP_FD = -1 and the mode's flag; programs owned by a bpf_link (which
 * netlink refuses with EBUSY) go with BPF_LINK_DETACH on that link.
 * BpfError 'NOT_ATTACHED' when there is nothing (in that mode) to detach.
 */
export function detachXdp(iface: InterfaceRef, modeOrOptions: XdpMode | DetachXdpOptions = {}): XdpDetachment {
  const options = typeof modeOrOptions === 'string' ? { mode: modeOrOptions } : modeOrOptions;
  const mode = options.mode ?? 'auto';
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    const state = readXdpState(sock, ifindex);
    const links = lazyLinks();
    const all = slotsOf(sock, state, links);
    const slots = all.filter((s) => mode === 'auto' || s.mode === mode);
    if (slots.length === 0) {
      const what = mode === 'auto' ? 'no XDP program' : `no XDP program in ${mode} mode`;
      const extra = all.length ? ` (${describeSlots(all)})` : '';
      throw new BpfError('NOT_ATTACHED', `detach XDP from ${ifname}: ${what} is attached${extra}`);
    }
    const detached: XdpDetachment['detached'] = [];
    for (const slot of slots) {
      if (slot.viaLink) {
        const pins = options.linkPins ?? [];
        const pinned = detachThroughPins(pins, ifindex, slot.progId, ifname);
        if (pinned !== undefined) {
          detached.push({ mode: slot.mode, progId: slot.progId, linkId: pinned });
          continue;
        }
        const candidates = linkCandidatesByWalk(ifindex, slot.progId, ifname, links, pins);
        if (candidates.length !== 1) {
          throw new BpfError(
            'SYSCALL',
            `detach XDP from ${ifname}: program ${slot.progId} is attached through a bpf_link, but ${candidates.length === 0 ? 'no' : 'several'} XDP links match ifindex ${ifindex} (${candidates.map((c) => c.linkId).join(', ') || 'none'}): links in other namespaces share the index; detach it by link id`,
          );
        }
        detachXdpLinkById(candidates[0]!.linkId);
        detached.push({ mode: slot.mode, progId: slot.progId, linkId: candidates[0]!.linkId });
        continue;
      }
      sock.ack(
        { type: RTM_SETLINK, flags: 0, header: ifinfomsg(ifindex), attrs: xdpSetAttrs(-1, xdpModeFlag(slot.mode)) },
        { op: `detach XDP program ${slot.progId} from ${ifname} (${slot.mode} mode)`, kind: 'xdp', ifname },
      );
      detached.push({ mode: slot.mode, progId: slot.progId });
    }
    return { ifindex, ifname, detached };
  });
}
