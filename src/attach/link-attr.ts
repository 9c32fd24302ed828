// union bpf_attr codecs for the bpf_link commands the attach layer needs and
// src/sys does not cover: BPF_LINK_CREATE (network-device form: prog_fd,
// target_ifindex, attach_type, flags) and BPF_LINK_DETACH. Id walks, info
// and pinning come from src/sys (ids.ts, info.ts, obj-attr.ts).

import * as cmd from '../sys/bpf-cmd.js';
import { writeU32 } from '../sys/endian.js';
import { bpfSyscall } from '../sys/wrapper.js';

// struct { u32 prog_fd; u32 target_fd | target_ifindex; u32 attach_type; u32 flags; union {...}; } link_create
const LINK_CREATE_PROG_FD = 0;
const LINK_CREATE_TARGET = 4;
const LINK_CREATE_ATTACH_TYPE = 8;
const LINK_CREATE_FLAGS = 12;
// Through the type-specific union, zeroed: the kernel rejects unknown non-zero tails only.
const LINK_CREATE_ATTR_SIZE = 48;

// struct { u32 link_fd; } link_detach
const LINK_DETACH_ATTR_SIZE = 4;

export interface LinkCreateAttr {
  progFd: number;
  /** target_ifindex for XDP/TCX/netkit; target_fd (cgroup, netns) for others. */
  target: number;
  /** enum bpf_attach_type */
  attachType: number;
  flags?: number;
}

/** BPF_LINK_CREATE. Returns the new link fd; throws BpfSyscallError. */
export function linkCreate(a: LinkCreateAttr, context?: string): number {
  const attr = Buffer.alloc(LINK_CREATE_ATTR_SIZE);
  writeU32(attr, LINK_CREATE_PROG_FD, a.progFd);
  writeU32(attr, LINK_CREATE_TARGET, a.target);
  writeU32(attr, LINK_CREATE_ATTACH_TYPE, a.attachType);
  writeU32(attr, LINK_CREATE_FLAGS, a.flags ?? 0);
  return bpfSyscall(cmd.BPF_LINK_CREATE, attr, LINK_CREATE_ATTR_SIZE, context);
}

/**
 * BPF_LINK_DETACH: cut the link from its hook (the program stops running)
 * while the link object lives on, defunct, for whoever still holds or pins it.
 */
export function linkDetach(linkFd: number, context?: string): void {
  const attr = Buffer.alloc(LINK_DETACH_ATTR_SIZE);
  writeU32(attr, 0, linkFd);
  bpfSyscall(cmd.BPF_LINK_DETACH, attr, LINK_DETACH_ATTR_SIZE, context);
}
