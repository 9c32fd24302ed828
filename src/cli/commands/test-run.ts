// bpf-ts test-run OBJ --program NAME --data-hex HEX: load the object, run
// one program on a frame with BPF_PROG_TEST_RUN, print the verdict.
// Nothing is pinned or attached; everything is freed on exit.
// bpf-ts test-run --asm FILE --emulate [--mem-hex HEX]: assemble a file and
// run it in the emulator (no kernel, no root).

import { readFileSync } from 'node:fs';
import { warnLoad } from '../load-warnings.js';
import { BpfObjectSpec, openObject, progTypeNumber } from '../../collection.js';
import { parseDataFile } from '../../asm/data-file.js';
import { basename } from 'node:path';
import { applyMaxEntries, MAX_ENTRIES_OPTION } from '../max-entries.js';
import { runAsm } from '../../vm/asm-run.js';
import type { TraceStep } from '../../vm/vm.js';
import { BpfError } from '../../errors.js';
import { type CommandContext, defineCommand, type OptionSpec, type OptionValues } from '../command.js';
import { hex } from '../format.js';
import { parseHex } from '../hex.js';
import { CONTEXT_ONLY } from '../../programs/program.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, progTypeName } from '../../uapi/bpf.js';
import { traceContextKind } from '../../vm/trace.js';
import { parseSocket, sockAddrText, socketContext } from '../socket-args.js';
import { deviceContext, parseSockOps, parseSockopt, sockoptText, sysctlAccess } from '../call-args.js';
import { parseSet } from '../set-arg.js';
import { type EmulatedSocket, IPPROTO_TCP } from '../../vm/socket.js';
import { TcpState } from '../../vm/tcp.js';
import { errnoName } from '../../sys/errno.js';

const testRunOptions = {
  program: { type: 'string' },
  type: { type: 'string' },
  'data-hex': { type: 'string' },
  'ctx-hex': { type: 'string' },
  lookup: { type: 'string' },
  addr: { type: 'string' },
  sysctl: { type: 'string' },
  'sysctl-current': { type: 'string' },
  sockopt: { type: 'string' },
  'sock-ops': { type: 'string' },
  device: { type: 'string' },
  socket: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  entry: { type: 'string', multiple: true },
  repeat: { type: 'string' },
  ...MAX_ENTRIES_OPTION,
  asm: { type: 'string' },
  emulate: { type: 'boolean' },
  'mem-hex': { type: 'string' },
  budget: { type: 'string' },
  trace: { type: 'boolean' },
  arg: { type: 'string', multiple: true },
  ret: { type: 'string' },
} as const satisfies OptionSpec;

type TestRunValues = OptionValues<typeof testRunOptions>;

