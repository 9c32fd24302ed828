// Netfilter programs as a test run runs them (bpf_prog_test_run_nf): the
// context is struct bpf_nf_ctx, two pointers — the hook state (pf and hook
// from the caller's struct nf_hook_state, IPv4 LOCAL_OUT by default) and the
// socket buffer, whose data starts at the network header: the input is the IP
// packet itself at LOCAL_OUT, an Ethernet frame (its header pulled) at the
// other hooks. Programs read the packet through a dynptr over the skb
// (bpf_dynptr_from_skb); the sk_buff's own fields are not emulated.

import { BpfError } from '../errors.js';
import { ETH_HLEN, type Packet, refuseTestRun, structFromCtx } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';

export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;
const NF_INET_LOCAL_OUT = 3;
/** sizeof(struct nf_hook_state): hook, pf, then the in/out devices, socket, netns and okfn pointers. */
const NF_HOOK_STATE_SIZE = 48;
const IPV4_HLEN = 20;
const IPV6_HLEN = 40;

/** What a netfilter test run takes: the hook state's family and hook, and where the network header starts. */
export interface NetfilterRun {
  pf: number;
  hook: number;
  /** ETH_HLEN when the input is an Ethernet frame, 0 when it is the IP packet. */
  netOffset: number;
}

/** The test run's checks of its context (a struct nf_hook_state) and input, with the kernel's errors as USAGE/INVALID_ARGUMENT. */
export function netfilterRun(program: string, ctx: Uint8Array | undefined, data: Uint8Array): NetfilterRun {
  const refuse = (code: 'USAGE' | 'INVALID_ARGUMENT', why: string, errno = 'EINVAL'): never => refuseTestRun(code, `program ${program}`, why, errno);
  let pf = NFPROTO_IPV4;
  let hook = NF_INET_LOCAL_OUT;
  if (ctx && ctx.length > 0) {
    const state = structFromCtx(ctx, NF_HOOK_STATE_SIZE, (why, errno) => refuse('USAGE', why, errno));
    if (state.subarray(8).some((b) => b !== 0)) refuse('USAGE', 'a netfilter context may set only hook (offset 0) and pf (offset 1) of struct nf_hook_state');
    hook = state[0]!;
    pf = state[1]!;
    if (pf !== NFPROTO_IPV4 && pf !== NFPROTO_IPV6) refuse('USAGE', `pf ${pf}: a netfilter test run takes NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10)`);
  }
  if (data.length < IPV4_HLEN) refuse('INVALID_ARGUMENT', `a ${data.length}-byte packet is shorter than an IPv4 header`);
  if (hook === NF_INET_LOCAL_OUT) return { pf, hook, netOffset: 0 };
  if (data.length < ETH_HLEN + IPV4_HLEN) refuse('INVALID_ARGUMENT', `at hook ${hook} the input is an Ethernet frame: ${data.length} bytes hold no IPv4 header after one`);
  const proto = (data[12]! << 8) | data[13]!;
  if (proto === 0x0800 && pf === NFPROTO_IPV4) return { pf, hook, netOffset: ETH_HLEN };
  if (proto === 0x86dd) {
    if (data.length < ETH_HLEN + IPV6_HLEN) refuse('INVALID_ARGUMENT', `a ${data.length}-byte IPv6 frame is shorter than its headers`);
    if (pf === NFPROTO_IPV6) return { pf, hook, netOffset: ETH_HLEN };
  }
  if (proto === 0x0800 || proto === 0x86dd) return refuse('INVALID_ARGUMENT', `an ${proto === 0x0800 ? 'IPv4' : 'IPv6'} frame at an ${pf === NFPROTO_IPV4 ? 'IPv4' : 'IPv6'} hook`);
  return refuse('INVALID_ARGUMENT', `EtherType 0x${proto.toString(16).padStart(4, '0')} is neither IPv4 nor IPv6`, 'EPROTO');
}

/** The hook state a program's ctx->state points to: hook and pf, the pointers after them NULL. */
export function hookStateRegion(memory: Memory, run: NetfilterRun): Region {
  const bytes = new Uint8Array(NF_HOOK_STATE_SIZE);
  bytes[0] = run.hook;
  bytes[1] = run.pf;
  return memory.add('nf_hook_state', bytes, { kind: 'memory', writable: false });
}

/** An sk_buff's stand-in: its address goes to bpf_dynptr_from_skb; reading it is not emulated. */
export function skbRegion(memory: Memory): Region {
  return memory.add('sk_buff (its fields are not emulated: read the packet with bpf_dynptr_from_skb)', new Uint8Array(0), { kind: 'memory', writable: false });
}

/** struct bpf_nf_ctx: state at 0, skb at 8, read whole and never written, as the verifier allows. */
export function netfilterContext(memory: Memory, state: Region, skb: Region): Region {
  const refused = (what: string): never => {
    throw new BpfError('EMU_FAULT', `bpf_nf_ctx: ${what} (the kernel's verifier lets a netfilter program read only its state and skb pointers)`);
  };
  const hooks: RegionHooks = {
    load: (off, size) => (size === 8 && (off === 0 || off === 8) ? Memory.addressValue(off === 0 ? state.id : skb.id) : refused(`a ${size}-byte read at offset ${off}`)),
    store: (off, size) => refused(`a ${size}-byte write at offset ${off}`),
  };
  return memory.add('bpf_nf_ctx', new Uint8Array(16), { kind: 'context', writable: false, hooks });
}

/** Where the skb's data starts in the packet buffer: the network header. */
export const netfilterData = (pkt: Packet, run: NetfilterRun): void => {
  pkt.data += run.netOffset;
  pkt.mac = pkt.data - run.netOffset;
  pkt.net = pkt.data;
};
