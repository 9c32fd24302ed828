// A TCP socket's own state in the emulator (struct tcp_sock and its
// inet_connection_sock): the counters a sock_ops program reads from its
// context (snd_cwnd, srtt_us, …, which the emulator does not compute: no TCP
// runs here, the user or a test sets them as a connection would have them),
// the callback flags bpf_sock_ops_cb_flags_set sets, and the SOL_TCP
// options bpf_setsockopt sets and bpf_getsockopt reads, with the kernel's
// checks (do_tcp_setsockopt, bpf_sol_tcp_setsockopt in net/core/filter.c).

import { BpfError } from '../errors.js';
import { refuseAccess } from './context.js';
import type { Memory, Region, RegionHooks } from './memory.js';

const EINVAL = 22;
const ENOENT = 2;
const ENOPROTOOPT = 92;
/** The kernel-internal ENOTSUPP a bpf_setsockopt of TCP_CONGESTION "cdg" returns. */
const ENOTSUPP = 524;

export const SOL_TCP = 6;
export const TCP = {
  NODELAY: 1,
  MAXSEG: 2,
  KEEPIDLE: 4,
  KEEPINTVL: 5,
  KEEPCNT: 6,
  SYNCNT: 7,
  WINDOW_CLAMP: 10,
  CONGESTION: 13,
  THIN_LINEAR_TIMEOUTS: 16,
  USER_TIMEOUT: 18,
  NOTSENT_LOWAT: 25,
  SAVE_SYN: 27,
  SAVED_SYN: 28,
  RTO_MAX_MS: 44,
  BPF_IW: 1001,
  BPF_SNDCWND_CLAMP: 1002,
  BPF_DELACK_MAX: 1003,
  BPF_RTO_MIN: 1004,
  BPF_SYN: 1005,
  BPF_SYN_IP: 1006,
  BPF_SYN_MAC: 1007,
  BPF_SOCK_OPS_CB_FLAGS: 1008,
} as const;

/** BPF_SOCK_OPS_ALL_CB_FLAGS: RTO, RETRANS, STATE, RTT, PARSE_ALL_HDR_OPT, PARSE_UNKNOWN_HDR_OPT, WRITE_HDR_OPT. */
export const SOCK_OPS_ALL_CB_FLAGS = 0x7f;
const TCP_INFINITE_SSTHRESH = 0x7fffffff;
/** sk_state values (enum of include/net/tcp_states.h). */
export const TCP_STATE = { ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, CLOSE: 7, LISTEN: 10, NEW_SYN_RECV: 12 } as const;

/**
 * Congestion controls whose init the emulator knows (what a program can see
 * of it through its context): reno has none, cubic changes nothing a program
 * reads (initial_ssthresh is 0 by default), bbr sets snd_ssthresh to
 * TCP_INFINITE_SSTHRESH.
 */
const CC_INIT: Record<string, ((t: TcpState) => void) | undefined> = {
  reno: undefined,
  cubic: undefined,
  bbr: (t) => void (t.sndSsthresh = TCP_INFINITE_SSTHRESH),
};

/** The host-dependent settings a TCP socket's options follow (EmulateOptions). */
export interface TcpHost {
  /** CONFIG_HZ: the jiffy TCP_BPF_DELACK_MAX, TCP_BPF_RTO_MIN and TCP_RTO_MAX_MS round to. */
  hz: number;
  /** The congestion controls the kernel has registered (tcp_available_congestion_control). */
  congestionAvailable: readonly string[];
  /** A new socket's (net.ipv4.tcp_congestion_control). */
  congestion: string;
}

/**
 * A TCP socket's state: what a sock_ops program's context reads (set it as
 * the connection has it: the emulator runs no TCP), and the options
 * bpf_setsockopt changes. Numbers are u32 but bytesReceived/bytesAcked.
 * A new socket starts as tcp_init_sock leaves one.
 */