export const testRun = defineCommand({
  name: 'test-run',
  summary: 'run a program once on a packet with BPF_PROG_TEST_RUN and print its verdict',
  usage:
    'bpf-ts test-run OBJ [--program NAME] [--type xdp|tc] --data-hex HEX [--ctx-hex HEX] [--repeat N] [--max-entries MAP=N]… [--set NAME=VALUE]… [--entry MAP:KEY=VALUE]… [--json]\n' +
    '       bpf-ts test-run OBJ [--program NAME] [--ctx-hex HEX] [--json]   (syscall, raw_tracepoint, struct_ops programs: a context alone)\n' +
    '       bpf-ts test-run OBJ [--program NAME] [--arg N]… [--json]   (raw_tracepoint programs: their arguments)\n' +
    "       bpf-ts test-run OBJ [--program NAME] --lookup 'tcp|udp SRC:PORT -> DST:PORT' [--emulate [--socket 'MAP[KEY]=tcp|udp ADDR:PORT']…] [--json]   (sk_lookup programs)\n" +
    "       bpf-ts test-run OBJ [--program NAME] --emulate --addr 'tcp|udp ADDR:PORT [from SRC]' [--json]   (cgroup sock_addr programs: connect4, bind6, sendmsg4, …)\n" +
    "       bpf-ts test-run OBJ [--program NAME] --emulate --socket 'tcp|udp ADDR:PORT' [--json]   (cgroup sock programs: sock_create, post_bind4, …)\n" +
    "       bpf-ts test-run OBJ [--program NAME] --emulate --sysctl 'NAME[=VALUE]' [--sysctl-current TEXT] [--json]   (cgroup sysctl programs)\n" +
    "       bpf-ts test-run OBJ [--program NAME] --emulate --device 'char|block MAJOR:MINOR r|w|m' [--json]   (cgroup device programs)\n" +
    "       bpf-ts test-run OBJ [--program NAME] --emulate --sockopt 'LEVEL OPTNAME [VALUE] [size N] [error ERRNO]' [--socket …] [--json]   (cgroup setsockopt/getsockopt programs)\n" +
    '       bpf-ts test-run OBJ [--program NAME] --data-hex HEX --emulate [--repeat N] [--json]\n' +
    '       bpf-ts test-run OBJ [--program NAME] --emulate [--arg N]… [--ret N] [--json]   (tracing programs)\n' +
    '       bpf-ts test-run --asm FILE --type xdp|tc|socket_filter|… --data-hex HEX [--emulate] [--repeat N] [--json]\n' +
    '       bpf-ts test-run --asm FILE --emulate [--mem-hex HEX] [--budget N] [--json]\n' +
    '  --asm FILE     assembler text (conformance-suite or verifier syntax), or a bpf_conformance .data file\n' +
    '                 (-- asm / -- raw / -- mem / -- result sections); with --type, a program of that type run on\n' +
    "                 --data-hex by the kernel (or --emulate) as an object's program would be\n" +
    '  --emulate      run in the built-in emulator instead of the kernel (no root); for --asm files without --type\n' +
    '                 r1 = memory, r2 = its length; otherwise the packet as BPF_PROG_TEST_RUN gives it, maps emulated\n' +
    "  --mem-hex HEX  the memory (replaces the file's -- mem)\n" +
    '  --budget N     instructions before giving up (default 1000000)\n' +
    '  --trace        (with --emulate) print every executed instruction, the registers it changed and its C line',
  options: testRunOptions,
  run(positionals, values, ctx) {
    // --asm FILE --type T: the assembled program as an object of one program, run like any object's.
    const asmObject = values.asm !== undefined && (values.type !== undefined || !values.emulate);
    if (asmObject) {
      if (positionals.length > 0) throw new BpfError('USAGE', `test-run --asm takes no object file (got ${positionals.join(' ')})`);
      if (values.type === undefined)
        throw new BpfError('USAGE', '--asm runs in the kernel as the program type --type names (e.g. --type xdp); add --emulate without --type for a conformance-suite file');
    } else if (values.asm !== undefined || values.emulate) return emulate(positionals, values, ctx);
    const [file, ...more] = positionals;
    if (!asmObject && (file === undefined || more.length > 0)) throw new BpfError('USAGE', 'test-run takes exactly one object file');
    const spec = asmObject ? asmSpec(values.asm!, values.type!) : openObject(file!);
    const name = asmObject && values.emulate ? '' : programName(spec, values.program);
    const type = values.type ?? (name && spec.program(name).type === null ? 'xdp' : undefined);
    const progType = type !== undefined ? progTypeNumber(type) : spec.program(name).type!;
    const args = parseArgs(values);
    const hook = CALL_HOOKS.get(progType);
    if (hook)
      throw new BpfError(
        'USAGE',
        `${name} is a ${hook.kind} program: the kernel has no test run for those (it runs them in ${hook.calls}): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)`,
      );
    callInput(values, progType, name);
    if (values.ret !== undefined) throw new BpfError('USAGE', "--ret gives an emulated run the traced function's return value: add --emulate");
    if (values.socket !== undefined) throw new BpfError('USAGE', "--socket gives the emulator's socket maps sockets: add --emulate (the kernel's take socket fds, which a test in code hands them)");
    if (args && progType !== BPF_PROG_TYPE.RAW_TRACEPOINT) {
      throw new BpfError('USAGE', `program ${name} (${progTypeName(progType)}): --arg gives a raw tracepoint's arguments (with --emulate, any tracing program's)`);
    }
    const ctxIn = args ? u64Bytes(args) : contextIn(values, progType, name);
    // The emulator runs syscall programs on a context; the other context-only types only the kernel does.
    const contextOnly = CONTEXT_ONLY.has(progType) && (!values.emulate || progType === BPF_PROG_TYPE.SYSCALL);
    if (contextOnly && (values['data-hex'] !== undefined || values.repeat !== undefined)) {
      throw new BpfError('USAGE', `${name} is a ${progTypeName(progType)} program: it runs once on its context alone (--ctx-hex HEX), without --data-hex or --repeat`);
    }
    const data = contextOnly || progType === BPF_PROG_TYPE.SK_LOOKUP ? Buffer.alloc(0) : packet(values['data-hex']);
    const repeat = positiveInt(values.repeat, '--repeat') ?? 1;
    if (asmObject && values.emulate) return emulateSpec(spec, data, values, ctx, ctxIn);
    applyMaxEntries(spec, values['max-entries']);
    applySets(spec, values.set);
    // Only this program, its maps and its tail-call targets: another program the kernel refuses
    // (or a map still to be sized) elsewhere in the object does not stop this one.
    using coll = spec.load({ programs: [name], onlyNeeded: true, registerStructOps: false, ...(type !== undefined ? { programType: progTypeNumber(type) } : {}), ignorePinning: true });
    warnLoad(ctx, coll);
    applyEntries(coll, values.entry);
    const r = coll.program(name).testRun(data, { repeat, ...(ctxIn ? { ctx: ctxIn } : {}) });
    if (ctx.json) ctx.printJson(runJson(r, progType));
    else {
      if (contextOnly) ctx.print(`${name}: retval ${r.retval} (0x${r.retval.toString(16)})`);
      else ctx.print(`${name}: ${r.verdict ?? 'retval'} (retval ${r.retval}), ${r.durationNs} ns per run${repeat > 1 ? ` over ${repeat} runs` : ''}`);
      printChanges(ctx, r, data, ctxIn, progType);
    }
    return 0;
  },
});

