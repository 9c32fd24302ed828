// Program contexts as the kernel's BPF_PROG_TEST_RUN builds them, and the
// translation of context field accesses: the object reads `ctx->data` as a
// u32 field of struct xdp_md / __sk_buff, the kernel rewrites that into a
// load of the packet pointer, and so do these hooks.

import { newBuffer } from '../bytes.js';
import { BpfError } from '../errors.js';
import { bswap16 } from './arith.js';
import { Memory, type Region, type RegionHooks } from './memory.js';
import type { TunnelInfo } from './skb.js';

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
/** sizeof(struct skb_shared_info), aligned, at the end of every socket buffer's data (x86-64). */
const SKB_SHINFO_SIZE = 320;
/** The largest kmalloc: a page of order 10. */
const KMALLOC_MAX_SIZE = 4 << 20;
/** An 802.1Q/802.1ad tag's length. */
const VLAN_HLEN = 4;

const bad = (what: string): never => {
  throw new BpfError('EMU_FAULT', what);
};

/** A fault for an access of `subject` (a context struct, a record) that the kernel's verifier refuses. */
export function refuseAccess(subject: string, what: string): never {
  return bad(`${subject}: ${what} (the kernel's verifier refuses it)`);
}

/** A page of a multi-buffer XDP frame: `size` bytes of it used, from its start (as a test run fills them). */
interface Frag {
  page: Uint8Array;
  size: number;
  /** The page mapped for a pointer into it (bpf_dynptr_slice), until the fragment changes. */
  region?: Region;
}
/** PAGE_SIZE: an XDP fragment's size; the most of a sysctl value or a socket option the kernel hands a program. */
export const PAGE_SIZE = 4096;
/** MAX_SKB_FRAGS: the most fragments a frame has (a test run's input past them is -ENOMEM). */
export const MAX_SKB_FRAGS = 17;

/**
 * The packet: one buffer with headroom, the frame and tailroom; a region
 * that ends at data_end. A multi-buffer XDP frame has the rest of its bytes
 * in fragments, which programs reach only through helpers.
 */
export class Packet {
  buf: Uint8Array;
  /** The fragments after data_end (XDP); empty for a frame in one buffer. */
  #frags: Frag[] = [];
  /** Offsets into buf. */
  meta = 0;
  data = 0;
  end = 0;
  /** Socket buffers: where the mac and network headers start (offsets into buf, set by SkBuff), and the transport header once set. */
  mac = 0;
  net = 0;
  transport: number | undefined;
  region: Region;

  constructor(
    private readonly memory: Memory,
    frame: Uint8Array,
    headroom: number,
    tailroom: number,
    /** A buffer to reuse when it is large enough. */
    scratch?: Uint8Array,
    /** The previous packet: its region and mapped fragments unmapped for this one. */
    previous?: Packet,
  ) {
    const size = headroom + frame.length + tailroom;
    this.buf = scratch && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
    this.#take(frame, headroom);
    if (previous) {
      previous.#dropFrags();
      memory.remove(previous.region);
    }
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
    if (this.#frags.length) this.#dropFrags();
  }

  #dropFrags(): void {
    for (const f of this.#frags) this.#unmap(f);
    this.#frags = [];
  }

  #unmap(f: Frag): void {
    if (f.region) this.memory.remove(f.region);
    f.region = undefined;
  }

  /**
   * bpf_xdp_pointer: the address of bytes [off, off + n) of the frame when
   * they lie in the linear part or in one fragment (its page then mapped),
   * else undefined: a range across a boundary has no one address.
   */
  framePointer(off: number, n: number): bigint | undefined {
    const linear = this.end - this.data;
    if (off + n <= linear) return this.addr(this.data + off);
    let at = linear;
    for (const f of this.#frags) {
      if (off >= at && off + n <= at + f.size) {
        f.region ??= this.memory.add('xdp fragment', f.page.subarray(0, f.size), { kind: 'packet' });
        return Memory.address(f.region.id, off - at);
      }
      at += f.size;
    }
    return undefined;
  }

  /** The bytes of a multi-buffer frame past its linear part, a page per fragment. */
  setFrags(rest: Uint8Array): void {
    this.#dropFrags();
    for (let at = 0; at < rest.length; at += PAGE_SIZE) {
      const page = new Uint8Array(PAGE_SIZE);
      page.set(rest.subarray(at, at + PAGE_SIZE));
      this.#frags.push({ page, size: Math.min(PAGE_SIZE, rest.length - at) });
    }
  }

  /** Whether the frame has fragments (xdp_buff_has_frags). */
  get fragmented(): boolean {
    return this.#frags.length > 0;
  }