export class TcpState {
  sndCwnd = 10; // TCP_INIT_CWND
  /** Smoothed RTT in µs << 3. */
  srttUs = 0;
  /** The windowed minimum RTT in µs (~0 until the first sample). */
  rttMin = 0xffffffff;
  sndSsthresh = TCP_INFINITE_SSTHRESH;
  rcvNxt = 0;
  sndNxt = 0;
  sndUna = 0;
  mssCache = 536; // TCP_MSS_DEFAULT
  ecnFlags = 0;
  rateDelivered = 0;
  rateIntervalUs = 0;
  packetsOut = 0;
  retransOut = 0;
  totalRetrans = 0;
  segsIn = 0;
  dataSegsIn = 0;
  segsOut = 0;
  dataSegsOut = 0;
  lostOut = 0;
  sackedOut = 0;
  bytesReceived = 0n;
  bytesAcked = 0n;
  /** What struct bpf_tcp_sock shows beyond the sock_ops context: DSACK blocks received, packets delivered (and ECE-marked), unrecovered RTOs. */
  dsackDups = 0;
  delivered = 0;
  deliveredCe = 0;
  icskRetransmits = 0;
  /** sk_txhash (a sock_ops program may write it). */
  txhash = 0;
  /** The SYN carried data (tp->syn_data): TCP_BPF_IW is refused once more data segments went out than that. */
  synData = false;
  /** bpf_sock_ops_cb_flags: the BPF_SOCK_OPS_*_CB_FLAG callbacks enabled. */
  cbFlags = 0;
  // SOL_TCP options, as getsockopt reads them.
  nodelay = false;
  /** TCP_MAXSEG's user_mss (0: none). */
  userMss = 0;
  /** TCP_KEEPIDLE, TCP_KEEPINTVL in seconds; TCP_KEEPCNT, TCP_SYNCNT (the sysctls' defaults). */
  keepIdle = 7200;
  keepIntvl = 75;
  keepCnt = 9;
  synCnt = 6;
  /** TCP_USER_TIMEOUT in ms. */
  userTimeout = 0;
  notsentLowat = 0;
  thinLinearTimeouts = 0;
  saveSyn = 0;
  /** TCP_RTO_MAX_MS, as read back (a whole number of jiffies). */
  rtoMaxMs = 120_000;
  /** TCP_BPF_SNDCWND_CLAMP's snd_cwnd_clamp. */
  sndCwndClamp = 0xffffffff;
  /** TCP_BPF_DELACK_MAX and TCP_BPF_RTO_MIN in µs, as read back (a whole number of jiffies; 200 ms each by default). */
  delackMaxUs = 200_000;
  rtoMinUs = 200_000;
  /** TCP_CONGESTION's name. */
  congestion: string;

  constructor(congestion: string) {
    this.congestion = congestion;
  }
}

function int(buf: Uint8Array): number {
  return new DataView(buf.buffer, buf.byteOffset, 4).getInt32(0, true);
}

/** usecs_to_jiffies (rounded up, capped as the kernel's MAX_JIFFY_OFFSET would be far above any range checked here). */
const usecsToJiffies = (us: number, hz: number) => Math.ceil((us * hz) / 1_000_000);

/** The options that are an int in a range (do_tcp_setsockopt), kept as they are read back. */
const RANGED: Record<number, [lo: number, hi: number, field: 'keepIdle' | 'keepIntvl' | 'keepCnt' | 'synCnt' | 'userTimeout' | 'thinLinearTimeouts' | 'saveSyn']> = {
  [TCP.KEEPIDLE]: [1, 32767, 'keepIdle'],
  [TCP.KEEPINTVL]: [1, 32767, 'keepIntvl'],
  [TCP.KEEPCNT]: [1, 127, 'keepCnt'],
  [TCP.SYNCNT]: [1, 127, 'synCnt'],
  [TCP.USER_TIMEOUT]: [0, 0x7fffffff, 'userTimeout'],
  [TCP.THIN_LINEAR_TIMEOUTS]: [0, 1, 'thinLinearTimeouts'],
  [TCP.SAVE_SYN]: [0, 2, 'saveSyn'],
};

/**
 * bpf_setsockopt(SOL_TCP, …) on a TCP socket in `state`: 0 or -errno.
 * `notEmulated` faults on an option the kernel takes whose effect the
 * emulator does not model.
 */
