// One link type. A bpf_link is a kernel object that holds a program on a
// hook; the attachment lives exactly as long as the link: while an fd to it
// is open or it is pinned on bpffs. Every attach kind bpf-ts creates (XDP,
// tcx, cgroup, tracing, perf events, iterators) is a BpfLink or extends it.

import { BpfError } from '../errors.js';
import { BpfProgram } from '../programs/program.js';
import { BPF_LINK_GET_FD_BY_ID } from '../sys/bpf-cmd.js';
import { unpin } from '../maps/pin.js';
import { checkExistingPin, pinFd } from '../sys/bpffs.js';
import { Fd, fdKind } from '../sys/fd.js';
import { type LinkInfo, linkInfo } from '../sys/info.js';
import { linkDetach, linkUpdate } from '../sys/link-attr.js';
import { linkTypeName } from '../sys/link-type.js';
import { getFdById, objGet } from '../sys/obj-attr.js';
const { resolve } = process.getBuiltinModule('node:path');

/** A loaded program, or a raw program fd (which stays the caller's). */
export type ProgramRef = BpfProgram | number;

/** The fd number behind a ProgramRef. */
export function progFdOf(p: ProgramRef): number {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0) throw new BpfError('USAGE', `not a program fd: ${p}`);
    return p;
  }
  return p.fd.value;
}

/**
 * How attach functions take the program: `program` (a BpfProgram or a raw
 * fd), or `progFd` (a raw fd; the older spelling, still accepted).
 */
export type ProgramOption = { program: ProgramRef; progFd?: undefined } | { progFd: number; program?: undefined };

/** The fd behind a ProgramOption; BpfError 'USAGE' naming `what` when neither is given. */
export function programOptionFd(opts: Partial<{ program: ProgramRef; progFd: number }>, what: string): number {
  const p = opts.program ?? opts.progFd;
  if (p === undefined) throw new BpfError('USAGE', `${what}: give the program (program: a BpfProgram or a program fd)`);
  return progFdOf(p);
}

export class BpfLink implements Disposable {
  readonly fd: Fd;
  /** Kernel link id (global, like program ids). */
  readonly id: number;
  /** enum bpf_link_type */
  readonly type: number;
  /** Where this link was pinned by pin(), if it was. */
  #pinnedAt: string | undefined;

  constructor(fd: Fd, info?: LinkInfo) {
    this.fd = fd;
    const i = info ?? linkInfo(fd.value, fd.label);
    this.id = i.id;
    this.type = i.type;
  }

  /** Open a pinned link (any kind). */
  static fromPin(path: string): BpfLink {
    // Never follow a symlink on bpffs, never trust a pin another user owns.
    if (!checkExistingPin(path, `open link ${path}`)) throw new BpfError('NOT_ATTACHED', `no pinned link at ${resolve(path)}`);
    const raw = objGet(path, 0, `pinned link ${path}`);
    const fd = new Fd(raw, `link ${path}`);
    if (fdKind(raw) !== 'link') {
      const kind = fdKind(raw);
      fd.close();
      throw new BpfError('USAGE', `${path} is a pinned ${kind}, not a link`);
    }
    return new BpfLink(fd);
  }

  /** Open a link by its kernel id (needs CAP_SYS_ADMIN). */
  static fromId(id: number): BpfLink {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new BpfError('USAGE', `not a link id: ${id}`);
    const raw = getFdById(BPF_LINK_GET_FD_BY_ID, id);
    if (raw === null) throw new BpfError('NOT_ATTACHED', `no link with id ${id}`);
    return new BpfLink(new Fd(raw, `link id ${id}`));
  }

  /** What the kernel says about the link now (program id, target). */
  info(): LinkInfo {
    return linkInfo(this.fd.value, this.fd.label);
  }

  /** Id of the program the link holds now (changes with update()). */
  get progId(): number {
    return this.info().progId;
  }

  /** bpftool's name of the link type ("xdp", "tracing", "perf_event"…). */
  get typeName(): string {
    return linkTypeName(this.type);
  }

  /**
   * Pin on a bpf filesystem: the link (and its attachment) outlives this
   * process until the pin is removed. `mkdir`: make missing directories
   * (0700); returns those it made.
   */
  pin(path: string, opts: { mkdir?: boolean } = {}): string[] {
    const created = pinFd(this.fd.value, path, { ...opts, label: `${this.typeName} link ${this.id}` });
    this.#pinnedAt = resolve(path);
    return created;
  }

  /** Remove the pin made by pin() (or the one at `path`). The link lives on while this object holds its fd. */
  unpin(path?: string): void {
    const at = path ? resolve(path) : this.#pinnedAt;
    if (!at) throw new BpfError('USAGE', `${this.typeName} link ${this.id} was not pinned by this process; give the pin path`);
    unpin(at); // checked: on bpffs, no symlink, never an ordinary file
    if (at === this.#pinnedAt) this.#pinnedAt = undefined;
  }

  /** Swap the program atomically (BPF_LINK_UPDATE); with `expected`, only if that program is the one attached. */
  update(program: ProgramRef, opts: { expected?: ProgramRef } = {}): void {
    const old = opts.expected === undefined ? {} : { oldProgFd: progFdOf(opts.expected) };
    linkUpdate(this.fd.value, progFdOf(program), old, `${this.typeName} link ${this.id}`);
  }

  /** Detach now, even if the link is pinned; the fd stays open (the link is defunct) until close(). */
  detach(): void {
    linkDetach(this.fd.value, `${this.typeName} link ${this.id}`);
  }

  /** Close our fd. Without a pin or another holder, the program is detached. */
  close(): void {
    this.fd.close();
  }

  get closed(): boolean {
    return this.fd.closed;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Several links closed together (a program attached on every CPU, or every program of an object). */
export class BpfLinkSet implements Disposable, Iterable<BpfLink> {
  readonly links: BpfLink[];
  constructor(links: BpfLink[]) {
    this.links = links;
  }
  [Symbol.iterator](): Iterator<BpfLink> {
    return this.links[Symbol.iterator]();
  }
  close(): void {
    let first: unknown;
    for (const l of this.links) {
      try {
        l.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}
