// The socket inputs of bpf-ts test-run: a sk_lookup program's lookup
// (--lookup 'tcp SRC:PORT -> DST:PORT'), a cgroup sock_addr program's address
// (--addr 'tcp ADDR:PORT [from SRC]'), the emulated sockets (--socket), and
// the address a sock_addr run leaves, in words.

import { BpfError } from '../errors.js';
import { BPF_PROG_TYPE, progTypeName } from '../uapi/bpf.js';
import { type EmulatedSocketSpec, skLookupCtx } from '../vm/socket.js';
import { sockAddrCtx } from '../vm/sock-addr.js';

/** The program types whose context is a socket input, with its option, what it is, and its parser. */
const INPUTS: ReadonlyMap<number, { option: 'lookup' | 'addr'; kind: string; runsOn: string; example: string; struct: string; parse: (text: string) => Buffer }> = new Map([
  [
    BPF_PROG_TYPE.SK_LOOKUP,
    { option: 'lookup', kind: 'a sk_lookup', runsOn: 'a lookup', example: "--lookup 'tcp 192.0.2.1:40000 -> 10.0.0.2:8003'", struct: 'struct bpf_sk_lookup', parse: parseLookup },
  ],
  [
    BPF_PROG_TYPE.CGROUP_SOCK_ADDR,
    { option: 'addr', kind: 'a cgroup sock_addr', runsOn: 'the address of a call', example: "--addr 'tcp 10.0.0.1:80'", struct: 'struct bpf_sock_addr', parse: parseSockAddr },
  ],
]);

/**
 * A sk_lookup or cgroup sock_addr program's context from its option (or
 * --ctx-hex); undefined for other program types, which may not be given
 * those options. Errors name what is missing or misplaced.
 */
export function socketContext(type: number, name: string, given: { hexCtx: Buffer | undefined; lookup: string | undefined; addr: string | undefined; packet: boolean }): Buffer | undefined {
  const input = INPUTS.get(type);
  for (const [t, other] of INPUTS)
    if (t !== type && given[other.option] !== undefined)
      throw new BpfError('USAGE', `program ${name} (${progTypeName(type)}): --${other.option} is the input of ${other.kind.replace(/^an? /, '')} programs`);
  if (!input) return undefined;
  const what = `${name} is ${input.kind} program`;
  if (given.packet) throw new BpfError('USAGE', `${what}: it runs on ${input.runsOn} (${input.example}), not on a packet`);
  const text = given[input.option];
  if (text !== undefined && given.hexCtx)
    throw new BpfError('USAGE', `give the ${input.option === 'lookup' ? 'lookup' : 'address'} as --${input.option} or as --ctx-hex (a ${input.struct}), not both`);
  if (text !== undefined) return input.parse(text);
  if (given.hexCtx) return given.hexCtx;
  throw new BpfError(
    'USAGE',
    `${what}: give ${input.option === 'lookup' ? 'the lookup it runs on' : 'the address of the call it runs on'}, e.g. ${input.example} (or --ctx-hex with a ${input.struct})`,
  );
}

