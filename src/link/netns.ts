// Programs a network namespace runs for itself, attached to the namespace
// with a bpf_link (BPF_LINK_TYPE_NETNS): socket lookup (sk_lookup, 5.9+),
// which may pick the socket for a new connection or datagram, and the flow
// dissector (5.8+ as a link). The link holds the namespace's attachment;
// closing it detaches the program.

import { BpfError } from '../errors.js';
import { openNetns } from '../netns.js';
import type { BpfProgram } from '../programs/program.js';
import { Fd } from '../sys/fd.js';
import { E2BIG } from '../sys/errno.js';
import { linkCreate } from '../sys/link-attr.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';
import { BpfLink } from './link.js';

const { closeSync } = process.getBuiltinModule('node:fs');

const ATTACH: Partial<Record<number, number>> = {
  [BPF_PROG_TYPE.SK_LOOKUP]: BPF_ATTACH_TYPE.SK_LOOKUP,
  [BPF_PROG_TYPE.FLOW_DISSECTOR]: BPF_ATTACH_TYPE.FLOW_DISSECTOR,
};

/**
 * Attach an sk_lookup or flow dissector program to network namespace
 * `netns` (a name under /var/run/netns or a path; default: the caller's).
 * Several sk_lookup links may share a namespace and run in attach order;
 * a namespace has one flow dissector.
 */
export function attachNetns(program: BpfProgram, opts: { netns?: string } = {}): BpfLink {
  const where = opts.netns ? `netns ${opts.netns}` : "this process's netns";
  const attachType = ATTACH[program.type];
  if (attachType === undefined) {
    throw new BpfError('USAGE', `attach ${program.name} to ${where}: it is a ${progTypeName(program.type)} program; a namespace takes sk_lookup and flow_dissector programs`);
  }
  // The calling thread's namespace (withNetns may have moved it) when none is named.
  const ns = openNetns(opts.netns ?? '/proc/thread-self/ns/net');
  const what = `${progTypeName(program.type)} ${program.name} on ${where}`;
  try {
    return new BpfLink(new Fd(linkCreate({ progFd: program.fd.value, target: ns, attachType }, what), what));
  } catch (e) {
    // The kernel's way of saying the one flow dissector slot is taken.
    if (e instanceof BpfSyscallError && e.errno === E2BIG && program.type === BPF_PROG_TYPE.FLOW_DISSECTOR) {
      throw new BpfError('ALREADY_ATTACHED', `attach ${what}: the namespace has a flow dissector already (one per namespace): close or detach its link first`, { cause: e });
    }
    throw e;
  } finally {
    closeSync(ns);
  }
}
