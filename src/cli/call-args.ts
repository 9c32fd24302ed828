// The inputs bpf-ts test-run --emulate gives the cgroup hooks the kernel runs
// only inside calls (it has no test run for them), and their outcomes in words:
// - --sysctl 'NAME[=VALUE]': a read or write of /proc/sys/NAME;
// - --sockopt 'LEVEL OPTNAME [VALUE] [size N] [error ERRNO]': the option by
//   name or number (SOL_SOCKET SO_MARK, 0 1), the value as an int (42), text
//   (str:cubic) or bytes (hex:2a000000): the caller's for setsockopt, the
//   kernel's answer for getsockopt (size: the caller's buffer; error: the
//   kernel's own getsockopt failed);
// - --device 'char|block MAJOR:MINOR ACCESS': an open (r, w) or mknod (m) of a device node;
// - --sock-ops 'OP [args A,B…] [request] [state S] [skb HEX] [tcp_flags N]
//   [room N] [syn HEX] [FIELD N]…': a sock_ops program's TCP event on the
//   --socket, the segment, the option space, the SYN, and the tcp_sock
//   fields it reads (snd_cwnd 10, srtt_us 800, … as struct bpf_sock_ops names them).

import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { errnoName, errnoNumber } from '../sys/errno.js';
import { cgroupDevCtx } from '../vm/device.js';
import type { SockOpsCall } from '../vm/sock-ops.js';
import type { SockoptCall, SockoptOutcome } from '../vm/sockopt.js';
import type { TcpState } from '../vm/tcp.js';
import type { SysctlAccess } from '../vm/sysctl.js';

const LEVELS: Record<string, number> = { SOL_IP: 0, SOL_SOCKET: 1, SOL_TCP: 6, SOL_UDP: 17, SOL_IPV6: 41 };
/** Option names by level (uapi socket.h, in.h, in6.h, tcp.h): the common ones. */
const OPTNAMES: Record<number, Record<string, number>> = {
  1: {
    SO_DEBUG: 1,
    SO_REUSEADDR: 2,
    SO_TYPE: 3,
    SO_ERROR: 4,
    SO_DONTROUTE: 5,
    SO_BROADCAST: 6,
    SO_SNDBUF: 7,
    SO_RCVBUF: 8,
    SO_KEEPALIVE: 9,
    SO_OOBINLINE: 10,
    SO_PRIORITY: 12,
    SO_LINGER: 13,
    SO_REUSEPORT: 15,
    SO_RCVLOWAT: 18,
    SO_BINDTODEVICE: 25,
    SO_MARK: 36,
    SO_BINDTOIFINDEX: 62,
  },
  0: { IP_TOS: 1, IP_TTL: 2, IP_HDRINCL: 3, IP_OPTIONS: 4, IP_RECVERR: 11, IP_MTU_DISCOVER: 10, IP_FREEBIND: 15, IP_TRANSPARENT: 19, IP_BIND_ADDRESS_NO_PORT: 24 },
  6: {
    TCP_NODELAY: 1,
    TCP_MAXSEG: 2,
    TCP_CORK: 3,
    TCP_KEEPIDLE: 4,
    TCP_KEEPINTVL: 5,
    TCP_KEEPCNT: 6,
    TCP_SYNCNT: 7,
    TCP_DEFER_ACCEPT: 9,
    TCP_WINDOW_CLAMP: 10,
    TCP_INFO: 11,
    TCP_QUICKACK: 12,
    TCP_CONGESTION: 13,
    TCP_USER_TIMEOUT: 18,
    TCP_NOTSENT_LOWAT: 25,
  },
  41: { IPV6_UNICAST_HOPS: 16, IPV6_V6ONLY: 26, IPV6_TCLASS: 67 },
};

const FORMAT = "write it as 'LEVEL OPTNAME [VALUE] [size N] [error ERRNO]' (SOL_SOCKET SO_MARK 42; a VALUE is an int, str:TEXT or hex:BYTES)";

