// bpf_setsockopt / bpf_getsockopt on an emulated socket, as the kernel's
// __bpf_setsockopt/__bpf_getsockopt (net/core/filter.c) do for a full
// socket: level SOL_SOCKET takes the kernel's list of options (an int each,
// but SO_BINDTODEVICE), other levels their own lists, anything else is
// -EINVAL. The emulator keeps what a socket option means to the programs
// around it — SO_MARK, SO_PRIORITY, SO_BINDTOIFINDEX (in the socket's
// struct bpf_sock), SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SK_BPF_CB_FLAGS,
// IP_TOS, and a TCP socket's SOL_TCP options (tcp.ts) — and faults on
// options the kernel takes whose effect it does not model (buffer sizes
// that depend on the host's sysctls, SOL_IPV6…), naming them.
// A program's call is privileged (the kernel skips the capability checks
// for bpf_setsockopt), so SO_MARK and any SO_PRIORITY are taken.

import { EINVAL } from './maps.js';
import { AF_INET, type EmulatedSocket, IPPROTO_TCP } from './socket.js';
import { tcpGetsockopt, tcpSetsockopt } from './tcp.js';

const SOL_SOCKET = 1;
const SOL_IP = 0;
const SOL_TCP = 6;
const SOL_IPV6 = 41;
const IP_TOS = 1;
const SO = { REUSEADDR: 2, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, PRIORITY: 12, REUSEPORT: 15, RCVLOWAT: 18, BINDTODEVICE: 25, MARK: 36, MAX_PACING_RATE: 47, BINDTOIFINDEX: 62, TXREHASH: 74 };
/** SK_BPF_CB_FLAGS (6.14+): the socket's BPF callback flags, SK_BPF_CB_TX_TIMESTAMPING (1) the only one. */
const SK_BPF_CB_FLAGS = 1009;
const SK_BPF_CB_MASK = 1;
/** sol_socket_sockopt's list: an int each (SO_BINDTODEVICE, a name, apart). */
const SOL_SOCKET_INT: ReadonlySet<number> = new Set([
  SO.REUSEADDR,
  SO.SNDBUF,
  SO.RCVBUF,
  SO.KEEPALIVE,
  SO.PRIORITY,
  SO.REUSEPORT,
  SO.RCVLOWAT,
  SO.MARK,
  SO.MAX_PACING_RATE,
  SO.BINDTOIFINDEX,
  SO.TXREHASH,
  SK_BPF_CB_FLAGS,
]);
const NAMES: Record<number, string> = Object.fromEntries(Object.entries(SO).map(([k, v]) => [v, `SO_${k}`]));

/** TC_PRIO_* by the TOS bits (ip_tos2prio): best effort, bulk, interactive, interactive bulk, each twice. */
const TOS2PRIO = [0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4];

/**
 * IP_TOS (__ip_sock_set_tos): a TCP socket keeps its ECN bits; a new value
 * also sets the socket's priority from its TOS bits (rt_tos2priority).
 */
function setTos(sock: EmulatedSocket, value: number): void {
  let val = value;
  const old = sock.sockopts.tos;
  if (sock.protocol === IPPROTO_TCP) val = (val & ~3) | (old & 3);
  if (old === val) return;
  sock.sockopts.tos = val & 0xff;
  sock.setField('priority', TOS2PRIO[(val & 0x1e) >> 1]!);
}

/** A fault naming an option the kernel takes but the emulator does not model. */
export type NotEmulated = (what: string) => never;