export function tcpSetsockopt(t: TcpState, host: TcpHost, state: number, optname: number, optval: Uint8Array, notEmulated: (what: string) => never): number {
  if (optname === TCP.CONGESTION) return setCongestion(t, host, state, optval, notEmulated);
  if (optname === TCP.SAVED_SYN) return optval.length < 4 ? -EINVAL : -ENOPROTOOPT;
  if (optval.length !== 4) return -EINVAL;
  const val = int(optval);
  const ranged = RANGED[optname];
  if (ranged) {
    if (val < ranged[0] || val > ranged[1]) return -EINVAL;
    t[ranged[2]] = val;
    return 0;
  }
  switch (optname) {
    case TCP.NODELAY:
      t.nodelay = val !== 0;
      return 0;
    case TCP.MAXSEG:
      if (val !== 0 && (val < 88 || val > 32767)) return -EINVAL;
      t.userMss = val;
      return 0;
    case TCP.NOTSENT_LOWAT:
      t.notsentLowat = val >>> 0;
      return 0;
    case TCP.RTO_MAX_MS: {
      if (val < 1000 || val > 120_000) return -EINVAL;
      // Kept in jiffies (msecs_to_jiffies rounds up), read back in ms.
      const j = Math.ceil((val * host.hz) / 1000);
      t.rtoMaxMs = Math.floor((j * 1000) / host.hz);
      return 0;
    }
    case TCP.WINDOW_CLAMP:
      return notEmulated('SOL_TCP TCP_WINDOW_CLAMP (its floor depends on the kernel build: SOCK_MIN_RCVBUF)');
    // bpf_sol_tcp_setsockopt: the BPF-only options.
    case TCP.BPF_IW:
      if (val <= 0 || t.dataSegsOut > +t.synData) return -EINVAL;
      t.sndCwnd = val;
      return 0;
    case TCP.BPF_SNDCWND_CLAMP:
      if (val <= 0) return -EINVAL;
      t.sndCwndClamp = val;
      t.sndSsthresh = val;
      return 0;
    case TCP.BPF_DELACK_MAX:
    case TCP.BPF_RTO_MIN: {
      // The value in µs, as an unsigned int, to jiffies: from TCP_TIMEOUT_MIN (2 jiffies) to 200 ms (HZ/5).
      const j = usecsToJiffies(val >>> 0, host.hz);
      if (j < 2 || j > Math.floor(host.hz / 5)) return -EINVAL;
      const us = Math.floor((j * 1_000_000) / host.hz);
      if (optname === TCP.BPF_DELACK_MAX) t.delackMaxUs = us;
      else t.rtoMinUs = us;
      return 0;
    }
    case TCP.BPF_SOCK_OPS_CB_FLAGS:
      if (val & ~SOCK_OPS_ALL_CB_FLAGS) return -EINVAL;
      t.cbFlags = val;
      return 0;
    default:
      return -EINVAL;
  }
}

/** TCP_CONGESTION (sol_tcp_sockopt_congestion, tcp_set_congestion_control with no module loading). */
function setCongestion(t: TcpState, host: TcpHost, state: number, optval: Uint8Array, notEmulated: (what: string) => never): number {
  if (optval.length < 2) return -EINVAL;
  // strncmp("cdg", optval, optlen): "cdg" then a NUL or the buffer's end.
  if (optval.length >= 3 && optval[0] === 0x63 && optval[1] === 0x64 && optval[2] === 0x67 && (optval.length === 3 || optval[3] === 0)) return -ENOTSUPP;
  // The name: up to 15 bytes, to the first NUL.
  const part = optval.subarray(0, Math.min(15, optval.length));
  const nul = part.indexOf(0);
  const name = Buffer.from(nul < 0 ? part : part.subarray(0, nul)).toString('latin1');
  if (name === t.congestion) return 0;
  if (!host.congestionAvailable.includes(name)) return -ENOENT;
  if (!(name in CC_INIT)) return notEmulated(`SOL_TCP TCP_CONGESTION "${name}" (its init is not modelled: reno, cubic and bbr are)`);
  t.congestion = name;
  // tcp_reinit_congestion_control runs the new one's init unless the socket is closed or listening.
  if (state !== TCP_STATE.CLOSE && state !== TCP_STATE.LISTEN) CC_INIT[name]?.(t);
  return 0;
}

/** What bpf_getsockopt reads of the int options (do_tcp_getsockopt; the BPF-only ones from bpf_sol_tcp_getsockopt), on a socket in `state`. */
const READS: Record<number, (t: TcpState, state: number) => number> = {
  [TCP.NODELAY]: (t) => +t.nodelay,
  // user_mss before the connection (closed or listening), then the MSS in use.
  [TCP.MAXSEG]: (t, state) => (t.userMss && (state === TCP_STATE.CLOSE || state === TCP_STATE.LISTEN) ? t.userMss : t.mssCache),
  ...Object.fromEntries(Object.entries(RANGED).map(([o, [, , field]]) => [o, (t: TcpState) => t[field]])),
  [TCP.NOTSENT_LOWAT]: (t) => t.notsentLowat,
  [TCP.RTO_MAX_MS]: (t) => t.rtoMaxMs,
  [TCP.BPF_SOCK_OPS_CB_FLAGS]: (t) => t.cbFlags,
  [TCP.BPF_RTO_MIN]: (t) => t.rtoMinUs,
  [TCP.BPF_DELACK_MAX]: (t) => t.delackMaxUs,
};

