// XDP attach, query, list and detach over rtnetlink: RTM_SETLINK carrying
// IFLA_XDP { IFLA_XDP_FD, IFLA_XDP_FLAGS, IFLA_XDP_EXPECTED_FD }, and the
// IFLA_XDP nest of RTM_GETLINK for what is attached. Programs attached
// through a bpf_link (see xdp-link.ts) are reported and detached too.
//
// Every operation optionally runs in another network namespace (`netns`):
// interface names, the netlink socket and LINK_CREATE are all resolved there.

import { BpfError } from '../errors.js';
import { NetlinkError } from '../netlink/error.js';
import { dumpLinks, ifinfomsg, IFLA_XDP, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD, IFLA_XDP_FLAGS, RTM_SETLINK } from '../netlink/link.js';
import { attrNest, attrS32, attrU32, type NlAttr } from '../netlink/message.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns.js';
import * as cmd from '../sys/bpf-cmd.js';
import { EBUSY, EEXIST, EINVAL } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { withIdFd } from '../sys/ids.js';
import { progInfo } from '../sys/info.js';
import { getFdById } from '../sys/obj-attr.js';
import { resolveInterface, type InterfaceRef } from './iface.js';
import {
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  xdpModeFlag,
  type XdpAttachedState,
  type XdpAttachMode,
  type XdpMode,
} from './xdp-flags.js';
import { detachXdpLinkById, findXdpLink, listXdpLinks, type XdpLinkInfo } from './xdp-link.js';
import { occupiedSlots, readXdpState, slotOf, slotProgId, xdpStateOf, type XdpState } from './xdp-state.js';

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
  /** Set when the program is attached through a bpf_link (BPF_LINK_CREATE) rather than netlink. */
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

function toStatus(s: XdpState, links: () => XdpLinkInfo[]): XdpStatus {
  const programs = occupiedSlots(s).map(({ mode, progId }): XdpProgramSlot => {
    const slot: XdpProgramSlot = { mode, progId };
    const name = progName(progId);
    if (name !== undefined) slot.name = name;
    const link = findXdpLink(s.ifindex, progId, links());
    if (link) slot.linkId = link.linkId;
    return slot;
  });
  return {
    ifindex: s.ifindex,
    ifname: s.ifname,
    attached: s.state,
    progId: s.progId,
    skbProgId: s.skbProgId,
    drvProgId: s.drvProgId,
    hwProgId: s.hwProgId,
    programs,
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
    return toStatus(readXdpState(sock, ifindex), lazyLinks());
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
      .map((s) => toStatus(s, links));
  });
}

// ----------------------------------------------------------------- attach

export interface AttachXdpOptions extends XdpNetnsOption {
  ifindex?: number;
  ifname?: string;
  /** Same as ifindex/ifname, in any spelling. */
  iface?: InterfaceRef;
  progFd: number;
  /** Default 'auto': the kernel picks native when the driver has it, else skb. */
  mode?: XdpMode;
  /**
   * Swap out whatever program is attached (atomically, with
   * XDP_FLAGS_REPLACE). With expectedProgFd, only if that program is the
   * one attached; otherwise the attached one is looked up by id.
   */
  replace?: boolean | { expectedProgFd?: number };
}

export interface XdpAttachment {
  ifindex: number;
  ifname: string;
  /** The mode the kernel actually attached in (what 'auto' resolved to). */
  mode: XdpAttachMode;
  progId: number;
  /** The program that was replaced, if any. */
  replacedProgId?: number;
}

function xdpAttrs(fd: number, flags: number, expectedFd?: number): NlAttr[] {
  const inner: NlAttr[] = [attrS32(IFLA_XDP_FD, fd)];
  if (flags) inner.push(attrU32(IFLA_XDP_FLAGS, flags));
  if (expectedFd !== undefined) inner.push(attrS32(IFLA_XDP_EXPECTED_FD, expectedFd));
  return [attrNest(IFLA_XDP, inner)];
}

/** findXdpLink for decorating messages: never throws. */
function linkOrNone(ifindex: number, progId: number): XdpLinkInfo | undefined {
  try {
    return findXdpLink(ifindex, progId);
  } catch {
    return undefined;
  }
}

