// cgroup v2 hooks (sock_ops, ingress/egress skb, connect4, …): attach with
// BPF_PROG_ATTACH on the cgroup directory's fd, or through a bpf_link
// (BPF_LINK_CREATE with the same target and attach type); list with
// BPF_PROG_QUERY; detach with BPF_PROG_DETACH or BPF_LINK_DETACH.
//
// A BPF_PROG_ATTACH attachment is held by the cgroup itself: the program
// (and the maps it uses) stay after the loader exits, until detached or the
// cgroup is removed. A link attachment lives as long as the link: pin it.

import { BpfError } from '../errors.js';
import { BpfLink, programOptionFd, type ProgramOption } from '../link/link.js';
import * as cmd from '../sys/bpf-cmd.js';
import { EEXIST, EINVAL, ENOENT, EPERM } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { Fd, fdKind } from '../sys/fd.js';
import { ids, withIdFd } from '../sys/ids.js';
import { linkInfo, progInfo } from '../sys/info.js';
import { BPF_LINK_TYPE } from '../sys/link-type.js';
import { getFdById, objGet } from '../sys/obj-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { capsForCommand, meetsAll } from '../sys/caps.js';
import { BPF_PROG_ATTACH } from '../sys/bpf-cmd.js';
import { BPF_ATTACH_TYPE as A } from '../uapi/bpf.js';
import { cgroupId, resolveCgroup } from './cgroup-mount.js';
import { linkCreate, linkDetach } from '../sys/link-attr.js';
import { BPF_F_ALLOW_MULTI, progAttach, progDetach, progQuery } from '../sys/prog-attach-attr.js';
import { trustedPinAt } from '../sys/bpffs.js';
const { closeSync, constants: fsConstants, openSync } = process.getBuiltinModule('node:fs');

export { BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE } from '../sys/prog-attach-attr.js';
export { cgroup2Mount, cgroupId, resolveCgroup } from './cgroup-mount.js';

/** Cgroup attach types by bpftool's names (`bpftool cgroup attach CG <type> …`). */
export const CGROUP_ATTACH_TYPES = {
  ingress: A.CGROUP_INET_INGRESS,
  egress: A.CGROUP_INET_EGRESS,
  sock_create: A.CGROUP_INET_SOCK_CREATE,
  sock_ops: A.CGROUP_SOCK_OPS,
  device: A.CGROUP_DEVICE,
  bind4: A.CGROUP_INET4_BIND,
  bind6: A.CGROUP_INET6_BIND,
  post_bind4: A.CGROUP_INET4_POST_BIND,
  post_bind6: A.CGROUP_INET6_POST_BIND,
  connect4: A.CGROUP_INET4_CONNECT,
  connect6: A.CGROUP_INET6_CONNECT,
  sendmsg4: A.CGROUP_UDP4_SENDMSG,
  sendmsg6: A.CGROUP_UDP6_SENDMSG,
  recvmsg4: A.CGROUP_UDP4_RECVMSG,
  recvmsg6: A.CGROUP_UDP6_RECVMSG,
  sysctl: A.CGROUP_SYSCTL,
  getsockopt: A.CGROUP_GETSOCKOPT,
  setsockopt: A.CGROUP_SETSOCKOPT,
  getpeername4: A.CGROUP_INET4_GETPEERNAME,
  getpeername6: A.CGROUP_INET6_GETPEERNAME,
  getsockname4: A.CGROUP_INET4_GETSOCKNAME,
  getsockname6: A.CGROUP_INET6_GETSOCKNAME,
  sock_release: A.CGROUP_INET_SOCK_RELEASE,
  connect_unix: A.CGROUP_UNIX_CONNECT,
  sendmsg_unix: A.CGROUP_UNIX_SENDMSG,
  recvmsg_unix: A.CGROUP_UNIX_RECVMSG,
  getpeername_unix: A.CGROUP_UNIX_GETPEERNAME,
  getsockname_unix: A.CGROUP_UNIX_GETSOCKNAME,
} as const satisfies Readonly<Record<string, number>>;

/** A cgroup hook by bpftool's name: 'ingress', 'sock_ops', 'connect4', … */
export type CgroupAttachTypeName = keyof typeof CGROUP_ATTACH_TYPES;

const NAME_OF = new Map<number, string>(Object.entries(CGROUP_ATTACH_TYPES).map(([k, v]) => [v, k]));

