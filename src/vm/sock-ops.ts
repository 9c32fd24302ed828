// sock_ops programs in the emulator: what the kernel runs at points of a
// TCP connection's life (tcp_call_bpf: the SYN's timeout and window,
// connect, established, state changes, RTO, retransmits, RTT samples, TCP
// header options) on a struct bpf_sock_ops, with no test run of its own.
// The context reads the socket (addresses, ports) and its struct tcp_sock
// (EmulatedSocket.tcp: counters the caller sets, the emulator runs no TCP);
// a request socket (a SYN not answered yet) has no tcp_sock: those fields
// read 0 and ctx->sk is NULL. The program answers in `reply` (an RTO in
// jiffies, a window in segments, "use ECN": what tcp_call_bpf returns when
// every program returned 1, else -1) and through helpers (callback flags,
// bpf_setsockopt).

import { BpfError } from '../errors.js';
import { refuseAccess } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';
import type { EmulatedSocket } from './socket.js';

/** sizeof(struct bpf_sock_ops). */
export const SOCK_OPS_CTX_SIZE = 224;

/** enum of BPF_SOCK_OPS_* (include/uapi/linux/bpf.h). */
export const BPF_SOCK_OPS = {
  VOID: 0,
  TIMEOUT_INIT: 1,
  RWND_INIT: 2,
  TCP_CONNECT_CB: 3,
  ACTIVE_ESTABLISHED_CB: 4,
  PASSIVE_ESTABLISHED_CB: 5,
  NEEDS_ECN: 6,
  BASE_RTT: 7,
  RTO_CB: 8,
  RETRANS_CB: 9,
  STATE_CB: 10,
  TCP_LISTEN_CB: 11,
  RTT_CB: 12,
  PARSE_HDR_OPT_CB: 13,
  HDR_OPT_LEN_CB: 14,
  WRITE_HDR_OPT_CB: 15,
  TSTAMP_SCHED_CB: 16,
  TSTAMP_SND_SW_CB: 17,
  TSTAMP_SND_HW_CB: 18,
  TSTAMP_ACK_CB: 19,
  TSTAMP_SENDMSG_CB: 20,
} as const;
export type SockOpsName = keyof typeof BPF_SOCK_OPS;
const OP_NAMES = Object.keys(BPF_SOCK_OPS) as SockOpsName[];

// sk_state values (include/net/tcp_states.h).
const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const TCP_SYN_RECV = 3;
const TCP_LISTEN = 10;
const TCP_NEW_SYN_RECV = 12;

/** A sock_ops program's call: what the kernel is doing on the socket when it runs it. */
export interface SockOpsCall {
  /** BPF_SOCK_OPS_*: its number, or its name without the prefix ('TIMEOUT_INIT', 'ACTIVE_ESTABLISHED_CB', …). */
  op: number | SockOpsName;
  /** args[0..3] (u32): RTO_CB retransmits, rto, expired; RETRANS_CB seq, segments, error; STATE_CB old and new state; RTT_CB the sample and the new srtt; HDR_OPT callbacks the flags. */
  args?: readonly number[];
  /**
   * The call is on a request socket (a SYN received and not answered yet:
   * TIMEOUT_INIT, RWND_INIT and NEEDS_ECN on the listening side, the SYN-ACK's
   * header options): is_fullsock 0, ctx->sk NULL, the tcp_sock fields 0,
   * bpf_setsockopt -EINVAL.
   */
  request?: boolean;
  /**
   * sk_state during the call (default: the op's — SYN_SENT for TCP_CONNECT_CB,
   * ESTABLISHED for ACTIVE_ESTABLISHED_CB, SYN_RECV for PASSIVE_ESTABLISHED_CB,
   * LISTEN for TCP_LISTEN_CB, NEW_SYN_RECV on a request socket, else the socket's).
   */
  state?: number;
  /** The segment the callback is about (ESTABLISHED callbacks, header options, timestamps); none by default. */
  skb?: SockOpsSkb;
}

/** ctx->skb_data .. skb_data_end, skb_len, skb_tcp_flags, skb_hwtstamp. */
export interface SockOpsSkb {
  /** The bytes skb_data points to (the TCP header and its options; default none). */
  data?: Uint8Array;
  /** skb->len (default data's length). */
  len?: number;
  /** TCP_SKB_CB(skb)->tcp_flags (FIN 0x1, SYN 0x2, …, ACK 0x10; a u16). */
  tcpFlags?: number;
  /** The hardware timestamp in ns. */
  hwtstamp?: bigint;
}

/** What a sock_ops run hands the kernel's caller. */
export interface SockOpsOutcome {
  /** ctx->reply (args[0] after the run), an int. */
  reply: number;
  /** replylong[0..3] after the run (u32). */
  replylong: number[];
  /** What tcp_call_bpf returns: -1 when the program returned 0, else reply. */
  callResult: number;
}