  /** xdp_get_buff_len: data to data_end and the fragments. */
  get buffLen(): number {
    let n = this.end - this.data;
    for (const f of this.#frags) n += f.size;
    return n;
  }

  /** Bytes `off` onwards of the frame, across data..data_end and the fragments, into `to` (or from it when `store`); the range must be in buffLen. */
  copyFrame(off: number, to: Uint8Array, store = false): void {
    let done = 0;
    const part = (buf: Uint8Array, start: number, size: number) => {
      if (done === to.length) return;
      if (off >= size) {
        off -= size;
        return;
      }
      const k = Math.min(to.length - done, size - off);
      if (store) buf.set(to.subarray(done, done + k), start + off);
      else to.set(buf.subarray(start + off, start + off + k), done);
      done += k;
      off = 0;
    };
    part(this.buf, this.data, this.end - this.data);
    for (const f of this.#frags) part(f.page, 0, f.size);
  }

  /**
   * bpf_xdp_adjust_tail on a frame with fragments: growing fills the last
   * fragment's page with zeroes (-EINVAL past it); shrinking takes bytes off
   * the last fragments, dropping each one emptied, and off data_end once none
   * is left (-EINVAL for more than the frame less an Ethernet header). The
   * kernel negates an int: -INT_MIN stays negative and shrinks nothing.
   */
  adjustFragsTail(delta: number): number {
    if (delta >= 0) {
      const last = this.#frags[this.#frags.length - 1]!;
      if (delta > PAGE_SIZE - last.size) return -22;
      this.#unmap(last);
      last.page.fill(0, last.size, last.size + delta);
      last.size += delta;
      return 0;
    }
    let shrink = -delta | 0;
    if (shrink > this.buffLen - ETH_HLEN) return -22;
    while (shrink > 0 && this.#frags.length) {
      const last = this.#frags[this.#frags.length - 1]!;
      const k = Math.min(shrink, last.size);
      this.#unmap(last);
      last.size -= k;
      shrink -= k;
      if (last.size === 0) this.#frags.pop();
    }
    if (this.#frags.length === 0 && shrink > 0) {
      this.end -= shrink;
      this.remap();
    }
    return 0;
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

  /** bpf_skb_change_tail: the frame made `len` bytes long, grown with zeroes (in a larger buffer when it runs out). */
  setLength(len: number): void {
    const end = this.data + len;
    if (end > this.buf.length) this.#realloc(0, end);
    if (end > this.end) this.buf.fill(0, this.end, end);
    this.end = end;
    this.remap();
  }

  /**
   * bpf_skb_change_head: `n` zero bytes pushed in front of data, where the mac
   * header now starts. buf's offsets are the kernel's from skb->head (a TC
   * test run's data starts 64 bytes in): skb_cow takes a new head when n is
   * more than the headroom, larger by n - headroom rounded up to NET_SKB_PAD
   * (64), and moves every header offset by that much — the transport header
   * too, which a test run never set (0xffff as a u16): it wraps to a set one
   * (bpf_skb_change_tail's lower bound, once past data).
   */
  pushHead(n: number): void {
    this.#cow(n);
    this.data -= n;
    this.meta = this.data;
    this.mac = this.data;
    this.buf.fill(0, this.data, this.data + n);
    this.remap();
  }

  /**
   * skb_vlan_push's move of a tag into the frame: a 4-byte 802.1Q/802.1ad
   * header (`proto`, `tci`) after the MAC addresses, data, the mac header and
   * (as Linux 6.18 has it) the network header moved back over it; skb_cow_head
   * first takes a new head when the headroom is short (moving the transport
   * header as pushHead() says).
   */
  insertVlan(proto: number, tci: number): void {
    this.#cow(VLAN_HLEN);
    this.data -= VLAN_HLEN;
    this.buf.copyWithin(this.data, this.data + VLAN_HLEN, this.data + VLAN_HLEN + 12);
    this.meta = this.data;
    this.mac -= VLAN_HLEN;
    this.net -= VLAN_HLEN;
    this.buf[this.data + 12] = proto >> 8;
    this.buf[this.data + 13] = proto & 0xff;
    this.buf[this.data + 14] = (tci >> 8) & 0xff;
    this.buf[this.data + 15] = tci & 0xff;
    this.remap();
  }

  /** __skb_vlan_pop's move: the 4 bytes after the MAC addresses taken out; the network header at least an Ethernet header in. */
  removeVlan(): void {
    this.buf.copyWithin(this.data + VLAN_HLEN, this.data, this.data + 12);
    this.data += VLAN_HLEN;
    this.meta = this.data;
    this.mac += VLAN_HLEN;
    if (this.net - this.data < ETH_HLEN) this.net = this.data + ETH_HLEN;
    this.remap();
  }

  /**
   * Whether skb_cow could take a head with `n` bytes of headroom: the
   * kernel's allocation (the buffer and its skb_shared_info) is at most
   * KMALLOC_MAX_SIZE, 4 MiB; beyond it pskb_expand_head fails (-ENOMEM).
   */
  headFits(n: number): boolean {
    return n <= this.data || this.buf.length + Math.ceil((n - this.data) / 64) * 64 + SKB_SHINFO_SIZE <= KMALLOC_MAX_SIZE;
  }

  /** skb_cow / skb_cow_head for a helper that moves no bytes itself: the new head (#cow) mapped for the program. */
  reserveHead(n: number): void {
    if (this.#cow(n)) this.remap();
  }

  /**
   * bpf_skb_net_hdr_push: `n` zero bytes put in `off` bytes after data, the
   * first `off` bytes moving to the new front (past the frame's end they are
   * what the buffer holds there, as in the kernel); the mac and network
   * headers move with them, the transport header too when it was the network
   * header. The headroom must be there (reserveHead).
   */
  insertAt(off: number, n: number): void {
    const from = this.data;
    if (from + off > this.buf.length) this.#realloc(0, from + off);
    this.buf.copyWithin(from - n, from, from + off);
    this.buf.fill(0, from - n + off, from + off);
    this.data = this.meta = from - n;
    this.#moveHeaders(-n);
  }

  /** bpf_skb_net_hdr_pop: the `n` bytes `off` bytes after data taken out (the first `off` move up); headers as insertAt() moves them. The frame must hold off + n bytes. */
  removeAt(off: number, n: number): void {
    const from = this.data;
    this.buf.copyWithin(from + n, from, from + off);
    this.data = this.meta = from + n;
    this.#moveHeaders(n);
  }

  #moveHeaders(by: number): void {
    const same = this.transport === this.net;
    this.mac += by;
    this.net += by;
    if (same) this.transport = this.net;
    this.remap();
  }

  /**
   * skb_cow: a new head when fewer than `n` bytes are in front of data (true
   * then), larger by the shortfall rounded up to NET_SKB_PAD, the never-set
   * transport header wrapping to a set one. The caller remaps.
   */
  #cow(n: number): boolean {
    if (n <= this.data) return false;
    const more = Math.ceil((n - this.data) / 64) * 64;
    this.#realloc(more, this.buf.length + more);
    this.transport = ((this.transport ?? 0xffff) + more) & 0xffff;
    return true;
  }

  /**
   * A larger buffer, `head` bytes more in front and `size` long, every offset
   * moved with it. Bytes past the frame's end come along (the kernel copies
   * up to the end and leaves the rest as the allocator gave it).
   */
  #realloc(head: number, size: number): void {
    // pskb_expand_head copies from the head to the tail only: past the frame's end the new buffer
    // holds what the allocator left there (kmalloc does not clear it), zeroes here.
    const buf = new Uint8Array(size);
    buf.set(this.buf.subarray(0, this.end), head);
    this.buf = buf;
    this.meta += head;
    this.data += head;
    this.end += head;
    this.mac += head;
    this.net += head;
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
    const linear = this.end - this.meta;
    const out = newBuffer(linear + this.buffLen - (this.end - this.data));
    out.set(this.buf.subarray(this.meta, this.end));
    let at = linear;
    for (const f of this.#frags) {
      out.set(f.page.subarray(0, f.size), at);
      at += f.size;
    }
    return out;
  }
}

export interface XdpMdInput {
  ingressIfindex?: number;
  rxQueueIndex?: number;
  egressIfindex?: number;
}

/** The length of struct xdp_md. */
const XDP_MD_SIZE = 24;

/** What BPF_PROG_TEST_RUN refuses, said once: the subject, why, and the kernel's errno. */
export function refuseTestRun(code: 'INVALID_ARGUMENT' | 'USAGE', subject: string, why: string, errno = 'EINVAL'): never {
  throw new BpfError(code, `${subject}: ${why} (BPF_PROG_TEST_RUN refuses it: ${errno})`);
}

const refuseCtx = (struct: string, what: string, errno: string): never => refuseTestRun('INVALID_ARGUMENT', `${struct} context`, what, errno);

/**
 * A context struct of `size` bytes from the bytes a test run is given, as
 * bpf_ctx_init takes them: shorter is zero-padded, longer must be zero past
 * the struct (else `refuse` with E2BIG).
 */
export function structFromCtx(ctx: Uint8Array, size: number, refuse: (why: string, errno: string) => never): Uint8Array {
  for (let i = size; i < ctx.byteLength; i++) if (ctx[i] !== 0) refuse(`byte ${i} is past the struct's ${size} bytes and not zero`, 'E2BIG');
  const b = new Uint8Array(size);
  b.set(ctx.subarray(0, size));
  return b;
}

/** A context given as bytes: not empty, and zero past the struct (as bpf_ctx_init checks). */
function ctxBytes(ctx: Uint8Array, struct: string, size: number): DataView {
  if (ctx.byteLength === 0) refuseCtx(struct, 'empty', 'EINVAL');
  return new DataView(structFromCtx(ctx, size, (why, errno) => refuseCtx(struct, why, errno)).buffer);
}

/**
 * An xdp_md given as bytes (testRun's `ctx`, as the kernel takes it): `data`
 * is the length of the metadata at the front of the input, `data_end` where
 * the linear part ends (the bytes after it go to fragments: a multi-buffer
 * frame), ingress_ifindex and rx_queue_index as
 * the program reads them: a device `device` knows and one of its queues. What
 * BPF_PROG_TEST_RUN refuses is a BpfError naming the field and the kernel's errno.
 */
export function xdpMdFromCtx(ctx: Uint8Array, size: number, device: (ifindex: number) => { rxQueues: number } | undefined): { metaLen: number; dataEnd: number; md: XdpMdInput } {
  const dv = ctxBytes(ctx, 'xdp_md', XDP_MD_SIZE);
  const [data, dataEnd, dataMeta, ingress, rxQueue, egress] = [0, 4, 8, 12, 16, 20].map((o) => dv.getUint32(o, true)) as [number, number, number, number, number, number];
  const refuse = (what: string) => refuseCtx('xdp_md', what, 'EINVAL');
  if (dataMeta !== 0) refuse('data_meta must be 0 (nothing comes before the metadata)');
  if (dataEnd > size) refuse(`data_end ${dataEnd} is past the ${size} bytes given`);
  if (data > dataEnd) refuse(`data ${data} is past data_end ${dataEnd}`);
  if (data % 4 !== 0 || data > XDP_HEADROOM - XDP_FRAME_SIZE) refuse(`data ${data}: the metadata length must be a multiple of 4, at most ${XDP_HEADROOM - XDP_FRAME_SIZE}`);
  if (egress !== 0) refuse('egress_ifindex must be 0 (only devmap programs have one)');
  if (ingress === 0 && rxQueue !== 0) refuse(`rx_queue_index ${rxQueue} needs an ingress_ifindex`);
  if (ingress !== 0) {
    const dev = device(ingress);
    if (!dev) refuseCtx('xdp_md', `ingress_ifindex ${ingress} is no device (give it in emulate({ devices }))`, 'ENODEV');
    if (rxQueue >= dev!.rxQueues) refuse(`rx_queue_index ${rxQueue}: device ${ingress} has ${dev!.rxQueues} receive queue(s)`);
  }
  return { metaLen: data, dataEnd, md: { ingressIfindex: ingress, rxQueueIndex: rxQueue } };
}

/** xdp_md as BPF_PROG_TEST_RUN hands it back: data and data_end from data_meta, the ifindex and queue as given. */
export function xdpCtxOut(pkt: Packet, md: XdpMdInput): Buffer {
  const out = Buffer.alloc(XDP_MD_SIZE);
  out.writeUInt32LE(pkt.data - pkt.meta, 0);
  out.writeUInt32LE(pkt.end - pkt.meta, 4);
  out.writeUInt32LE((md.ingressIfindex ?? 0) >>> 0, 12);
  out.writeUInt32LE((md.rxQueueIndex ?? 0) >>> 0, 16);
  return out;
}

/**
 * skb->protocol for the EtherType field `at` bytes into the frame, as
 * eth_type_trans (the Ethernet header's, at 12) and vlan_set_encap_proto (a
 * VLAN header's, at 16) set it: the EtherType from 0x600 up; below, an 802.3
 * length: ETH_P_802_3 (1) when the two bytes after it are 0xffff, else
 * ETH_P_802_2 (4).
 */
export function frameProtocol(pkt: Packet, at: number): number {
  const be16 = (o: number) => (pkt.data + o + 2 <= pkt.end ? (pkt.buf[pkt.data + o]! << 8) | pkt.buf[pkt.data + o + 1]! : 0);
  const type = be16(at);
  return type >= 0x600 ? type : be16(at + 2) === 0xffff ? 0x0001 : 0x0004;
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
          // 0 is the loopback device a test run uses then.
          return (md.ingressIfindex || 1) >>> 0;
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
  return memory.add('xdp_md', new Uint8Array(XDP_MD_SIZE), { kind: 'context', hooks });
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
  tstamp?: bigint;
  hwtstamp?: bigint;
  /** 0: the frame's length, as the kernel sets it. */
  wireLen?: number;
  gsoSegs?: number;
  gsoSize?: number;
}

/**
 * One __sk_buff field (include/uapi/linux/bpf.h). `target`: the size of the
 * kernel's own field the verifier loads it from. A narrow load (1 or 2 bytes)
 * smaller than that reads the bytes at its offset; one as large reads the
 * whole kernel field wherever it points inside the u32 (Linux 6.18 loads
 * skb->protocol, a u16, for a u16 read at offset 16 or 18 alike).
 */
interface SkbField {
  name: string;
  size: 1 | 4 | 8;
  target: 1 | 2 | 4 | 8;
  /** data, data_end, data_meta: packet pointers, read whole only. */
  pointer?: true;
  /** TC programs may write it (socket filters write only cb). */
  tcWrite?: true;
  /** The verifier refuses it to socket filters. */
  tcOnly?: true;
  /** cgroup skb programs: the field is theirs alone (the socket's), or refused to them. */
  cgroup?: 'only' | 'no';
  /** cgroup skb programs may write it (and cb). */
  cgWrite?: true;
  /** Read whole only (the socket's addresses). */
  whole?: true;
}

/** Which program reads the context: TC (sched_cls/act), a socket filter, or a cgroup skb program (ingress/egress). */
export type SkbKind = 'tc' | 'socket' | 'cgroup' | 'lwt';

// Light-weight tunnel programs (lwt_is_valid_access) read what socket filters do and the packet pointers; they write mark and priority.
const readable = (f: SkbField, kind: SkbKind): boolean =>
  f.cgroup === 'only' ? kind === 'cgroup' : kind === 'socket' ? !f.tcOnly : kind === 'lwt' ? !f.tcOnly || f.name === 'data' || f.name === 'data_end' : kind === 'cgroup' ? f.cgroup !== 'no' : true;
const writable = (f: SkbField, kind: SkbKind): boolean => (kind === 'tc' ? !!f.tcWrite : kind === 'cgroup' ? !!f.cgWrite : kind === 'lwt' ? f.name === 'mark' || f.name === 'priority' : false);

const SKB_SIZE = 192;
const CB_START = 48;
const CB_END = 68;
const SKB_FIELDS = new Map<number, SkbField>([
  [0, { name: 'len', size: 4, target: 4 }],
  [4, { name: 'pkt_type', size: 4, target: 1 }],
  [8, { name: 'mark', size: 4, target: 4, tcWrite: true, cgWrite: true }],
  [12, { name: 'queue_mapping', size: 4, target: 2, tcWrite: true }],
  [16, { name: 'protocol', size: 4, target: 2 }],
  [20, { name: 'vlan_present', size: 4, target: 1 }],
  [24, { name: 'vlan_tci', size: 4, target: 2 }],
  [28, { name: 'vlan_proto', size: 4, target: 2 }],
  [32, { name: 'priority', size: 4, target: 4, tcWrite: true, cgWrite: true }],
  [36, { name: 'ingress_ifindex', size: 4, target: 4 }],
  [40, { name: 'ifindex', size: 4, target: 4 }],
  [44, { name: 'tc_index', size: 4, target: 2, tcWrite: true }],
  [68, { name: 'hash', size: 4, target: 4 }],
  [72, { name: 'tc_classid', size: 4, target: 2, tcWrite: true, tcOnly: true, cgroup: 'no' }],
  [76, { name: 'data', size: 4, target: 4, pointer: true, tcOnly: true }],
  [80, { name: 'data_end', size: 4, target: 4, pointer: true, tcOnly: true }],
  [84, { name: 'napi_id', size: 4, target: 4 }],
  // The socket a test run makes for the skb (cgroup skb programs read it): its family and addresses from the IP header.
  [88, { name: 'family', size: 4, target: 2, cgroup: 'only' }],
  [92, { name: 'remote_ip4', size: 4, target: 4, cgroup: 'only', whole: true }],
  [96, { name: 'local_ip4', size: 4, target: 4, cgroup: 'only', whole: true }],
  ...[0, 1, 2, 3].map((i): [number, SkbField] => [100 + 4 * i, { name: `remote_ip6[${i}]`, size: 4, target: 4, cgroup: 'only', whole: true }]),
  ...[0, 1, 2, 3].map((i): [number, SkbField] => [116 + 4 * i, { name: `local_ip6[${i}]`, size: 4, target: 4, cgroup: 'only', whole: true }]),
  [132, { name: 'remote_port', size: 4, target: 4, cgroup: 'only' }],
  [136, { name: 'local_port', size: 4, target: 4, cgroup: 'only' }],
  [140, { name: 'data_meta', size: 4, target: 4, pointer: true, tcOnly: true, cgroup: 'no' }],
  [152, { name: 'tstamp', size: 8, target: 8, tcWrite: true, tcOnly: true, cgWrite: true }],
  [160, { name: 'wire_len', size: 4, target: 4, tcOnly: true, cgroup: 'no' }],
  [164, { name: 'gso_segs', size: 4, target: 2 }],
  [176, { name: 'gso_size', size: 4, target: 2 }],
  [180, { name: 'tstamp_type', size: 1, target: 1, tcOnly: true, cgroup: 'no' }],
  [184, { name: 'hwtstamp', size: 8, target: 8, tcOnly: true }],
]);

/**
 * Fields BPF_PROG_TEST_RUN takes from a given __sk_buff (convert___skb_to_skb)
 * and hands back after the run: any other non-zero byte is EINVAL.
 */
const SKB_CTX_IN: readonly (readonly [number, number])[] = [
  [8, 4], // mark
  [32, 4], // priority
  [36, 4], // ingress_ifindex
  [40, 4], // ifindex
  [CB_START, CB_END - CB_START],
  [152, 8], // tstamp
  [160, 4], // wire_len
  [164, 4], // gso_segs
  [176, 4], // gso_size
  [184, 8], // hwtstamp
];

/** GSO_LEGACY_MAX_SIZE and GSO_MAX_SEGS: the largest wire_len and gso_segs a test run takes. */
const WIRE_LEN_MAX = 65536;
const GSO_SEGS_MAX = 65535;

/**
 * The SkBuffInput in a __sk_buff given as bytes (testRun's `ctx`, as the
 * kernel takes it): a context BPF_PROG_TEST_RUN refuses is a BpfError naming
 * the field and the kernel's errno.
 */
export function skBuffInputFromCtx(ctx: Uint8Array, frameLen: number, device: (ifindex: number) => unknown): SkBuffInput {
  const refuse = (what: string) => refuseCtx('__sk_buff', what, 'EINVAL');
  const dv = ctxBytes(ctx, '__sk_buff', SKB_SIZE);
  const taken = new Uint8Array(SKB_SIZE);
  for (const [off, len] of SKB_CTX_IN) taken.fill(1, off, off + len);
  for (let i = 0; i < SKB_SIZE; i++)
    if (dv.getUint8(i) !== 0 && !taken[i]) refuse(`${fieldAt(i)} must be zero (a test run takes only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp)`);
  const u32 = (off: number) => dv.getUint32(off, true);
  const wireLen = u32(160);
  if (wireLen !== 0 && (wireLen < frameLen || wireLen > WIRE_LEN_MAX)) refuse(`wire_len ${wireLen} is not between the frame's ${frameLen} bytes and ${WIRE_LEN_MAX}`);
  if (u32(164) > GSO_SEGS_MAX) refuse(`gso_segs ${u32(164)} is more than ${GSO_SEGS_MAX}`);
  if (u32(40) !== 0 && !device(u32(40))) refuseCtx('__sk_buff', `ifindex ${u32(40)} is no device (give it in emulate({ devices }))`, 'ENODEV');
  return {
    mark: u32(8),
    priority: u32(32),
    ingressIfindex: u32(36),
    ...(u32(40) !== 0 ? { ifindex: u32(40) } : {}),
    cb: [0, 1, 2, 3, 4].map((i) => u32(CB_START + 4 * i)),
    tstamp: dv.getBigUint64(152, true),
    // A test run given a context counts wire_len 0 as the frame's length.
    wireLen: wireLen || frameLen,
    gsoSegs: u32(164),
    gsoSize: u32(176),
    hwtstamp: dv.getBigUint64(184, true),
  };
}

/** "mark", "cb[2]", or "offset 99" for a byte of __sk_buff. */
function fieldAt(off: number): string {
  if (off >= CB_START && off < CB_END) return `cb[${(off - CB_START) >> 2}]`;
  const f = SKB_FIELDS.get(off & ~3) ?? SKB_FIELDS.get(off & ~7);
  return f && off < (off & ~(f.size - 1)) + f.size ? f.name : `offset ${off}`;
}

/** The __sk_buff state a TC, socket-filter or cgroup skb program sees and may change, laid out as the struct. */
export class SkBuff {
  /** The struct's bytes (host order, as the kernel hands the context back); packet pointers are not kept here. */
  readonly raw = new Uint8Array(SKB_SIZE);
  readonly #dv = new DataView(this.raw.buffer);
  readonly #kind: SkbKind;
  constructor(
    readonly pkt: Packet,
    kind: SkbKind,
    input: SkBuffInput = {},
  ) {
    this.#kind = kind;
    const l2 = kind === 'tc';
    const proto = frameProtocol(pkt, 12);
    // The test run's socket, which only cgroup skb programs read: AF_INET or AF_INET6 with the header's
    // addresses (remote = destination), else AF_UNSPEC.
    if (kind === 'cgroup') {
      const ip = (from: number, to: number, n: number) => this.raw.set(pkt.buf.subarray(pkt.data + from, pkt.data + from + n), to);
      if (proto === 0x0800 && pkt.end - pkt.data >= ETH_HLEN + 20) {
        this.#dv.setUint32(88, 2, true);
        ip(30, 92, 4);
        ip(26, 96, 4);
      } else if (proto === 0x86dd && pkt.end - pkt.data >= ETH_HLEN + 40) {
        this.#dv.setUint32(88, 10, true);
        ip(38, 100, 16);
        ip(22, 116, 16);
      }
    }
    // Socket filters and cgroup skb programs see the frame from the network header; len counts from there.
    pkt.mac = pkt.data;
    if (!l2) pkt.data = Math.min(pkt.data + ETH_HLEN, pkt.end);
    pkt.net = Math.min(pkt.mac + ETH_HLEN, pkt.end);
    pkt.transport = undefined;
    const set32 = (off: number, v: number | undefined) => this.#dv.setUint32(off, (v ?? 0) >>> 0, true);
    // len (offset 0) is read from the packet: helpers change it.
    set32(8, input.mark);
    set32(12, input.queueMapping);
    // skb->protocol is __be16: the u32 field holds it as stored, big-endian in memory.
    set32(16, bswap16(proto));
    set32(32, input.priority);
    set32(36, input.ingressIfindex);
    set32(40, input.ifindex || 1);
    set32(44, input.tcIndex);
    for (let i = 0; i < 5; i++) set32(CB_START + 4 * i, input.cb?.[i]);
    set32(68, input.hash);
    set32(72, input.tcClassid);
    this.#dv.setBigUint64(152, BigInt.asUintN(64, input.tstamp ?? 0n), true);
    set32(160, input.wireLen);
    set32(164, input.gsoSegs);
    set32(176, input.gsoSize);
    this.#dv.setBigUint64(184, BigInt.asUintN(64, input.hwtstamp ?? 0n), true);
  }

