// TC through cls_bpf on the clsact qdisc, the way `tc` does it: make sure
// the device has clsact (created when missing, never replaced), then add a
// direct-action "bpf" filter on its ingress or egress hook. Filters belong to
// the device: they stay after we exit and need no pin.
//
// Defaults: priority 1, handle 1 (libbpf's bpf_tc_attach picks the same).
// Priority 0 asks the kernel to choose, as `tc filter add` without `prio`
// does: 49152 on an empty hook, one below the lowest in use otherwise.
//
// The clsact qdisc is left in place on detach, as `tc filter del` leaves
// it; removeClsact() (CLI: detach --remove-qdisc) takes it away once no
// filter is left on either hook.

import { BpfError } from '../errors.js';
import { programOptionFd, type ProgramOption } from '../link/link.js';
import { NetlinkError, type NetlinkErrorContext } from '../netlink/error.js';
import { dumpLinks } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { addBpfFilter, addClsactQdisc, clsactParent, deleteClsactQdisc, deleteFilter, dumpFilters, ETH_P_ALL, ingressSlotQdisc, type TcDirection, type TcFilter } from '../netlink/tc.js';
import { withNetns } from '../netns.js';
import { EEXIST, EINVAL, ENOENT } from '../sys/errno.js';
import { withIdFd } from '../sys/ids.js';
import { progInfo } from '../sys/info.js';
import { BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';
import { resolveInterface, unlessVanished, type InterfaceRef } from './iface.js';

export type { TcDirection } from '../netlink/tc.js';

export const TC_DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
export const DEFAULT_TC_PRIORITY = 1;
export const DEFAULT_TC_HANDLE = 1;

export function isTcDirection(s: unknown): s is TcDirection {
  return s === 'ingress' || s === 'egress';
}

export interface TcNetnsOption {
  /** Network namespace: a name under /var/run/netns or a path such as /proc/PID/ns/net. */
  netns?: string;
}

// ------------------------------------------------------------------ qdisc

/**
 * Make sure `ifindex` has a clsact qdisc; true when this call created it.
 * An existing clsact is used as it is. The older `ingress` qdisc in the same
 * slot serves the ingress hook too, but has no egress hook: refused for egress.
 */
export function ensureClsact(sock: NetlinkSocket, ifindex: number, ifname: string, direction: TcDirection): boolean {
  const check = (): boolean => {
    const q = ingressSlotQdisc(sock, ifindex);
    if (!q) return false;
    if (q.kind === 'clsact' || (q.kind === 'ingress' && direction === 'ingress')) return true;
    throw new BpfError('NETLINK', `${ifname} has an "${q.kind}" qdisc where clsact goes, which has no ${direction} hook: remove it first (tc qdisc del dev ${ifname} ${q.kind})`);
  };
  if (check()) return false;
  try {
    addClsactQdisc(sock, ifindex, { op: `add clsact qdisc to ${ifname}`, ifname });
    return true;
  } catch (e) {
    // Someone added it between our look and our request: fine if it is usable.
    if (e instanceof NetlinkError && e.errno === EEXIST && check()) return false;
    throw e;
  }
}

/** Whether the device has a clsact qdisc. */
export function hasClsact(iface: InterfaceRef, options: TcNetnsOption = {}): boolean {
  return withNetns(options.netns, () => {
    const { ifindex } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    return ingressSlotQdisc(sock, ifindex)?.kind === 'clsact';
  });
}

/**
 * Remove the device's clsact qdisc (`tc qdisc del dev X clsact`). With
 * onlyIfEmpty (the default) it stays while any filter is on either hook.
 * Returns whether it was removed.
 */
export function removeClsact(iface: InterfaceRef, options: TcNetnsOption & { onlyIfEmpty?: boolean } = {}): boolean {
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    if (ingressSlotQdisc(sock, ifindex)?.kind !== 'clsact') return false;
    if (options.onlyIfEmpty !== false) {
      const left = TC_DIRECTIONS.flatMap((d) => filtersOf(sock, ifindex, ifname, d));
      if (left.length) return false;
    }
    deleteClsactQdisc(sock, ifindex, { op: `delete clsact qdisc of ${ifname}`, ifname });
    return true;
  });
}

