// Programs attached to one socket with setsockopt(2), not to a hook: socket
// filters (SO_ATTACH_BPF: BPF_PROG_TYPE_SOCKET_FILTER, which decide what the
// socket receives and how much of it) and reuseport selectors
// (SO_ATTACH_REUSEPORT_EBPF: BPF_PROG_TYPE_SOCKET_FILTER or SK_REUSEPORT,
// which pick the socket of a SO_REUSEPORT group). The kernel keeps its own
// reference to the program: it stays attached until detached or until the
// socket closes, whatever happens to the program's fd.
//
// A socket is a number (an fd), an object with an `fd` (PacketSocket, Fd),
// or a Node socket: net.Socket, net.Server, dgram.Socket once bound (Node
// has no public fd accessor, so its handle is read).

import type { Socket as DgramSocket } from 'node:dgram';
import type { Server, Socket as NetSocket } from 'node:net';
import { BpfError } from '../errors.js';
import type { BpfProgram } from '../programs/program.js';
import { EBADF, EINVAL, ENOENT, ENOTSOCK, errnoName } from '../sys/errno.js';
import * as ffi from '../sys/ffi.js';
import { Fd } from '../sys/fd.js';
import { BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';

const SOL_SOCKET = 1;
const SO_DETACH_FILTER = 27; // SO_DETACH_BPF is the same option
const SO_ATTACH_BPF = 50;
const SO_ATTACH_REUSEPORT_EBPF = 52;
const SO_DETACH_REUSEPORT_BPF = 68;

/** Anything with a socket behind it. */
export type SocketTarget = number | Fd | { readonly fd: number | Fd } | NetSocket | Server | DgramSocket;

/** A program attached to a socket; `detach()` (or `using`) takes it off. */
export interface SocketAttachment {
  readonly fd: number;
  readonly program: string;
  detach(): void;
  [Symbol.dispose](): void;
}

/** The fd behind `s`; -1 when a Node socket has none (not bound yet, or closed). */
function fdOf(s: SocketTarget): number {
  if (typeof s === 'number') return s;
  if (s instanceof Fd) return s.value;
  if ('fd' in s && (typeof s.fd === 'number' || s.fd instanceof Fd)) return typeof s.fd === 'number' ? s.fd : s.fd.value;
  // net.Socket / net.Server: the libuv handle carries the fd on Unix.
  const handle = (s as { _handle?: { fd?: unknown } | null })._handle;
  if (handle && typeof handle.fd === 'number') return handle.fd;
  // dgram.Socket keeps its handle in a symbol-keyed state object.
  const state = Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol');
  const h = state && (s as unknown as Record<symbol, { handle?: { fd?: unknown } | null }>)[state]?.handle;
  if (h && typeof h.fd === 'number') return h.fd;
  return -1;
}

/**
 * The file descriptor behind a socket: what a SOCKMAP, SOCKHASH or
 * REUSEPORT_SOCKARRAY entry takes (`map.set(key, socketFd(server))`). A Node
 * socket has one once bound or listening, until it closes.
 */
export function socketFd(s: SocketTarget, what = 'socket'): number {
  const fd = fdOf(s);
  if (fd < 0) throw new BpfError('USAGE', `${what}: the socket has no file descriptor yet (or any more): use it once it is bound or listening ('listening' event), before it closes`);
  return fd;
}

function programFd(program: BpfProgram | number): { fd: number; name: string; type?: number } {
  return typeof program === 'number' ? { fd: program, name: `fd ${program}` } : { fd: program.fd.value, name: program.name, type: program.type };
}

function setOpt(fd: number, name: number, value: number | null, what: string, prog?: { name: string; type?: number }): number {
  const v = Buffer.alloc(4);
  if (value !== null) v.writeInt32LE(value, 0);
  const r = ffi.setsockopt(fd, SOL_SOCKET, name, v);
  if (r >= 0 || (value === null && -r === ENOENT)) return r;
  throw new BpfError('SYSCALL', `${what}: setsockopt failed (${errnoName(-r)})${refusal(-r, fd, name, prog)}`);
}

/** Why the kernel said no, where the errno tells. */
function refusal(e: number, fd: number, name: number, prog?: { name: string; type?: number }): string {
  if (e === ENOTSOCK || e === EBADF) return `: fd ${fd} is not a socket`;
  if (e !== EINVAL) return '';
  const type = prog?.type;
  if (name === SO_ATTACH_REUSEPORT_EBPF) {
    if (type !== undefined && type !== BPF_PROG_TYPE.SOCKET_FILTER && type !== BPF_PROG_TYPE.SK_REUSEPORT)
      return `: program ${prog!.name} is ${progTypeName(type)}; a reuseport group takes socket_filter or sk_reuseport programs`;
    return ': the socket is in no SO_REUSEPORT group (set SO_REUSEPORT before binding it)';
  }
  if (type !== undefined && type !== BPF_PROG_TYPE.SOCKET_FILTER) return `: program ${prog!.name} is ${progTypeName(type)}; a socket takes socket_filter programs`;
  return '';
}

function attach(socket: SocketTarget, program: BpfProgram | number, opt: number, undo: number, kind: string): SocketAttachment {
  const prog = programFd(program);
  const what = `attach ${prog.name} as a ${kind}`;
  const fd = socketFd(socket, what);
  setOpt(fd, opt, prog.fd, `${what} to socket fd ${fd}`, prog);
  let attached = true;
  const detach = () => {
    if (!attached) return;
    attached = false;
    // Only while the socket is still the one attached to: a closed Node socket has no fd, and its filter went with it.
    const now = fdOf(socket);
    if (now === fd) setOpt(fd, undo, null, `detach ${prog.name} from socket fd ${fd}`);
  };
  return { fd, program: prog.name, detach, [Symbol.dispose]: detach };
}

/**
 * Attach a socket filter (SO_ATTACH_BPF): for each packet the socket would
 * receive it returns how many bytes to keep, 0 to drop it. Replaces a filter
 * already there.
 */
export function attachSocketFilter(socket: SocketTarget, program: BpfProgram | number): SocketAttachment {
  return attach(socket, program, SO_ATTACH_BPF, SO_DETACH_FILTER, 'socket filter');
}

/** Take the filter off a socket (SO_DETACH_BPF); false when it had none. */
export function detachSocketFilter(socket: SocketTarget): boolean {
  const fd = socketFd(socket, 'detach the socket filter');
  return setOpt(fd, SO_DETACH_FILTER, null, `detach the filter of socket fd ${fd}`) >= 0;
}

/**
 * Attach the program that picks a socket of this socket's SO_REUSEPORT
 * group for each new connection or datagram (SO_ATTACH_REUSEPORT_EBPF).
 */
export function attachReuseportProgram(socket: SocketTarget, program: BpfProgram | number): SocketAttachment {
  return attach(socket, program, SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_REUSEPORT_BPF, 'reuseport program');
}
