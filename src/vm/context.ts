// Program contexts as the kernel's BPF_PROG_TEST_RUN builds them, and the
// translation of context field accesses: the object reads `ctx->data` as a
// u32 field of struct xdp_md / __sk_buff, the kernel rewrites that into a
// load of the packet pointer, and so do these hooks.

import { newBuffer } from '../bytes.js';
import { BpfError } from '../errors.js';
import { Memory, type Region, type RegionHooks } from './memory.js';

/** XDP_PACKET_HEADROOM: room before the frame for bpf_xdp_adjust_head/meta. */
export const XDP_HEADROOM = 256;
/** sizeof(struct xdp_frame), kept at the start of the headroom. */
const XDP_FRAME_SIZE = 40;
/**
 * The most bytes data..data_end may span: test_run's frame is a page, less the
 * headroom and the skb_shared_info kept at its end (xdp_data_hard_end), so
 * bpf_xdp_adjust_tail grows a frame up to this length, not by this much.
 */
const XDP_DATA_MAX = 4096 - XDP_HEADROOM - 320;
const ETH_HLEN = 14;

const bad = (what: string): never => {
  throw new BpfError('EMU_FAULT', what);
};

/** The packet: one buffer with headroom, the frame and tailroom; a region that ends at data_end. */
export class Packet {
  readonly buf: Uint8Array;
  /** Offsets into buf. */
  meta = 0;
  data = 0;
  end = 0;
  region: Region;

  constructor(
    private readonly memory: Memory,
    frame: Uint8Array,
    headroom: number,
    tailroom: number,
    /** A buffer to reuse when it is large enough. */
    scratch?: Uint8Array,
    /** The previous packet's region, unmapped for this one. */
    previous?: Region,
  ) {
    const size = headroom + frame.length + tailroom;
    this.buf = scratch && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
    this.#take(frame, headroom);
    if (previous) memory.remove(previous);
    this.region = memory.add('packet', this.buf.subarray(0, this.end), { kind: 'packet' });
  }

  /**
   * Take `frame` for another run in place (the same buffer, and the same
   * region unless the frame's end moved) when it has the same layout: false
   * when it does not, and a new Packet is needed.
   */
  refill(frame: Uint8Array, headroom: number, tailroom: number): boolean {
    if (this.buf.length !== headroom + frame.length + tailroom) return false;
    this.#take(frame, headroom);
    if (this.region.bytes.byteLength !== this.end) this.remap();
    return true;
  }

  /** `frame` after `headroom` bytes of buf. */
  #take(frame: Uint8Array, headroom: number): void {
    // Only the headroom must read as zeroes (adjust_head and adjust_meta expose it); the
    // tailroom is never readable until adjust_tail grows the frame, which zeroes what it adds.
    this.buf.fill(0, 0, headroom);
    this.buf.set(frame, headroom);
    this.meta = headroom;
    this.data = headroom;
    this.end = headroom + frame.length;
  }

  /** Pointers into the packet are addresses in its region. */
  addr(offset: number): bigint {
    return Memory.address(this.region.id, offset);
  }

  /** addr() as a number when exact (see Memory.addressValue), for context hooks. */
  addrValue(offset: number): number | bigint {
    return Memory.addressValue(this.region.id, offset);
  }

  /** Re-map the region so it still ends exactly at data_end (reads past it fault). */
  private remap(): void {
    const id = this.region.id;
    this.memory.remove(id);
    this.region = this.memory.add('packet', this.buf.subarray(0, this.end), { kind: 'packet', id });
  }

  /** bpf_xdp_adjust_head: 0 or -EINVAL. */
  adjustHead(delta: number): number {
    const data = this.data + delta;
    const metalen = this.data - this.meta;
    if (data < XDP_FRAME_SIZE + metalen || data > this.end - ETH_HLEN) return -22;
    if (metalen) this.buf.copyWithin(this.meta + delta, this.meta, this.data);
    this.meta += delta;
    this.data = data;
    return 0;
  }

  /** bpf_xdp_adjust_tail: 0 or -EINVAL. */
  adjustTail(delta: number): number {
    const end = this.end + delta;
    if (end < this.data + ETH_HLEN || end > this.buf.length) return -22;
    if (delta > 0) this.buf.fill(0, this.end, end);
    this.end = end;
    this.remap();
    return 0;
  }

  /**
   * bpf_xdp_adjust_meta: -EINVAL when meta would leave the room between the
   * xdp_frame and data, -EACCES when the metadata's length is not a multiple
   * of 4 or above 255 (skb_shared_info's u8 meta_len), else 0.
   */
  adjustMeta(delta: number): number {
    const meta = this.meta + delta;
    if (meta < XDP_FRAME_SIZE || meta > this.data) return -22;
    const metalen = this.data - meta;
    if (metalen % 4 !== 0 || metalen > 255) return -13;
    this.meta = meta;
    return 0;
  }

  /**
   * The frame as test_run returns it: data_meta .. data_end, so metadata a
   * program put in front with bpf_xdp_adjust_meta comes first (none: data_meta
   * is data; skb programs have none).
   */
  out(): Buffer {
    const out = newBuffer(this.end - this.meta);
    out.set(this.buf.subarray(this.meta, this.end));
    return out;
  }
}

export interface XdpMdInput {
  ingressIfindex?: number;
  rxQueueIndex?: number;
  egressIfindex?: number;
}

