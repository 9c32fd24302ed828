// Sockets in the emulator, for socket lookup (sk_lookup) programs: a socket
// is described by what the kernel would know of it (protocol, family, bound
// address and port, peer, SO_REUSEPORT, IPV6_V6ONLY, SO_MARK, SO_PRIORITY,
// its cookie), goes into a SOCKMAP or SOCKHASH as a socket fd would, and is
// what a program's bpf_map_lookup_elem of that map points to: a struct
// bpf_sock laid out as the kernel's ctx rewrite reads it. A socket lookup
// test run (bpf_prog_test_run_sk_lookup) takes its struct bpf_sk_lookup as
// ctx; bpf_sk_assign picks the socket with the kernel's checks, and the
// run hands back the chosen socket's cookie.

import { BpfError } from '../errors.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { refuseAccess, refuseTestRun, structFromCtx } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';
import { TCP_STATE, type TcpHost, TcpState, tcpSockRegion } from './tcp.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
export const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
// sk_state (tcp.ts's TCP_STATE), which UDP sockets use too.
const { ESTABLISHED: TCP_ESTABLISHED, CLOSE: TCP_CLOSE, LISTEN: TCP_LISTEN } = TCP_STATE;
/** The IPv4 address an IPv6 socket bound to (or connected to) a non-mapped address keeps in its IPv4 fields. */
const LOOPBACK4_IPV6 = [127, 0, 0, 6];
/** ::ffff:0:0/96, in front of an IPv4 address. */
const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

export const BPF_SK_LOOKUP_F_REPLACE = 1;
export const BPF_SK_LOOKUP_F_NO_REUSEPORT = 2;
const EEXIST = 17;
const EINVAL = 22;
const EPROTOTYPE = 91;
const ESOCKTNOSUPPORT = 94;
const EAFNOSUPPORT = 97;

/** A socket as the emulator knows it: what its bpf_sock shows and what bpf_sk_assign checks. */
export interface EmulatedSocketSpec {
  protocol: 'tcp' | 'udp';
  /** The local address, IPv4 dotted or IPv6 text (default 0.0.0.0, or :: for an IPv6 socket; a connected socket's is required). */
  address?: string;
  /** The bound port; 0 for a socket not bound yet (which no lookup finds and no SOCKMAP takes). */
  port: number;
  /** AF_INET or AF_INET6 (default: the address's). */
  family?: 'ipv4' | 'ipv6';
  /** A connected socket's peer: TCP established, UDP connected. Without one a bound TCP socket listens and a UDP socket is unconnected. */
  remote?: { address: string; port: number };
  /** A bound TCP socket: listening (the default), or bound only (false; TCP_CLOSE, as a post_bind program sees it). */
  listening?: boolean;
  /** A TCP connection a listener accepted (not one this side connected): an IPv6 one keeps 127.0.0.6 as its IPv4 peer too. */
  accepted?: boolean;
  /** SO_REUSEPORT: a test run refuses to pick it (EOPNOTSUPP) unless bpf_sk_assign had BPF_SK_LOOKUP_F_NO_REUSEPORT. */
  reuseport?: boolean;
  /** IPV6_V6ONLY: an IPv6 socket that takes no IPv4 lookups. */
  v6only?: boolean;
  /** SO_MARK, SO_PRIORITY, SO_BINDTODEVICE's ifindex (default 0). */
  mark?: number;
  priority?: number;
  boundDevIf?: number;
  /** SO_COOKIE (default: the emulation's next, from 1). */
  cookie?: bigint;
}

/** sizeof(struct bpf_sock), and where its fields are. */
const BPF_SOCK_SIZE = 80;
const SK = {
  bound_dev_if: 0,
  family: 4,
  type: 8,
  protocol: 12,
  mark: 16,
  priority: 20,
  src_ip4: 24,
  src_ip6: 28,
  src_port: 44,
  dst_port: 48,
  dst_ip4: 52,
  dst_ip6: 56,
  state: 72,
  rx_queue_mapping: 76,
};