/** The op's number, or a USAGE error. */
export function sockOpsOp(op: number | string, what: string): number {
  if (typeof op === 'number') {
    if (!Number.isInteger(op) || op < 0 || op > 0xff) throw new BpfError('USAGE', `${what}: sock_ops op ${op} is not a BPF_SOCK_OPS_* number`);
    return op;
  }
  const name = op.toUpperCase().replace(/^BPF_SOCK_OPS_/, '');
  const n = (BPF_SOCK_OPS as Record<string, number>)[name];
  if (n === undefined) throw new BpfError('USAGE', `${what}: sock_ops op "${op}" is not one of ${OP_NAMES.join(', ')}`);
  return n;
}

export function sockOpsName(op: number): string {
  return OP_NAMES[op] ?? String(op);
}

/** A sock_ops run: the call, checked, and the reply words the program may change. */
export class SockOpsRun {
  readonly op: number;
  /** args[] / reply / replylong[]: one union in the kernel. */
  readonly words = new Uint32Array(4);
  readonly request: boolean;
  /** is_locked_tcp_sock: a full socket, in a TCP callback (not a timestamp one). */
  readonly locked: boolean;
  readonly state: number;
  readonly skb: SockOpsSkb | undefined;

  constructor(call: SockOpsCall, sock: EmulatedSocket, what: string) {
    this.op = sockOpsOp(call.op, what);
    const args = call.args ?? [];
    if (args.length > 4) throw new BpfError('USAGE', `${what}: a sock_ops call has 4 args, not ${args.length}`);
    args.forEach((a, i) => {
      if (!Number.isInteger(a) || a < -0x80000000 || a > 0xffffffff) throw new BpfError('USAGE', `${what}: sock_ops args[${i}] ${a} is not a u32`);
      this.words[i] = a >>> 0;
    });
    this.request = call.request ?? false;
    this.locked = !this.request && this.op <= BPF_SOCK_OPS.WRITE_HDR_OPT_CB;
    if (sock.protocol !== 6) throw new BpfError('USAGE', `${what}: sock_ops programs run on TCP sockets; socket cookie ${sock.cookie} is UDP`);
    const defaults: Record<number, number> = {
      [BPF_SOCK_OPS.TCP_CONNECT_CB]: TCP_SYN_SENT,
      [BPF_SOCK_OPS.ACTIVE_ESTABLISHED_CB]: TCP_ESTABLISHED,
      [BPF_SOCK_OPS.PASSIVE_ESTABLISHED_CB]: TCP_SYN_RECV,
      [BPF_SOCK_OPS.TCP_LISTEN_CB]: TCP_LISTEN,
    };
    this.state = call.state ?? (this.request ? TCP_NEW_SYN_RECV : (defaults[this.op] ?? sock.state));
    if (!Number.isInteger(this.state) || this.state < 1 || this.state > 13) throw new BpfError('USAGE', `${what}: sock_ops state ${this.state} is not a TCP state (1-13)`);
    const skb = call.skb;
    if (skb) {
      if (skb.len !== undefined && (!Number.isInteger(skb.len) || skb.len < 0 || skb.len > 0xffffffff)) throw new BpfError('USAGE', `${what}: skb.len ${skb.len} is not a u32`);
      if (skb.tcpFlags !== undefined && (!Number.isInteger(skb.tcpFlags) || skb.tcpFlags < 0 || skb.tcpFlags > 0xffff))
        throw new BpfError('USAGE', `${what}: skb.tcpFlags ${skb.tcpFlags} is not a u16`);
      if (skb.hwtstamp !== undefined && (skb.hwtstamp < 0n || skb.hwtstamp >= 1n << 64n)) throw new BpfError('USAGE', `${what}: skb.hwtstamp is not a u64`);
    }
    this.skb = skb;
  }

  outcome(retval: number): SockOpsOutcome {
    const reply = this.words[0]! | 0;
    return { reply, replylong: [...this.words], callResult: retval === 0 ? -1 : reply };
  }
}

// Where the fields are in struct bpf_sock_ops.
const F = {
  family: 20,
  remote_ip4: 24,
  local_ip4: 28,
  remote_ip6: 32,
  local_ip6: 48,
  remote_port: 64,
  local_port: 68,
  is_fullsock: 72,
  bpf_sock_ops_cb_flags: 84,
  state: 88,
  rtt_min: 92,
  sk_txhash: 164,
  bytes_received: 168,
  bytes_acked: 176,
  sk: 184,
  skb_data: 192,
  skb_data_end: 200,
  skb_len: 208,
  skb_tcp_flags: 212,
  skb_hwtstamp: 216,
};
/** The u32 tcp_sock fields from offset 76 on, in order (rtt_min, cb flags and state among them, read apart). */
const TCP_U32 = [
  'sndCwnd',
  'srttUs',
  null,
  null,
  null,
  'sndSsthresh',
  'rcvNxt',
  'sndNxt',
  'sndUna',
  'mssCache',
  'ecnFlags',
  'rateDelivered',
  'rateIntervalUs',
  'packetsOut',
  'retransOut',
  'totalRetrans',
  'segsIn',
  'dataSegsIn',
  'segsOut',
  'dataSegsOut',
  'lostOut',
  'sackedOut',
] as const;
// Where a socket's struct bpf_sock keeps the addresses the context reads (skc_rcv_saddr, skc_daddr, their IPv6 forms, skc_dport).
const SK_SRC_IP4 = 24;
const SK_SRC_IP6 = 28;
const SK_DST_PORT = 48;
const SK_DST_IP4 = 52;
const SK_DST_IP6 = 56;