  /** The tunnel metadata bpf_skb_set_tunnel_key attached (a test run's skb has none). */
  tunnel: TunnelInfo | undefined;
  /** skb->encapsulation: set by bpf_skb_adjust_room with an encap flag (then -EALREADY for another, -ENOTSUPP for bpf_skb_change_tail). */
  encapsulation = false;
  /**
   * skb->ip_summed as bpf_csum_level sees it: a test run's socket buffer is
   * CHECKSUM_NONE; CHECKSUM_UNNECESSARY with csum_level 0-3 once raised.
   */
  csumUnnecessary = false;
  csumLevel = 0;

  /** skb->hash (bpf_set_hash sets it; helpers that move or rewrite headers clear it). */
  get hash(): number {
    return this.#dv.getUint32(68, true);
  }
  set hash(h: number) {
    this.#dv.setUint32(68, h >>> 0, true);
  }

  /** skb->tstamp and its clock (__sk_buff's tstamp_type: BPF_SKB_CLOCK_REALTIME 0, MONOTONIC 1, TAI 2): bpf_skb_set_tstamp sets both. */
  setTstamp(tstamp: bigint, type: number): void {
    this.#dv.setBigUint64(152, tstamp, true);
    this.#dv.setUint8(180, type);
  }

  /** skb_shinfo(skb)->gso_size: non-zero is a GSO packet (a test run takes it from the context). */
  get gsoSize(): number {
    return this.#dv.getUint32(176, true);
  }