/** ADDR:PORT, an IPv6 address in brackets ([2001:db8::1]:443). */
function endpoint(text: string): { address: string; port: number } | undefined {
  const e = /^(?:\[([0-9a-fA-F:.]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d+)$/.exec(text);
  return e ? { address: (e[1] ?? e[2])!, port: Number(e[3]) } : undefined;
}

/** --lookup 'tcp 192.0.2.1:40000 -> 10.0.0.2:8003' ([2001:db8::1]:443 for IPv6): a struct bpf_sk_lookup. */
function parseLookup(text: string): Buffer {
  const m = /^\s*(tcp|udp)\s+(\S+)\s*->\s*(\S+)\s*$/i.exec(text);
  const remote = m && endpoint(m[2]!);
  const local = m && endpoint(m[3]!);
  if (!m || !remote || !local) throw new BpfError('USAGE', `--lookup ${JSON.stringify(text)}: write it as 'tcp|udp SRC:PORT -> DST:PORT' (IPv6 in brackets: [2001:db8::1]:443)`);
  return skLookupCtx({ protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', remote, local });
}

/** --addr 'tcp 10.0.0.1:80' ([2001:db8::1]:443 for IPv6; 'udp ADDR:PORT from SRC' for sendmsg): a struct bpf_sock_addr. */
function parseSockAddr(text: string): Buffer {
  const m = /^\s*(tcp|udp)\s+(\S+)(?:\s+from\s+(\S+))?\s*$/i.exec(text);
  const to = m && endpoint(m[2]!);
  const src = m?.[3]?.replace(/^\[(.*)\]$/, '$1');
  if (!m || !to) throw new BpfError('USAGE', `--addr ${JSON.stringify(text)}: write it as 'tcp|udp ADDR:PORT [from SRC]' (IPv6 in brackets: [2001:db8::1]:443)`);
  return sockAddrCtx({ protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', ...to, ...(src !== undefined ? { msgSrc: src } : {}) });
}

/** A struct bpf_sock_addr's address (user_ip4 or user_ip6, user_port) and msg_src in words. */
export function sockAddrText(ctx: Buffer): { address: string; msgSrc: string | null } {
  const v6 = ctx.readUInt32LE(0) === 10;
  const ip = (at: number) => (v6 ? `[${ipv6Text(ctx.subarray(at, at + 16))}]` : Array.from(ctx.subarray(at, at + 4)).join('.'));
  const src = v6 ? ctx.subarray(44, 60) : ctx.subarray(40, 44);
  return { address: `${ip(v6 ? 8 : 4)}:${ctx.readUInt16BE(24)}`, msgSrc: src.some((b) => b !== 0) ? ip(v6 ? 44 : 40).replace(/^\[|\]$/g, '') : null };
}

/** An IPv6 address as text, its longest run of zero groups (two or more) written :: (RFC 5952). */
function ipv6Text(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; i++) {
    let n = 0;
    while (i + n < 8 && groups[i + n] === '0') n++;
    if (n > best.len) best = { at: i, len: n };
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** One --socket: the socket, and the map slot that holds it (none: on the host only). */
export interface SocketOption {
  slot?: { map: string; key: number };
  spec: EmulatedSocketSpec;
  text: string;
}

/**
 * --socket '[MAP[KEY]=]tcp|udp ADDR:PORT [-> PEER:PORT] [reuseport] [v6only]': a socket of the
 * emulated host (found by bpf_sk_lookup_tcp/udp), and in a SOCKMAP/SOCKHASH slot when one is named.
 */
export function parseSocket(text: string): SocketOption {
  const m = /^\s*(?:([\w.]+)\[(\d+)\]\s*=\s*)?(tcp|udp)\s+(\S+)(?:\s*->\s*(\S+))?((?:\s+(?:reuseport|v6only))*)\s*$/i.exec(text);
  const local = m && endpoint(m[4]!);
  const remote = m?.[5] === undefined ? undefined : endpoint(m[5]);
  if (!m || !local || (m[5] !== undefined && !remote))
    throw new BpfError('USAGE', `--socket ${JSON.stringify(text)}: write it as '[MAP[KEY]=]tcp|udp ADDR:PORT [-> PEER:PORT] [reuseport] [v6only]' (IPv6 in brackets)`);
  const opts = m[6]!.toLowerCase();
  const spec: EmulatedSocketSpec = { protocol: m[3]!.toLowerCase() as 'tcp' | 'udp', ...local, ...(remote ? { remote } : {}) };
  if (opts.includes('reuseport')) spec.reuseport = true;
  if (opts.includes('v6only')) spec.v6only = true;
  const slot = m[1] === undefined ? undefined : { map: m[1], key: Number(m[2]) };
  return { ...(slot ? { slot } : {}), spec, text: `${m[3]!.toLowerCase()} ${m[4]}${remote ? ` -> ${m[5]}` : ''}${opts.replace(/\s+/g, ' ')}${slot ? `, ${slot.map}[${slot.key}]` : ''}` };
}