/** --sockopt as the call it describes (its value the caller's for setsockopt, the kernel's answer for getsockopt). */
export function parseSockopt(text: string): SockoptCall {
  const refuse = (why: string): never => {
    throw new BpfError('USAGE', `--sockopt "${text}": ${why}`);
  };
  const words = text.trim().split(/\s+/);
  const int = (w: string | undefined, what: string): number => {
    if (w === undefined || !/^-?(0x[0-9a-f]+|\d+)$/i.test(w)) return refuse(`${what} ${w ?? '(none)'}: ${FORMAT}`);
    const n = Number(w);
    if (n < -(2 ** 31) || n >= 2 ** 32) refuse(`${what} ${w} does not fit 32 bits`);
    return n | 0;
  };
  const [l, o, ...rest] = words;
  const level = l !== undefined && l.toUpperCase() in LEVELS ? LEVELS[l.toUpperCase()]! : int(l, 'level');
  const names = OPTNAMES[level] ?? {};
  const optname = o !== undefined && o.toUpperCase() in names ? names[o.toUpperCase()]! : int(o, 'optname');
  let optval = Buffer.alloc(0);
  let optlen: number | undefined;
  let error: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === 'size') optlen = int(rest[++i], 'size');
    else if (w === 'error') {
      const e = rest[++i];
      error = e === undefined ? undefined : (errnoNumber(e.toUpperCase()) ?? (/^\d+$/.test(e) ? Number(e) : undefined));
      if (error === undefined) refuse(`error ${e ?? '(none)'}: an errno name or number (ENOPROTOOPT, 92)`);
    } else if (w.startsWith('str:')) optval = Buffer.from(w.slice(4));
    else if (w.startsWith('hex:')) {
      if (!/^([0-9a-f]{2})*$/i.test(w.slice(4))) refuse(`${w}: hex: takes whole bytes (hex:2a000000)`);
      optval = Buffer.from(w.slice(4), 'hex');
    } else {
      optval = Buffer.alloc(4);
      optval.writeInt32LE(int(w, 'value'));
    }
  }
  if (optlen !== undefined && optlen < 0) refuse(`size ${optlen}: a buffer size is 0 or more`);
  return { level, optname, optval, ...(optlen !== undefined ? { optlen } : {}), ...(error !== undefined ? { error } : {}) };
}

/** LEVEL OPTNAME by name where it has one. */
export function sockoptName(level: number, optname: number): string {
  const l = Object.entries(LEVELS).find(([, v]) => v === level)?.[0] ?? String(level);
  const o = Object.entries(OPTNAMES[level] ?? {}).find(([, v]) => v === optname)?.[0] ?? String(optname);
  return `${l} ${o}`;
}

/** What a sockopt run means for the call, in words (one or two lines). */
export function sockoptText(hook: 'setsockopt' | 'getsockopt', call: SockoptCall, callRetval: number, out: SockoptOutcome): string[] {
  const bytes = (b: Buffer) => `${b.length} byte${b.length === 1 ? '' : 's'}${b.length ? `: ${b.toString('hex')}` : ''}`;
  if (callRetval < 0) return [`the call fails: ${errnoName(-callRetval)}`];
  if (hook === 'setsockopt') {
    if (!out.optval) return [`the program answers the call: setsockopt returns ${callRetval} (the kernel's is not called)`];
    const renamed = out.level !== call.level || out.optname !== call.optname ? ` (was ${sockoptName(call.level, call.optname)})` : '';
    const given = call.optval.subarray(0, call.optlen ?? call.optval.length);
    return [`the kernel's setsockopt gets ${sockoptName(out.level, out.optname)}${renamed}, ${bytes(out.optval)}${out.optval.equals(given) ? ' (as given)' : ''}`];
  }
  const result = callRetval > 0 ? ` (getsockopt returns ${callRetval})` : '';
  if (!out.optval) return [`the caller's buffer and length are left as they were${result}`];
  const kernel = call.error === undefined && out.optval.equals(call.optval) && out.optlen === call.optval.length;
  return [`the caller gets ${bytes(out.optval)}${kernel ? " (the kernel's answer)" : ''}${result}`];
}

/**
 * --sysctl NAME[=VALUE]: a read, or a write of VALUE and a newline; the
 * current value from --sysctl-current (a newline added) or this machine's
 * /proc/sys (none when it cannot be read).
 */