/** bpf_setsockopt: 0 or -errno. */
export function bpfSetsockopt(sock: EmulatedSocket, level: number, optname: number, optval: Uint8Array, notEmulated: NotEmulated): number {
  if (level === SOL_TCP) return sock.protocol !== IPPROTO_TCP ? -EINVAL : tcpSetsockopt(sock.tcp, sock.tcpHost, sock.skState, optname, optval, notEmulated);
  if (level !== SOL_SOCKET) {
    const r = otherLevel(sock, level, optname, optval.length, notEmulated);
    if (r < 0) return r;
    setTos(sock, new DataView(optval.buffer, optval.byteOffset, 4).getInt32(0, true));
    return 0;
  }
  if (optname === SO.BINDTODEVICE) return notEmulated('SOL_SOCKET SO_BINDTODEVICE (a device name: SO_BINDTOIFINDEX is emulated)');
  if (!SOL_SOCKET_INT.has(optname)) return -EINVAL;
  if (optval.length !== 4) return -EINVAL;
  const val = new DataView(optval.buffer, optval.byteOffset, 4).getInt32(0, true);
  const o = sock.sockopts;
  switch (optname) {
    case SO.REUSEADDR:
      o.reuseaddr = val !== 0;
      return 0;
    case SO.KEEPALIVE:
      o.keepalive = val !== 0;
      return 0;
    case SO.REUSEPORT:
      o.reuseport = val !== 0;
      return 0;
    case SO.MARK:
      sock.setField('mark', val >>> 0);
      return 0;
    case SO.PRIORITY:
      sock.setField('priority', val >>> 0);
      return 0;
    case SO.BINDTOIFINDEX:
      if (val < 0) return -EINVAL;
      sock.setField('boundDevIf', val);
      return 0;
    case SK_BPF_CB_FLAGS:
      if (val & ~SK_BPF_CB_MASK) return -EINVAL;
      o.cbFlags = val;
      return 0;
    default:
      return notEmulated(`SOL_SOCKET ${NAMES[optname]} (its value depends on the host's sysctls or the TCP state)`);
  }
}

/** bpf_getsockopt into `buf` (its size is optlen): 0 or -errno, the buffer zeroed on an error. */
export function bpfGetsockopt(sock: EmulatedSocket, level: number, optname: number, buf: Uint8Array, notEmulated: NotEmulated): number {
  const fail = (errno: number) => {
    buf.fill(0);
    return -errno;
  };
  if (level === SOL_TCP) {
    const r = sock.protocol !== IPPROTO_TCP ? -EINVAL : tcpGetsockopt(sock.tcp, sock.skState, optname, buf, notEmulated);
    return r < 0 ? fail(-r) : 0;
  }
  if (level !== SOL_SOCKET) {
    const r = otherLevel(sock, level, optname, buf.length, notEmulated);
    if (r < 0) return fail(-r);
    new DataView(buf.buffer, buf.byteOffset, 4).setUint32(0, sock.sockopts.tos, true);
    return 0;
  }
  // SO_BINDTODEVICE is not read through bpf_getsockopt.
  if (!SOL_SOCKET_INT.has(optname) || buf.length !== 4) return fail(EINVAL);
  const o = sock.sockopts;
  const value: number | undefined = {
    [SO.REUSEADDR]: +o.reuseaddr,
    [SO.KEEPALIVE]: +o.keepalive,
    [SO.REUSEPORT]: +o.reuseport,
    [SO.MARK]: sock.mark,
    [SO.PRIORITY]: sock.priority,
    [SO.BINDTOIFINDEX]: sock.boundDevIf,
    [SK_BPF_CB_FLAGS]: o.cbFlags,
  }[optname];
  if (value === undefined) return notEmulated(`SOL_SOCKET ${NAMES[optname]} (its value depends on the host's sysctls or the TCP state)`);
  new DataView(buf.buffer, buf.byteOffset, 4).setUint32(0, value >>> 0, true);
  return 0;
}

/**
 * Levels other than SOL_SOCKET: SOL_IP takes IP_TOS alone (an int, an IPv4
 * socket's): 0 for it, the caller then sets or reads it; SOL_IPV6 is not
 * modelled; other levels are -EINVAL (SOL_TCP is tcp.ts's).
 */
function otherLevel(sock: EmulatedSocket, level: number, optname: number, optlen: number, notEmulated: NotEmulated): number {
  if (level === SOL_IP) return sock.family !== AF_INET || optname !== IP_TOS || optlen !== 4 ? -EINVAL : 0;
  if (level === SOL_IPV6) return notEmulated(`SOL_IPV6 option ${optname}`);
  return -EINVAL;
}