/** What a kernel run and an emulated run both report. */
interface RunOutcome {
  retval: number;
  verdict: string | null;
  durationNs: number;
  dataOut: Buffer;
  ctxOut?: Buffer | null;
}

/** The JSON fields both kinds of run print (a socket lookup's: the chosen socket's cookie, null for none). */
function runJson(r: RunOutcome, type: number) {
  const cookie = type === BPF_PROG_TYPE.SK_LOOKUP && r.ctxOut ? r.ctxOut.readBigUInt64LE(0) : undefined;
  return {
    retval: r.retval,
    verdict: r.verdict,
    durationNs: r.durationNs,
    dataOutHex: hex(r.dataOut),
    ...(r.ctxOut ? { ctxOutHex: hex(r.ctxOut) } : {}),
    ...(cookie !== undefined ? { socketCookie: cookie ? jsonU64(cookie) : null } : {}),
  };
}

/** The context a program runs on: --lookup (sk_lookup), --addr (cgroup sock_addr), else --ctx-hex. */
function contextIn(values: TestRunValues, type: number, name: string): Buffer | undefined {
  const hexCtx = values['ctx-hex'] === undefined ? undefined : parseHex(values['ctx-hex'], '--ctx-hex');
  return socketContext(type, name, { hexCtx, lookup: values.lookup, addr: values.addr, packet: values['data-hex'] !== undefined }) ?? hexCtx;
}

/** The lines saying what a run changed: the packet, the context. */
function printChanges(ctx: CommandContext, r: RunOutcome, data: Buffer, ctxIn: Buffer | undefined, type: number): void {
  // A socket lookup's answer is the socket it chose, by cookie (the only field the run writes back).
  if (type === BPF_PROG_TYPE.SK_LOOKUP) {
    const cookie = r.ctxOut ? r.ctxOut.readBigUInt64LE(0) : 0n;
    ctx.print(cookie ? `socket chosen: cookie ${cookie}` : 'socket chosen: none');
    return;
  }
  // A flow dissector's output is the struct bpf_flow_keys it filled.
  if (type === BPF_PROG_TYPE.FLOW_DISSECTOR) ctx.print(`flow keys: ${flowKeysText(r.dataOut)}`);
  // Netfilter's test run hands no packet back.
  else if (type !== BPF_PROG_TYPE.NETFILTER && !r.dataOut.equals(data)) ctx.print(`packet rewritten: ${hex(r.dataOut)}`);
  // The kernel hands back the whole struct: a shorter context given counts as zero-padded.
  const given = ctxIn && r.ctxOut && ctxIn.length < r.ctxOut.length ? Buffer.concat([ctxIn, Buffer.alloc(r.ctxOut.length - ctxIn.length)]) : ctxIn;
  if (r.ctxOut && given && !r.ctxOut.equals(given)) ctx.print(`context after the run: ${hex(r.ctxOut)}`);
}

/** --data-hex: the packet, at least an Ethernet header. */
function packet(dataHex: string | undefined): Buffer {
  if (typeof dataHex !== 'string') throw new BpfError('USAGE', 'test-run needs --data-hex HEX (the packet, from the Ethernet header on)');
  const data = parseHex(dataHex, '--data-hex');
  if (data.length < 14)
    throw new BpfError('USAGE', `--data-hex is ${data.length} bytes: XDP and TC programs see a packet from its Ethernet header on, so it needs at least 14 bytes (dst MAC, src MAC, ethertype)`);
  return data;
}

/** --set NAME=VALUE: globals (.data/.bss/.rodata) before the load or the emulation. */
function applySets(spec: BpfObjectSpec, sets: string[] | undefined): void {
  for (const text of sets ?? []) {
    const { name, value } = parseSet(text);
    spec.setGlobal(name, value);
  }
}

/** --entry MAP:KEY=VALUE (hex bytes each): map entries written before the run, in the kernel's maps or the emulator's. */
function applyEntries(coll: { map(name: string): { set(key: Uint8Array, value: Uint8Array): void } }, entries: string[] | undefined): void {
  for (const text of entries ?? []) {
    const m = /^([\w.]+):([0-9a-fA-F]+)=([0-9a-fA-F]+)$/.exec(text.replace(/\s+/g, ''));
    if (!m) throw new BpfError('USAGE', `--entry ${JSON.stringify(text)}: write it as MAP:KEY=VALUE, key and value in hex (e.g. services4:0a00000100500000=7f0000011f900000)`);
    coll.map(m[1]!).set(parseHex(m[2]!, `--entry ${m[1]} key`), parseHex(m[3]!, `--entry ${m[1]} value`));
  }
}