export function sysctlAccess(text: string, current: string | undefined): SysctlAccess {
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim();
  if (!/^[\w./-]+$/.test(name) || name.includes('..')) throw new BpfError('USAGE', `--sysctl ${text}: write it as NAME or NAME=VALUE (net.ipv4.ip_forward=1)`);
  const path = name.includes('/') ? name.replace(/^\/proc\/sys\//, '') : name.replace(/\./g, '/');
  let value: string | null;
  if (current !== undefined) value = `${current}\n`;
  else {
    try {
      value = readFileSync(`/proc/sys/${path}`, 'latin1');
    } catch {
      value = null;
    }
  }
  return { name, value, ...(eq < 0 ? {} : { write: `${text.slice(eq + 1)}\n` }) };
}

/** --device 'char|block MAJOR:MINOR ACCESS' as a struct bpf_cgroup_dev_ctx (ACCESS: r, w, m, or a mix). */
export function deviceContext(text: string): Buffer {
  const m = /^\s*(char|block)\s+(\d+):(\d+)\s+([rwm]+)\s*$/.exec(text);
  if (!m) throw new BpfError('USAGE', `--device "${text}": write it as 'char|block MAJOR:MINOR ACCESS' (ACCESS: r, w, m or a mix: 'char 1:3 rw')`);
  const access = [...new Set(m[4]!)].map((c) => (c === 'r' ? 'read' : c === 'w' ? 'write' : 'mknod') as 'read' | 'write' | 'mknod');
  return cgroupDevCtx({ type: m[1] as 'char' | 'block', major: Number(m[2]), minor: Number(m[3]), access });
}

/** struct bpf_sock_ops's (and struct bpf_tcp_sock's) tcp_sock fields, as --sock-ops takes them, and where the emulated socket keeps them. */
const TCP_FIELDS: Record<string, keyof TcpState> = {
  snd_cwnd: 'sndCwnd',
  srtt_us: 'srttUs',
  rtt_min: 'rttMin',
  snd_ssthresh: 'sndSsthresh',
  rcv_nxt: 'rcvNxt',
  snd_nxt: 'sndNxt',
  snd_una: 'sndUna',
  mss_cache: 'mssCache',
  ecn_flags: 'ecnFlags',
  rate_delivered: 'rateDelivered',
  rate_interval_us: 'rateIntervalUs',
  packets_out: 'packetsOut',
  retrans_out: 'retransOut',
  total_retrans: 'totalRetrans',
  segs_in: 'segsIn',
  data_segs_in: 'dataSegsIn',
  segs_out: 'segsOut',
  data_segs_out: 'dataSegsOut',
  lost_out: 'lostOut',
  sacked_out: 'sackedOut',
  sk_txhash: 'txhash',
  bpf_sock_ops_cb_flags: 'cbFlags',
  bytes_received: 'bytesReceived',
  bytes_acked: 'bytesAcked',
  // struct bpf_tcp_sock's own.
  dsack_dups: 'dsackDups',
  delivered: 'delivered',
  delivered_ce: 'deliveredCe',
  icsk_retransmits: 'icskRetransmits',
};

/** --sock-ops 'OP [args A,B…] [request] [state S] [skb HEX] [tcp_flags N] [room N] [syn HEX] [FIELD N]…': the call, and the tcp_sock fields to give the socket. */
export function parseSockOps(text: string): { call: SockOpsCall; tcp: Partial<Record<keyof TcpState, number | bigint>> } {
  const usage = (why: string): never => {
    throw new BpfError(
      'USAGE',
      `--sock-ops ${JSON.stringify(text)}: ${why}; write it as 'OP [args A,B,…] [request] [state S] [skb HEX] [tcp_flags N] [room N] [syn HEX] [FIELD N]…' (OP a BPF_SOCK_OPS_* name or number, e.g. ACTIVE_ESTABLISHED_CB; FIELD a struct bpf_sock_ops tcp field, e.g. snd_cwnd 10)`,
    );
  };
  const words = text.trim().split(/\s+/);
  const op = words.shift() ?? '';
  if (!op) usage('no op');
  const num = (w: string | undefined, what: string) => {
    if (w === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(w)) return usage(`${what} ${w ?? '(missing)'} is not a number`);
    return Number(w);
  };
  const call: SockOpsCall = { op: /^\d+$/.test(op) ? Number(op) : (op as SockOpsCall['op']) };
  const tcp: Partial<Record<keyof TcpState, number | bigint>> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.toLowerCase();
    if (w === 'request') call.request = true;
    else if (w === 'args') call.args = (words[++i] ?? '').split(',').map((a) => num(a, 'arg'));
    else if (w === 'state') call.state = num(words[++i], 'state');
    else if (w === 'skb' || w === 'syn') {
      const hex = words[++i] ?? '';
      if (!/^([0-9a-f]{2})*$/i.test(hex)) usage(`${w} ${hex || '(missing)'} is not hex bytes`);
      if (w === 'syn') call.syn = Buffer.from(hex, 'hex');
      else call.skb = { ...call.skb, data: Buffer.from(hex, 'hex') };
    } else if (w === 'tcp_flags') call.skb = { ...call.skb, tcpFlags: num(words[++i], w) };
    else if (w === 'room') call.remainingOptLen = num(words[++i], w);
    else if (w in TCP_FIELDS) {
      const field = TCP_FIELDS[w]!;
      const v = words[++i];
      tcp[field] = field === 'bytesReceived' || field === 'bytesAcked' ? BigInt(num(v, w)) : num(v, w);
    } else usage(`unknown word ${JSON.stringify(words[i])}`);
  }
  return { call, tcp };
}