/**
 * struct bpf_sock_ops for a run (sock_ops_is_valid_access): 4-byte reads but
 * the u64 fields and pointers (8 bytes) and skb_tcp_flags (1, 2 or 4);
 * writes of reply and sk_txhash alone, 4 bytes each. `skbData` is the
 * segment's region, when the call has one.
 */
export function sockOpsContext(memory: Memory, run: SockOpsRun, sock: EmulatedSocket, skbData: Region | undefined): Region {
  const refuse = (what: string): never => refuseAccess('bpf_sock_ops', what);
  const sk = sock.region.bytes;
  const skv = sock.region.dv;
  const tcp = sock.tcp;
  const skb = run.skb;
  const hooks: RegionHooks = {
    load(off, size) {
      const bad = () => refuse(`a ${size}-byte read at offset ${off}`);
      if (off < 0 || off >= SOCK_OPS_CTX_SIZE || off % size !== 0) bad();
      if (off >= F.bytes_received && off < F.skb_len) {
        if (size !== 8) bad();
        if (off === F.sk) return run.request ? 0 : Memory.addressValue(sock.region.id);
        if (off === F.skb_data) return skbData ? Memory.addressValue(skbData.id) : 0;
        if (off === F.skb_data_end) return skbData ? Memory.addressValue(skbData.id, skbData.bytes.length) : 0;
        if (!run.locked) return 0;
        return off === F.bytes_received ? tcp.bytesReceived : tcp.bytesAcked;
      }
      if (off >= F.skb_hwtstamp) {
        if (size !== 8) bad();
        return skb?.hwtstamp ?? 0;
      }
      if (off === F.skb_tcp_flags) {
        // A u16 in the kernel's skb: a 1-byte read gets its low byte.
        if (size === 8) bad();
        const flags = skb?.tcpFlags ?? 0;
        return size === 1 ? flags & 0xff : flags;
      }
      if (size !== 4) bad();
      if (off < F.family) return off === 0 ? run.op : run.words[(off - 4) >>> 2]!;
      if (off === F.family) return sock.family;
      if (off < F.remote_port) {
        // The addresses as the socket keeps them, in network order.
        const at = off === F.remote_ip4 ? SK_DST_IP4 : off === F.local_ip4 ? SK_SRC_IP4 : off < F.local_ip6 ? SK_DST_IP6 + off - F.remote_ip6 : SK_SRC_IP6 + off - F.local_ip6;
        return skv.getUint32(at, true);
      }
      switch (off) {
        case F.remote_port:
          // skc_dport (big-endian) shifted into the upper half, as the kernel's rewrite does on a little-endian host.
          return ((sk[SK_DST_PORT]! | (sk[SK_DST_PORT + 1]! << 8)) << 16) >>> 0;
        case F.local_port:
          return sock.port;
        case F.is_fullsock:
          return run.request ? 0 : 1;
        case F.state:
          return run.state;
        case F.bpf_sock_ops_cb_flags:
          return run.locked ? tcp.cbFlags : 0;
        case F.rtt_min:
          // Gated on a full socket, not on a locked tcp_sock: a timestamp callback reads it (Linux 6.18.44; 6.18.19 read past a request socket).
          return run.request ? 0 : tcp.rttMin >>> 0;
        case F.sk_txhash:
          return run.locked ? tcp.txhash >>> 0 : 0;
        case F.skb_len:
          return skb ? (skb.len ?? skb.data?.length ?? 0) : 0;
      }
      const field = TCP_U32[(off - 76) >>> 2];
      if (!field) return 0; // skb fields with no skb
      return run.locked ? (field === 'ecnFlags' ? tcp.ecnFlags & 0xff : tcp[field] >>> 0) : 0;
    },
    store(off, size, value) {
      if (size !== 4 || (off !== 4 && off !== F.sk_txhash)) refuse(`a ${size}-byte write at offset ${off}`);
      const v = Number(BigInt.asUintN(32, value));
      if (off === 4) run.words[0] = v;
      // Dropped on a request socket or in a timestamp callback (no locked tcp_sock).
      else if (run.locked) tcp.txhash = v;
    },
  };
  return memory.add('bpf_sock_ops', new Uint8Array(SOCK_OPS_CTX_SIZE), { kind: 'context', writable: true, hooks });
}