/** An option's positive integer value, or undefined when it was not given. */
function positiveInt(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BpfError('USAGE', `${option} must be a positive integer, got ${text}`);
  return n;
}

/** --program, or the object's only program. */
function programName(spec: BpfObjectSpec, wanted: string | undefined): string {
  if (wanted) return wanted;
  const [only, ...others] = spec.programs;
  if (only === undefined || others.length > 0) {
    throw new BpfError('USAGE', `${spec.path} has ${spec.programs.length} programs (${spec.programs.map((p) => p.name).join(', ')}): choose one with --program`);
  }
  return only.name;
}

/** u64 as a JSON number when it is exact, else as a decimal string. */
const jsonU64 = (v: bigint): number | string => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());

function emulate(positionals: string[], values: TestRunValues, ctx: CommandContext): number {
  const file = values.asm;
  const [obj, ...more] = positionals;
  if (typeof file !== 'string' && obj !== undefined && more.length === 0) return emulateObjectProgram(obj, values, ctx);
  if (typeof file !== 'string') throw new BpfError('USAGE', '--emulate runs an object (test-run OBJ --emulate --data-hex HEX) or an assembler file (--asm FILE)');
  if (positionals.length > 0) throw new BpfError('USAGE', `test-run --asm takes no object file (got ${positionals.join(' ')})`);
  const text = readText(file);
  const budget = positiveInt(values.budget, '--budget');
  const mem = typeof values['mem-hex'] === 'string' ? new Uint8Array(parseHex(values['mem-hex'], '--mem-hex')) : undefined;
  const r = runAsm(text, { label: file, mem, budget });
  const matches = r.expected === undefined ? undefined : r.expected === r.retval;
  if (ctx.json) {
    ctx.printJson({
      retval: jsonU64(r.retval),
      instructions: r.instructions,
      ...(r.expected !== undefined ? { expected: jsonU64(r.expected), matches } : {}),
    });
  } else {
    ctx.print(`retval ${r.retval} (0x${r.retval.toString(16)}) after ${r.instructions} instructions`);
    if (matches === false) ctx.print(`${file} expects ${r.expected} (0x${r.expected!.toString(16)})`);
  }
  return matches === false ? 1 : 0;
}