/** struct xdp_md over a packet. */
export function xdpContext(memory: Memory, current: () => { pkt: Packet; xdpMd: XdpMdInput }): Region {
  const hooks: RegionHooks = {
    load(off, size) {
      const { pkt, xdpMd: md } = current();
      if (size !== 4) bad(`xdp_md access of ${size} bytes at offset ${off} (fields are u32)`);
      switch (off) {
        case 0:
          return pkt.addrValue(pkt.data);
        case 4:
          return pkt.addrValue(pkt.end);
        case 8:
          return pkt.addrValue(pkt.meta);
        case 12:
          return (md.ingressIfindex ?? 1) >>> 0;
        case 16:
          return (md.rxQueueIndex ?? 0) >>> 0;
        case 20:
          return (md.egressIfindex ?? 0) >>> 0;
      }
      return bad(`xdp_md has no field at offset ${off}`);
    },
    store(off) {
      return bad(`xdp_md is read-only (store at offset ${off})`);
    },
  };
  return memory.add('xdp_md', new Uint8Array(24), { kind: 'context', hooks });
}

export interface SkBuffInput {
  mark?: number;
  priority?: number;
  ifindex?: number;
  ingressIfindex?: number;
  hash?: number;
  tcIndex?: number;
  tcClassid?: number;
  queueMapping?: number;
  cb?: number[];
}

/** __sk_buff fields by offset (include/uapi/linux/bpf.h); writable ones as the verifier allows for TC. */
const SKB_FIELDS: Record<number, { name: string; writable?: boolean }> = {
  0: { name: 'len' },
  4: { name: 'pkt_type' },
  8: { name: 'mark', writable: true },
  12: { name: 'queue_mapping', writable: true },
  16: { name: 'protocol' },
  20: { name: 'vlan_present' },
  24: { name: 'vlan_tci' },
  28: { name: 'vlan_proto' },
  32: { name: 'priority', writable: true },
  36: { name: 'ingress_ifindex' },
  40: { name: 'ifindex' },
  44: { name: 'tc_index', writable: true },
  48: { name: 'cb[0]', writable: true },
  52: { name: 'cb[1]', writable: true },
  56: { name: 'cb[2]', writable: true },
  60: { name: 'cb[3]', writable: true },
  64: { name: 'cb[4]', writable: true },
  68: { name: 'hash' },
  72: { name: 'tc_classid', writable: true },
  76: { name: 'data' },
  80: { name: 'data_end' },
  84: { name: 'napi_id' },
  140: { name: 'data_meta' },
  160: { name: 'wire_len' },
  164: { name: 'gso_segs' },
};

/** The __sk_buff state a TC or socket-filter program sees and may change. */
export class SkBuff {
  readonly fields = new Map<string, number>();
  constructor(
    readonly pkt: Packet,
    l2: boolean,
    input: SkBuffInput = {},
  ) {
    const frame = pkt.buf.subarray(pkt.data, pkt.end);
    // The EtherType, big-endian at offset 12.
    const proto = frame.length >= 14 ? new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint16(12) : 0;
    this.fields.set('len', frame.length);
    this.fields.set('pkt_type', 0);
    this.fields.set('mark', input.mark ?? 0);
    this.fields.set('queue_mapping', input.queueMapping ?? 0);
    // skb->protocol is __be16: the u32 field holds it as stored, big-endian in memory.
    this.fields.set('protocol', ((proto & 0xff) << 8) | (proto >> 8));
    this.fields.set('priority', input.priority ?? 0);
    this.fields.set('ingress_ifindex', input.ingressIfindex ?? 0);
    this.fields.set('ifindex', input.ifindex ?? 1);
    this.fields.set('tc_index', input.tcIndex ?? 0);
    for (let i = 0; i < 5; i++) this.fields.set(`cb[${i}]`, input.cb?.[i] ?? 0);
    this.fields.set('hash', input.hash ?? 0);
    this.fields.set('tc_classid', input.tcClassid ?? 0);
    this.fields.set('napi_id', 0);
    this.fields.set('wire_len', 0);
    this.fields.set('gso_segs', 0);
    if (!l2) {
      // Socket filters see the frame from the network header; len counts from there.
      pkt.data = Math.min(pkt.data + ETH_HLEN, pkt.end);
      this.fields.set('len', pkt.end - pkt.data);
    }
  }

  context(memory: Memory): Region {
    const hooks: RegionHooks = {
      load: (off, size) => {
        const f = SKB_FIELDS[off];
        if (!f) return bad(`__sk_buff has no field at offset ${off} that this emulator provides`);
        if (size !== 4) return bad(`__sk_buff.${f.name}: access of ${size} bytes (the field is u32)`);
        if (f.name === 'data') return this.pkt.addrValue(this.pkt.data);
        if (f.name === 'data_end') return this.pkt.addrValue(this.pkt.end);
        if (f.name === 'data_meta') return this.pkt.addrValue(this.pkt.meta);
        return this.fields.get(f.name)! >>> 0;
      },
      store: (off, size, value) => {
        const f = SKB_FIELDS[off];
        if (!f || !f.writable) return bad(`__sk_buff.${f?.name ?? `+${off}`} cannot be written by the program`);
        if (size !== 4) return bad(`__sk_buff.${f.name}: store of ${size} bytes (the field is u32)`);
        this.fields.set(f.name, Number(BigInt.asUintN(32, value)));
      },
    };
    return memory.add('__sk_buff', new Uint8Array(192), { kind: 'context', hooks });
  }
}

export { ETH_HLEN, XDP_DATA_MAX };
