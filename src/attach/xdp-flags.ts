// XDP attach modes and their flag bits (include/uapi/linux/if_link.h), shared
// by the netlink attach path and the bpf_link path.

import { XDP_ATTACHED_DRV, XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_ATTACHED_SKB } from '../netlink/link.js';

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;
export const XDP_FLAGS_MODES = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE;

/**
 * How to attach: native (driver, XDP_FLAGS_DRV_MODE), skb (generic, any
 * device), hw (offloaded to the NIC), or auto (no flag: the kernel picks
 * native when the driver has it, else skb).
 */
export type XdpMode = 'native' | 'skb' | 'hw' | 'auto';

/** A mode a program actually runs in. */
export type XdpAttachMode = Exclude<XdpMode, 'auto'>;

/** What an interface reports: one mode, none, or several at once (e.g. skb + hw). */
export type XdpAttachedState = 'none' | XdpAttachMode | 'multi';

export const XDP_MODES: readonly XdpMode[] = ['native', 'skb', 'hw', 'auto'];

export function xdpModeFlag(mode: XdpMode): number {
  switch (mode) {
    case 'native':
      return XDP_FLAGS_DRV_MODE;
    case 'skb':
      return XDP_FLAGS_SKB_MODE;
    case 'hw':
      return XDP_FLAGS_HW_MODE;
    case 'auto':
      return 0;
  }
}

/** IFLA_XDP_ATTACHED value to our name. */
export function xdpAttachedState(attached: number): XdpAttachedState {
  switch (attached) {
    case XDP_ATTACHED_DRV:
      return 'native';
    case XDP_ATTACHED_SKB:
      return 'skb';
    case XDP_ATTACHED_HW:
      return 'hw';
    case XDP_ATTACHED_MULTI:
      return 'multi';
    default:
      return 'none';
  }
}

export function isXdpMode(s: string): s is XdpMode {
  return (XDP_MODES as readonly string[]).includes(s);
}