/** bpf_getsockopt(SOL_TCP, …) into `buf` (optlen its size), on a socket in `state`: 0 or -errno (the caller zeroes the buffer then). */
export function tcpGetsockopt(t: TcpState, state: number, optname: number, buf: Uint8Array, notEmulated: (what: string) => never): number {
  if (optname === TCP.CONGESTION) {
    if (buf.length < 2) return -EINVAL;
    // The name, NUL-padded to 16 bytes, cut to optlen - 1: always NUL-terminated.
    const name = Buffer.alloc(16);
    name.write(t.congestion, 'latin1');
    buf.fill(0);
    buf.set(name.subarray(0, Math.min(buf.length - 1, 16)));
    return 0;
  }
  // The SYN a listener with TCP_SAVE_SYN kept for the connection: none unless the socket has save_syn (a connection inherits its listener's).
  if (optname === TCP.SAVED_SYN) return t.saveSyn ? notEmulated('SOL_TCP TCP_SAVED_SYN (the saved SYN: the emulator keeps no packets of a connection)') : -EINVAL;
  if (optname === TCP.WINDOW_CLAMP) return notEmulated('SOL_TCP TCP_WINDOW_CLAMP (the window the kernel computed for the connection)');
  const read = READS[optname];
  // Other options, TCP_BPF_IW and TCP_BPF_SNDCWND_CLAMP among them, are not read back.
  if (!read || buf.length !== 4) return -EINVAL;
  new DataView(buf.buffer, buf.byteOffset, 4).setUint32(0, read(t, state) >>> 0, true);
  return 0;
}

/** The TCP settings of an emulation, checked. */
export function tcpHost(opts: { hz?: number; tcpCongestion?: string; tcpCongestionAvailable?: readonly string[] }): TcpHost {
  const hz = opts.hz ?? 250;
  if (![100, 250, 1000].includes(hz)) throw new BpfError('USAGE', `emulate(): hz ${hz}: CONFIG_HZ 100, 250 or 1000 are emulated`);
  const congestionAvailable = opts.tcpCongestionAvailable ?? ['reno', 'cubic'];
  const congestion = opts.tcpCongestion ?? (congestionAvailable.includes('cubic') ? 'cubic' : 'reno');
  if (!congestionAvailable.includes(congestion)) throw new BpfError('USAGE', `emulate(): tcpCongestion "${congestion}" is not among tcpCongestionAvailable (${congestionAvailable.join(', ')})`);
  return { hz, congestionAvailable, congestion };
}

/** sizeof(struct bpf_tcp_sock). */
const TCP_SOCK_SIZE = 112;
/** struct bpf_tcp_sock's u32 fields in order from offset 0 (bytes_received and bytes_acked, u64s, at 80 and 88; four more from 96); struct bpf_sock_ops has them too, from offset 76. */
export const TCP_SOCK_U32 = [
  'sndCwnd',
  'srttUs',
  'rttMin',
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
const TCP_SOCK_TAIL = ['dsackDups', 'delivered', 'deliveredCe', 'icskRetransmits'] as const;

/**
 * struct bpf_tcp_sock over a socket's TcpState, as bpf_tcp_sock() hands it
 * to a program (bpf_tcp_sock_is_valid_access): 4-byte reads of the u32
 * fields, 8-byte reads of bytes_received and bytes_acked, nothing written.
 * ecn_flags and icsk_retransmits are a byte in the kernel's sockets.
 */
export function tcpSockRegion(memory: Memory, t: TcpState, name: string): Region {
  const hooks: RegionHooks = {
    load(off, size) {
      const bad = () => refuseAccess('bpf_tcp_sock', `a ${size}-byte read at offset ${off}`);
      if (off < 0 || off >= TCP_SOCK_SIZE || off % size !== 0) bad();
      if (off === 80 || off === 88) {
        if (size !== 8) bad();
        return off === 80 ? t.bytesReceived : t.bytesAcked;
      }
      if (size !== 4 || (off > 80 && off < 96)) bad();
      const field = off < 80 ? TCP_SOCK_U32[off >>> 2]! : TCP_SOCK_TAIL[(off - 96) >>> 2]!;
      return field === 'ecnFlags' || field === 'icskRetransmits' ? t[field] & 0xff : t[field] >>> 0;
    },
    store(off, size) {
      refuseAccess('bpf_tcp_sock', `a ${size}-byte write at offset ${off}`);
    },
  };
  return memory.add(name, new Uint8Array(TCP_SOCK_SIZE), { kind: 'memory', writable: false, hooks });
}