  /** skb->pkt_type (bpf_skb_change_type changes it). */
  get pktType(): number {
    return this.#dv.getUint32(4, true);
  }
  set pktType(t: number) {
    this.#dv.setUint32(4, t, true);
  }

  /** skb->protocol in host order (0x0800 for IPv4): the EtherType the frame came with, until a VLAN helper changes it. */
  get protocol(): number {
    return bswap16(this.#dv.getUint32(16, true));
  }
  set protocol(p: number) {
    this.#dv.setUint32(16, bswap16(p), true);
  }

  /** The tag outside the frame (skb->vlan_proto, host order, and skb->vlan_tci), or undefined: __sk_buff's vlan_present, vlan_proto and vlan_tci. */
  get vlan(): { proto: number; tci: number } | undefined {
    return this.#dv.getUint32(20, true) ? { proto: bswap16(this.#dv.getUint32(28, true)), tci: this.#dv.getUint32(24, true) } : undefined;
  }
  set vlan(tag: { proto: number; tci: number } | undefined) {
    // vlan_present is the kernel's vlan_all != 0: a tag with a protocol is present whatever its TCI.
    this.#dv.setUint32(20, tag ? 1 : 0, true);
    this.#dv.setUint32(24, tag?.tci ?? 0, true);
    this.#dv.setUint32(28, tag ? bswap16(tag.proto) : 0, true);
  }

  /** The device the socket buffer is on (1, lo, unless the context named another). */
  get ifindex(): number {
    return this.#dv.getUint32(40, true);
  }

  /** The u32 fields and cb[] after the run, by name (tstamp and hwtstamp, u64, are in ctxOut()). */
  get fields(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [off, f] of SKB_FIELDS) {
      if (f.pointer || f.size !== 4 || !readable(f, this.#kind)) continue;
      out.set(f.name, off === 0 ? this.pkt.end - this.pkt.data : this.#dv.getUint32(off, true));
      // cb[] in struct order: it follows tc_index.
      if (f.name === 'tc_index') for (let i = 0; i < 5; i++) out.set(`cb[${i}]`, this.#dv.getUint32(CB_START + 4 * i, true));
    }
    return out;
  }

  /** The context as BPF_PROG_TEST_RUN writes it back: the fields it takes, the rest zero. */
  ctxOut(): Buffer {
    const out = Buffer.alloc(SKB_SIZE);
    for (const [off, len] of SKB_CTX_IN) out.set(this.raw.subarray(off, off + len), off);
    return out;
  }

  context(memory: Memory): Region {
    const kind = this.#kind;
    const dv = this.#dv;
    const who = kind === 'tc' ? 'TC programs' : kind === 'socket' ? 'socket filters' : kind === 'lwt' ? 'lwt programs' : 'cgroup skb programs';
    const refused = (what: string): never => bad(`__sk_buff: ${what} (the kernel's verifier refuses it to ${who})`);
    const field = (off: number, size: number): [number, SkbField] => {
      const base = off & ~3;
      const f = SKB_FIELDS.get(base) ?? SKB_FIELDS.get(off & ~7);
      if (!f) return refused(`no field at offset ${off} that this emulator provides`);
      const at = f.size === 8 ? off & ~7 : base;
      if (!readable(f, kind)) return refused(`${f.name} is not readable`);
      if (off % size !== 0 || off + size > at + Math.max(f.size, 4)) return refused(`a ${size}-byte access at offset ${off} crosses ${f.name}`);
      if (f.whole && (off !== at || size !== f.size)) return refused(`${f.name} is read whole (${f.size} bytes), not ${size} at offset ${off}`);
      return [at, f];
    };
    const hooks: RegionHooks = {
      load: (off, size) => {
        if (off >= CB_START && off < CB_END) {
          if (off % size !== 0 || off + size > CB_END) return refused(`a ${size}-byte access at offset ${off} of cb[]`);
          return size === 8 ? readU64Value(dv, off) : size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : dv.getUint8(off);
        }
        const [at, f] = field(off, size);
        if (f.size === 8 || f.pointer) {
          if (off !== at || size !== f.size) return refused(`${f.name} is read whole (${f.size} bytes), not ${size} at offset ${off}`);
          if (f.pointer) return this.pkt.addrValue(f.name === 'data' ? this.pkt.data : f.name === 'data_end' ? this.pkt.end : this.pkt.meta);
          return readU64Value(dv, at);
        }
        if (f.size === 1) return size === 1 && off === at ? dv.getUint8(at) : refused(`${f.name} is one byte, at offset ${at}`);
        const whole = at === 0 ? this.pkt.end - this.pkt.data : dv.getUint32(at, true);
        if (size >= f.target) return whole;
        return (whole >>> ((off - at) * 8)) & (size === 1 ? 0xff : 0xffff);
      },
      store: (off, size, value) => {
        if (off >= CB_START && off < CB_END) {
          if (off % size !== 0 || off + size > CB_END) return refused(`a ${size}-byte store at offset ${off} of cb[]`);
          if (size === 8) dv.setBigUint64(off, BigInt.asUintN(64, value), true);
          else if (size === 4) dv.setUint32(off, Number(BigInt.asUintN(32, value)), true);
          else if (size === 2) dv.setUint16(off, Number(BigInt.asUintN(16, value)), true);
          else dv.setUint8(off, Number(BigInt.asUintN(8, value)));
          return;
        }
        const [at, f] = field(off, size);
        if (!writable(f, kind)) return refused(`${f.name} cannot be written`);
        if (off !== at || size !== f.size) return refused(`${f.name}: a ${size}-byte store at offset ${off} (stores are whole: ${f.size} bytes)`);
        if (f.size === 8) dv.setBigUint64(at, BigInt.asUintN(64, value), true);
        else dv.setUint32(at, Number(BigInt.asUintN(32, value)), true);
      },
    };
    return memory.add('__sk_buff', new Uint8Array(SKB_SIZE), { kind: 'context', hooks });
  }
}

/** A u64 of the struct as a hook returns it: a number when exact, else a bigint. */
function readU64Value(dv: DataView, off: number): number | bigint {
  const hi = dv.getUint32(off + 4, true);
  return hi < 0x200000 ? hi * 4294967296 + dv.getUint32(off, true) : dv.getBigUint64(off, true);
}

export { ETH_HLEN, VLAN_HLEN, XDP_DATA_MAX };
