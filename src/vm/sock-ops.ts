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
import { EEXIST, EINVAL, ENOENT, ENOSPC, EOPNOTSUPP, EPERM } from './maps.js';
import { EFAULT } from './skb.js';
import { type EmulatedSocket, IPPROTO_TCP } from './socket.js';
import { TCP_SOCK_U32, TCP_STATE } from './tcp.js';

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

const MAX_TCP_OPTION_SPACE = 40;
const TCP_HDR_LEN = 20;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
/** Experimental options (RFC 6994): kind 254 (and 253) with a 2- or 4-byte magic after the length. */
const TCPOPT_EXP = 254;
const TCPOPT_EXP_2 = 253;
const ENOMSG = 42;
const BPF_LOAD_HDR_OPT_TCP_SYN = 1n;
const TCP_BPF_SYN = 1005;

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
  /**
   * HDR_OPT_LEN_CB: the option space left in the header (a multiple of 4;
   * default 40, none used); WRITE_HDR_OPT_CB: the space reserved for the
   * program's options (default 0).
   */
  remainingOptLen?: number;
  /** The connection's SYN, its TCP header from the first byte (options included), when the kernel has it (a SYN-ACK being written, a listener with TCP_SAVE_SYN): what bpf_load_hdr_opt(BPF_LOAD_HDR_OPT_TCP_SYN) searches and bpf_getsockopt(TCP_BPF_SYN) reads. */
  syn?: Uint8Array;
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
  /** HDR_OPT_LEN_CB: the option space the kernel sets aside for WRITE_HDR_OPT_CB (what bpf_reserve_hdr_opt took, rounded up to 4; 0 when the program returned 0). */
  reserved?: number;
  /** WRITE_HDR_OPT_CB: the reserved space as it goes out, the options bpf_store_hdr_opt wrote and NOPs after them (all NOPs when the program returned 0). */
  written?: Buffer;
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
  readonly syn: Uint8Array | undefined;
  /** remaining_opt_len: the option space bpf_reserve_hdr_opt and bpf_store_hdr_opt may still take. */
  remaining: number;
  /** The reserved space at the run's start (WRITE_HDR_OPT_CB). */
  readonly reservedIn: number;
  /** Where skb_data_end is in the segment's bytes: stored options move it on. */
  dataEnd: number;
  /** The segment's bytes, with room after them for the options a WRITE_HDR_OPT_CB program stores. */
  readonly segment: Uint8Array | undefined;

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
    if (sock.protocol !== IPPROTO_TCP) throw new BpfError('USAGE', `${what}: sock_ops programs run on TCP sockets; socket cookie ${sock.cookie} is UDP`);
    const defaults: Record<number, number> = {
      [BPF_SOCK_OPS.TCP_CONNECT_CB]: TCP_STATE.SYN_SENT,
      [BPF_SOCK_OPS.ACTIVE_ESTABLISHED_CB]: TCP_STATE.ESTABLISHED,
      [BPF_SOCK_OPS.PASSIVE_ESTABLISHED_CB]: TCP_STATE.SYN_RECV,
      [BPF_SOCK_OPS.TCP_LISTEN_CB]: TCP_STATE.LISTEN,
    };
    this.state = call.state ?? (this.request ? TCP_STATE.NEW_SYN_RECV : (defaults[this.op] ?? sock.state));
    if (!Number.isInteger(this.state) || this.state < 1 || this.state > 13) throw new BpfError('USAGE', `${what}: sock_ops state ${this.state} is not a TCP state (1-13)`);
    const skb = call.skb;
    if (skb) {
      if (skb.len !== undefined && (!Number.isInteger(skb.len) || skb.len < 0 || skb.len > 0xffffffff)) throw new BpfError('USAGE', `${what}: skb.len ${skb.len} is not a u32`);
      if (skb.tcpFlags !== undefined && (!Number.isInteger(skb.tcpFlags) || skb.tcpFlags < 0 || skb.tcpFlags > 0xffff))
        throw new BpfError('USAGE', `${what}: skb.tcpFlags ${skb.tcpFlags} is not a u16`);
      if (skb.hwtstamp !== undefined && (skb.hwtstamp < 0n || skb.hwtstamp >= 1n << 64n)) throw new BpfError('USAGE', `${what}: skb.hwtstamp is not a u64`);
    }
    this.skb = skb;
    const defaultRoom = this.op === BPF_SOCK_OPS.HDR_OPT_LEN_CB ? MAX_TCP_OPTION_SPACE : 0;
    const room = call.remainingOptLen ?? defaultRoom;
    if (!Number.isInteger(room) || room < 0 || room > MAX_TCP_OPTION_SPACE) throw new BpfError('USAGE', `${what}: remainingOptLen ${room} is not an option space (0 to ${MAX_TCP_OPTION_SPACE} bytes)`);
    if (call.remainingOptLen !== undefined && this.op !== BPF_SOCK_OPS.HDR_OPT_LEN_CB && this.op !== BPF_SOCK_OPS.WRITE_HDR_OPT_CB)
      throw new BpfError('USAGE', `${what}: remainingOptLen is for HDR_OPT_LEN_CB and WRITE_HDR_OPT_CB`);
    this.remaining = this.reservedIn = room;
    const data = skb?.data ?? new Uint8Array(0);
    this.dataEnd = data.length;
    this.segment = skb && new Uint8Array(data.length + (this.op === BPF_SOCK_OPS.WRITE_HDR_OPT_CB ? room : 0));
    this.segment?.set(data);
    this.syn = call.syn;
  }

  outcome(retval: number): SockOpsOutcome {
    const reply = this.words[0]! | 0;
    const out: SockOpsOutcome = { reply, replylong: [...this.words], callResult: retval === 0 ? -1 : reply };
    // bpf_skops_hdr_opt_len and bpf_skops_write_hdr_opt: what the kernel does with the space after the run.
    if (this.op === BPF_SOCK_OPS.HDR_OPT_LEN_CB) {
      const took = this.reservedIn - this.remaining;
      out.reserved = retval === 0 ? 0 : (took + 3) & ~3;
    } else if (this.op === BPF_SOCK_OPS.WRITE_HDR_OPT_CB && this.segment) {
      const start = this.dataEnd - (this.reservedIn - this.remaining);
      const area = Buffer.alloc(this.reservedIn, TCPOPT_NOP);
      if (retval !== 0) area.set(this.segment.subarray(start, this.dataEnd));
      out.written = area;
    }
    return out;
  }

  /** The options in the segment the program may search: after the fixed TCP header, up to skb_data_end. */
  options(): Uint8Array {
    return this.segment ? this.segment.subarray(Math.min(TCP_HDR_LEN, this.dataEnd), this.dataEnd) : new Uint8Array(0);
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
/** The u32 tcp_sock fields from offset 76 on, in order: struct bpf_tcp_sock's, with bpf_sock_ops_cb_flags and state before rtt_min (read apart). */
const TCP_U32 = [...TCP_SOCK_U32.slice(0, 2), null, null, null, ...TCP_SOCK_U32.slice(3)];
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
        if (off === F.skb_data_end) return skbData ? Memory.addressValue(skbData.id, run.dataEnd) : 0;
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
          // Not gated in Linux 6.18: a timestamp callback reads it, a request socket whatever lies past the
          // request sock (mostly 0, at times not): 0 here.
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

/**
 * bpf_search_tcp_opt: the first option of `kind` (with `magic` after its
 * length, when given) in `opts`: its offset, or -errno — -ENOMSG when none
 * (`eol` set when an EOL ended the search), -EFAULT for a malformed option.
 */
function searchOption(opts: Uint8Array, kind: number, magic: Uint8Array | undefined, eol: { hit: boolean }): number {
  let i = 0;
  while (i < opts.length) {
    const k = opts[i]!;
    if (k === TCPOPT_EOL) {
      eol.hit = true;
      return -ENOMSG;
    }
    if (k === TCPOPT_NOP) {
      i++;
      continue;
    }
    const left = opts.length - i;
    const len = opts[i + 1];
    if (left < 2 || len === undefined || len > left || len < 2) return -EFAULT;
    if (k === kind) {
      if (!magic) return i;
      // A magic longer than the option's data ends the search.
      if (magic.length > len - 2) return -ENOMSG;
      if (magic.every((b, j) => opts[i + 2 + j] === b)) return i;
    }
    i += len;
  }
  return -ENOMSG;
}

const isExperimental = (kind: number) => kind === TCPOPT_EXP || kind === TCPOPT_EXP_2;

/** bpf_reserve_hdr_opt: 0 or -errno. */
export function reserveHdrOpt(run: SockOpsRun, len: number, flags: bigint): number {
  if (run.op !== BPF_SOCK_OPS.HDR_OPT_LEN_CB) return -EPERM;
  if (flags !== 0n || len < 2) return -EINVAL;
  if (len > run.remaining) return -ENOSPC;
  run.remaining -= len;
  return 0;
}

/** bpf_store_hdr_opt of `from` (len its size): 0 or -errno; the option goes at skb_data_end, which moves past it. */
export function storeHdrOpt(run: SockOpsRun, from: Uint8Array, flags: bigint): number {
  if (run.op !== BPF_SOCK_OPS.WRITE_HDR_OPT_CB) return -EPERM;
  if (from.length < 2 || flags !== 0n) return -EINVAL;
  const [kind, len] = [from[0]!, from[1]!];
  if (len > from.length || kind === TCPOPT_EOL || kind === TCPOPT_NOP) return -EINVAL;
  if (len > run.remaining) return -ENOSPC;
  // An experimental option is a duplicate when its kind and first two magic bytes are.
  if (isExperimental(kind) && len < 4) return -EINVAL;
  const eol = { hit: false };
  const found = searchOption(run.options(), kind, isExperimental(kind) ? from.subarray(2, 4) : undefined, eol);
  if (found >= 0) return -EEXIST;
  if (found !== -ENOMSG) return found;
  if (eol.hit) return -ENOSPC;
  run.segment!.set(from.subarray(0, len), run.dataEnd);
  run.dataEnd += len;
  run.remaining -= len;
  return 0;
}

/** bpf_load_hdr_opt into `buf` (len its size): the option's length or -errno; `noSyn` faults when the SYN is asked for and the call has none given. */
export function loadHdrOpt(run: SockOpsRun, buf: Uint8Array, flags: bigint): number {
  if (run.op > BPF_SOCK_OPS.WRITE_HDR_OPT_CB) return -EOPNOTSUPP;
  if (buf.length < 2 || (flags & ~BPF_LOAD_HDR_OPT_TCP_SYN) !== 0n) return -EINVAL;
  const [kind, searchLen] = [buf[0]!, buf[1]!];
  if (searchLen > buf.length || kind === TCPOPT_EOL || kind === TCPOPT_NOP) return -EINVAL;
  let magic: Uint8Array | undefined;
  if (isExperimental(kind)) {
    if (searchLen !== 4 && searchLen !== 6) return -EINVAL;
    magic = buf.slice(2, searchLen);
  } else if (searchLen !== 0) return -EINVAL;
  let opts: Uint8Array;
  if (flags & BPF_LOAD_HDR_OPT_TCP_SYN) {
    if (!run.syn) return -ENOENT;
    const hdrLen = run.syn.length >= 13 ? (run.syn[12]! >> 4) * 4 : 0;
    opts = run.syn.subarray(TCP_HDR_LEN, Math.max(TCP_HDR_LEN, Math.min(hdrLen, run.syn.length)));
  } else {
    if (!run.segment || run.op === BPF_SOCK_OPS.HDR_OPT_LEN_CB) return -EPERM;
    opts = run.options();
  }
  const at = searchOption(opts, kind, magic, { hit: false });
  if (at < 0) return at;
  const len = opts[at + 1]!;
  // The whole option (kind, length, data); a short buffer takes what fits, and -ENOSPC.
  buf.set(opts.subarray(at, at + Math.min(len, buf.length)));
  return len > buf.length ? -ENOSPC : len;
}

/**
 * bpf_getsockopt(SOL_TCP, TCP_BPF_SYN…) in a sock_ops program
 * (bpf_sock_ops_get_syn): the SYN's TCP header into `buf` — its length, or
 * -ENOSPC when it does not fit (what fits copied), -ENOENT with no SYN; the
 * rest of the buffer zeroed. The SYN's IP and MAC headers are not kept.
 */
export function synHeader(run: SockOpsRun, optname: number, buf: Uint8Array, ctx: { fault(m: string): never }): number {
  buf.fill(0);
  if (!run.syn) return -ENOENT;
  if (optname !== TCP_BPF_SYN)
    ctx.fault(`bpf_getsockopt of SOL_TCP ${optname === TCP_BPF_SYN + 1 ? 'TCP_BPF_SYN_IP' : 'TCP_BPF_SYN_MAC'} (the SYN's IP and MAC headers: the call gives its TCP header alone) is not emulated`);
  const hdrLen = run.syn.length >= 13 ? Math.min((run.syn[12]! >> 4) * 4, run.syn.length) : run.syn.length;
  buf.set(run.syn.subarray(0, Math.min(hdrLen, buf.length)));
  return hdrLen > buf.length ? -ENOSPC : hdrLen;
}