function describeSlots(s: XdpState): string {
  const slots = occupiedSlots(s);
  if (slots.length === 0) return 'nothing is attached now';
  let links: XdpLinkInfo[] = [];
  try {
    links = listXdpLinks();
  } catch {
    // best effort: the description is only decoration
  }
  return slots
    .map(({ mode, progId }) => {
      const link = links.find((l) => l.ifindex === s.ifindex && l.progId === progId);
      return `program ${progId} is attached in ${mode} mode${link ? ` through bpf_link ${link.linkId}` : ''}`;
    })
    .join('; ');
}

/**
 * Attach an XDP program with RTM_SETLINK. Without `replace` the attach is
 * exclusive (XDP_FLAGS_UPDATE_IF_NOEXIST): when a program is already there
 * it stays attached and BpfError 'ALREADY_ATTACHED' says which one.
 */
export function attachXdp(opts: AttachXdpOptions): XdpAttachment {
  const ref = opts.iface ?? (opts.ifindex !== undefined ? opts.ifindex : opts.ifname);
  if (ref === undefined) throw new BpfError('USAGE', 'attachXdp: give ifindex or ifname');
  const requested = opts.mode ?? 'auto';
  return withNetns(opts.netns, () => {
    const { ifindex, ifname } = resolveInterface(ref, opts.netns);
    const progId = progInfo(opts.progFd, {}, 'XDP program').id;
    using sock = NetlinkSocket.open();
    const before = readXdpState(sock, ifindex);

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
        const link = findXdpLink(ifindex, old);
        if (link) {
          throw new BpfError(
            'ALREADY_ATTACHED',
            `replace XDP program on ${ifname}: program ${old} is attached through bpf_link ${link.linkId}, which netlink cannot replace: detach it first`,
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
      const occupied = occupiedSlots(before);
      const owned = occupied.map((o) => ({ ...o, link: linkOrNone(ifindex, o.progId) })).find((o) => o.link);
      if (owned) return `program ${owned.progId} is attached through bpf_link ${owned.link!.linkId}, which netlink cannot replace: detach it first`;
      if (errno === EEXIST && expectedFd !== undefined) return 'the attached program is not the expected one (did it change meanwhile?)';
      const other = occupied.find((o) => requested !== 'auto' && o.mode !== requested);
      if (other) return `program ${other.progId} is attached in ${other.mode} mode, and native and skb cannot be active together: detach it first`;
      return replace ? 'a program is attached in another mode or through a bpf_link: detach it first' : 'a program is already attached: use --replace';
    };
    try {
      sock.ack(
        { type: RTM_SETLINK, flags: 0, header: ifinfomsg(ifindex), attrs: xdpAttrs(opts.progFd, flags, expectedFd) },
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
          now = describeSlots(readXdpState(sock, ifindex));
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
      throw new BpfError('NETLINK', `${op}: the kernel accepted the request but does not report the program as attached (${describeSlots(after)})`);
    }
    return { ifindex, ifname, mode, progId, ...(replacedProgId ? { replacedProgId } : {}) };
  });
}

// ----------------------------------------------------------------- detach

export interface DetachXdpOptions extends XdpNetnsOption {
  /** Only this mode's program; default: every attached one. */
  mode?: XdpMode;
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
    const slots = occupiedSlots(state).filter((s) => mode === 'auto' || s.mode === mode);
    if (slots.length === 0) {
      const what = mode === 'auto' ? 'no XDP program' : `no XDP program in ${mode} mode`;
      const others = occupiedSlots(state);
      const extra = others.length ? ` (${describeSlots(state)})` : '';
      throw new BpfError('NOT_ATTACHED', `detach XDP from ${ifname}: ${what} is attached${extra}`);
    }
    const links = listXdpLinks();
    const detached: XdpDetachment['detached'] = [];
    for (const { mode: slotMode, progId } of slots) {
      const link = findXdpLink(ifindex, progId, links);
      if (link && detachXdpLinkById(link.linkId)) {
        detached.push({ mode: slotMode, progId, linkId: link.linkId });
        continue;
      }
      sock.ack(
        { type: RTM_SETLINK, flags: 0, header: ifinfomsg(ifindex), attrs: xdpAttrs(-1, xdpModeFlag(slotMode)) },
        { op: `detach XDP program ${progId} from ${ifname} (${slotMode} mode)`, kind: 'xdp', ifname },
      );
      detached.push({ mode: slotMode, progId });
    }
    return { ifindex, ifname, detached };
  });
}
