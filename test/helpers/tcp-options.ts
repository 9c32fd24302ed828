// The socket options the sock_ops and connect4 comparisons with the kernel
// set and read through bpf_setsockopt/bpf_getsockopt: each with values the
// kernel takes and values it refuses (its range checks, from
// do_tcp_setsockopt and bpf_sol_tcp_setsockopt).
const SOL_IP = 0;
const SOL_SOCKET = 1;
const SOL_TCP = 6;

export const SET_POOL: { level: number; optname: number; values: (number | string)[] }[] = [
  { level: SOL_TCP, optname: 1, values: [0, 1, 5] }, // TCP_NODELAY
  { level: SOL_TCP, optname: 2, values: [0, 87, 88, 1400, 32767, 32768] }, // TCP_MAXSEG
  { level: SOL_TCP, optname: 4, values: [0, 1, 60, 32767, 32768] }, // TCP_KEEPIDLE
  { level: SOL_TCP, optname: 5, values: [0, 1, 75, 32768] }, // TCP_KEEPINTVL
  { level: SOL_TCP, optname: 6, values: [0, 1, 127, 128] }, // TCP_KEEPCNT
  { level: SOL_TCP, optname: 7, values: [0, 1, 127, 128] }, // TCP_SYNCNT
  { level: SOL_TCP, optname: 16, values: [0, 1, 2] }, // TCP_THIN_LINEAR_TIMEOUTS
  { level: SOL_TCP, optname: 18, values: [-1, 0, 30000] }, // TCP_USER_TIMEOUT
  { level: SOL_TCP, optname: 25, values: [0, 16384, 0xffffffff] }, // TCP_NOTSENT_LOWAT
  { level: SOL_TCP, optname: 27, values: [0, 1, 2, 3] }, // TCP_SAVE_SYN
  { level: SOL_TCP, optname: 28, values: [1] }, // TCP_SAVED_SYN: not settable
  { level: SOL_TCP, optname: 44, values: [999, 1000, 1001, 60000, 120000, 120001] }, // TCP_RTO_MAX_MS
  { level: SOL_TCP, optname: 13, values: ['reno', 'cubic\0', 'bbr', 'cdg', 'cdg\0x', 'nope', 'c'] }, // TCP_CONGESTION
  { level: SOL_TCP, optname: 1001, values: [0, 1, 10, 100, -1] }, // TCP_BPF_IW
  { level: SOL_TCP, optname: 1002, values: [0, 1, 20, 1000] }, // TCP_BPF_SNDCWND_CLAMP
  { level: SOL_TCP, optname: 1003, values: [0, 4000, 4001, 8000, 40000, 200000, 200001, -1] }, // TCP_BPF_DELACK_MAX
  { level: SOL_TCP, optname: 1004, values: [0, 4000, 4001, 8000, 40000, 200000, 200001, -1] }, // TCP_BPF_RTO_MIN
  { level: SOL_TCP, optname: 1008, values: [0, 0x7f, 0x80, 0x0c, 0x10] }, // TCP_BPF_SOCK_OPS_CB_FLAGS
  { level: SOL_TCP, optname: 1005, values: [0] }, // TCP_BPF_SYN: not settable
  { level: SOL_TCP, optname: 999, values: [0] },
  { level: SOL_SOCKET, optname: 36, values: [0, 7, 0xffffffff] }, // SO_MARK
  { level: SOL_SOCKET, optname: 12, values: [0, 6, 7] }, // SO_PRIORITY
  { level: SOL_SOCKET, optname: 9, values: [0, 1] }, // SO_KEEPALIVE
  { level: SOL_SOCKET, optname: 2, values: [0, 1] }, // SO_REUSEADDR
  { level: SOL_SOCKET, optname: 1009, values: [0, 1, 2] }, // SK_BPF_CB_FLAGS: timestamp callbacks
  { level: SOL_IP, optname: 1, values: [0, 0x10, 0xb8, 0x13] }, // IP_TOS
];
export const GET_POOL: [number, number][] = [
  ...[1, 2, 4, 5, 6, 7, 16, 18, 25, 27, 44, 13, 1001, 1003, 1004, 1008, 999].map((o): [number, number] => [SOL_TCP, o]),
  [SOL_SOCKET, 36],
  [SOL_SOCKET, 12],
  [SOL_SOCKET, 9],
  [SOL_SOCKET, 2],
  [SOL_SOCKET, 1009],
  [SOL_IP, 1],
];
