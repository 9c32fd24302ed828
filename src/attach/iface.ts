// Naming a network interface: by index or by name, resolved in the calling
// thread's network namespace (so call it inside withNetns for another one).

import { BpfError } from '../errors.js';
import * as ffi from '../sys/ffi.js';

/** An interface by name ("eth0"), by index (3), or either spelled as an object. */
export type InterfaceRef = string | number | { ifindex: number } | { ifname: string };

export interface ResolvedInterface {
  ifindex: number;
  ifname: string;
}

/** Resolve to index and name; BpfError 'NO_SUCH_INTERFACE' naming it when absent. */
export function resolveInterface(ref: InterfaceRef, netns?: string): ResolvedInterface {
  // Without a namespace the usual mistake is an interface that lives in another one.
  const where = netns ? ` in network namespace "${netns}"` : ' in this network namespace (if it is in another one, give its netns: --netns NAME)';
  const byIndex = typeof ref === 'number' ? ref : typeof ref === 'object' && 'ifindex' in ref ? ref.ifindex : undefined;
  if (byIndex !== undefined) {
    if (!Number.isInteger(byIndex) || byIndex <= 0) throw new BpfError('USAGE', `invalid interface index ${byIndex}`);
    const ifname = ffi.ifIndexToName(byIndex);
    if (ifname === null) throw new BpfError('NO_SUCH_INTERFACE', `no interface with index ${byIndex}${where}`);
    return { ifindex: byIndex, ifname };
  }
  const name = typeof ref === 'string' ? ref : (ref as { ifname: string }).ifname;
  if (!name || name.length > 15 || /[\s/]/.test(name)) {
    throw new BpfError('NO_SUCH_INTERFACE', `no such interface "${name}"${where} (not a valid interface name)`);
  }
  const ifindex = ffi.ifNameToIndex(name);
  if (ifindex === 0) throw new BpfError('NO_SUCH_INTERFACE', `no such interface "${name}"${where}`);
  return { ifindex, ifname: name };
}

/**
 * Run `fn` for one device of a listing; when it fails because the device
 * went away since the listing was made (other work on the host deletes
 * interfaces at any time), return `gone` instead. Any other failure, or a
 * failure on a device that is still there, is rethrown.
 */
export function unlessVanished<T>(dev: ResolvedInterface, fn: () => T, gone: T): T {
  try {
    return fn();
  } catch (e) {
    if (ffi.ifIndexToName(dev.ifindex) !== dev.ifname) return gone;
    throw e;
  }
}