export class EmulatedSocket {
  readonly cookie: bigint;
  /** AF_INET or AF_INET6. */
  readonly family: number;
  /** IPPROTO_TCP or IPPROTO_UDP. */
  readonly protocol: number;
  /** TCP_LISTEN, TCP_ESTABLISHED or TCP_CLOSE (an unconnected UDP socket, an unbound one). */
  readonly state: number;
  /** SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE (as getsockopt reads them), the BPF callback flags (SK_BPF_CB_FLAGS) and IP_TOS, which bpf_setsockopt may set. */
  readonly sockopts: { reuseaddr: boolean; reuseport: boolean; keepalive: boolean; cbFlags: number; tos: number };
  readonly v6only: boolean;
  readonly port: number;
  /** SO_REUSEPORT: in a group of sockets sharing the port. */
  get reuseport(): boolean {
    return this.sockopts.reuseport;
  }
  /** SO_BINDTODEVICE's ifindex, 0 for none (a sock_create program, or bpf_setsockopt's SO_BINDTOIFINDEX, may set it). */
  get boundDevIf(): number {
    return new DataView(this.region.bytes.buffer).getUint32(SK.bound_dev_if, true);
  }
  /** SO_MARK. */
  get mark(): number {
    return new DataView(this.region.bytes.buffer).getUint32(SK.mark, true);
  }
  /** SO_PRIORITY. */
  get priority(): number {
    return new DataView(this.region.bytes.buffer).getUint32(SK.priority, true);
  }
  /** @internal Back to the options it was made with (the emulation's default socket, for each run it stands in). */
  resetOptions(): void {
    this.setField('mark', this.#made.mark);
    this.setField('priority', this.#made.priority);
    this.setField('boundDevIf', this.#made.boundDevIf);
    Object.assign(this.sockopts, { reuseaddr: false, reuseport: this.#made.reuseport, keepalive: false, cbFlags: 0, tos: 0 });
    if (this.#tcp) Object.assign(this.#tcp, new TcpState(this.tcpHost.congestion));
  }
  #made: { mark: number; priority: number; boundDevIf: number; reuseport: boolean };
  #tcp: TcpState | undefined;
  /** @internal The host's TCP settings (HZ, congestion controls) its SOL_TCP options follow. */
  readonly tcpHost: TcpHost;
  /**
   * A TCP socket's own state (struct tcp_sock): the counters a sock_ops
   * program reads (snd_cwnd, srtt_us, …: set them as the connection has
   * them, the emulator runs no TCP), its callback flags and the SOL_TCP
   * options bpf_setsockopt sets. A UDP socket has none (USAGE error).
   */
  get tcp(): TcpState {
    if (!this.#tcp) throw new BpfError('USAGE', `emulated socket cookie ${this.cookie}: a UDP socket has no TCP state`);
    return this.#tcp;
  }
  /** @internal sk_state as a run has it (a sock_ops run's own state; else the socket's). */
  skState: number;
  /** @internal A run's sk_state, in its struct bpf_sock too. */
  setSkState(state: number): void {
    this.skState = state;
    this.region.dv.setUint32(SK.state, state, true);
  }
  /** @internal Set SO_MARK, SO_PRIORITY or SO_BINDTOIFINDEX, which the socket's struct bpf_sock holds. */
  setField(name: 'mark' | 'priority' | 'boundDevIf', value: number): void {
    new DataView(this.region.bytes.buffer).setUint32(name === 'boundDevIf' ? SK.bound_dev_if : SK[name], value >>> 0, true);
  }
  /** @internal Its struct bpf_sock, which a program's pointer to it points to. */
  readonly region: Region;
  /** @internal The addresses the kernel's lookups match: the local one an IPv4 (`local4`) or IPv6 (`local6`) lookup finds it under (null: not at all), and the peer's. */
  readonly match: { local4: Uint8Array | null; local6: Uint8Array | null; peer4: Uint8Array | null; peer6: Uint8Array | null; peerPort: number };
  #common: Region | undefined;

  /** @internal Made by EmulatedCollection.socket(). */
  constructor(
    /** @internal */ readonly memory: Memory,
    spec: EmulatedSocketSpec,
    cookie: bigint,
    tcpHost: TcpHost,
  ) {
    const what = `emulated socket ${spec.protocol} ${spec.address ?? ''}:${spec.port}`;
    checkProtocol(spec.protocol, 'emulated socket');
    const local = spec.address === undefined ? undefined : parseAddress(spec.address, what);
    const family = spec.family ?? (local && local.length === 16 ? 'ipv6' : 'ipv4');
    if (family !== 'ipv4' && family !== 'ipv6') throw new BpfError('USAGE', `${what}: family ${JSON.stringify(family)} (ipv4 or ipv6)`);
    if (family === 'ipv4' && local?.length === 16) throw new BpfError('USAGE', `${what}: an IPv6 address for an IPv4 socket`);
    if (spec.v6only && family !== 'ipv6') throw new BpfError('USAGE', `${what}: v6only is an IPv6 socket's option`);
    checkPort(spec.port, 0, what);
    if (spec.port === 0 && (spec.remote || spec.reuseport)) throw new BpfError('USAGE', `${what}: a connected or SO_REUSEPORT socket is bound to a port`);
    if (spec.accepted && !(spec.remote && spec.protocol === 'tcp')) throw new BpfError('USAGE', `${what}: accepted is a TCP connection's (give its remote)`);
    if (spec.remote && !local) throw new BpfError('USAGE', `${what}: a connected socket needs its local address (the one connect gave it)`);
    const peer = spec.remote && { addr: parseAddress(spec.remote.address, what), port: checkPort(spec.remote.port, 1, `${what} remote`) };
    if (peer && family === 'ipv4' && peer.addr.length === 16) throw new BpfError('USAGE', `${what}: an IPv6 peer for an IPv4 socket`);
    this.cookie = cookie;
    this.family = family === 'ipv6' ? AF_INET6 : AF_INET;
    this.protocol = spec.protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
    if (spec.listening !== undefined && (spec.protocol !== 'tcp' || peer || spec.port === 0)) throw new BpfError('USAGE', `${what}: listening is a bound TCP socket's option`);
    this.state = peer ? TCP_ESTABLISHED : spec.protocol === 'tcp' && spec.port > 0 && spec.listening !== false ? TCP_LISTEN : TCP_CLOSE;
    this.skState = this.state;
    this.sockopts = { reuseaddr: false, reuseport: spec.reuseport ?? false, keepalive: false, cbFlags: 0, tos: 0 };
    this.tcpHost = tcpHost;
    this.#tcp = this.protocol === IPPROTO_TCP ? new TcpState(tcpHost.congestion) : undefined;
    this.v6only = spec.v6only ?? false;
    this.port = spec.port;
    // An IPv4 socket, or an IPv6 one on ::, on a v4-mapped address or (connected) to a
    // v4-mapped peer, is in the IPv4 tables; an IPv6 socket is in the IPv6 ones.
    const any4 = new Uint8Array(4);
    const mappedPart = (a: Uint8Array): Uint8Array | null => (a.length === 4 ? a : isV4Mapped(a) ? a.subarray(12) : null);
    const own6 = local ?? new Uint8Array(16);
    this.match =
      this.family === AF_INET
        ? { local4: local ?? any4, local6: null, peer4: peer?.addr ?? null, peer6: null, peerPort: peer?.port ?? 0 }
        : {
            local4: this.v6only ? null : own6.every((x) => x === 0) ? any4 : mappedPart(own6),
            local6: own6,
            peer4: peer ? mappedPart(peer.addr) : null,
            peer6: peer?.addr ?? null,
            peerPort: peer?.port ?? 0,
          };

    const b = new Uint8Array(BPF_SOCK_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint32(SK.bound_dev_if, u32(spec.boundDevIf, 'boundDevIf', what), true);
    dv.setUint32(SK.family, this.family, true);
    dv.setUint32(SK.type, spec.protocol === 'tcp' ? SOCK_STREAM : SOCK_DGRAM, true);
    dv.setUint32(SK.protocol, this.protocol, true);
    dv.setUint32(SK.mark, u32(spec.mark, 'mark', what), true);
    dv.setUint32(SK.priority, u32(spec.priority, 'priority', what), true);
    // What the kernel keeps, as read from its sockets (test/vm/sk-lookup.test.ts): an IPv6
    // socket's IPv4 fields hold a v4-mapped address's IPv4 part, and its own address,
    // when neither mapped nor any, as 127.0.0.6; an IPv4 socket's IPv6 fields are zero
    // but for a connected TCP socket's, which hold the addresses v4-mapped.
    // An accepted IPv6 connection's IPv4 peer is 127.0.0.6 as well.
    const v4 = (a: Uint8Array | undefined, own: boolean) =>
      !a ? undefined : a.length === 4 ? a : isV4Mapped(a) ? a.subarray(12) : (own || spec.accepted) && a.some((x) => x !== 0) ? LOOPBACK4_IPV6 : undefined;
    const v6 = (a: Uint8Array | undefined) => (!a ? undefined : a.length === 16 ? a : peer && this.protocol === IPPROTO_TCP ? [...V4_MAPPED, ...a] : undefined);
    b.set(v4(local, true) ?? [], SK.src_ip4);
    b.set(v6(local) ?? [], SK.src_ip6);
    dv.setUint32(SK.src_port, spec.port, true);
    if (peer) {
      dv.setUint16(SK.dst_port, peer.port, false);
      b.set(v4(peer.addr, false) ?? [], SK.dst_ip4);
      b.set(v6(peer.addr) ?? [], SK.dst_ip6);
    }
    dv.setUint32(SK.state, this.state, true);
    dv.setInt32(SK.rx_queue_mapping, -1, true);
    this.region = memory.add(`struct bpf_sock of socket cookie ${cookie}`, b, { kind: 'memory', writable: false, hooks: bpfSockHooks(b, cookie) });
    this.#made = { mark: this.mark, priority: this.priority, boundDevIf: this.boundDevIf, reuseport: this.reuseport };
  }

  /** @internal Its struct bpf_sock as a sock_common (bpf_skc_lookup_tcp's answer): the same bytes, type to priority not readable. */
  get commonRegion(): Region {
    return (this.#common ??= this.memory.add(`struct sock_common of socket cookie ${this.cookie}`, this.region.bytes, {
      kind: 'memory',
      writable: false,
      hooks: bpfSockHooks(this.region.bytes, this.cookie, true),
    }));
  }

  #tcpSock: Region | undefined;
  /** @internal Its struct bpf_tcp_sock (a TCP socket's), which bpf_tcp_sock() points to. */
  get tcpSockRegion(): Region {
    return (this.#tcpSock ??= tcpSockRegion(this.memory, this.tcp, `struct bpf_tcp_sock of socket cookie ${this.cookie}`));
  }

  /** @internal Why a SOCKMAP/SOCKHASH refuses it (EOPNOTSUPP: the kernel takes a TCP socket listening or connected, a UDP socket bound), or undefined. */
  get sockmapRefusal(): string | undefined {
    if (this.port === 0) return `socket cookie ${this.cookie} is not bound`;
    if (this.protocol === IPPROTO_TCP && this.state === TCP_CLOSE) return `TCP socket cookie ${this.cookie} neither listens nor is connected`;
    return undefined;
  }

  /** Held in the kernel's RCU-freed lookup tables (a listener, a bound UDP socket): what bpf_sk_assign takes. */
  private get assignable(): boolean {
    return this.protocol === IPPROTO_TCP ? this.state === TCP_LISTEN : this.state === TCP_CLOSE && this.port !== 0;
  }

  /**
   * @internal bpf_sk_assign's checks of this socket for a lookup
   * (bpf_sk_lookup_assign): 0 when it may be picked, else the negative errno.
   */
  assignError(lookup: SkLookup): number {
    if (!this.assignable) return -ESOCKTNOSUPPORT;
    if (this.protocol !== lookup.protocol) return -EPROTOTYPE;
    if (this.family !== lookup.family && (this.family === AF_INET || this.v6only)) return -EAFNOSUPPORT;
    return 0;
  }
}

/** The accesses struct bpf_sock takes (bpf_sock_is_valid_access): read-only; narrow loads of the addresses anywhere, of other fields at their start. */
const NARROW_AT: ReadonlySet<number> = new Set([SK.family, SK.type, SK.protocol, SK.src_port, SK.state, SK.rx_queue_mapping]);
const inRange = (off: number, from: number, len: number) => off >= from && off < from + len;

/** bpf_sock_is_valid_access: narrow loads of the addresses anywhere, of other fields at their start; dst_port's 2 bytes or 4 at its start; the rest whole. */
function bpfSockAccess(off: number, size: number): boolean {
  if (off < 0 || off + size > BPF_SOCK_SIZE || off % size !== 0 || size > 4) return false;
  if (NARROW_AT.has(off) || inRange(off, SK.src_ip4, 4) || inRange(off, SK.src_ip6, 16) || inRange(off, SK.dst_ip4, 4) || inRange(off, SK.dst_ip6, 16)) return true;
  // dst_port: 4 bytes at its start (the padding after it reads 0), or within its two bytes; the padding alone is refused.
  if (inRange(off, SK.dst_port, 4)) return off === SK.dst_port || (off === SK.dst_port + 1 && size === 1);
  // Any other field (bound_dev_if, mark, priority): whole.
  return size === 4;
}

const readField = (bytes: Uint8Array, dv: DataView, off: number, size: number): number => (size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : bytes[off]!);

function bpfSockHooks(bytes: Uint8Array, cookie: bigint, common = false): RegionHooks {
  const dv = new DataView(bytes.buffer);
  const refuse = (what: string): never => refuseAccess(`struct bpf_sock of socket cookie ${cookie}`, what);
  return {
    load(off, size) {
      // A sock_common has no type, protocol, mark or priority (bpf_sock_common_is_valid_access).
      if (common && off >= SK.type && off < SK.priority + 4) refuse(`a ${size}-byte read at offset ${off}, which a sock_common does not have`);
      if (!bpfSockAccess(off, size)) refuse(`a ${size}-byte read at offset ${off}`);
      return readField(bytes, dv, off, size);
    },
    store: (off, size) => refuse(`a ${size}-byte write at offset ${off}`),
  };
}

/** A cgroup sock program's hook: sock_create and sock_release write bound_dev_if, mark and priority; post_bind4/6 read the bound address and port. */
export type CgroupSockHook = 'sock_create' | 'sock_release' | 'post_bind4' | 'post_bind6';

const CGROUP_SOCK_HOOKS: ReadonlyMap<number, CgroupSockHook> = new Map([
  [BPF_ATTACH_TYPE.CGROUP_INET_SOCK_CREATE, 'sock_create'],
  [BPF_ATTACH_TYPE.CGROUP_INET_SOCK_RELEASE, 'sock_release'],
  [BPF_ATTACH_TYPE.CGROUP_INET4_POST_BIND, 'post_bind4'],
  [BPF_ATTACH_TYPE.CGROUP_INET6_POST_BIND, 'post_bind6'],
]);

/** The hook of a cgroup sock program by its expected attach type, or undefined when its section names none. */
export const cgroupSockHook = (attach: number | null): CgroupSockHook | undefined => (attach === null ? undefined : CGROUP_SOCK_HOOKS.get(attach));

/**
 * The socket as a cgroup sock program's context (sock_filter_is_valid_access):
 * bpf_sock's loads, with bound_dev_if, mark and priority only for
 * sock_create/sock_release (which may write them: the socket keeps what they
 * write), src_ip4 only for post_bind4, src_ip6 only for post_bind6, src_port
 * only for post_bind.
 */
export function cgroupSockContext(memory: Memory, sock: EmulatedSocket, hook: CgroupSockHook): Region {
  const bytes = sock.region.bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const refuse = (what: string): never => refuseAccess(`struct bpf_sock (${hook})`, what);
  const create = hook === 'sock_create' || hook === 'sock_release';
  const attachOk = (off: number): boolean => {
    if (off === SK.bound_dev_if || off === SK.mark || off === SK.priority) return create;
    if (inRange(off, SK.src_ip4, 4)) return hook === 'post_bind4';
    if (inRange(off, SK.src_ip6, 16)) return hook === 'post_bind6';
    if (inRange(off, SK.src_port, 4)) return hook === 'post_bind4' || hook === 'post_bind6';
    return true;
  };
  const hooks: RegionHooks = {
    load(off, size) {
      if (!bpfSockAccess(off, size) || !attachOk(off)) refuse(`a ${size}-byte read at offset ${off}`);
      return readField(bytes, dv, off, size);
    },
    store(off, size, value) {
      if (!create || size !== 4 || (off !== SK.bound_dev_if && off !== SK.mark && off !== SK.priority)) refuse(`a ${size}-byte write at offset ${off}`);
      dv.setUint32(off, Number(BigInt.asUintN(32, value)), true);
    },
  };
  return memory.add(`struct bpf_sock (${hook}) of socket cookie ${sock.cookie}`, bytes, { kind: 'context', writable: true, hooks });
}

/** An optional u32 option (0 when absent). */
function u32(v: number | undefined, name: string, what: string): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BpfError('USAGE', `${what}: ${name} ${v} is not a u32`);
  return v;
}

/** A socket's protocol as a spec gives it: tcp or udp, else a USAGE error naming `what`. */
export function checkProtocol(protocol: string, what: string): void {
  if (protocol !== 'tcp' && protocol !== 'udp') throw new BpfError('USAGE', `${what}: protocol ${JSON.stringify(protocol)} (tcp or udp)`);
}

/** A port from `min` to 65535, else a USAGE error naming `what`. */
export function checkPort(port: number, min: number, what: string): number {
  if (!Number.isInteger(port) || port < min || port > 0xffff) throw new BpfError('USAGE', `${what}: port ${port} is not ${min}..65535`);
  return port;
}

const isV4Mapped = (a: Uint8Array): boolean => a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address from its text. */
export function parseAddress(text: string, what: string): Uint8Array {
  const bad = (): never => {
    throw new BpfError('USAGE', `${what}: ${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
  };
  const v4 = (s: string): number[] | undefined => {
    const parts = s.split('.');
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
    return parts.map(Number);
  };
  if (!text.includes(':')) return Uint8Array.from(v4(text) ?? bad());
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const q = v4(p) ?? bad();
        out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else bad();
    });
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) bad();
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** A lookup in words: the protocol, the remote end (the packet's source) and the local end (its destination). */
export interface SkLookupSpec {
  protocol: 'tcp' | 'udp';
  remote: { address: string; port: number };
  local: { address: string; port: number };
}

/** The struct bpf_sk_lookup a socket lookup test run takes (its ctx) for `spec`: both ends of one family. */
export function skLookupCtx(spec: SkLookupSpec): Buffer {
  const what = `lookup ${spec.protocol} ${spec.remote.address}:${spec.remote.port} -> ${spec.local.address}:${spec.local.port}`;
  checkProtocol(spec.protocol, what);
  const remote = parseAddress(spec.remote.address, what);
  const local = parseAddress(spec.local.address, what);
  if (remote.length !== local.length) throw new BpfError('USAGE', `${what}: one end is IPv4 and the other IPv6`);
  const b = Buffer.alloc(SK_LOOKUP_SIZE);
  b.writeUInt32LE(remote.length === 4 ? AF_INET : AF_INET6, L.family);
  b.writeUInt32LE(spec.protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, L.protocol);
  b.set(remote, remote.length === 4 ? L.remote_ip4 : L.remote_ip6);
  b.set(local, local.length === 4 ? L.local_ip4 : L.local_ip6);
  b.writeUInt16BE(checkPort(spec.remote.port, 0, what), L.remote_port);
  b.writeUInt32LE(checkPort(spec.local.port, 0, what), L.local_port);
  return b;
}

/** sizeof(struct bpf_sk_lookup), and where its fields are. */
export const SK_LOOKUP_SIZE = 72;
const L = { cookie: 0, family: 8, protocol: 12, remote_ip4: 16, remote_ip6: 20, remote_port: 36, local_ip4: 40, local_ip6: 44, local_port: 60, ingress_ifindex: 64 };

/** One socket lookup as a test run makes it from its ctx, and what the program picks. */
export interface SkLookup {
  family: number;
  protocol: number;
  /** The struct bpf_sk_lookup the program reads (its sk field read through the hook). */
  view: Uint8Array;
  /** The user's ctx, handed back with the chosen socket's cookie. */
  input: Uint8Array;
  selected: EmulatedSocket | null;
  noReuseport: boolean;
}

/**
 * The lookup a test run makes of its ctx (bpf_prog_test_run_sk_lookup): a
 * struct bpf_sk_lookup is required, its sk/cookie zero and nothing after
 * local_port set (EINVAL), local_port a u16 (ERANGE), the family (as a u16)
 * AF_INET or AF_INET6 (EAFNOSUPPORT). The program sees the family's addresses
 * (the other family's read 0), family/protocol/local_port as u16s, the
 * remote port's two bytes, and no ingress ifindex.
 */
export function skLookupFromCtx(program: string, ctx: Uint8Array | undefined, data: Uint8Array): SkLookup {
  const refuse = (why: string, errno = 'EINVAL'): never => refuseTestRun('USAGE', `program ${program}`, why, errno);
  if (data.byteLength > 0) refuse('a socket lookup test run takes no packet, only its struct bpf_sk_lookup ctx');
  if (!ctx || ctx.byteLength === 0) refuse('a socket lookup test run needs a struct bpf_sk_lookup ctx (family, protocol, addresses and ports)');
  const input = Uint8Array.from(structFromCtx(ctx!, SK_LOOKUP_SIZE, (why, errno) => refuse(why, errno)));
  const dv = new DataView(input.buffer);
  if (dv.getBigUint64(L.cookie, true) !== 0n) refuse('its sk (cookie) field is set: the run fills it in');
  if (input.subarray(L.ingress_ifindex).some((b) => b !== 0)) refuse(`bytes from offset ${L.ingress_ifindex} (ingress_ifindex) are set: a test run takes fields up to local_port`);
  const localPort = dv.getUint32(L.local_port, true);
  if (localPort > 0xffff) refuse(`local_port ${localPort} is not a port`, 'ERANGE');
  const family = dv.getUint16(L.family, true);
  if (family !== AF_INET && family !== AF_INET6) refuse(`family ${family} is neither AF_INET (2) nor AF_INET6 (10)`, 'EAFNOSUPPORT');
  const protocol = dv.getUint16(L.protocol, true);
  const view = new Uint8Array(SK_LOOKUP_SIZE);
  const out = new DataView(view.buffer);
  out.setUint32(L.family, family, true);
  out.setUint32(L.protocol, protocol, true);
  if (family === AF_INET) {
    view.set(input.subarray(L.remote_ip4, L.remote_ip4 + 4), L.remote_ip4);
    view.set(input.subarray(L.local_ip4, L.local_ip4 + 4), L.local_ip4);
  } else {
    view.set(input.subarray(L.remote_ip6, L.remote_ip6 + 16), L.remote_ip6);
    view.set(input.subarray(L.local_ip6, L.local_ip6 + 16), L.local_ip6);
  }
  view.set(input.subarray(L.remote_port, L.remote_port + 2), L.remote_port);
  out.setUint32(L.local_port, localPort, true);
  return { family, protocol, view, input, selected: null, noReuseport: false };
}

/**
 * struct bpf_sk_lookup for a run (sk_lookup_is_valid_access): read-only; sk
 * an 8-byte load of the chosen socket (NULL before one); the other fields
 * narrow loads anywhere, remote_port 4 bytes too, the two padding bytes after
 * it reading 0.
 */
export function skLookupContext(memory: Memory, lookup: SkLookup): Region {
  const dv = new DataView(lookup.view.buffer);
  const refuse = (what: string): never => refuseAccess('bpf_sk_lookup', what);
  const hooks: RegionHooks = {
    load(off, size) {
      const bad = () => refuse(`a ${size}-byte read at offset ${off}`);
      if (off < 0 || off % size !== 0 || off + size > L.ingress_ifindex + 4) bad();
      if (off < L.family) return off === 0 && size === 8 ? (lookup.selected ? Memory.addressValue(lookup.selected.region.id) : 0) : bad();
      if (size === 8) bad();
      return size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : lookup.view[off]!;
    },
    store: (off, size) => refuse(`a ${size}-byte write at offset ${off}`),
  };
  return memory.add('bpf_sk_lookup', new Uint8Array(SK_LOOKUP_SIZE), { kind: 'context', writable: false, hooks });
}

/** bpf_sk_assign in a socket lookup program (bpf_sk_lookup_assign): 0 or the negative errno. */
export function skLookupAssign(lookup: SkLookup, sk: EmulatedSocket | null, flags: bigint): number {
  if (flags & ~BigInt(BPF_SK_LOOKUP_F_REPLACE | BPF_SK_LOOKUP_F_NO_REUSEPORT)) return -EINVAL;
  const err = sk ? sk.assignError(lookup) : 0;
  if (err) return err;
  if (lookup.selected && !(flags & BigInt(BPF_SK_LOOKUP_F_REPLACE))) return -EEXIST;
  lookup.selected = sk;
  lookup.noReuseport = (flags & BigInt(BPF_SK_LOOKUP_F_NO_REUSEPORT)) !== 0n;
  return 0;
}

/** The ctx a test run hands back: the caller's, with the chosen socket's cookie in its first 8 bytes (0 without one). */
export function skLookupOut(program: string, lookup: SkLookup): Buffer {
  const out = Buffer.from(lookup.input);
  const sk = lookup.selected;
  if (sk?.reuseport && !lookup.noReuseport)
    refuseTestRun(
      'INVALID_ARGUMENT',
      `program ${program}`,
      `it chose socket cookie ${sk.cookie}, which has SO_REUSEPORT: a test run cannot pick from its group (assign with BPF_SK_LOOKUP_F_NO_REUSEPORT)`,
      'EOPNOTSUPP',
    );
  out.writeBigUInt64LE(sk?.cookie ?? 0n, L.cookie);
  return out;
}

/** A struct bpf_sock_tuple as bpf_sk_lookup_tcp/udp take it: the packet's source (the remote end) and destination (the local end). */
export interface SocketTuple {
  family: number;
  saddr: Uint8Array;
  sport: number;
  daddr: Uint8Array;
  dport: number;
}

/** The tuple of `bytes` (12 for IPv4, 36 for IPv6, ports in network order), or null for another size, as the helpers find nothing then. */
export function socketTuple(bytes: Uint8Array): SocketTuple | null {
  const n = bytes.length === 12 ? 4 : bytes.length === 36 ? 16 : 0;
  if (!n) return null;
  const port = (at: number) => (bytes[at]! << 8) | bytes[at + 1]!;
  return { family: n === 4 ? AF_INET : AF_INET6, saddr: bytes.subarray(0, n), daddr: bytes.subarray(n, 2 * n), sport: port(2 * n), dport: port(2 * n + 2) };
}

const same = (a: Uint8Array | null, b: Uint8Array): boolean => a !== null && a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The socket the kernel's lookup of `t` finds among `sockets` (newest first,
 * as its hash chains hold them), for a packet on device `dif`: a connection
 * matching all four ends first, else a TCP listener (or UDP socket) on the
 * destination address, else on the wildcard one — the best scored (a socket
 * bound to the device, an IPv4 socket for IPv4, a connected UDP socket whose
 * peer is the source). Of a SO_REUSEPORT group the first is answered: the
 * kernel picks by a hash of the tuple with a per-boot secret.
 */
export function lookupSocket(sockets: readonly EmulatedSocket[], protocol: 'tcp' | 'udp', t: SocketTuple, dif: number): EmulatedSocket | null {
  const v4 = t.family === AF_INET;
  const proto = protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  // Chain order: the newest first, but an IPv6 SO_REUSEPORT socket goes to the end.
  // Unbound sockets are in no table.
  const chain = [...sockets].reverse().filter((s) => s.protocol === proto && s.port !== 0);
  const ordered = [...chain.filter((s) => !(s.reuseport && s.family === AF_INET6)), ...chain.filter((s) => s.reuseport && s.family === AF_INET6)];
  const devOk = (s: EmulatedSocket) => s.boundDevIf === 0 || s.boundDevIf === dif;
  const local = (s: EmulatedSocket) => (v4 ? s.match.local4 : s.family === AF_INET6 ? s.match.local6 : null);
  const peer = (s: EmulatedSocket) => (v4 ? s.match.peer4 : s.family === AF_INET6 ? s.match.peer6 : null);
  if (proto === IPPROTO_TCP) {
    // Established: an IPv6 socket connected to a v4-mapped peer is in the IPv4 table only.
    const est = ordered.find(
      (s) =>
        s.state === TCP_ESTABLISHED &&
        (v4 || !isV4Mapped(s.match.peer6 ?? new Uint8Array(16))) &&
        s.port === t.dport &&
        same(local(s), t.daddr) &&
        same(peer(s), t.saddr) &&
        s.match.peerPort === t.sport &&
        devOk(s),
    );
    if (est) return est;
  }
  const score = (s: EmulatedSocket, addr: Uint8Array): number => {
    if (s.port !== t.dport || !same(local(s), addr) || !devOk(s)) return -1;
    if (proto === IPPROTO_TCP) {
      if (s.state !== TCP_LISTEN) return -1;
      return (s.boundDevIf ? 2 : 1) + (v4 && s.family === AF_INET ? 1 : 0);
    }
    let n = v4 ? (s.family === AF_INET ? 2 : 1) : 0;
    if (s.state === TCP_ESTABLISHED) {
      if (!same(peer(s), t.saddr) || s.match.peerPort !== t.sport) return -1;
      n += v4 ? 8 : 2;
    }
    return n + (s.boundDevIf ? (v4 ? 4 : 1) : 0);
  };
  for (const addr of [t.daddr, new Uint8Array(t.daddr.length)]) {
    let best: EmulatedSocket | null = null;
    let hi = -1;
    for (const s of ordered) {
      const n = score(s, addr);
      if (n > hi) [best, hi] = [s, n];
    }
    if (best) return best;
  }
  return null;
}