// ------------------------------------------------------------------ query

/** A filter on a clsact hook. The cls_bpf fields are absent for other kinds (u32, flower, …). */
export interface TcFilterInfo {
  ifindex: number;
  ifname: string;
  direction: TcDirection;
  priority: number;
  handle: number;
  /** "bpf" for cls_bpf. */
  kind: string;
  /** Host order; 3 is ETH_P_ALL. */
  protocol: number;
  progId?: number;
  /** The program's own name (bpf_prog_info), when it could be read. */
  progName?: string;
  /** TCA_BPF_NAME: what the loader called it ("tc_shared_map.o:[ingress]"). */
  bpfName?: string;
  directAction?: boolean;
}

function filtersOf(sock: NetlinkSocket, ifindex: number, ifname: string, direction: TcDirection): TcFilter[] {
  return dumpFilters(sock, ifindex, clsactParent(direction), { op: `list ${direction} filters of ${ifname}`, ifname });
}

/**
 * The hooks the device really has: both with clsact, only ingress with the
 * old ingress qdisc (which answers an egress dump or delete with its ingress
 * filters, so egress must not be asked), none without either.
 */
function hooksOf(sock: NetlinkSocket, ifindex: number, wanted: readonly TcDirection[]): TcDirection[] {
  const kind = ingressSlotQdisc(sock, ifindex)?.kind;
  if (kind === 'clsact') return [...wanted];
  if (kind === 'ingress') return wanted.filter((d) => d === 'ingress');
  return [];
}

function progName(id: number): string | undefined {
  try {
    return withIdFd('prog', id, (fd) => progInfo(fd).name) ?? undefined;
  } catch {
    return undefined;
  }
}

function describe(f: TcFilter, ifname: string, direction: TcDirection): TcFilterInfo {
  const out: TcFilterInfo = { ifindex: f.ifindex, ifname, direction, priority: f.priority, handle: f.handle, kind: f.kind, protocol: f.protocol };
  if (f.progId !== undefined) {
    out.progId = f.progId;
    const name = progName(f.progId);
    if (name !== undefined) out.progName = name;
  }
  if (f.name !== undefined) out.bpfName = f.name;
  if (f.directAction !== undefined) out.directAction = f.directAction;
  return out;
}

function queryOn(sock: NetlinkSocket, ifindex: number, ifname: string, direction?: TcDirection): TcFilterInfo[] {
  const dirs = hooksOf(sock, ifindex, direction ? [direction] : TC_DIRECTIONS);
  return dirs.flatMap((d) => filtersOf(sock, ifindex, ifname, d).map((f) => describe(f, ifname, d)));
}

/** The filters on one device's clsact hooks (both, or one direction). */
export function queryTc(iface: InterfaceRef, options: TcNetnsOption & { direction?: TcDirection } = {}): TcFilterInfo[] {
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    return queryOn(sock, ifindex, ifname, options.direction);
  });
}

/** Every cls_bpf filter on every device of the namespace, for `bpf-ts show`. */
export function listTc(options: TcNetnsOption = {}): TcFilterInfo[] {
  return withNetns(options.netns, () => {
    using sock = NetlinkSocket.open();
    return dumpLinks(sock).flatMap((l) => unlessVanished(l, () => queryOn(sock, l.ifindex, l.ifname).filter((f) => f.kind === 'bpf'), []));
  });
}

// ----------------------------------------------------------------- attach

