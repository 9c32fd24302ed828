// Flow dissector programs as a test run runs them (bpf_prog_test_run_flow_dissector
// and bpf_flow_dissect): the frame from its Ethernet header, a struct
// bpf_flow_keys zeroed and primed with the EtherType, nhoff = thoff = 14
// and the caller's flags; after the run nhoff and thoff are clamped into
// the frame, and the keys are the run's output. The context is a
// __sk_buff of which the verifier lets a dissector read three fields:
// data, data_end and the flow_keys pointer.

import { BpfError } from '../errors.js';
import { ETH_HLEN, type Packet, refuseTestRun, structFromCtx } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';

/** sizeof(struct bpf_flow_keys). */
export const FLOW_KEYS_SIZE = 56;
const NHOFF = 0;
const THOFF = 2;
const N_PROTO = 10;
const FLAGS = 48;
// struct __sk_buff offsets of what a flow dissector reads.
const SKB_DATA = 76;
const SKB_DATA_END = 80;
const SKB_FLOW_KEYS = 144;
const SKB_SIZE = 192;

/**
 * The flags a test run's context (a struct bpf_flow_keys, at most its size,
 * every other field zero) gives; a USAGE error for what the kernel refuses.
 */
export function flowKeysFlags(program: string, ctx: Uint8Array): number {
  const refuse = (why: string, errno: string): never => refuseTestRun('USAGE', `program ${program}`, why, errno);
  const keys = structFromCtx(ctx, FLOW_KEYS_SIZE, refuse);
  if (keys.some((b, i) => b !== 0 && (i < FLAGS || i >= FLAGS + 4))) refuse('a flow dissector context may set only flags (offset 48) of struct bpf_flow_keys', 'EINVAL');
  return new DataView(keys.buffer).getUint32(FLAGS, true);
}

/** The context a test run hands back: the caller's struct bpf_flow_keys, its flags alone. */
export function flowKeysOut(flags: number): Buffer {
  const out = Buffer.alloc(FLOW_KEYS_SIZE);
  out.writeUInt32LE(flags, FLAGS);
  return out;
}

/** bpf_flow_dissect's start: the keys zeroed, then the EtherType (as the frame has it), nhoff, thoff and flags. */
export function primeFlowKeys(keys: Region, frame: Uint8Array, flags: number): void {
  keys.bytes.fill(0);
  keys.bytes[N_PROTO] = frame[12]!;
  keys.bytes[N_PROTO + 1] = frame[13]!;
  keys.dv.setUint16(NHOFF, ETH_HLEN, true);
  keys.dv.setUint16(THOFF, ETH_HLEN, true);
  keys.dv.setUint32(FLAGS, flags, true);
}

/** bpf_flow_dissect's end: nhoff into [14, len], thoff into [nhoff, len], as u16s. */
export function clampFlowKeys(keys: Region, len: number): void {
  const hi = len & 0xffff;
  const clamp = (v: number, lo: number): number => Math.min(Math.max(v, lo), hi);
  const nhoff = clamp(keys.dv.getUint16(NHOFF, true), ETH_HLEN);
  keys.dv.setUint16(NHOFF, nhoff, true);
  keys.dv.setUint16(THOFF, clamp(keys.dv.getUint16(THOFF, true), nhoff), true);
}

/** The dissector's __sk_buff: data, data_end and flow_keys read as the kernel rewrites them; nothing else. */
export function flowContext(memory: Memory, pkt: Packet, keys: Region): Region {
  const refused = (what: string): never => {
    throw new BpfError('EMU_FAULT', `__sk_buff: ${what} (the kernel's verifier lets a flow dissector read only data, data_end and flow_keys)`);
  };
  const hooks: RegionHooks = {
    load: (off, size) => {
      if ((off === SKB_DATA || off === SKB_DATA_END) && size === 4) return pkt.addrValue(off === SKB_DATA ? pkt.data : pkt.end);
      if (off === SKB_FLOW_KEYS && size === 8) return Memory.addressValue(keys.id);
      return refused(`a ${size}-byte read at offset ${off}`);
    },
    store: (off, size) => refused(`a ${size}-byte write at offset ${off}`),
  };
  return memory.add('__sk_buff', new Uint8Array(SKB_SIZE), { kind: 'context', writable: false, hooks });
}
