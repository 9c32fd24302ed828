// cgroup sock_addr programs (cgroup/connect4, bind6, sendmsg4, recvmsg4,
// getpeername6, …) in the emulator. The kernel has no test run for them: it
// runs them inside connect(2), bind(2), sendmsg(2), recvmsg(2) and
// getpeername/getsockname(2) on a socket of the cgroup, on a struct
// bpf_sock_addr over the address the call was given (or will return), and
// uses the address the program leaves there. The emulator runs them on that
// struct as bytes (the ctx, sockAddrCtx() builds it) and hands it back
// rewritten in ctxOut; retval 1 lets the call go on, 0 fails it with EPERM.
// ctx->sk is the calling socket: an EmulatedSocket, or an unbound one of the
// ctx's family, type and protocol.

import { BpfError } from '../errors.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { refuseAccess, refuseTestRun, structFromCtx } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';
import { AF_INET, AF_INET6, checkPort, checkProtocol, parseAddress } from './socket.js';

/** sizeof(struct bpf_sock_addr), and where its fields are. */
export const SOCK_ADDR_SIZE = 72;
const F = { user_family: 0, user_ip4: 4, user_ip6: 8, user_port: 24, family: 28, type: 32, protocol: 36, msg_src_ip4: 40, msg_src_ip6: 44, sk: 64 };

const A = BPF_ATTACH_TYPE;
/** The inet hooks by attach type: IPv4 or IPv6 addresses, and whether msg_src is there (sendmsg). */
const HOOKS: ReadonlyMap<number, { v6: boolean; msgSrc: boolean; name: string }> = new Map([
  [A.CGROUP_INET4_BIND, { v6: false, msgSrc: false, name: 'bind4' }],
  [A.CGROUP_INET6_BIND, { v6: true, msgSrc: false, name: 'bind6' }],
  [A.CGROUP_INET4_CONNECT, { v6: false, msgSrc: false, name: 'connect4' }],
  [A.CGROUP_INET6_CONNECT, { v6: true, msgSrc: false, name: 'connect6' }],
  [A.CGROUP_UDP4_SENDMSG, { v6: false, msgSrc: true, name: 'sendmsg4' }],
  [A.CGROUP_UDP6_SENDMSG, { v6: true, msgSrc: true, name: 'sendmsg6' }],
  [A.CGROUP_UDP4_RECVMSG, { v6: false, msgSrc: false, name: 'recvmsg4' }],
  [A.CGROUP_UDP6_RECVMSG, { v6: true, msgSrc: false, name: 'recvmsg6' }],
  [A.CGROUP_INET4_GETPEERNAME, { v6: false, msgSrc: false, name: 'getpeername4' }],
  [A.CGROUP_INET6_GETPEERNAME, { v6: true, msgSrc: false, name: 'getpeername6' }],
  [A.CGROUP_INET4_GETSOCKNAME, { v6: false, msgSrc: false, name: 'getsockname4' }],
  [A.CGROUP_INET6_GETSOCKNAME, { v6: true, msgSrc: false, name: 'getsockname6' }],
]);

/** The hook of a sock_addr program, or a USAGE error (the unix hooks' context is a path, not emulated). */
export function sockAddrHook(program: string, attach: number | null): { v6: boolean; msgSrc: boolean; name: string } {
  const hook = attach === null ? undefined : HOOKS.get(attach);
  if (!hook) throw new BpfError('USAGE', `program ${program}: emulating this cgroup sock_addr hook is not supported (the inet ones are: cgroup/connect4, bind6, sendmsg4, recvmsg6, getpeername4, …)`);
  return hook;
}

/** An address and port in words, for sockAddrCtx(). */
export interface SockAddrSpec {
  /** The socket's: tcp (SOCK_STREAM) or udp (SOCK_DGRAM). */
  protocol: 'tcp' | 'udp';
  /** The address the call was given (connect, bind, sendmsg) or returns (recvmsg, getpeername, getsockname): IPv4 or IPv6 text. */
  address: string;
  port: number;
  /** sendmsg: the source address the message would go from (msg_src_ip4/6; default none, 0). */
  msgSrc?: string;
}

/** The struct bpf_sock_addr a call makes for `spec` (its socket's family from the address). */
export function sockAddrCtx(spec: SockAddrSpec): Buffer {
  const what = `sock_addr ${spec.protocol} ${spec.address}:${spec.port}`;
  checkProtocol(spec.protocol, what);
  checkPort(spec.port, 0, what);
  const addr = parseAddress(spec.address, what);
  const src = spec.msgSrc === undefined ? undefined : parseAddress(spec.msgSrc, what);
  if (src && src.length !== addr.length) throw new BpfError('USAGE', `${what}: msgSrc ${spec.msgSrc} is not of the address's family`);
  const b = Buffer.alloc(SOCK_ADDR_SIZE);
  const family = addr.length === 4 ? AF_INET : AF_INET6;
  b.writeUInt32LE(family, F.user_family);
  b.set(addr, family === AF_INET ? F.user_ip4 : F.user_ip6);
  b.writeUInt16BE(spec.port, F.user_port);
  b.writeUInt32LE(family, F.family);
  b.writeUInt32LE(spec.protocol === 'tcp' ? 1 : 2, F.type);
  b.writeUInt32LE(spec.protocol === 'tcp' ? 6 : 17, F.protocol);
  if (src) b.set(src, family === AF_INET ? F.msg_src_ip4 : F.msg_src_ip6);
  return b;
}