export type AttachTcOptions = TcNetnsOption &
  ProgramOption & {
    iface: InterfaceRef;
    direction: TcDirection;
    /** 1…65535; default 1. 0: the kernel picks (49152 on an empty hook). */
    priority?: number;
    /** Default 1. 0: the kernel picks. */
    handle?: number;
    /** Swap out the filter at priority/handle (NLM_F_REPLACE) instead of refusing. */
    replace?: boolean;
    /** TCA_BPF_NAME; default the program's name. The CLI passes "<object>:[<section>]" like iproute2. */
    name?: string;
    /** Default true: the return value is the verdict (`tc … bpf da`). */
    directAction?: boolean;
  };

export interface TcAttachment {
  ifindex: number;
  ifname: string;
  direction: TcDirection;
  priority: number;
  handle: number;
  progId: number;
  /** TCA_BPF_NAME as given. */
  name: string;
  directAction: boolean;
  /** This call added the clsact qdisc. */
  createdQdisc: boolean;
  /** The program of the filter that --replace swapped out. */
  replacedProgId?: number;
}

function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new BpfError('USAGE', `${what} must be 0…65535, got ${v}`);
}

function filterText(f: TcFilter | TcFilterInfo): string {
  const prog = f.progId !== undefined ? `program ${f.progId}` : `a ${f.kind} filter`;
  return `${prog} at priority ${f.priority} handle ${f.handle}`;
}

/**
 * Attach a sched_cls program to a clsact hook as a cls_bpf filter. Without
 * `replace` an occupied priority/handle is refused with
 * BpfError 'ALREADY_ATTACHED' and left as it was.
 */
export function attachTc(opts: AttachTcOptions): TcAttachment {
  const direction = opts.direction;
  if (!isTcDirection(direction)) throw new BpfError('USAGE', `direction must be ingress or egress, got ${String(direction)}`);
  const priority = opts.priority ?? DEFAULT_TC_PRIORITY;
  const handle = opts.handle ?? DEFAULT_TC_HANDLE;
  checkU16(priority, 'priority');
  if (!Number.isInteger(handle) || handle < 0 || handle > 0xffffffff) throw new BpfError('USAGE', `handle must be 0…4294967295, got ${handle}`);
  if (opts.replace && (priority === 0 || handle === 0)) throw new BpfError('USAGE', 'replace needs an explicit priority and handle (not 0)');
  const directAction = opts.directAction ?? true;
  const progFd = programOptionFd(opts, 'attachTc');

  return withNetns(opts.netns, () => {
    const { ifindex, ifname } = resolveInterface(opts.iface, opts.netns);
    const info = progInfo(progFd, {}, 'TC program');
    if (info.type !== BPF_PROG_TYPE.SCHED_CLS) {
      throw new BpfError('USAGE', `program ${info.name || info.id} is a ${progTypeName(info.type)} program; cls_bpf takes sched_cls programs`);
    }
    const name = opts.name ?? info.name;
    using sock = NetlinkSocket.open();
    const createdQdisc = ensureClsact(sock, ifindex, ifname, direction);
    try {
      const before = filtersOf(sock, ifindex, ifname, direction);
      const occupant = before.find((f) => f.priority === priority && f.handle === handle);
      const where = `${ifname} ${direction}`;
      const ctx: NetlinkErrorContext = {
        op: `${opts.replace ? 'replace' : 'attach'} TC program ${info.id} on ${where} (priority ${priority || 'auto'}, handle ${handle || 'auto'})`,
        ifname,
        override: (errno) => {
          if (errno === EEXIST) {
            return {
              code: 'ALREADY_ATTACHED',
              hint: `${occupant ? filterText(occupant) : 'a filter'} is already on ${where}: use --replace, or another --priority/--handle`,
            };
          }
          const clash = before.find((f) => f.priority === priority && (f.kind !== 'bpf' || f.protocol !== ETH_P_ALL));
          if (errno === EINVAL && clash) {
            return { code: 'ALREADY_ATTACHED', hint: `priority ${priority} on ${where} holds a ${clash.kind} filter for protocol 0x${clash.protocol.toString(16)}: choose another --priority` };
          }
          return undefined;
        },
      };
      addBpfFilter(sock, { ifindex, parent: clsactParent(direction), priority, handle, progFd, name, directAction, replace: opts.replace === true }, ctx);
      const after = filtersOf(sock, ifindex, ifname, direction);
      const known = new Set(before.map((f) => `${f.priority}/${f.handle}`));
      const mine =
        after.find((f) => f.priority === priority && f.handle === handle && f.progId === info.id) ??
        after.find((f) => (priority === 0 || handle === 0) && f.progId === info.id && !known.has(`${f.priority}/${f.handle}`));
      if (!mine) throw new BpfError('NETLINK', `${ctx.op}: the kernel accepted the filter but does not list it`);
      const out: TcAttachment = { ifindex, ifname, direction, priority: mine.priority, handle: mine.handle, progId: info.id, name, directAction, createdQdisc };
      if (opts.replace && occupant?.progId !== undefined && occupant.progId !== info.id) out.replacedProgId = occupant.progId;
      return out;
    } catch (e) {
      // Leave the device as we found it.
      if (createdQdisc) {
        try {
          deleteClsactQdisc(sock, ifindex, { op: `delete clsact qdisc of ${ifname}`, ifname });
        } catch {
          // the original error matters more
        }
      }
      throw e;
    }
  });
}