/** The program of an assembler file (--asm), as an object of one program of type `type`, named after the file. */
function asmSpec(path: string, type: string): BpfObjectSpec {
  const text = readText(path);
  const name = (
    basename(path)
      .replace(/\.[^.]*$/, '')
      .replace(/[^A-Za-z0-9_.]/g, '_') || 'asm'
  ).slice(0, 15);
  return BpfObjectSpec.fromInstructions(parseDataFile(text, path).bytes, { type: progTypeNumber(type), name, label: path });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new BpfError('IO', `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Program types the kernel runs only inside calls, having no test run for them: which calls, and the option giving the emulator one. */
const CALL_HOOKS: ReadonlyMap<number, { kind: string; calls: string; input?: { option: 'sysctl' | 'sockopt' | 'device' | 'sock-ops'; runsOn: string; example: string } }> = new Map([
  [BPF_PROG_TYPE.CGROUP_SOCK, { kind: 'cgroup sock', calls: 'socket() and bind()' }],
  [BPF_PROG_TYPE.CGROUP_SOCK_ADDR, { kind: 'cgroup sock_addr', calls: 'connect, bind, sendmsg…' }],
  [
    BPF_PROG_TYPE.CGROUP_DEVICE,
    {
      kind: 'cgroup device',
      calls: 'open and mknod of device nodes',
      input: { option: 'device', runsOn: 'device access', example: "--device 'char 1:3 rw' (r, w: an open; m: mknod)" },
    },
  ],
  [
    BPF_PROG_TYPE.CGROUP_SYSCTL,
    {
      kind: 'cgroup sysctl',
      calls: 'reads and writes of /proc/sys',
      input: { option: 'sysctl', runsOn: 'read or write of a sysctl', example: '--sysctl net.ipv4.ip_forward (a read) or --sysctl net.ipv4.ip_forward=1 (a write)' },
    },
  ],
  [
    BPF_PROG_TYPE.CGROUP_SOCKOPT,
    {
      kind: 'cgroup sockopt',
      calls: 'setsockopt and getsockopt',
      input: { option: 'sockopt', runsOn: 'setsockopt or getsockopt call', example: "--sockopt 'SOL_SOCKET SO_MARK 42' (setsockopt: the caller's value; getsockopt: the kernel's answer)" },
    },
  ],
  [
    BPF_PROG_TYPE.SOCK_OPS,
    {
      kind: 'sock_ops',
      calls: "a TCP connection's events",
      input: { option: 'sock-ops', runsOn: 'TCP event', example: "--sock-ops ACTIVE_ESTABLISHED_CB --socket 'tcp 10.0.0.1:40000 -> 10.0.0.2:80'" },
    },
  ],
]);

/**
 * The call input a program of `type` takes (--sysctl, --sockopt, --device), and
 * whether it was given; undefined for other types, which may be given none
 * of them (a USAGE error names whose input it is).
 */
function callInput(values: TestRunValues, type: number, name: string): { kind: string; option: string; runsOn: string; example: string; given: boolean } | undefined {
  const given = {
    sysctl: values.sysctl !== undefined || values['sysctl-current'] !== undefined,
    sockopt: values.sockopt !== undefined,
    device: values.device !== undefined,
    'sock-ops': values['sock-ops'] !== undefined,
  };
  const hook = CALL_HOOKS.get(type);
  for (const other of CALL_HOOKS.values())
    if (other.input && other !== hook && given[other.input.option]) throw new BpfError('USAGE', `program ${name} (${progTypeName(type)}): --${other.input.option} is a ${other.kind} program's input`);
  return hook?.input ? { kind: hook.kind, ...hook.input, given: given[hook.input.option] } : undefined;
}

/** test-run OBJ --emulate: the same run and JSON as with the kernel, in the emulator. */
function emulateObjectProgram(path: string, values: TestRunValues, ctx: CommandContext): number {
  const spec = openObject(path);
  // Syscall and tracing programs run on their context alone (--ctx-hex, --arg), as in the kernel.
  const p = spec.program(programName(spec, values.program));
  const type = p.type ?? BPF_PROG_TYPE.XDP;
  const tracing = traceContextKind(type, p.expectedAttachType) !== undefined;
  const ctxIn = contextIn(values, type, p.name);
  const input = callInput(values, type, p.name);
  if (input) {
    if (!input.given) throw new BpfError('USAGE', `${p.name} is a ${input.kind} program: give the ${input.runsOn} it runs on, e.g. ${input.example}`);
    if (values['data-hex'] !== undefined || ctxIn) throw new BpfError('USAGE', `${p.name} is a ${input.kind} program: it runs on a ${input.runsOn} (--${input.option}), not on a packet or a context`);
    if (type === BPF_PROG_TYPE.SOCK_OPS && values.socket?.length !== 1)
      throw new BpfError('USAGE', `${p.name} is a sock_ops program: it runs on one TCP socket, --socket 'tcp ADDR:PORT -> PEER:PORT' (a connection) or 'tcp ADDR:PORT' (a listener)`);
    return emulateSpec(spec, Buffer.alloc(0), values, ctx, values.device === undefined ? undefined : deviceContext(values.device));
  }
  if (type === BPF_PROG_TYPE.SK_LOOKUP || type === BPF_PROG_TYPE.CGROUP_SOCK_ADDR || type === BPF_PROG_TYPE.CGROUP_SOCK) {
    if (type === BPF_PROG_TYPE.CGROUP_SOCK && (values['data-hex'] !== undefined || values.socket?.length !== 1))
      throw new BpfError('USAGE', `${p.name} is a cgroup sock program: it runs on one socket, --socket 'tcp|udp ADDR:PORT' (port 0: not bound yet, as sock_create sees it), not on a packet`);
    return emulateSpec(spec, Buffer.alloc(0), values, ctx, ctxIn);
  }
  if ((type === BPF_PROG_TYPE.SYSCALL || tracing) && values['data-hex'] !== undefined) {
    throw new BpfError('USAGE', `${p.name} is a ${progTypeName(type)} program: it runs on its ${tracing ? 'arguments (--arg N…)' : 'context (--ctx-hex HEX)'} alone, without --data-hex`);
  }
  if (!tracing && (values.arg !== undefined || values.ret !== undefined)) throw new BpfError('USAGE', `program ${p.name} (${progTypeName(type)}): --arg and --ret are for tracing programs`);
  return emulateSpec(spec, type === BPF_PROG_TYPE.SYSCALL || tracing ? Buffer.alloc(0) : packet(values['data-hex']), values, ctx, ctxIn);
}

/** A socket's options as bpf_setsockopt sets them. */
function socketOptions(sock: EmulatedSocket): Record<string, number | string> {
  const o = sock.sockopts;
  const own = { mark: sock.mark, priority: sock.priority, boundDevIf: sock.boundDevIf, reuseaddr: +o.reuseaddr, reuseport: +o.reuseport, keepalive: +o.keepalive, tos: o.tos, cbFlags: o.cbFlags };
  return sock.protocol === IPPROTO_TCP ? { ...own, ...tcpOptions(sock.tcp) } : own;
}

/** A TCP socket's SOL_TCP options and the tcp_sock fields a program may set (the sock_ops callback flags as sockOpsCbFlags). */
function tcpOptions(t: TcpState): Record<string, number | string> {
  return {
    sockOpsCbFlags: t.cbFlags,
    sndCwnd: t.sndCwnd,
    sndSsthresh: t.sndSsthresh,
    sndCwndClamp: t.sndCwndClamp,
    txhash: t.txhash,
    congestion: t.congestion,
    nodelay: +t.nodelay,
    userMss: t.userMss,
    keepIdle: t.keepIdle,
    keepIntvl: t.keepIntvl,
    keepCnt: t.keepCnt,
    synCnt: t.synCnt,
    userTimeout: t.userTimeout,
    notsentLowat: t.notsentLowat,
    thinLinearTimeouts: t.thinLinearTimeouts,
    saveSyn: t.saveSyn,
    rtoMaxMs: t.rtoMaxMs,
    delackMaxUs: t.delackMaxUs,
    rtoMinUs: t.rtoMinUs,
  };
}

/**
 * The options of a sock_addr, sockopt or sock_ops program's socket that the
 * run changed (bpf_setsockopt, the sock_ops helpers), or undefined; `before`
 * undefined: a run's default socket, which starts as a new one.
 */
function socketChanges(sock: EmulatedSocket | null | undefined, type: number | null, before: Record<string, number | string> | undefined): Record<string, number | string> | undefined {
  if (!sock || (type !== BPF_PROG_TYPE.CGROUP_SOCK_ADDR && type !== BPF_PROG_TYPE.CGROUP_SOCKOPT && type !== BPF_PROG_TYPE.SOCK_OPS)) return undefined;
  const fresh = sock.protocol === IPPROTO_TCP ? tcpOptions(new TcpState(sock.tcpHost.congestion)) : {};
  const set = Object.fromEntries(Object.entries(socketOptions(sock)).filter(([k, v]) => v !== (before?.[k] ?? fresh[k] ?? 0)));
  return Object.keys(set).length ? set : undefined;
}

/** struct bpf_flow_keys in words: offsets, protocols, fragment bits, addresses and ports. */
function flowKeysText(k: Buffer): string {
  if (k.length < 56) return hex(k);
  const v6 = k.readUInt16LE(4) === 0x86dd;
  const addr = (at: number) => (v6 ? Array.from({ length: 8 }, (_, i) => k.readUInt16BE(at + 2 * i).toString(16)).join(':') : Array.from(k.subarray(at, at + 4)).join('.'));
  const bits = [k[6] ? 'frag' : '', k[7] ? 'first_frag' : '', k[8] ? 'encap' : ''].filter(Boolean);
  return (
    `nhoff ${k.readUInt16LE(0)} thoff ${k.readUInt16LE(2)} n_proto 0x${k.readUInt16BE(10).toString(16).padStart(4, '0')} ip_proto ${k[9]}` +
    (k.readUInt16LE(4) ? ` ${addr(16)} -> ${addr(v6 ? 32 : 20)}` : '') +
    (k.readUInt16BE(12) || k.readUInt16BE(14) ? ` ports ${k.readUInt16BE(12)} -> ${k.readUInt16BE(14)}` : '') +
    (bits.length ? ` ${bits.join(' ')}` : '') +
    (k.readUInt32BE(52) ? ` flow_label 0x${k.readUInt32BE(52).toString(16)}` : '') +
    (k.readUInt32LE(48) ? ` flags 0x${k.readUInt32LE(48).toString(16)}` : '')
  );
}

/** --arg values as u64s: decimal, negative, or 0x hex. */
function parseArgs(values: TestRunValues): bigint[] | undefined {
  if (values.arg === undefined) return undefined;
  if (values['ctx-hex'] !== undefined) throw new BpfError('USAGE', 'give the arguments as --arg or as --ctx-hex, not both');
  return values.arg.map((a) => parseU64(a, '--arg'));
}

function parseU64(text: string, flag: string): bigint {
  const m = /^(-?)(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  const v = m ? (m[1] ? -1n : 1n) * BigInt(m[2]!) : undefined;
  if (v === undefined || v < -(1n << 63n) || v >= 1n << 64n) throw new BpfError('USAGE', `${flag} ${text}: not a 64-bit integer (decimal, -1, or 0x hex)`);
  return BigInt.asUintN(64, v);
}

const u64Bytes = (args: bigint[]): Buffer => Buffer.concat(args.map((a) => Buffer.from(new BigUint64Array([a]).buffer)));

function emulateSpec(spec: BpfObjectSpec, data: Buffer, values: TestRunValues, ctx: CommandContext, ctxGiven?: Buffer): number {
  const repeat = positiveInt(values.repeat, '--repeat') ?? 1;
  const budget = positiveInt(values.budget, '--budget');
  const name = programName(spec, values.program);
  spec.program(name);
  const trace: string[] = [];
  const traced: { insn: number; text: string; changed: Record<string, string>; source?: string }[] = [];
  const onStep = (t: TraceStep) => {
    const regs = t.changed.map(([r, v]) => `r${r} = 0x${v.toString(16)}`).join(', ');
    const src = t.source ? `${t.source.fileName}:${t.source.line}` : undefined;
    if (ctx.json) traced.push({ insn: t.slot, text: t.text, changed: Object.fromEntries(t.changed.map(([r, v]) => [`r${r}`, `0x${v.toString(16)}`])), ...(src ? { source: src } : {}) });
    else trace.push(`${String(t.slot).padStart(5)}: ${t.text.padEnd(40)}${regs ? ` ; ${regs}` : ''}${src ? `  [${src}]` : ''}`);
  };
  applySets(spec, values.set);
  const em = spec.emulate({ budget, trace: values.trace ? onStep : undefined });
  applyEntries(em, values.entry);
  // --socket: sockets put where the kernel's map would take socket fds, described by cookie after the run.
  const sockets = new Map<bigint, string>();
  const cgroupSock = spec.program(name).type === BPF_PROG_TYPE.CGROUP_SOCK;
  // A cgroup sock or sockopt program's socket: the one --socket gave.
  const sockOps = spec.program(name).type === BPF_PROG_TYPE.SOCK_OPS;
  const ownSocket = cgroupSock || sockOps || spec.program(name).type === BPF_PROG_TYPE.CGROUP_SOCKOPT;
  let last: EmulatedSocket | undefined;
  for (const text of values.socket ?? []) {
    const o = parseSocket(text);
    // A cgroup sock program's socket is being made or bound: a TCP one does not listen yet.
    const sock = (last = em.socket(cgroupSock && o.spec.protocol === 'tcp' && o.spec.port > 0 && !o.spec.remote ? { ...o.spec, listening: false } : o.spec));
    if (o.slot) em.map(o.slot.map).set(o.slot.key, sock);
    sockets.set(sock.cookie, o.text);
  }
  const ctxIn = ctxGiven ?? (values['ctx-hex'] === undefined ? undefined : parseHex(values['ctx-hex'], '--ctx-hex'));
  const args = parseArgs(values);
  const ret = values.ret === undefined ? undefined : parseU64(values.ret, '--ret');
  const sysctl = values.sysctl === undefined ? undefined : sysctlAccess(values.sysctl, values['sysctl-current']);
  const sockopt = values.sockopt === undefined ? undefined : parseSockopt(values.sockopt);
  const sockOpsIn = values['sock-ops'] === undefined ? undefined : parseSockOps(values['sock-ops']);
  // The tcp_sock fields given (a UDP --socket is refused by the run itself, naming it).
  if (sockOpsIn && last && Object.keys(sockOpsIn.tcp).length > 0) Object.assign(last.tcp, sockOpsIn.tcp);
  // The options of the socket given (a run's default one starts with none set).
  const optionsBefore = ownSocket && last ? socketOptions(last) : undefined;
  const r = em.program(name).testRun(data, {
    repeat,
    ...(ctxIn ? { ctx: ctxIn } : {}),
    ...(args ? { args } : {}),
    ...(ret !== undefined ? { ret } : {}),
    ...(ownSocket && last ? { socket: last } : {}),
    ...(sysctl ? { sysctl } : {}),
    ...(sockopt ? { sockopt } : {}),
    ...(sockOpsIn ? { sockOps: sockOpsIn.call } : {}),
  });
  // A sock_addr or sockopt program's calling socket: the options its bpf_setsockopt changed.
  const changed = socketChanges(r.socket, spec.program(name).type, optionsBefore);
  // A cgroup hook's call goes on (0), or fails with the errno the run left.
  const allowed = r.callRetval === undefined ? undefined : r.callRetval === 0;
  const fails = r.callRetval ? (r.callRetval < 0 ? `the call fails: ${errnoName(-r.callRetval)}` : `the call returns ${r.callRetval} (the program's bpf_set_retval)`) : undefined;
  for (const l of trace) ctx.print(l);
  if (ctx.json) {
    const sockAddr = spec.program(name).type === BPF_PROG_TYPE.CGROUP_SOCK_ADDR && r.ctxOut ? sockAddrText(r.ctxOut) : undefined;
    ctx.printJson({
      ...runJson(r, spec.program(name).type ?? BPF_PROG_TYPE.XDP),
      ...(allowed !== undefined ? { allowed, ...(r.callRetval ? { callRetval: r.callRetval } : {}) } : {}),
      ...(sockAddr ?? {}),
      ...(changed ? { socket: changed } : {}),
      // A cgroup sock program's socket after the run: what sock_create may have written.
      ...(cgroupSock && r.ctxOut ? { socket: { boundDevIf: r.ctxOut.readUInt32LE(0), mark: r.ctxOut.readUInt32LE(16), priority: r.ctxOut.readUInt32LE(20) } } : {}),
      ...(sysctl && r.sysctl ? { sysctl: { name: sysctl.name, filePos: r.sysctl.filePos, newValue: r.sysctl.newValue?.toString('latin1') ?? null } } : {}),
      ...(r.sockopt ? { sockopt: { level: r.sockopt.level, optname: r.sockopt.optname, optvalHex: r.sockopt.optval ? hex(r.sockopt.optval) : null, optlen: r.sockopt.optlen } } : {}),
      ...(r.sockOps ? { sockOps: { ...r.sockOps, ...(r.sockOps.written ? { written: hex(r.sockOps.written) } : {}) } } : {}),
      ...(r.redirect ? { redirect: { ...r.redirect, ...(r.redirect.nexthop ? { nexthop: hex(r.redirect.nexthop) } : {}) } } : {}),
      ...(r.events.length ? { events: r.events.map((e) => ({ map: e.map, cpu: e.cpu, dataHex: hex(e.data) })) } : {}),
      ...(r.printk.length ? { printk: r.printk } : {}),
      ...(values.trace ? { trace: traced } : {}),
    });
  } else {
    if (r.verdict === null) ctx.print(`${name}: retval ${r.retval} (0x${r.retval.toString(16)}) (emulated, ${r.instructions} instructions)`);
    // One emulated run's time is the JavaScript engine's first pass over new code: shown only for --repeat.
    else ctx.print(`${name}: ${r.verdict} (retval ${r.retval})${repeat > 1 ? `, ${r.durationNs} ns per run over ${repeat} runs` : ''} (emulated, ${r.instructions} instructions)`);
    const type = spec.program(name).type ?? BPF_PROG_TYPE.XDP;
    if (type === BPF_PROG_TYPE.CGROUP_SOCK && r.ctxOut) {
      // The socket keeps what sock_create wrote; retval 0 fails socket() or bind() with EPERM.
      if (fails) ctx.print(fails);
      else ctx.print(`socket: bound_dev_if ${r.ctxOut.readUInt32LE(0)}, mark 0x${r.ctxOut.readUInt32LE(16).toString(16)}, priority ${r.ctxOut.readUInt32LE(20)}`);
    } else if (type === BPF_PROG_TYPE.CGROUP_SOCK_ADDR && r.ctxOut && ctxIn) {
      // The call goes on with the address the program left (retval 1), or fails with EPERM (0).
      const before = sockAddrText(ctxIn);
      const after = sockAddrText(r.ctxOut);
      if (fails) ctx.print(fails);
      else ctx.print(`address: ${after.address}${after.address === before.address ? ' (unchanged)' : ` (was ${before.address})`}`);
      if (!fails && after.msgSrc !== before.msgSrc) ctx.print(`source: ${after.msgSrc ?? "the route's"} (was ${before.msgSrc ?? "the route's"})`);
      if (changed)
        ctx.print(
          `socket: ${Object.entries(changed)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')} (set by the program)`,
        );
    } else if (type === BPF_PROG_TYPE.CGROUP_SYSCTL && sysctl && r.sysctl) {
      const text = (b: Uint8Array | string) => JSON.stringify(Buffer.from(b).toString('latin1'));
      if (fails) ctx.print(fails);
      else if (sysctl.write === undefined) ctx.print('the read goes on');
      else if (r.sysctl.newValue) ctx.print(`the write goes on with ${text(r.sysctl.newValue)} (the program's, in place of ${text(sysctl.write)})`);
      else ctx.print(`the write goes on with ${text(sysctl.write)}`);
      if (r.sysctl.filePos !== (sysctl.filePos ?? 0)) ctx.print(`file position: ${r.sysctl.filePos} (was ${sysctl.filePos ?? 0})`);
    } else if (type === BPF_PROG_TYPE.CGROUP_DEVICE) {
      ctx.print(fails ?? 'the call goes on');
    } else if (type === BPF_PROG_TYPE.CGROUP_SOCKOPT && sockopt && r.sockopt) {
      const hook = spec.program(name).expectedAttachType === BPF_ATTACH_TYPE.CGROUP_GETSOCKOPT ? 'getsockopt' : 'setsockopt';
      for (const l of sockoptText(hook, sockopt, r.callRetval ?? 0, r.sockopt)) ctx.print(l);
      if (changed)
        ctx.print(
          `socket: ${Object.entries(changed)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')} (set by the program)`,
        );
    } else if (type === BPF_PROG_TYPE.SOCK_OPS && r.sockOps) {
      // What tcp_call_bpf hands the kernel: the reply, or -1 when the program returned 0 (the kernel's default then).
      const o = r.sockOps;
      ctx.print(r.retval === 0 ? `reply: ${o.reply}, but the program returned 0: tcp_call_bpf returns -1` : `reply: ${o.reply} (tcp_call_bpf returns it)`);
      if (o.reserved !== undefined) ctx.print(`header option space reserved: ${o.reserved} bytes`);
      if (o.written) ctx.print(`header options written: ${hex(o.written) || '(none)'}`);
      if (changed)
        ctx.print(
          `socket: ${Object.entries(changed)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')} (set by the program)`,
        );
    } else if (type === BPF_PROG_TYPE.SK_LOOKUP) {
      ctx.print(r.socket ? `socket chosen: cookie ${r.socket.cookie} (${sockets.get(r.socket.cookie)})` : 'socket chosen: none');
      if (!values.socket) ctx.print("(the emulator's SOCKMAPs and SOCKHASHes start empty: give them sockets with --socket 'MAP[KEY]=tcp|udp ADDR:PORT')");
    } else printChanges(ctx, r, data, ctxIn, type);
    for (const l of r.printk) ctx.print(`printk: ${l}`);
  }
  return 0;
}