export function cgroupAttachTypeName(t: number): string {
  return NAME_OF.get(t) ?? `attach_type_${t}`;
}

/** An attach type by bpftool name ("sock_ops") or number; BpfError 'USAGE' for anything else. */
export function cgroupAttachType(v: string | number): number {
  if (typeof v === 'number') {
    if (!NAME_OF.has(v)) throw new BpfError('USAGE', `attach type ${v} is not a cgroup attach type`);
    return v;
  }
  const t = Object.hasOwn(CGROUP_ATTACH_TYPES, v) ? CGROUP_ATTACH_TYPES[v as CgroupAttachTypeName] : undefined;
  if (t === undefined) throw new BpfError('USAGE', `unknown cgroup attach type "${v}" (one of: ${Object.keys(CGROUP_ATTACH_TYPES).join(', ')})`);
  return t;
}

/** Open a cgroup directory for the bpf() target_fd; the caller closes it. */
function openCgroup(path: string): number {
  try {
    return openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch (e) {
    throw new BpfError('IO', `cannot open cgroup ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function withCgroupFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openCgroup(path);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

// ----------------------------------------------------------------- attach

export type AttachCgroupOptions = ProgramOption & {
  /** The cgroup directory: absolute, or relative to the cgroup2 mount. */
  cgroup: string;
  /** bpftool name or enum bpf_attach_type number. */
  attachType: CgroupAttachTypeName | number;
  /**
   * attach_flags; default BPF_F_ALLOW_MULTI, so programs of other tools on
   * the same hook keep running beside ours. 0 makes it exclusive.
   */
  flags?: number;
};

export interface CgroupAttachment {
  cgroup: string;
  cgroupId: bigint;
  attachType: number;
  attachTypeName: string;
  progId: number;
  flags: number;
}

function attachError(e: unknown, what: string, cgroup: string): unknown {
  if (!(e instanceof BpfSyscallError)) return e;
  if (e.errno === EEXIST) return new BpfError('ALREADY_ATTACHED', `${what}: EEXIST: the program is already attached to ${cgroup} for this hook`, { cause: e });
  // Without the capabilities the call needs, EPERM means just that (the syscall error names them).
  if (e.errno === EPERM && meetsAll(capsForCommand(BPF_PROG_ATTACH))) {
    return new BpfError('ALREADY_ATTACHED', `${what}: EPERM: the hook has a program attached without BPF_F_ALLOW_MULTI (exclusive), or the flags differ from those already in use; detach it first`, {
      cause: e,
    });
  }
  return e;
}

/** BPF_PROG_ATTACH a program to a cgroup hook. It stays attached after this process exits. */
export function attachCgroup(opts: AttachCgroupOptions): CgroupAttachment {
  const cgroup = resolveCgroup(opts.cgroup);
  const attachType = cgroupAttachType(opts.attachType);
  const flags = opts.flags ?? BPF_F_ALLOW_MULTI;
  const progFd = programOptionFd(opts, 'attachCgroup');
  const progId = progInfo(progFd, {}, 'cgroup program').id;
  const what = `attach program ${progId} to cgroup ${cgroup} (${cgroupAttachTypeName(attachType)})`;
  withCgroupFd(cgroup, (fd) => {
    try {
      progAttach({ target: fd, progFd, attachType, flags }, what);
    } catch (e) {
      throw attachError(e, what, cgroup);
    }
  });
  return { cgroup, cgroupId: cgroupId(cgroup), attachType, attachTypeName: cgroupAttachTypeName(attachType), progId, flags };
}

export type AttachCgroupLinkOptions = ProgramOption & {
  /** The cgroup directory: absolute, or relative to the cgroup2 mount. */
  cgroup: string;
  /** bpftool name or enum bpf_attach_type number. */
  attachType: CgroupAttachTypeName | number;
};

/** An owned cgroup link: the attachment lasts while this fd (or a pin) does. */
export class CgroupLink extends BpfLink {
  readonly cgroup: string;
  readonly cgroupId: bigint;
  readonly attachType: number;

  constructor(fd: Fd, info: { cgroup: string; cgroupId: bigint; attachType: number }) {
    super(fd);
    this.cgroup = info.cgroup;
    this.cgroupId = info.cgroupId;
    this.attachType = info.attachType;
  }

  get attachTypeName(): string {
    return cgroupAttachTypeName(this.attachType);
  }
}

/**
 * Attach through BPF_LINK_CREATE (5.7+). A link attachment always behaves
 * like BPF_F_ALLOW_MULTI, so it coexists with other multi programs.
 */
export function attachCgroupLink(opts: AttachCgroupLinkOptions): CgroupLink {
  const cgroup = resolveCgroup(opts.cgroup);
  const attachType = cgroupAttachType(opts.attachType);
  const progFd = programOptionFd(opts, 'attachCgroupLink');
  progInfo(progFd, {}, 'cgroup program'); // a clear error for a fd that is not a program
  const what = `cgroup ${cgroupAttachTypeName(attachType)} link on ${cgroup}`;
  const raw = withCgroupFd(cgroup, (fd) => {
    try {
      return linkCreate({ progFd, target: fd, attachType }, what);
    } catch (e) {
      throw attachError(e, `create ${what}`, cgroup);
    }
  });
  const fd = new Fd(raw, what);
  try {
    return new CgroupLink(fd, { cgroup, cgroupId: cgroupId(cgroup), attachType });
  } catch (e) {
    fd.close();
    throw e;
  }
}

// ------------------------------------------------------------------ query

export interface CgroupProgram {
  attachType: number;
  attachTypeName: string;
  progId: number;
  progName?: string;
  /** This program's attach flags (BPF_F_ALLOW_MULTI, …). */
  attachFlags: number;
  /** The bpf_link holding it, when it is link-attached. */
  linkId?: number;
}

export interface QueryCgroupOptions {
  /** One hook; default every cgroup hook. */
  attachType?: CgroupAttachTypeName | number;
  /** Also programs inherited from ancestors (what actually runs); no per-program flags then. */
  effective?: boolean;
  /** Pins that may hold this cgroup's links (e.g. those load --link made): found without CAP_SYS_ADMIN. */
  linkPins?: string[];
}

/**
 * Cgroup links by (attach type, program id) for one cgroup id: from the
 * given pins first (opening a pin needs only access to it), then from a walk
 * of all link ids, which needs CAP_SYS_ADMIN and is skipped without it.
 */
function cgroupLinks(id: bigint, pins: readonly string[] = []): Map<string, { linkId: number; pin?: string }> {
  const out = new Map<string, { linkId: number; pin?: string }>();
  const add = (info: ReturnType<typeof linkInfo> | null, pin?: string) => {
    if (info && info.type === BPF_LINK_TYPE.CGROUP && info.details.kind === 'cgroup' && info.details.cgroupId === id) {
      const key = `${info.details.attachType}/${info.progId}`;
      if (!out.has(key)) out.set(key, { linkId: info.id, ...(pin ? { pin } : {}) });
    }
  };
  for (const pin of pins) {
    // A pin bpf-ts may not trust (a symlink another user planted) is not opened.
    if (!trustedPinAt(pin)) continue;
    const fd = new Fd(objGet(pin, 0, `link pinned at ${pin}`), `link ${pin}`);
    try {
      if (fdKind(fd.value) === 'link') add(linkInfo(fd.value, `link pinned at ${pin}`), pin);
    } finally {
      fd.close();
    }
  }
  try {
    for (const linkId of ids('link')) add(withIdFd('link', linkId, (fd) => linkInfo(fd)));
  } catch (e) {
    // Without CAP_SYS_ADMIN only pinned links can be identified.
    if (!(e instanceof BpfSyscallError && e.errno === EPERM)) throw e;
  }
  return out;
}

function progName(id: number): string | undefined {
  try {
    return withIdFd('prog', id, (fd) => progInfo(fd).name) ?? undefined;
  } catch {
    return undefined;
  }
}

// The pin a queried link was found through, for detachCgroup (not part of the result's shape).
const linkPinOf = new WeakMap<CgroupProgram, string>();

/** BPF_PROG_QUERY of a cgroup: the programs on one hook, or on every hook. */
export function queryCgroup(path: string, options: QueryCgroupOptions = {}): CgroupProgram[] {
  const cgroup = resolveCgroup(path);
  const types = options.attachType !== undefined ? [cgroupAttachType(options.attachType)] : Object.values(CGROUP_ATTACH_TYPES);
  const found: { attachType: number; progId: number; attachFlags: number }[] = [];
  withCgroupFd(cgroup, (fd) => {
    for (const t of types) {
      let r;
      try {
        r = progQuery(fd, t, { effective: options.effective, progAttachFlags: !options.effective }, `cgroup ${cgroup} (${cgroupAttachTypeName(t)})`);
      } catch (e) {
        // A hook this kernel does not have: nothing can be on it.
        if (e instanceof BpfSyscallError && e.errno === EINVAL && options.attachType === undefined) continue;
        throw e;
      }
      r.progIds.forEach((progId, i) => found.push({ attachType: t, progId, attachFlags: r.progAttachFlags[i] || r.attachFlags }));
    }
  });
  let links: Map<string, { linkId: number; pin?: string }> | undefined;
  return found.map((f) => {
    const p: CgroupProgram = { attachType: f.attachType, attachTypeName: cgroupAttachTypeName(f.attachType), progId: f.progId, attachFlags: f.attachFlags };
    const name = progName(f.progId);
    if (name !== undefined) p.progName = name;
    links ??= cgroupLinks(cgroupId(cgroup), options.linkPins);
    const link = links.get(`${f.attachType}/${f.progId}`);
    if (link !== undefined) {
      p.linkId = link.linkId;
      if (link.pin) linkPinOf.set(p, link.pin);
    }
    return p;
  });
}

// ----------------------------------------------------------------- detach

export interface DetachCgroupOptions {
  /** Only this hook; default every hook. */
  attachType?: CgroupAttachTypeName | number;
  /** Only this program. */
  progId?: number;
  /** Pins that may hold this cgroup's links: detaching through them needs no CAP_SYS_ADMIN. */
  linkPins?: string[];
}

export interface CgroupDetachment {
  cgroup: string;
  detached: { attachType: number; attachTypeName: string; progId: number; linkId?: number }[];
}

/**
 * Detach programs attached directly to a cgroup (inherited ones stay: they
 * belong to the ancestor). Link-held programs are cut with BPF_LINK_DETACH.
 * BpfError 'NOT_ATTACHED' when nothing matched.
 */
export function detachCgroup(path: string, options: DetachCgroupOptions = {}): CgroupDetachment {
  const cgroup = resolveCgroup(path);
  const attached = queryCgroup(cgroup, { ...(options.attachType !== undefined ? { attachType: options.attachType } : {}), linkPins: options.linkPins }).filter(
    (p) => options.progId === undefined || p.progId === options.progId,
  );
  if (attached.length === 0) {
    const what = options.progId !== undefined ? `program ${options.progId} is not` : 'no program is';
    const hook = options.attachType !== undefined ? ` for ${cgroupAttachTypeName(cgroupAttachType(options.attachType))}` : '';
    throw new BpfError('NOT_ATTACHED', `detach from cgroup ${cgroup}: ${what} attached${hook}`);
  }
  const detached: CgroupDetachment['detached'] = [];
  withCgroupFd(cgroup, (cgFd) => {
    for (const p of attached) {
      const entry = { attachType: p.attachType, attachTypeName: p.attachTypeName, progId: p.progId };
      if (p.linkId !== undefined) {
        const pin = linkPinOf.get(p);
        if (pin) {
          const fd = new Fd(objGet(pin, 0, `cgroup link pinned at ${pin}`), `link ${pin}`);
          try {
            linkDetach(fd.value, `cgroup link ${p.linkId} (pinned at ${pin})`);
          } finally {
            fd.close();
          }
          detached.push({ ...entry, linkId: p.linkId });
        } else if (withIdFd('link', p.linkId, (fd) => linkDetach(fd, `cgroup link ${p.linkId}`)) !== null) detached.push({ ...entry, linkId: p.linkId });
        continue;
      }
      const progFd = getFdById(cmd.BPF_PROG_GET_FD_BY_ID, p.progId);
      if (progFd === null) continue; // freed meanwhile: it is not attached any more either
      try {
        progDetach({ target: cgFd, progFd, attachType: p.attachType }, `detach program ${p.progId} from cgroup ${cgroup} (${p.attachTypeName})`);
        detached.push(entry);
      } catch (e) {
        if (!(e instanceof BpfSyscallError && e.errno === ENOENT)) throw e;
      } finally {
        ffi.close(progFd);
      }
    }
  });
  return { cgroup, detached };
}