// ----------------------------------------------------------------- detach

export interface DetachTcOptions extends TcNetnsOption {
  /** Default: both hooks. */
  direction?: TcDirection;
  /** Only the filter(s) at this priority. */
  priority?: number;
  /** Only the filter(s) with this handle. */
  handle?: number;
}

export interface TcDetachment {
  ifindex: number;
  ifname: string;
  detached: { direction: TcDirection; priority: number; handle: number; progId?: number }[];
}

/**
 * Delete cls_bpf filters from a device's clsact hooks: the one at
 * priority/handle, or every bpf filter of a direction (of both, by default).
 * Filters of other kinds are never touched. BpfError 'NOT_ATTACHED' when no
 * filter matched.
 */
export function detachTc(iface: InterfaceRef, options: DetachTcOptions = {}): TcDetachment {
  if (options.direction !== undefined && !isTcDirection(options.direction)) {
    throw new BpfError('USAGE', `direction must be ingress or egress, got ${String(options.direction)}`);
  }
  if (options.priority !== undefined) checkU16(options.priority, 'priority');
  return withNetns(options.netns, () => {
    const { ifindex, ifname } = resolveInterface(iface, options.netns);
    using sock = NetlinkSocket.open();
    const dirs = hooksOf(sock, ifindex, options.direction ? [options.direction] : TC_DIRECTIONS);
    const detached: TcDetachment['detached'] = [];
    for (const direction of dirs) {
      const matching = filtersOf(sock, ifindex, ifname, direction).filter(
        (f) => f.kind === 'bpf' && (options.priority === undefined || f.priority === options.priority) && (options.handle === undefined || f.handle === options.handle),
      );
      for (const f of matching) {
        try {
          deleteFilter(
            sock,
            { ifindex, parent: f.parent, priority: f.priority, handle: f.handle, kind: f.kind, protocol: f.protocol },
            {
              op: `delete ${direction} filter priority ${f.priority} handle ${f.handle} of ${ifname}`,
              ifname,
            },
          );
        } catch (e) {
          if (e instanceof NetlinkError && e.errno === ENOENT) continue; // gone meanwhile
          throw e;
        }
        const d: TcDetachment['detached'][number] = { direction, priority: f.priority, handle: f.handle };
        if (f.progId !== undefined) d.progId = f.progId;
        detached.push(d);
      }
    }
    if (detached.length === 0) {
      const sel = [options.priority !== undefined ? `priority ${options.priority}` : '', options.handle !== undefined ? `handle ${options.handle}` : ''].filter(Boolean).join(' ');
      throw new BpfError('NOT_ATTACHED', `detach TC from ${ifname}: no bpf filter${sel ? ` at ${sel}` : ''} on ${options.direction ?? 'ingress or egress'}`);
    }
    return { ifindex, ifname, detached };
  });
}