/** The socket ctx->sk is when a run gives none: family, type and protocol from the ctx. */
export interface SockAddrSocket {
  family: number;
  protocol: 'tcp' | 'udp';
}

/**
 * The ctx of a run: struct bpf_sock_addr, zero-padded; sk must be 0 (the run
 * sets it); family AF_INET/AF_INET6, type and protocol a TCP (1, 6) or UDP
 * (2, 17) socket's; the user address of the hook's family.
 */
export function sockAddrFromCtx(program: string, ctx: Uint8Array | undefined, data: Uint8Array, hook: { v6: boolean; name: string }): { bytes: Uint8Array; socket: SockAddrSocket } {
  const refuse = (why: string): never => {
    throw new BpfError('USAGE', `program ${program} (${hook.name}): ${why}`);
  };
  if (data.byteLength > 0) refuse('a sock_addr program runs on its struct bpf_sock_addr ctx alone (testRun(new Uint8Array(0), { ctx: sockAddrCtx(…) }))');
  if (!ctx || ctx.byteLength === 0) refuse('it needs a struct bpf_sock_addr ctx: the address of the call (sockAddrCtx({ protocol, address, port }))');
  const bytes = Uint8Array.from(structFromCtx(ctx!, SOCK_ADDR_SIZE, (why, errno) => refuseTestRun('USAGE', `program ${program}`, why, errno)));
  const dv = new DataView(bytes.buffer);
  if (dv.getBigUint64(F.sk, true) !== 0n) refuse('its sk field is set: the run points it to the calling socket');
  const family = dv.getUint32(F.family, true);
  if (family !== (hook.v6 ? AF_INET6 : AF_INET)) refuse(`family ${family}: a ${hook.name} hook runs for ${hook.v6 ? 'AF_INET6 (10)' : 'AF_INET (2)'} sockets`);
  const type = dv.getUint32(F.type, true);
  const protocol = dv.getUint32(F.protocol, true);
  const tcp = type === 1 && protocol === 6;
  if (!tcp && !(type === 2 && protocol === 17)) refuse(`type ${type} and protocol ${protocol}: a TCP (1, 6) or UDP (2, 17) socket's`);
  return { bytes, socket: { family, protocol: tcp ? 'tcp' : 'udp' } };
}

/**
 * struct bpf_sock_addr for a run (sock_addr_is_valid_access): the user
 * address of the hook's family and (sendmsg) msg_src read in 1-, 2- and
 * 4-byte loads, the IPv6 ones in aligned 8-byte loads too, and written whole
 * (user_port keeps its low 16 bits, the sockaddr's sin_port); user_family,
 * family, type and protocol read whole; sk an 8-byte load of the socket.
 */
export function sockAddrContext(memory: Memory, bytes: Uint8Array, hook: { v6: boolean; msgSrc: boolean; name: string }, sk: Region): Region {
  const dv = new DataView(bytes.buffer);
  const refuse = (what: string): never => refuseAccess(`bpf_sock_addr (${hook.name})`, what);
  const within = (off: number, from: number, len: number) => off >= from && off < from + len;
  // The address fields this hook has, and whether an 8-byte access at `off` is inside an IPv6 one.
  const addressField = (off: number): boolean =>
    within(off, F.user_port, 4) || (hook.v6 ? within(off, F.user_ip6, 16) : within(off, F.user_ip4, 4)) || (hook.msgSrc && (hook.v6 ? within(off, F.msg_src_ip6, 16) : within(off, F.msg_src_ip4, 4)));
  const wide = (off: number) => hook.v6 && off % 8 === 0 && ((off >= F.user_ip6 && off + 8 <= F.user_ip6 + 16) || (hook.msgSrc && off >= F.msg_src_ip6 && off + 8 <= F.msg_src_ip6 + 16));
  const hooks: RegionHooks = {
    load(off, size) {
      const bad = () => refuse(`a ${size}-byte read at offset ${off}`);
      if (off < 0 || off + size > SOCK_ADDR_SIZE || off % size !== 0) bad();
      if (off === F.sk) return size === 8 ? Memory.addressValue(sk.id) : bad();
      if (addressField(off)) {
        if (size === 8 && !wide(off)) bad();
      } else if (size !== 4 || off >= F.sk || ![F.user_family, F.family, F.type, F.protocol].includes(off)) bad();
      return size === 8 ? dv.getBigUint64(off, true) : size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : bytes[off]!;
    },
    store(off, size, value) {
      const bad = () => refuse(`a ${size}-byte write at offset ${off}`);
      if (off < 0 || off + size > SOCK_ADDR_SIZE || off % size !== 0 || !addressField(off) || !(size === 4 || (size === 8 && wide(off)))) bad();
      if (size === 8) dv.setBigUint64(off, BigInt.asUintN(64, value), true);
      // The kernel stores user_port's low 16 bits into the sockaddr's port.
      else if (off === F.user_port) dv.setUint32(off, Number(value & 0xffffn), true);
      else dv.setUint32(off, Number(BigInt.asUintN(32, value)), true);
    },
  };
  return memory.add(`bpf_sock_addr (${hook.name})`, bytes, { kind: 'context', writable: true, hooks });
}

/** The ctx a run hands back: the struct after the program, sk zero. */
export function sockAddrOut(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  out.fill(0, F.sk);
  return out;
}
