// An object's programs and maps in the emulator: what `spec.emulate()`
// returns. Maps are EmulatedMaps (global data included), programs run on a
// packet (tracing programs on their arguments) the way BPF_PROG_TEST_RUN runs them, with the kernel helpers XDP,
// TC and socket-filter programs call, and report what happened besides the
// return value: redirects, events, trace_printk lines.

import { BpfError } from '../errors.js';
import { helperId } from '../asm/helpers.js';
import type { Insn } from '../asm/insn.js';
import type { Btf } from '../btf/btf.js';
import { CoreResolver, applyCoreRelocations, essentialName } from '../object/core/index.js';
import type { BpfObjectFile, MapSpec, ProgramRelocation, ProgramSpec } from '../object/types.js';
import { BPF_ATTACH_TYPE, BPF_MAP_TYPE, BPF_PROG_TYPE, progTypeName, verdictName } from '../uapi/bpf.js';
import {
  ETH_HLEN,
  MAX_SKB_FRAGS,
  refuseTestRun,
  type SkBuffInput,
  Packet,
  SkBuff,
  XDP_DATA_MAX,
  XDP_HEADROOM,
  type XdpMdInput,
  skBuffInputFromCtx,
  xdpContext,
  xdpCtxOut,
  xdpMdFromCtx,
} from './context.js';
import { EINVAL, ENOENT, EOPNOTSUPP, EPERM, type EmulatedMap as EmulatedMapT, EmulatedMap, type MapEvent } from './maps.js';
import * as A from './arith.js';
import { FUNC_ADDR_ID, Memory, type Region } from './memory.js';
import { BPRINTF_VARARGS_MAX, type PrintfMemory, bprintf, formatBytes } from './printf.js';
import {
  EFAULT,
  ENOMEM,
  ENOTSUPP,
  ETH_P_8021Q,
  SKB_MAX_ALLOC,
  adjustRoom,
  changeProto,
  csumLevel,
  ecnSetCe,
  isVlanProto,
  getTunnelKey,
  getTunnelOpt,
  loadBytesRelative,
  setTstamp,
  setTunnelKey,
  setTunnelOpt,
  vlanPop,
} from './skb.js';
import { type HelperContext, type HelperDef, type TraceStep, Vm } from './vm.js';
import { mapTaskStruct } from './task.js';
import { hookStateRegion, netfilterContext, netfilterData, netfilterRun, skbRegion } from './netfilter.js';
import { FLOW_KEYS_SIZE, clampFlowKeys, flowContext, flowKeysFlags, flowKeysOut, primeFlowKeys } from './flow.js';
import { sockAddrContext, sockAddrFromCtx, sockAddrHook, sockAddrOut } from './sock-addr.js';
import { bpfStrtol, bpfStrtoul } from './strtox.js';
import { devContext, devCtxFromCtx } from './device.js';
import { bpfGetsockopt, bpfSetsockopt } from './bpf-sockopt.js';
import { type SockoptCall, type SockoptOutcome, SockoptRun, sockoptContext, sockoptHook } from './sockopt.js';
import { type SysctlAccess, type SysctlOutcome, SysctlRun, sysctlContext, sysctlCtxOut, sysctlHelpers } from './sysctl.js';
import { SOCK_OPS_ALL_CB_FLAGS, SOL_TCP, TCP, type TcpHost, tcpHost } from './tcp.js';
import { BPF_SOCK_OPS, type SockOpsCall, type SockOpsOutcome, SockOpsRun, loadHdrOpt, reserveHdrOpt, sockOpsContext, storeHdrOpt, synHeader } from './sock-ops.js';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_TCP,
  cgroupSockContext,
  cgroupSockHook,
  EmulatedSocket,
  type EmulatedSocketSpec,
  type SkLookup,
  lookupSocket,
  skLookupAssign,
  skLookupContext,
  skLookupFromCtx,
  skLookupOut,
  socketTuple,
} from './socket.js';
import {
  type EmulatedTask,
  MAX_BPF_FUNC_ARGS,
  PERF_EVENT_DATA_SIZE,
  type Task,
  type TraceState,
  argsBytes,
  u64Option,
  attachHasRet,
  ptRegs,
  resolveTask,
  traceContextKind,
  traceHelpers,
  tracepointRecordHooks,
} from './trace.js';

export interface EmulateOptions {
  /** Virtual CPUs for per-CPU maps (default 1); each run picks one with `cpu`. */
  cpus?: number;
  /** bpf_ktime_get_ns / boot_ns: nanoseconds (default: a clock starting at 1 s, +1000 ns per call). */
  clock?: () => bigint;
  /** Seed of bpf_get_prandom_u32 (default 1). */
  seed?: number;
  /** Instructions per run before EMU_LIMIT (default 1,000,000). */
  budget?: number;
  /** Initial bytes of data maps by name (what BpfObjectSpec.setGlobal changed). */
  initialValues?: (map: MapSpec) => Uint8Array | undefined;
  /** Target BTF for CO-RE relocations (e.g. a vmlinux BTF file). */
  coreTarget?: Btf;
  /** bpf_fib_lookup answers: destination IPv4 (dotted) -> { ifindex, smac, dmac } . */
  routes?: Record<string, { ifindex: number; smac: string; dmac: string }>;
  /**
   * The network devices the emulated host has besides lo (ifindex 1, MTU
   * 65536, one receive queue), by ifindex: their MTU (default 1500, for
   * bpf_check_mtu) and receive queues (default 1). A test run's device is lo
   * unless the context names another, which must be one of these (else
   * ENODEV, as the kernel refuses it); bpf_check_mtu of any other ifindex is
   * -ENODEV.
   */
  devices?: Record<number, EmulatedDevice>;
  tier?: 'compile' | 'interpret';
  /** Program type for programs whose section does not say (iproute2's "prog", "classifier" objects): 'xdp' (default) or 'tc'. */
  programType?: 'xdp' | 'tc' | 'socket_filter';
  /** Every executed instruction with the registers it changed and its C line (runs interpreted). */
  trace?: (step: TraceStep) => void;
  /**
   * Helpers to add or replace, by name (`bpf_get_prandom_u32: () => 4n`): a
   * stub a test needs, or a deliberately wrong answer to see a test fail.
   */
  helpers?: Record<string, HelperDef['fn']>;
  /** kfuncs to add or replace, by name (bpf_dynptr_from_xdp and bpf_dynptr_size are built in). */
  kfuncs?: Record<string, HelperDef['fn']>;
  /**
   * Values of the object's ld_imm64 externs by name: a `__ksym` variable's
   * address (the kernel's is in /proc/kallsyms), or a symbol an asm block
   * loads (`r0 = MY_CONST ll`). A program that loads one not given is refused naming it.
   */
  externs?: Record<string, bigint | number>;
  /**
   * The task programs run in (bpf_get_current_pid_tgid, _uid_gid, _comm,
   * _cgroup_id), field by field over the calling process's, as a kernel
   * test run runs in its caller's task. A run's `task` goes over this.
   */
  task?: EmulatedTask;
  /**
   * The CPU's virtual address width (/proc/cpuinfo "address sizes": 48, or
   * 57 on CPUs with 5-level paging; default 48): a probe read of an address
   * not canonical for it is -ERANGE, of others -EFAULT, as x86-64 kernels check.
   */
  virtualAddressBits?: 48 | 57;
  /** CONFIG_HZ (100, 250 or 1000; default 250): the jiffy TCP_BPF_DELACK_MAX, TCP_BPF_RTO_MIN and TCP_RTO_MAX_MS round to. */
  hz?: number;
  /** The congestion controls bpf_setsockopt(TCP_CONGESTION) finds (tcp_available_congestion_control; default reno and cubic). */
  tcpCongestionAvailable?: readonly string[];
  /** A new TCP socket's congestion control (net.ipv4.tcp_congestion_control; default cubic when available, else reno). */
  tcpCongestion?: string;
}

/** A network device of the emulated host (EmulateOptions.devices). */
export interface EmulatedDevice {
  mtu?: number;
  rxQueues?: number;
}

export interface EmulatedRunOptions {
  /** The CPU this run is on (per-CPU maps, bpf_get_smp_processor_id). */
  cpu?: number;
  /** xdp_md fields (XDP) or __sk_buff fields (TC, socket filter). */
  xdp?: XdpMdInput;
  skb?: SkBuffInput;
  repeat?: number;
  /**
   * The context as bytes, as BPF_PROG_TEST_RUN takes it: XDP a struct xdp_md
   * (data: the metadata length at the front of the input; data_end: the
   * input's length), TC and socket filters a struct __sk_buff (the fields a
   * test run takes; others must be zero), syscall programs their argument
   * struct (r1 points to a copy; none when absent), socket lookup programs
   * their struct bpf_sk_lookup (required), cgroup device programs their
   * struct bpf_cgroup_dev_ctx (cgroupDevCtx(); required). Handed back in ctxOut as the
   * kernel writes it back.
   */
  ctx?: Uint8Array;
  /**
   * Tracing programs: the arguments, u64 each — what a raw tracepoint's
   * ctx->args[i] and the parameters of BPF_PROG (tp_btf, fentry, fexit,
   * fmod_ret, lsm) read, and a kprobe's PT_REGS_PARM1..6 (x86-64 registers).
   */
  args?: readonly (bigint | number)[];
  /** fexit, fmod_ret and lsm programs: the return value after the arguments (default 0); a kretprobe's PT_REGS_RC. */
  ret?: bigint | number;
  /** bpf_get_func_ip: the traced function's address (the kernel's is in /proc/kallsyms; default 0); a kprobe's PT_REGS_IP. */
  funcIp?: bigint | number;
  /** bpf_get_attach_cookie (default 0, as a test run has). */
  cookie?: bigint | number;
  /** This run's task, field by field over EmulateOptions.task. */
  task?: EmulatedTask;
  /**
   * A cgroup sock_addr program's calling socket (ctx->sk; default: an unbound
   * one of the ctx's family, type and protocol); a cgroup sock program's
   * context, the socket being made (sock_create), released, or bound
   * (post_bind4/6: bound, and a TCP one not listening yet); a cgroup
   * sockopt program's ctx->sk (default: an unbound IPv4 TCP one).
   */
  socket?: EmulatedSocket;
  /** A cgroup sysctl program's call: the sysctl, its current value, and a write's bytes. */
  sysctl?: SysctlAccess;
  /**
   * cgroup hooks: the id of the cgroup the program is attached to, which
   * keys its cgroup local storage (bpf_get_local_storage); default the
   * task's cgroup (EmulatedTask.cgroupId), else 1. A cgroup skb run, as
   * BPF_PROG_TEST_RUN, has storage of its own instead, fresh for each testRun().
   */
  cgroup?: bigint | number;
  /** A cgroup sockopt program's call: the option, and the caller's value (setsockopt) or the kernel's answer (getsockopt). */
  sockopt?: SockoptCall;
  /** A sock_ops program's call: the op, its args, and the segment (its socket is `socket`, a TCP one: required). */
  sockOps?: SockOpsCall;
}

export interface EmulatedTestRun {
  retval: number;
  /** XDP_* / TC_ACT_* name of retval. */
  verdict: string | null;
  /** The packet after the run (from data_meta to data_end, as the kernel returns it: metadata first). */
  dataOut: Buffer;
  durationNs: number;
  /** Instructions executed (the last run). */
  instructions: number;
  /**
   * bpf_redirect / bpf_redirect_map / bpf_redirect_peer / bpf_redirect_neigh
   * target, when the program asked for one (`via` the last two; `nexthop`, the
   * struct bpf_redir_neigh given to bpf_redirect_neigh).
   */
  redirect?: { ifindex?: number; map?: string; key?: number; flags: number; via?: 'peer' | 'neigh'; nexthop?: Buffer };
  /** Events this run emitted (perf event arrays and ring buffers), by map name. */
  events: { map: string; cpu: number; data: Buffer }[];
  /** bpf_trace_printk lines. */
  printk: string[];
  /** __sk_buff fields after the run (TC, socket filter). */
  skb?: Record<string, number>;
  /** The context after the run when `ctx` was given, as BPF_PROG_TEST_RUN writes it back. */
  ctxOut?: Buffer | null;
  /**
   * A socket lookup program's choice (its cookie is in ctxOut), null for
   * none; a cgroup sock_addr or sockopt program's calling socket, as the run
   * left it (bpf_setsockopt).
   */
  socket?: EmulatedSocket | null;
  /**
   * The cgroup hooks the kernel runs inside calls (sock, sock_addr, sysctl,
   * sockopt, device): what the call gets from the hook — 0 it goes on; -1
   * (-EPERM) when the program returned 0 (bind: an even number); or what
   * bpf_set_retval set. For sockopt, what the call then returns (its optlen
   * rules applied).
   */
  callRetval?: number;
  /** A cgroup sysctl program's: the file position, and the value it put in place of a write's. */
  sysctl?: SysctlOutcome;
  /** A cgroup sockopt program's: what the kernel's setsockopt is called with, or what the getsockopt caller gets. */
  sockopt?: SockoptOutcome;
  /** A sock_ops program's: its reply, and what tcp_call_bpf returns to the kernel. */
  sockOps?: SockOpsOutcome;
}

const MAX_TAIL_CALL_CNT = 33;
const SK_DROP = 0;
const SK_PASS = 1;
/** xdp_md fields when a run gives none (read-only: shared by every run). */
const NO_XDP_MD: XdpMdInput = Object.freeze({});
/** testRun's options when none are given (read-only: shared by every run). */
const NO_RUN_OPTIONS: EmulatedRunOptions = Object.freeze({});

/** What one run is doing: the packet, its context, what it emitted. */
/** The state one emulated run carries through its tail calls. */
export interface RunState {
  cpu: number;
  pkt: Packet;
  /** An XDP, TC or socket-filter run (a syscall program's has no packet). */
  packet: boolean;
  skb?: SkBuff;
  xdpMd: XdpMdInput;
  redirect?: EmulatedTestRun['redirect'];
  events: EmulatedTestRun['events'];
  printk: string[];
  tailCalls: number;
  ctxAddr: bigint;
  /** A netfilter run: its sk_buff's address (ctx->skb), which bpf_dynptr_from_skb takes. */
  nfSkb?: bigint;
  /** A flow dissector's run: bpf_skb_load_bytes has no skb to read. */
  flow?: boolean;
  /** The run's task fields (EmulatedRunOptions.task), resolved into `trace` when a helper asks. */
  task?: EmulatedTask;
  trace?: TraceState;
  /** A socket lookup's run: the lookup bpf_sk_assign answers. */
  skLookup?: SkLookup;
  /** A cgroup sock_addr run: the calling socket (ctx->sk, bpf_get_socket_cookie's). */
  sockAddrSocket?: EmulatedSocket;
  /** A cgroup sysctl run: the call the helpers read and change. */
  sysctl?: SysctlRun;
  /** A cgroup hook's run: the call's result so far (bpf_cg_run_ctx.retval), which bpf_get_retval and bpf_set_retval read and write. */
  cgroupRetval?: number;
  /** A sock_ops run: the call and its socket, which the sock_ops helpers act on. */
  sockOps?: { run: SockOpsRun; sock: EmulatedSocket };
}

export class EmulatedCollection {
  readonly memory = new Memory();
  readonly maps = new Map<string, EmulatedMapT>();
  readonly programs = new Map<string, EmulatedProgram>();
  /** Every bpf_trace_printk line of every run, in order. */
  readonly printk: string[] = [];
  readonly cpus: number;
  /** @internal */
  readonly mapsByRegion = new Map<number, EmulatedMapT>();
  /** @internal */ state: RunState | undefined;
  /** @internal A testRun()'s cgroup local storage: the cgroup and attach type it is keyed by, or the test run's own values. */
  localStorage: { cgroupId: bigint; attachType: number; scratch?: Map<EmulatedMapT, Region[]> } | undefined;
  /** @internal Whether a map is cgroup storage: only then does a testRun() set localStorage up. */
  readonly hasCgroupStorage: boolean;
  /** @internal The xdp_md region, kept mapped between runs. */
  xdpCtx: Region | undefined;
  /** @internal xdpCtx's address (the region stays mapped from run to run). */
  xdpCtxAddr: bigint | undefined;
  /** @internal The packet buffer, reused run after run. */
  scratch = new Uint8Array(4096);
  /** @internal The last run's packet (over scratch), refilled by the next run when it can be. */
  packet: Packet | undefined;
  /** @internal The sockets socket() made, by their struct bpf_sock's (and sock_common's) region. */
  readonly socketsByRegion = new Map<number, EmulatedSocket>();
  readonly #sockets: EmulatedSocket[] = [];
  private nextCookie = 1n;
  /** @internal HZ and congestion controls, for TCP sockets' options. */
  readonly tcpHost: TcpHost;
  private clockNs = 1_000_000_000n;
  private rand: number;

  constructor(
    readonly file: BpfObjectFile,
    readonly opts: EmulateOptions = {},
  ) {
    this.cpus = opts.cpus ?? 1;
    this.tcpHost = tcpHost(opts);
    this.rand = (opts.seed ?? 1) >>> 0 || 1;
    for (const m of file.maps) {
      const initial = opts.initialValues?.(m) ?? m.initialValue;
      const map = new EmulatedMap(this.memory, { ...m, initialValue: m.style === 'data' ? initial : undefined, freeze: m.freeze }, { cpus: this.cpus });
      this.maps.set(m.name, map);
      this.mapsByRegion.set(map.handle.id, map);
    }
    this.hasCgroupStorage = [...this.maps.values()].some((m) => m.isCgroupStorage);
    for (const p of file.programs) this.programs.set(p.name, new EmulatedProgram(this, p));
    // Declared contents: prog array slots and map-in-map slots.
    for (const m of file.maps) {
      for (const c of m.contents ?? []) {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(c.key);
        if (c.kind === 'program') this.maps.get(m.name)!.programs.set(c.key, c.target);
        else if (this.maps.has(c.target)) this.maps.get(m.name)!.set(key, this.maps.get(c.target)!);
      }
    }
  }

  map(name: string): EmulatedMapT {
    const m = this.maps.get(name);
    if (!m) throw new BpfError('MAP_NOT_FOUND', `${this.file.path}: no map named ${name} (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  program(name: string): EmulatedProgram {
    const p = this.programs.get(name);
    if (!p) throw new BpfError('PROGRAM_NOT_FOUND', `${this.file.path}: no program named ${name} (programs: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  /**
   * A socket of the emulated host: what bpf_sk_lookup_tcp/udp and
   * bpf_skc_lookup_tcp find, and for SOCKMAP/SOCKHASH entries
   * (`map.set(key, socket)`), as a socket fd is for the kernel's, what socket
   * lookup programs find and bpf_sk_assign picks. Its cookie is `spec.cookie`
   * or the next from 1.
   */
  socket(spec: EmulatedSocketSpec): EmulatedSocket {
    const cookie = spec.cookie ?? this.nextCookie;
    if (typeof cookie !== 'bigint' || cookie <= 0n || cookie >= 1n << 64n) throw new BpfError('USAGE', `emulated socket: cookie ${String(cookie)} is not a u64 above 0`);
    for (const s of this.socketsByRegion.values()) if (s.cookie === cookie) throw new BpfError('USAGE', `emulated socket: cookie ${cookie} is taken by another socket of this emulation`);
    const sock = new EmulatedSocket(this.memory, spec, cookie, this.tcpHost);
    if (cookie >= this.nextCookie) this.nextCookie = cookie + 1n;
    this.socketsByRegion.set(sock.region.id, sock);
    this.#sockets.push(sock);
    return sock;
  }

  /** The sockets socket() made, oldest first: what bpf_sk_lookup_tcp/udp find. */
  get sockets(): readonly EmulatedSocket[] {
    return this.#sockets;
  }

  #unbound = new Map<string, EmulatedSocket>();

  /** @internal The unbound socket a sock_addr run's ctx->sk is when the run gives none, one per family and protocol. */
  unboundSocket(family: number, protocol: 'tcp' | 'udp', fresh = false): EmulatedSocket {
    const key = `${family} ${protocol}`;
    let s = this.#unbound.get(key);
    if (!s) this.#unbound.set(key, (s = this.socket({ protocol, family: family === AF_INET6 ? 'ipv6' : 'ipv4', port: 0 })));
    // A run's default socket is a new one: what an earlier run's bpf_setsockopt set is gone.
    else if (fresh) s.resetOptions();
    return s;
  }

  /** @internal The device at `ifindex` with its MTU and queues (lo at 1, else EmulateOptions.devices), or undefined. */
  device(ifindex: number): Required<EmulatedDevice> | undefined {
    const d = ifindex === 1 ? { mtu: LO_MTU, rxQueues: 1, ...this.opts.devices?.[1] } : this.opts.devices?.[ifindex];
    return d && { mtu: d.mtu ?? ETH_MTU, rxQueues: d.rxQueues ?? 1 };
  }

  #task: Task | undefined;

  /** @internal The task of a run: its own fields over EmulateOptions.task over the calling process. */
  task(run: EmulatedTask | undefined): Task {
    return run ? resolveTask(this.opts.task, run) : (this.#task ??= resolveTask(this.opts.task));
  }

  /** @internal */
  now(): bigint {
    if (this.opts.clock) return this.opts.clock();
    this.clockNs += 1000n;
    return this.clockNs;
  }

  /** @internal xorshift32 */
  prandom(): number {
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x >>> 0;
    return this.rand;
  }

  [Symbol.dispose](): void {}
  close(): void {}
}

export class EmulatedProgram {
  readonly name: string;
  readonly type: number;
  private vm: Vm | undefined;
  /** run()'s argument list, r1 only: one array for every run. */
  private readonly runArgs: (number | bigint)[] = [0];

  constructor(
    private readonly coll: EmulatedCollection,
    readonly spec: ProgramSpec,
  ) {
    this.name = spec.name;
    const fallback = coll.opts.programType === 'tc' ? BPF_PROG_TYPE.SCHED_CLS : coll.opts.programType === 'socket_filter' ? BPF_PROG_TYPE.SOCKET_FILTER : BPF_PROG_TYPE.XDP;
    this.type = spec.type ?? fallback;
    this.traceKind = traceContextKind(this.type, spec.expectedAttachType);
  }

  /** How a tracing program takes its context (undefined for others). */
  private readonly traceKind: 'args' | 'bytes' | undefined;

  /** The Vm, made on first use (maps wired through ld_imm64, CO-RE applied, helpers bound). */
  get machine(): Vm {
    if (this.vm) return this.vm;
    const coll = this.coll;
    let insns = this.spec.instructions;
    if (this.spec.coreRelocations.length > 0) {
      if (!coll.opts.coreTarget || !coll.file.btf) {
        throw new BpfError('CORE_RELOCATION', `${coll.file.path}: program ${this.name} has CO-RE relocations: give emulate() a coreTarget (e.g. a vmlinux BTF)`);
      }
      insns = insns.slice();
      applyCoreRelocations(
        insns,
        coll.file.littleEndian,
        this.spec.coreRelocations,
        new CoreResolver(coll.file.btf, { vmlinux: coll.opts.coreTarget }, { littleEndian: coll.file.littleEndian }),
        `${coll.file.path}: program ${this.name}`,
      );
    }
    const kfuncs = kernelKfuncs(coll);
    const ldImm64 = (_i: Insn, _slot: number, r?: ProgramRelocation): bigint | undefined => {
      if (r?.kind === 'extern') {
        const given = coll.opts.externs?.[r.symbol];
        if (given !== undefined) return BigInt.asUintN(64, BigInt(given));
        // A kfunc's address (bpf_ksym_exists): non-zero when emulated; 0 for a
        // __weak one that is not, as a kernel without it gives.
        if (kfuncs.has(r.symbol) || kfuncs.has(essentialName(r.symbol))) return KFUNC_ADDR;
        return (coll.file.externs ?? []).some((e) => e.name === r.symbol && e.weak) ? 0n : undefined;
      }
      if (!r || r.kind === 'kfunc') return undefined;
      const m = coll.maps.get(r.map);
      if (!m) return undefined;
      if (r.kind === 'map_fd') return Memory.address(m.handle.id);
      // Global data: the value of element 0, plus the offset.
      return m.lookupAddress(new Uint8Array(4), 0) + BigInt(r.offset);
    };
    this.vm = new Vm(
      { instructions: insns, name: this.name, littleEndian: coll.file.littleEndian, lineInfo: this.spec.lineInfo, relocations: this.spec.relocations },
      {
        memory: coll.memory,
        helpers: kernelHelpers(coll, this.type),
        kfuncs,
        ldImm64,
        budget: coll.opts.budget,
        tier: coll.opts.tier,
        trace: coll.opts.trace,
        legacyLoad: (offset, size) => legacyLoad(coll.state!, offset, size),
        // Tracing programs load through kernel pointers the verifier makes probe loads.
        probeMem: this.traceKind !== undefined,
      },
    ).prepare();
    return this.vm;
  }

  /** Run on a frame as BPF_PROG_TEST_RUN does; the same result shape plus what happened. */
  testRun(data: Uint8Array, opts: EmulatedRunOptions = NO_RUN_OPTIONS): EmulatedTestRun {
    const coll = this.coll;
    if (this.type === BPF_PROG_TYPE.TRACING && !this.traceKind)
      throw new BpfError('USAGE', `program ${this.name}: emulating iterator programs is not supported (their context points at kernel objects)`);
    const vm = this.machine;
    const cpu = opts.cpu ?? 0;
    if (cpu < 0 || cpu >= coll.cpus) throw new BpfError('USAGE', `cpu ${cpu}: the emulation has ${coll.cpus} CPU(s) (EmulateOptions.cpus)`);
    const repeat = Math.max(1, opts.repeat ?? 1);
    let last: EmulatedTestRun | undefined;
    // durationNs is the runs' time: the first run's compilation to JavaScript is not.
    vm.prepare();
    // Cgroup storage, when the object has some: the cgroup's, or (cgroup skb, as BPF_PROG_TEST_RUN) this testRun()'s own.
    const scratch = coll.hasCgroupStorage && this.type === BPF_PROG_TYPE.CGROUP_SKB ? new Map<EmulatedMapT, Region[]>() : undefined;
    coll.localStorage = coll.hasCgroupStorage
      ? { cgroupId: BigInt.asUintN(64, BigInt(opts.cgroup ?? opts.task?.cgroupId ?? coll.opts.task?.cgroupId ?? 1)), attachType: this.spec.expectedAttachType ?? 0, scratch }
      : undefined;
    try {
      const t0 = performance.now();
      for (let i = 0; i < repeat; i++) last = this.once(vm, data, cpu, opts);
      last!.durationNs = Math.round(((performance.now() - t0) * 1e6) / repeat);
      return last!;
    } finally {
      for (const regions of scratch?.values() ?? []) for (const r of regions) coll.memory.remove(r);
      coll.localStorage = undefined;
    }
  }

  private once(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const type = this.type;
    if (type === BPF_PROG_TYPE.SYSCALL) return this.onceSyscall(vm, data, cpu, opts);
    if (this.traceKind) return this.onceTrace(vm, data, cpu, opts, this.traceKind);
    if (type === BPF_PROG_TYPE.FLOW_DISSECTOR) return this.onceFlow(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.NETFILTER) return this.onceNetfilter(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.SK_LOOKUP) return this.onceSkLookup(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.CGROUP_SOCK_ADDR) return this.onceSockAddr(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.CGROUP_SOCK) return this.onceCgroupSock(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.CGROUP_SYSCTL) return this.onceSysctl(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.CGROUP_SOCKOPT) return this.onceSockopt(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.CGROUP_DEVICE) return this.onceDevice(vm, data, cpu, opts);
    if (type === BPF_PROG_TYPE.SOCK_OPS) return this.onceSockOps(vm, data, cpu, opts);
    const xdp = type === BPF_PROG_TYPE.XDP;
    const tc = type === BPF_PROG_TYPE.SCHED_CLS || type === BPF_PROG_TYPE.SCHED_ACT;
    const cgroup = type === BPF_PROG_TYPE.CGROUP_SKB;
    const lwt = type === BPF_PROG_TYPE.LWT_IN || type === BPF_PROG_TYPE.LWT_OUT || type === BPF_PROG_TYPE.LWT_XMIT;
    // Socket filters, cgroup skb and lwt programs get the frame from its network header, and hand it back with the Ethernet header zeroed.
    const sock = type === BPF_PROG_TYPE.SOCKET_FILTER || cgroup || lwt;
    if (!xdp && !tc && !sock)
      throw new BpfError(
        'USAGE',
        `program ${this.name}: emulating ${progTypeName(type)} programs is not supported (XDP, TC, socket filters, cgroup skb, cgroup sock, sock_addr, sysctl, sockopt and device, sock_ops, lwt, flow dissectors, netfilter, socket lookup, syscall and tracing programs are)`,
      );
    if (opts.ctx && (opts.skb || opts.xdp)) throw new BpfError('USAGE', `program ${this.name}: give the context as ctx bytes or as ${xdp ? 'xdp' : 'skb'} fields, not both`);
    if (data.length < ETH_HLEN) checkFrame(this.name, data, !xdp, 0);
    // An xdp_md given as bytes may put metadata in front of the frame: it comes out of the headroom.
    const xdpIn = xdp && opts.ctx ? xdpMdFromCtx(opts.ctx, data.length, (i) => coll.device(i)) : undefined;
    const metaLen = xdpIn?.metaLen ?? 0;
    // An XDP frame's linear part: up to data_end (a context's) and the buffer's room; the rest goes to fragments.
    const linear = xdp ? Math.min(xdpIn?.dataEnd ?? data.length, XDP_DATA_MAX + metaLen) : data.length;
    checkFrame(this.name, data, !xdp, metaLen, linear);
    const frame = linear < data.length ? data.subarray(0, linear) : data;
    // The buffer is a page less the skb_shared_info, metadata and headroom included.
    const tailroom = xdp ? XDP_DATA_MAX + metaLen - linear : 0;
    const headroom = xdp ? XDP_HEADROOM - metaLen : SKB_HEADROOM;
    // The last run's packet, refilled in place when the layout is the same (no new buffer or mapping per run).
    let pkt = coll.packet;
    if (!pkt || !pkt.refill(frame, headroom, tailroom)) {
      const size = headroom + frame.length + tailroom;
      if (coll.scratch.length < size) coll.scratch = new Uint8Array(size);
      pkt = coll.packet = new Packet(coll.memory, frame, headroom, tailroom, coll.scratch, coll.packet);
    }
    if (frame !== data) pkt.setFrags(data.subarray(linear));
    pkt.data += metaLen;
    const skbIn = opts.ctx && !xdp ? skBuffInputFromCtx(opts.ctx, tc ? data.length : Math.max(0, data.length - ETH_HLEN), (i) => coll.device(i)) : opts.skb;
    const skb = xdp ? undefined : new SkBuff(pkt, tc ? 'tc' : cgroup ? 'cgroup' : lwt ? 'lwt' : 'socket', skbIn);
    // One xdp_md region for every run: its hooks read the run in progress.
    const ctx = xdp ? (coll.xdpCtx ??= xdpContext(coll.memory, () => coll.state!)) : skb!.context(coll.memory);
    const state: RunState = {
      cpu,
      pkt,
      packet: true,
      skb,
      xdpMd: xdpIn?.md ?? opts.xdp ?? NO_XDP_MD,
      events: [],
      printk: [],
      tailCalls: 0,
      ctxAddr: xdp ? (coll.xdpCtxAddr ??= Memory.address(ctx.id)) : Memory.address(ctx.id),
      task: opts.task,
    };
    coll.state = state;
    try {
      // The context's address, as a number when exact: r1 without BigInt arithmetic.
      this.runArgs[0] = Memory.addressValue(ctx.id);
      const instructions = vm.runRaw(this.runArgs);
      const retval = vm.lo[0] >>> 0;
      const result: EmulatedTestRun = {
        retval,
        verdict: verdictName(type, retval | 0),
        // A socket filter sees the frame from its network header; test_run hands back the
        // Ethernet header it pushed in front zeroed, and so does this.
        dataOut: sock ? zeroL2(pkt.out()) : pkt.out(),
        durationNs: 0,
        instructions,
        events: state.events,
        printk: state.printk,
      };
      if (state.redirect) result.redirect = state.redirect;
      if (skb) result.skb = Object.fromEntries(skb.fields);
      if (opts.ctx) result.ctxOut = skb ? skb.ctxOut() : xdpCtxOut(pkt, xdpIn!.md);
      return result;
    } finally {
      coll.state = undefined;
      if (!xdp) coll.memory.remove(ctx);
    }
  }

  /**
   * A syscall program: no packet; r1 points to a writable copy of the context
   * (NULL without one, as the kernel passes it), which comes back in ctxOut.
   */
  private onceSyscall(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    if (data.byteLength > 0) throw new BpfError('USAGE', `program ${this.name}: a syscall program runs on its context alone (testRun(new Uint8Array(0), { ctx }))`);
    const ctx = opts.ctx && opts.ctx.byteLength > 0 ? coll.memory.add('ctx', Uint8Array.from(opts.ctx), { kind: 'context', writable: true }) : undefined;
    return this.runOnContext(vm, cpu, ctx, { task: opts.task }, true);
  }

  /** A run with no packet: r1 the context's address (NULL without one); the region is unmapped afterwards. */
  private runOnContext(vm: Vm, cpu: number, ctx: Region | undefined, extra: Pick<RunState, 'task' | 'trace'>, ctxOut: boolean): EmulatedTestRun {
    const coll = this.coll;
    const pkt = (coll.packet = new Packet(coll.memory, new Uint8Array(0), 0, 0, coll.scratch, coll.packet));
    const state = runState(cpu, pkt, ctx, false, extra);
    const ctxAddr = state.ctxAddr;
    coll.state = state;
    try {
      const r = vm.run([ctxAddr]);
      return {
        retval: Number(BigInt.asUintN(32, r.retval)),
        verdict: null,
        dataOut: Buffer.alloc(0),
        durationNs: 0,
        instructions: r.instructions,
        events: state.events,
        printk: state.printk,
        ...(ctxOut ? { ctxOut: ctx ? Buffer.from(ctx.bytes) : null } : {}),
      };
    } finally {
      coll.state = undefined;
      if (ctx) coll.memory.remove(ctx);
    }
  }

  /** Run on a context region with this state: r1 its address (as a number when exact, no BigInt). */
  private enter(vm: Vm, ctx: Region, state: RunState): { retval: number; instructions: number } {
    this.coll.state = state;
    this.runArgs[0] = Memory.addressValue(ctx.id);
    const instructions = vm.runRaw(this.runArgs);
    return { retval: vm.lo[0] >>> 0, instructions };
  }

  /**
   * A run with no packet on a context region, unmapped afterwards: the
   * result's retval and verdict (SK_LOOKUP folds the program's answer) and
   * what else it hands back come from `finish`.
   */
  private runOnRegion(
    vm: Vm,
    cpu: number,
    ctx: Region,
    extra: Pick<RunState, 'task' | 'skLookup' | 'sockAddrSocket' | 'sysctl' | 'cgroupRetval' | 'sockOps'>,
    finish: (retval: number, state: RunState) => Pick<EmulatedTestRun, 'retval' | 'verdict' | 'ctxOut' | 'socket' | 'callRetval' | 'sysctl' | 'sockopt' | 'sockOps'>,
  ): EmulatedTestRun {
    const coll = this.coll;
    const pkt = (coll.packet = new Packet(coll.memory, new Uint8Array(0), 0, 0, coll.scratch, coll.packet));
    const state = runState(cpu, pkt, ctx, false, extra);
    try {
      const ran = this.enter(vm, ctx, state);
      return { dataOut: Buffer.alloc(0), durationNs: 0, instructions: ran.instructions, events: state.events, printk: state.printk, ...finish(ran.retval, state) };
    } finally {
      coll.state = undefined;
      coll.memory.remove(ctx);
    }
  }

  /**
   * A flow dissector: the frame from its Ethernet header; the struct
   * bpf_flow_keys it fills is the output (dataOut), as a test run returns it.
   */
  private onceFlow(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    checkFrame(this.name, data, false, 0);
    if (data.length > FLOW_DATA_MAX) refuseTestRun('INVALID_ARGUMENT', `program ${this.name}`, `a ${data.length}-byte frame is longer than the page a test run takes`);
    const flags = opts.ctx ? flowKeysFlags(this.name, opts.ctx) : 0;
    if (coll.scratch.length < data.length) coll.scratch = new Uint8Array(FLOW_DATA_MAX);
    const pkt = (coll.packet = new Packet(coll.memory, data, 0, 0, coll.scratch, coll.packet));
    const keys = coll.memory.add('flow_keys', new Uint8Array(FLOW_KEYS_SIZE), { kind: 'memory', writable: true });
    primeFlowKeys(keys, data, flags);
    const ctx = flowContext(coll.memory, pkt, keys);
    const state = runState(cpu, pkt, ctx, true, { flow: true, task: opts.task });
    try {
      const { retval, instructions } = this.enter(vm, ctx, state);
      clampFlowKeys(keys, data.length);
      const result: EmulatedTestRun = {
        retval,
        verdict: verdictName(this.type, retval),
        dataOut: Buffer.from(keys.bytes),
        durationNs: 0,
        instructions,
        events: state.events,
        printk: state.printk,
      };
      // The context comes back as given: the flags alone.
      if (opts.ctx) result.ctxOut = flowKeysOut(flags);
      return result;
    } finally {
      coll.state = undefined;
      coll.memory.remove(ctx);
      coll.memory.remove(keys);
    }
  }

  /**
   * A netfilter program: struct bpf_nf_ctx over the hook state (the ctx's pf
   * and hook, IPv4 LOCAL_OUT without one) and the socket buffer, whose data
   * starts at the network header. The verdict is NF_DROP/NF_ACCEPT; nothing
   * else comes back, as from the kernel's test run.
   */
  private onceNetfilter(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const run = netfilterRun(this.name, opts.ctx, data);
    if (data.length > SKB_DATA_MAX) refuseTestRun('INVALID_ARGUMENT', `program ${this.name}`, `a ${data.length}-byte packet is longer than the ${SKB_DATA_MAX} bytes a test run's socket buffer holds`);
    const headroom = SKB_HEADROOM;
    if (coll.scratch.length < headroom + data.length) coll.scratch = new Uint8Array(headroom + SKB_DATA_MAX);
    const pkt = (coll.packet = new Packet(coll.memory, data, headroom, 0, coll.scratch, coll.packet));
    netfilterData(pkt, run);
    const hookState = hookStateRegion(coll.memory, run);
    const skb = skbRegion(coll.memory);
    const ctx = netfilterContext(coll.memory, hookState, skb);
    const state = runState(cpu, pkt, ctx, true, { nfSkb: Memory.address(skb.id), task: opts.task });
    try {
      const { retval, instructions } = this.enter(vm, ctx, state);
      return { retval, verdict: verdictName(this.type, retval), dataOut: Buffer.alloc(0), durationNs: 0, instructions, events: state.events, printk: state.printk };
    } finally {
      coll.state = undefined;
      for (const r of [ctx, skb, hookState]) coll.memory.remove(r);
    }
  }

  /**
   * A socket lookup program on its struct bpf_sk_lookup: the run's answer is
   * the socket bpf_sk_assign chose, kept only when the program returns
   * SK_PASS (BPF_PROG_SK_LOOKUP_RUN_ARRAY), its cookie written into ctxOut.
   */
  private onceSkLookup(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const lookup = skLookupFromCtx(this.name, opts.ctx, data);
    return this.runOnRegion(vm, cpu, skLookupContext(this.coll.memory, lookup), { skLookup: lookup, task: opts.task }, (ran) => {
      if (ran !== SK_PASS) lookup.selected = null;
      // Any answer but SK_DROP leaves the lookup passing (the verifier lets a program return only the two).
      const retval = ran === SK_DROP ? SK_DROP : SK_PASS;
      return { retval, verdict: verdictName(this.type, retval), ctxOut: skLookupOut(this.name, lookup), socket: lookup.selected };
    });
  }

  /**
   * A cgroup sock_addr program on the struct bpf_sock_addr of a call (the
   * kernel runs it inside connect, bind, sendmsg, …; it has no test run): the
   * address it leaves comes back in ctxOut, retval 1 lets the call go on.
   */
  private onceSockAddr(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const hook = sockAddrHook(this.name, this.spec.expectedAttachType);
    const { bytes, socket } = sockAddrFromCtx(this.name, opts.ctx, data, hook);
    const sock = ownSocket(coll, opts.socket ?? coll.unboundSocket(socket.family, socket.protocol, true), `program ${this.name}`);
    const ctx = sockAddrContext(coll.memory, bytes, hook, sock.region);
    // A bind program's second bit is a flag (no CAP_NET_BIND_SERVICE check), its first the verdict.
    const bind = hook.name.startsWith('bind');
    return this.runOnRegion(vm, cpu, ctx, { sockAddrSocket: sock, task: opts.task, cgroupRetval: 0 }, (retval, state) => ({
      retval,
      verdict: null,
      ctxOut: sockAddrOut(bytes),
      callRetval: cgroupCallRetval(state, retval, bind),
      socket: sock,
    }));
  }

  /**
   * A cgroup sock program on the socket (opts.socket) being made, released or
   * bound: retval 0 fails socket()/bind() with EPERM; what sock_create and
   * sock_release write (bound_dev_if, mark, priority) the socket keeps, and
   * ctxOut is its struct bpf_sock after the run.
   */
  private onceCgroupSock(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const hook = cgroupSockHook(this.spec.expectedAttachType);
    const what = `program ${this.name}${hook ? ` (${hook})` : ''}`;
    if (!hook) throw new BpfError('USAGE', `${what}: a cgroup sock program's hook is sock_create, sock_release, post_bind4 or post_bind6 (its section says none)`);
    if (data.byteLength > 0 || opts.ctx) throw new BpfError('USAGE', `${what}: a cgroup sock program runs on a socket alone (testRun(new Uint8Array(0), { socket: emu.socket({ … }) }))`);
    if (!opts.socket) throw new BpfError('USAGE', `${what}: give the socket it runs on: testRun(new Uint8Array(0), { socket: emu.socket({ protocol, port: 0 }) })`);
    const sock = ownSocket(coll, opts.socket, what);
    if (hook.startsWith('post_bind')) {
      const v6 = hook === 'post_bind6';
      if (sock.family !== (v6 ? AF_INET6 : AF_INET) || sock.port === 0) throw new BpfError('USAGE', `${what}: runs after a bind of an ${v6 ? 'IPv6' : 'IPv4'} socket: give a bound one (port above 0)`);
    }
    const ctx = cgroupSockContext(coll.memory, sock, hook);
    return this.runOnRegion(vm, cpu, ctx, { task: opts.task, cgroupRetval: 0 }, (retval, state) => ({
      retval,
      verdict: null,
      ctxOut: Buffer.from(sock.region.bytes),
      callRetval: cgroupCallRetval(state, retval),
    }));
  }

  /**
   * A cgroup sysctl program on a read or write of a sysctl file (opts.sysctl):
   * the call goes on when callRetval is 0, with the file position and, for a
   * write, the value the program left (result.sysctl).
   */
  private onceSysctl(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const what = `program ${this.name}`;
    if (data.byteLength > 0 || opts.ctx) throw new BpfError('USAGE', `${what}: a cgroup sysctl program runs on a sysctl access alone (testRun(new Uint8Array(0), { sysctl: { name, value, write } }))`);
    if (!opts.sysctl) throw new BpfError('USAGE', `${what}: give the access it runs on: testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_forward', value: '0\\n', write: '1\\n' } })`);
    const run = new SysctlRun(opts.sysctl, what);
    const ctx = sysctlContext(this.coll.memory, run);
    return this.runOnRegion(vm, cpu, ctx, { task: opts.task, sysctl: run, cgroupRetval: 0 }, (retval, state) => {
      const callRetval = cgroupCallRetval(state, retval);
      return { retval, verdict: null, ctxOut: sysctlCtxOut(run), callRetval, sysctl: run.outcome(callRetval) };
    });
  }

  /**
   * A cgroup device program on an open or mknod of a device node (ctx: its
   * struct bpf_cgroup_dev_ctx): callRetval 0 lets the call go on.
   */
  private onceDevice(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const bytes = devCtxFromCtx(this.name, opts.ctx, data);
    const ctx = devContext(this.coll.memory, bytes);
    return this.runOnRegion(vm, cpu, ctx, { task: opts.task, cgroupRetval: 0 }, (retval, state) => ({
      retval,
      verdict: null,
      ctxOut: Buffer.from(bytes),
      callRetval: cgroupCallRetval(state, retval),
    }));
  }

  /**
   * A sock_ops program on a TCP socket's event (opts.sockOps): the socket's
   * state as the call has it for the run (sk_state, the skb), its reply.
   */
  private onceSockOps(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const what = `program ${this.name}`;
    const example = "testRun(new Uint8Array(0), { socket, sockOps: { op: 'ACTIVE_ESTABLISHED_CB' } })";
    if (data.byteLength > 0 || opts.ctx) throw new BpfError('USAGE', `${what}: a sock_ops program runs on a TCP socket's event alone (${example})`);
    if (!opts.sockOps || !opts.socket) throw new BpfError('USAGE', `${what}: give the TCP socket (EmulatedCollection.socket()) and the event it runs on: ${example}`);
    const sock = ownSocket(coll, opts.socket, what);
    const run = new SockOpsRun(opts.sockOps, sock, what);
    // The segment, read-only to the program (bpf_store_hdr_opt writes after skb_data_end).
    const skbData = run.segment && coll.memory.add('skb data', run.segment, { kind: 'packet', writable: false });
    // The socket's state is the call's during the run (its struct bpf_sock's too).
    const saved = sock.skState;
    sock.setSkState(run.state);
    try {
      const ctx = sockOpsContext(coll.memory, run, sock, skbData);
      return this.runOnRegion(vm, cpu, ctx, { task: opts.task, sockOps: { run, sock } }, (retval) => ({
        retval,
        verdict: null,
        ctxOut: null,
        sockOps: run.outcome(retval),
        socket: sock,
      }));
    } finally {
      sock.setSkState(saved);
      if (skbData) coll.memory.remove(skbData);
    }
  }

  /**
   * A cgroup sockopt program on a setsockopt or getsockopt call (opts.sockopt):
   * callRetval is what the call returns (0 or -errno) and result.sockopt what
   * the kernel's setsockopt is called with, or what the getsockopt caller gets.
   */
  private onceSockopt(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions): EmulatedTestRun {
    const coll = this.coll;
    const what = `program ${this.name}`;
    const hook = sockoptHook(this.name, this.spec.expectedAttachType);
    if (data.byteLength > 0 || opts.ctx)
      throw new BpfError('USAGE', `${what}: a cgroup sockopt program runs on a ${hook} call alone (testRun(new Uint8Array(0), { sockopt: { level, optname, optval } }))`);
    if (!opts.sockopt) throw new BpfError('USAGE', `${what}: give the ${hook} call it runs on: testRun(new Uint8Array(0), { sockopt: { level: 1, optname: 36, optval } }) (SOL_SOCKET, SO_MARK)`);
    const run = new SockoptRun(hook, opts.sockopt, what);
    const sock = ownSocket(coll, opts.socket ?? coll.unboundSocket(AF_INET, 'tcp', true), what);
    const optval = coll.memory.add('optval', run.buf, { kind: 'packet', writable: true });
    // ctx->retval is the cgroup run's, as bpf_get_retval and bpf_set_retval have it.
    const retval = { get: () => coll.state!.cgroupRetval!, set: (v: number) => void (coll.state!.cgroupRetval = v) };
    try {
      const ctx = sockoptContext(coll.memory, run, sock.region, optval, retval);
      return this.runOnRegion(vm, cpu, ctx, { task: opts.task, cgroupRetval: run.retval }, (ret, state) => {
        const [callRetval, sockopt] = run.finish(cgroupCallRetval(state, ret));
        return { retval: ret, verdict: null, ctxOut: null, callRetval, sockopt, socket: sock };
      });
    } finally {
      coll.memory.remove(optval);
    }
  }

  /**
   * A tracing program: no packet. Raw tracepoints and trampoline programs get
   * their arguments (fexit, fmod_ret and lsm the return value after them),
   * kprobes a struct pt_regs, tracepoints their record; read-only, as the
   * verifier has it.
   */
  private onceTrace(vm: Vm, data: Uint8Array, cpu: number, opts: EmulatedRunOptions, kind: 'args' | 'bytes'): EmulatedTestRun {
    const coll = this.coll;
    const what = `program ${this.name}`;
    if (data.byteLength > 0) throw new BpfError('USAGE', `${what}: a ${progTypeName(this.type)} program runs on its arguments alone (testRun(new Uint8Array(0), { args }))`);
    if (opts.ctx && opts.args) throw new BpfError('USAGE', `${what}: give the context as ctx bytes or as args, not both`);
    const attach = this.spec.expectedAttachType;
    const hasRet = attachHasRet(this.type, attach);
    const trampoline = this.type === BPF_PROG_TYPE.LSM || (this.type === BPF_PROG_TYPE.TRACING && attach !== BPF_ATTACH_TYPE.TRACE_RAW_TP);
    const funcIp = u64Option(opts.funcIp ?? 0, 'funcIp', what);
    let ctxBytes: Uint8Array;
    if (kind === 'bytes') {
      if (opts.ctx) ctxBytes = Uint8Array.from(opts.ctx);
      else if (this.type === BPF_PROG_TYPE.KPROBE) ctxBytes = ptRegs(opts.args ?? [], opts.ret, funcIp, what);
      else if (this.type === BPF_PROG_TYPE.PERF_EVENT) {
        // struct bpf_perf_event_data: the sampled registers (args as a kprobe's), sample_period and addr zero.
        ctxBytes = new Uint8Array(PERF_EVENT_DATA_SIZE);
        ctxBytes.set(ptRegs(opts.args ?? [], opts.ret, funcIp, what));
      } else throw new BpfError('USAGE', `${what}: a tracepoint program runs on its record: give it as ctx (the layout is in /sys/kernel/tracing/events/<category>/<name>/format)`);
    } else {
      const args = opts.args ? [...opts.args, ...(hasRet ? [opts.ret ?? 0] : [])] : undefined;
      ctxBytes = args ? argsBytes(args, coll.file.littleEndian, what) : Uint8Array.from(opts.ctx ?? []);
      if (!trampoline && ctxBytes.length > MAX_BPF_FUNC_ARGS * 8) {
        throw new BpfError('USAGE', `${what}: ${ctxBytes.length} bytes of arguments; a raw tracepoint takes at most ${MAX_BPF_FUNC_ARGS} (the kernel's test run refuses more: EINVAL)`);
      }
    }
    // An empty context is NULL, as the kernel passes it.
    const name = kind === 'args' ? 'args' : this.type === BPF_PROG_TYPE.KPROBE ? 'pt_regs' : this.type === BPF_PROG_TYPE.PERF_EVENT ? 'bpf_perf_event_data' : 'record';
    const hooks = this.type === BPF_PROG_TYPE.TRACEPOINT ? tracepointRecordHooks(ctxBytes) : undefined;
    const ctx = ctxBytes.length > 0 ? coll.memory.add(name, ctxBytes, { kind: 'context', writable: false, hooks }) : undefined;
    const trace: TraceState = {
      task: coll.task(opts.task),
      nargs: trampoline ? Math.max(0, Math.floor(ctxBytes.length / 8) - (hasRet ? 1 : 0)) : undefined,
      funcRet: this.type === BPF_PROG_TYPE.TRACING && (attach === BPF_ATTACH_TYPE.TRACE_FEXIT || attach === BPF_ATTACH_TYPE.MODIFY_RETURN),
      funcIp,
      cookie: u64Option(opts.cookie ?? 0, 'cookie', what),
    };
    return this.runOnContext(vm, cpu, ctx, { trace }, false);
  }

  private callbackVm: Vm | undefined;

  /** @internal A second machine over the same program and memory, for bpf_loop callbacks (its own registers and stack). */
  callback(): Vm {
    if (this.callbackVm) return this.callbackVm;
    const main = this.machine;
    this.callbackVm = new Vm(
      { instructions: main.insnsBytes, name: `${this.name} (callback)`, littleEndian: main.littleEndian, lineInfo: this.spec.lineInfo, relocations: this.spec.relocations },
      main.options,
    );
    return this.callbackVm;
  }

  /** @internal Tail call target: run this program on the current context, as the caller's continuation. */
  runTail(state: RunState): bigint {
    return this.machine.run([state.ctxAddr]).retval;
  }
}

// ------------------------------------------------------------------ helpers

const id = (name: string): number => {
  const n = helperId(name);
  // Only names from our own helper table reach here: a miss is a bug in this file.
  if (n === undefined) throw new BpfError('EMU_UNKNOWN_HELPER', `emulator: helper ${name} is not in the helper table`);
  return n;
};

function kernelHelpers(coll: EmulatedCollection, progType: number): Map<number, HelperDef> {
  const st = () => coll.state!;
  /** The machine and entry slot of a callback (bpf_loop, bpf_for_each_map_elem): `fn` must be a function address. */
  const callback = (ctx: HelperContext, fn: bigint): { vm: Vm; entry: number } => {
    const f = BigInt.asUintN(64, fn);
    if (f >> 32n !== BigInt(FUNC_ADDR_ID)) ctx.fault(`callback 0x${f.toString(16)} is not a function address`);
    const prog = coll.programs.get(ctx.vm.name);
    if (!prog) ctx.fault('a callback from a program this collection does not know');
    return { vm: prog!.callback(), entry: Number(f & 0xffffffffn) };
  };
  const mapOf = (ctx: HelperContext, addr: bigint): EmulatedMapT => {
    const m = coll.mapsByRegion.get(Number(BigInt.asUintN(64, addr) >> 32n));
    if (!m) ctx.fault(`0x${addr.toString(16)} is not a map`);
    return m!;
  };
  const bytes = memoryBytes;
  const neg = (errno: number) => BigInt.asUintN(64, BigInt(errno));
  const sockOpsOf = (ctx: HelperContext, name: string) => {
    const so = st().sockOps;
    if (!so) ctx.fault(`${name} outside a sock_ops run`);
    return so!;
  };
  // bpf_trace_printk / bpf_trace_vprintk: the line (at most 1,023 characters, a closing newline dropped) and its whole length.
  const printk = (ctx: HelperContext, fmt: bigint, size: bigint, args: bigint[]): bigint => {
    const f = formatBytes(bytes(ctx, fmt, Number(BigInt.asUintN(32, size)), 'format'));
    const text = typeof f === 'number' ? f : bprintf(f, args, printfMemory(ctx));
    if (typeof text === 'number') return neg(text);
    const line = text.slice(0, 1023).replace(/\n$/, '');
    st().printk.push(line);
    coll.printk.push(line);
    return BigInt(text.length);
  };
  // bpf_xdp_load_bytes / bpf_xdp_store_bytes: offset and len are u32; either
  // beyond 0xffff is -EFAULT, a range past the frame's end (its fragments
  // included) -EINVAL, as the kernel's bpf_xdp_pointer; else the bytes are
  // copied, across fragments too, and the result is 0.
  const xdpBytes = (ctx: HelperContext, offset: bigint, buf: bigint, len: bigint, dir: 'load' | 'store'): bigint => {
    const pkt = st().pkt;
    const off = Number(BigInt.asUintN(32, offset));
    const n = Number(BigInt.asUintN(32, len));
    if (off > 0xffff || n > 0xffff) return neg(-EFAULT);
    if (off + n > pkt.buffLen) return neg(-EINVAL);
    pkt.copyFrame(off, bytes(ctx, buf, n, 'buf', dir === 'load'), dir === 'store');
    return 0n;
  };
  // bpf_map_lookup_elem of an array map (counters, the usual case) on the
  // registers: no BigInt in or out. Anything else, faults included, goes to the helper.
  const lookupFast = (vm: Vm): boolean => {
    const m = coll.mapsByRegion.get(vm.hi[1] >>> 0);
    const key = vm.memory.regions[vm.hi[2] >>> 0];
    const at = vm.lo[2] >>> 0;
    if (m === undefined || key === undefined || m.keySize !== 4 || at + 4 > key.bytes.byteLength) return false;
    const addr = m.arrayLookupAt(key.bytes, at, st().cpu);
    if (addr === undefined) return false;
    A.fromValue(addr);
    vm.lo[0] = A.RES_LO;
    vm.hi[0] = A.RES_HI;
    return true;
  };
  const defs: [string, HelperDef['fn']][] = [
    [
      'bpf_map_lookup_elem',
      (ctx, map, key) => {
        const m = mapOf(ctx, map);
        return m.lookupAddress(bytes(ctx, key, m.keySize, 'key'), st().cpu);
      },
    ],
    [
      'bpf_map_lookup_percpu_elem',
      // A per-CPU map's value on that CPU; NULL for a CPU the emulated host does not have.
      (ctx, map, key, cpu) => {
        const m = mapOf(ctx, map);
        const c = Number(BigInt.asUintN(32, cpu));
        return c >= coll.cpus ? 0n : m.lookupAddress(bytes(ctx, key, m.keySize, 'key'), c);
      },
    ],
    [
      'bpf_map_update_elem',
      (ctx, map, key, value, flags) => {
        const m = mapOf(ctx, map);
        if (m.type === BPF_MAP_TYPE.PROG_ARRAY || m.type === BPF_MAP_TYPE.ARRAY_OF_MAPS || m.type === BPF_MAP_TYPE.HASH_OF_MAPS) return neg(-EINVAL);
        return neg(m.updateFromProgram(bytes(ctx, key, m.keySize, 'key'), bytes(ctx, value, m.valueSize, 'value'), Number(flags), st().cpu));
      },
    ],
    [
      'bpf_map_delete_elem',
      (ctx, map, key) => {
        const m = mapOf(ctx, map);
        return neg(m.deleteFromProgram(bytes(ctx, key, m.keySize, 'key')));
      },
    ],
    [
      'bpf_map_push_elem',
      (ctx, map, value, flags) => {
        const m = mapOf(ctx, map);
        return neg(m.push(bytes(ctx, value, m.valueSize, 'value'), Number(flags)));
      },
    ],
    [
      'bpf_map_pop_elem',
      (ctx, map, value) => {
        const m = mapOf(ctx, map);
        return neg(m.popOrPeek(bytes(ctx, value, m.valueSize, 'value', true), true));
      },
    ],
    [
      'bpf_map_peek_elem',
      (ctx, map, value) => {
        const m = mapOf(ctx, map);
        return neg(m.popOrPeek(bytes(ctx, value, m.valueSize, 'value', true), false));
      },
    ],
    ['bpf_ktime_get_ns', () => coll.now()],
    ['bpf_ktime_get_boot_ns', () => coll.now()],
    ['bpf_ktime_get_coarse_ns', () => coll.now()],
    ['bpf_ktime_get_tai_ns', () => coll.now()],
    ['bpf_get_prandom_u32', () => BigInt(coll.prandom())],
    ['bpf_get_smp_processor_id', () => BigInt(st().cpu)],
    ['bpf_trace_printk', (ctx, fmt, size, a1, a2, a3) => printk(ctx, fmt, size, [a1, a2, a3])],
    [
      'bpf_trace_vprintk',
      (ctx, fmt, size, data, dataLen) => {
        const args = printfArgs(ctx, data, dataLen);
        return typeof args === 'number' ? neg(args) : printk(ctx, fmt, size, args);
      },
    ],
    [
      'bpf_snprintf',
      // The format is a constant string (the verifier checked it); the output is cut to str_size with a NUL,
      // and the result is the whole length and the NUL.
      (ctx, str, size, fmt, data, dataLen) => {
        const args = printfArgs(ctx, data, dataLen);
        if (typeof args === 'number') return neg(args);
        const text = bprintf(formatString(ctx, fmt), args, printfMemory(ctx));
        if (typeof text === 'number') return neg(text);
        const n = Number(BigInt.asUintN(32, size));
        if (n > 0) {
          const dst = bytes(ctx, str, n, 'str', true);
          const k = Math.min(text.length, n - 1);
          dst.set(Buffer.from(text.slice(0, k), 'latin1'));
          dst[k] = 0;
        }
        return BigInt(text.length + 1);
      },
    ],
    [
      'bpf_redirect',
      (_ctx, ifindex, flags) => {
        // TC takes BPF_F_INGRESS (1) alone, else TC_ACT_SHOT; XDP no flags, else XDP_ABORTED. Nothing recorded then.
        const tc = st().skb !== undefined;
        if (tc ? BigInt.asUintN(64, flags) & ~1n : flags !== 0n) return tc ? TC_ACT_SHOT : 0n;
        st().redirect = { ifindex: Number(BigInt.asUintN(32, ifindex)), flags: Number(flags) };
        return tc ? TC_ACT_REDIRECT : 4n; // XDP_REDIRECT
      },
    ],
    [
      'bpf_check_mtu',
      (ctx, _c, ifindex, mtuLen, lenDiff, flags) => {
        // The device's MTU plus its Ethernet header against the frame's length (or *mtu_len, an L3
        // length, plus that header) plus len_diff; *mtu_len gets the MTU. A test run's skb is never
        // GSO. Flags it refuses (-EINVAL) and a device it lacks (-ENODEV) write nothing.
        const s = st();
        const tc = s.skb !== undefined;
        const view = bytes(ctx, mtuLen, 4, 'mtu_len', true);
        const dv = new DataView(view.buffer, view.byteOffset, 4);
        const given = dv.getUint32(0, true);
        const f = BigInt.asUintN(64, flags);
        if (tc ? f & ~1n || (f && (lenDiff !== 0n || given !== 0)) : f !== 0n) return neg(-EINVAL);
        const dev = Number(BigInt.asUintN(32, ifindex)) || (tc ? s.skb!.ifindex : s.xdpMd.ingressIfindex || 1);
        const device = coll.device(dev);
        if (device === undefined) return neg(-ENODEV);
        const mtu = device.mtu;
        // C ints: the lengths wrap at 32 bits as the kernel's do.
        const len = given !== 0 ? (given + ETH_HLEN) | 0 : s.pkt.end - s.pkt.data;
        const total = (len + Number(BigInt.asIntN(32, lenDiff))) | 0;
        dv.setUint32(0, mtu, true);
        return total <= mtu + ETH_HLEN ? 0n : 1n; // BPF_MTU_CHK_RET_SUCCESS / FRAG_NEEDED
      },
    ],
    [
      'bpf_redirect_peer',
      (_ctx, ifindex, flags) => {
        if (flags !== 0n) return TC_ACT_SHOT;
        st().redirect = { ifindex: Number(BigInt.asUintN(32, ifindex)), flags: 0, via: 'peer' };
        return TC_ACT_REDIRECT;
      },
    ],
    [
      'bpf_redirect_neigh',
      (ctx, ifindex, params, plen, flags) => {
        // A struct bpf_redir_neigh (20 bytes) or none (plen 0): the next hop then comes from the route.
        const n = Number(BigInt.asUintN(32, plen));
        if ((n !== 0 && n < REDIR_NEIGH_SIZE) || flags !== 0n) return TC_ACT_SHOT;
        const nexthop = n === 0 ? undefined : Buffer.from(bytes(ctx, params, REDIR_NEIGH_SIZE, 'params'));
        st().redirect = { ifindex: Number(BigInt.asUintN(32, ifindex)), flags: 0, via: 'neigh', ...(nexthop ? { nexthop } : {}) };
        return TC_ACT_REDIRECT;
      },
    ],
    [
      'bpf_redirect_map',
      (ctx, map, key, flags) => {
        const m = mapOf(ctx, map);
        const k = Buffer.alloc(4);
        k.writeUInt32LE(Number(BigInt.asUintN(32, key)));
        const present = m.type === BPF_MAP_TYPE.XSKMAP || m.type === BPF_MAP_TYPE.DEVMAP || m.type === BPF_MAP_TYPE.CPUMAP ? m.has(k) : m.lookupAddress(k, st().cpu) !== 0n;
        if (!present) return flags & 3n; // the lower bits: the action when the slot is empty
        st().redirect = { map: m.name, key: Number(BigInt.asUintN(32, key)), flags: Number(flags) };
        return 4n; // XDP_REDIRECT
      },
    ],
    ['bpf_xdp_adjust_head', (_ctx, _x, delta) => neg(st().pkt.adjustHead(Number(BigInt.asIntN(32, delta))))],
    [
      'bpf_xdp_adjust_tail',
      (_ctx, _x, delta) => {
        const pkt = st().pkt;
        const d = Number(BigInt.asIntN(32, delta));
        return neg(pkt.fragmented ? pkt.adjustFragsTail(d) : pkt.adjustTail(d));
      },
    ],
    ['bpf_xdp_adjust_meta', (_ctx, _x, delta) => neg(st().pkt.adjustMeta(Number(BigInt.asIntN(32, delta))))],
    // data_end - data and the fragments of a multi-buffer frame.
    ['bpf_xdp_get_buff_len', () => BigInt(st().pkt.buffLen)],
    ['bpf_xdp_load_bytes', (ctx, _x, offset, buf, len) => xdpBytes(ctx, offset, buf, len, 'load')],
    ['bpf_xdp_store_bytes', (ctx, _x, offset, buf, len) => xdpBytes(ctx, offset, buf, len, 'store')],
    [
      'bpf_tail_call',
      (ctx, _c, map, index) => {
        const s = st();
        const m = mapOf(ctx, map);
        const name = m.programs.get(Number(BigInt.asUintN(32, index)));
        if (name === undefined || s.tailCalls >= MAX_TAIL_CALL_CNT) return 0n; // falls through, as in the kernel
        s.tailCalls++;
        ctx.stop(coll.program(name).runTail(s));
      },
    ],
    [
      'bpf_perf_event_output',
      (ctx, _c, map, flags, data, size) => {
        const m = mapOf(ctx, map);
        const s = st();
        const idx = Number(flags & 0xffffffffn);
        // A packet program may add the packet's first bytes (BPF_F_CTXLEN_MASK, fragments included); more than it
        // holds is -EFAULT. Other flags past the CPU index, or a length from a program without a packet, are -EINVAL.
        const ctxLen = Number((flags >> 32n) & 0xfffffn);
        if (BigInt.asUintN(64, flags) >> 52n) return neg(-EINVAL);
        if (ctxLen > 0 && !s.packet) return neg(-EINVAL);
        if (ctxLen > s.pkt.buffLen) return neg(-EFAULT);
        const cpu = idx === 0xffffffff ? s.cpu : idx;
        const tail = Buffer.alloc(ctxLen);
        s.pkt.copyFrame(0, tail);
        const body = Buffer.concat([Buffer.from(bytes(ctx, data, Number(size), 'data')), tail]);
        const ev: MapEvent = { cpu, data: body };
        m.events.push(ev);
        s.events.push({ map: m.name, ...ev });
        return 0n;
      },
    ],
    [
      'bpf_ringbuf_output',
      (ctx, map, data, size) => {
        const m = mapOf(ctx, map);
        const ev = { cpu: st().cpu, data: Buffer.from(bytes(ctx, data, Number(size), 'data')) };
        m.events.push(ev);
        st().events.push({ map: m.name, ...ev });
        return 0n;
      },
    ],
    [
      'bpf_ringbuf_reserve',
      (ctx, map, size) => {
        const m = mapOf(ctx, map);
        const r = coll.memory.add(`ringbuf ${m.name} record`, new Uint8Array(Number(size)), { kind: 'map_value' });
        reserved.set(r.id, m);
        return Memory.address(r.id);
      },
    ],
    [
      'bpf_ringbuf_submit',
      (ctx, data) => {
        const rid = Number(BigInt.asUintN(64, data) >> 32n);
        const m = reserved.get(rid);
        if (!m) ctx.fault('bpf_ringbuf_submit of a pointer bpf_ringbuf_reserve did not return');
        const ev = { cpu: st().cpu, data: Buffer.from(coll.memory.regions[rid]!.bytes) };
        m!.events.push(ev);
        st().events.push({ map: m!.name, ...ev });
        reserved.delete(rid);
        coll.memory.remove(rid);
      },
    ],
    [
      'bpf_ringbuf_discard',
      (ctx, data) => {
        const rid = Number(BigInt.asUintN(64, data) >> 32n);
        if (!reserved.delete(rid)) ctx.fault('bpf_ringbuf_discard of a pointer bpf_ringbuf_reserve did not return');
        coll.memory.remove(rid);
      },
    ],
    [
      'bpf_csum_diff',
      (ctx, from, fromSize, to, toSize, seed) => {
        const f = Number(fromSize) ? bytes(ctx, from, Number(fromSize), 'from') : new Uint8Array(0);
        const t = Number(toSize) ? bytes(ctx, to, Number(toSize), 'to') : new Uint8Array(0);
        return BigInt(csumDiff(f, t, Number(BigInt.asUintN(32, seed))));
      },
    ],
    [
      'bpf_loop',
      (ctx, nr, fn, cbCtx, flags) => {
        // Calls fn(i, ctx) until it returns 1 or nr times; returns the number of calls.
        if (flags !== 0n) return neg(-EINVAL);
        if (nr > 1n << 23n) return neg(-7); // -E2BIG
        const cb = callback(ctx, fn);
        let i = 0n;
        while (i < nr) {
          const r = cb.vm.run([i, cbCtx], { entry: cb.entry }).retval;
          i++;
          if (r === 1n) break;
        }
        return i;
      },
    ],
    [
      'bpf_for_each_map_elem',
      (ctx, map, fn, cbCtx, flags) => {
        // Calls fn(map, &key, &value, ctx) for each element until it returns non-zero; returns the number of calls.
        const m = mapOf(ctx, map);
        if (flags !== 0n) return neg(-EINVAL);
        const cb = callback(ctx, fn);
        // The key the callback reads: a copy (an array's index lives on the kernel's stack).
        const key = ctx.memory.add(`${m.name} key`, new Uint8Array(m.keySize), { kind: 'memory', writable: false });
        try {
          const keyAddr = Memory.address(key.id);
          const n = m.forEachElement(st().cpu, (k, value) => {
            key.bytes.set(k);
            return cb.vm.run([map, keyAddr, value, cbCtx], { entry: cb.entry }).retval !== 0n;
          });
          if (n === undefined) ctx.fault(`map ${m.name} is a ${m.typeName}: bpf_for_each_map_elem walks hash, LRU hash and array maps (per-CPU too)`);
          return BigInt(n!);
        } finally {
          ctx.memory.remove(key);
        }
      },
    ],
    [
      'bpf_skb_load_bytes',
      (ctx, _skb, offset, to, len) => {
        // An offset above INT_MAX or a range past the end is -EFAULT, and `to` is zeroed (the kernel's err_clear);
        // a flow dissector's test run has no skb to read at all.
        const pkt = st().pkt;
        const off = Number(BigInt.asUintN(32, offset));
        const n = Number(BigInt.asUintN(32, len));
        const dst = bytes(ctx, to, n, 'to', true);
        if (off > INT_MAX || off + n > pkt.end - pkt.data || st().flow) {
          dst.fill(0);
          return neg(-EFAULT);
        }
        dst.set(pkt.buf.subarray(pkt.data + off, pkt.data + off + n));
        return 0n;
      },
    ],
    [
      'bpf_skb_store_bytes',
      (ctx, _skb, offset, from, len, flags) => {
        // Flags other than BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH are -EINVAL (the first changes only
        // skb->csum, which a test run does not return); then the offset checks of load_bytes.
        if (BigInt.asUintN(64, flags) & ~3n) return neg(-EINVAL);
        const pkt = st().pkt;
        const off = Number(BigInt.asUintN(32, offset));
        const n = Number(BigInt.asUintN(32, len));
        if (off > INT_MAX || off + n > pkt.end - pkt.data) return neg(-EFAULT);
        pkt.buf.set(bytes(ctx, from, n, 'from'), pkt.data + off);
        if (flags & 2n) st().skb!.hash = 0; // BPF_F_INVALIDATE_HASH
        return 0n;
      },
    ],
    [
      'bpf_skb_pull_data',
      // A test run's socket buffer is linear: up to skb->len is there already, more is -ENOMEM.
      (_ctx, _skb, len) => neg(Number(BigInt.asUintN(32, len)) <= st().pkt.end - st().pkt.data ? 0 : -ENOMEM),
    ],
    [
      'bpf_skb_change_tail',
      // -EINVAL for flags, beyond SKB_MAX_ALLOC, or cutting into the headers (__bpf_skb_min_len: the
      // transport header's offset once set, else the network header's, each only when past data).
      (_ctx, _skb, len, flags) => {
        const pkt = st().pkt;
        const n = Number(BigInt.asUintN(32, len));
        let minLen = Math.max(0, pkt.net - pkt.data);
        if (pkt.transport !== undefined && pkt.transport > pkt.data) minLen = pkt.transport - pkt.data;
        if (flags !== 0n || n > SKB_MAX_ALLOC || n < minLen) return neg(-EINVAL);
        if (st().skb!.encapsulation) return neg(-ENOTSUPP);
        pkt.setLength(n);
        return 0n;
      },
    ],
    [
      'bpf_skb_change_head',
      // Zeroes in front, the mac header moved there; -EINVAL for flags, a negative int, or a length beyond
      // SKB_MAX_ALLOC (u32 arithmetic) unless the packet is GSO; -ENOMEM for a head past the largest allocation.
      (_ctx, _skb, room, flags) => {
        const { pkt, skb } = st();
        const n = Number(BigInt.asUintN(32, room));
        const len = pkt.end - pkt.data;
        const newLen = (len + n) >>> 0;
        if (flags !== 0n || n > INT_MAX || (skb!.gsoSize === 0 && newLen > SKB_MAX_ALLOC) || newLen < len) return neg(-EINVAL);
        if (!pkt.headFits(n)) return neg(-ENOMEM);
        pkt.pushHead(n);
        return 0n;
      },
    ],
    [
      'bpf_skb_change_proto',
      // __be16 as stored: the protocol's bytes swapped on this little-endian host.
      (_ctx, _skb, proto, flags) => neg(changeProto(st().pkt, st().skb!, A.bswap16(Number(BigInt.asUintN(16, proto))), flags)),
    ],
    [
      'bpf_skb_adjust_room',
      (_ctx, _skb, lenDiff, mode, flags) => neg(adjustRoom(st().pkt, st().skb!, Number(BigInt.asIntN(32, lenDiff)), Number(BigInt.asUintN(32, mode)), BigInt.asUintN(64, flags))),
    ],
    ['bpf_csum_level', (_ctx, _skb, level) => neg(csumLevel(st().skb!, BigInt.asUintN(64, level)))],
    [
      'bpf_skb_load_bytes_relative',
      (ctx, _skb, offset, to, len, start) =>
        neg(loadBytesRelative(st().pkt, Number(BigInt.asUintN(32, offset)), bytes(ctx, to, Number(BigInt.asUintN(32, len)), 'to', true), Number(BigInt.asUintN(32, start)))),
    ],
    [
      'bpf_strncmp',
      // strncmp(s1, s2, s1_sz): -1, 0 or 1 at the first byte that differs, 0 past a NUL both have; s2 is a constant string.
      (ctx, s1, size, s2) => {
        const a = bytes(ctx, s1, Number(BigInt.asUintN(32, size)), 's1');
        const b = formatString(ctx, s2);
        for (let i = 0; i < a.length; i++) {
          const c1 = a[i]!;
          const c2 = i < b.length ? b[i]! : 0;
          if (c1 !== c2) return neg(c1 < c2 ? -1 : 1);
          if (c1 === 0) break;
        }
        return 0n;
      },
    ],
    ['bpf_skb_set_tunnel_key', (ctx, _skb, from, size, flags) => neg(setTunnelKey(st().skb!, bytes(ctx, from, Number(BigInt.asUintN(32, size)), 'from'), BigInt.asUintN(64, flags)))],
    ['bpf_skb_get_tunnel_key', (ctx, _skb, to, size, flags) => neg(getTunnelKey(st().skb!, bytes(ctx, to, Number(BigInt.asUintN(32, size)), 'to', true), BigInt.asUintN(64, flags)))],
    ['bpf_skb_set_tunnel_opt', (ctx, _skb, from, size) => neg(setTunnelOpt(st().skb!, bytes(ctx, from, Number(BigInt.asUintN(32, size)), 'from')))],
    ['bpf_skb_get_tunnel_opt', (ctx, _skb, to, size) => neg(getTunnelOpt(st().skb!, bytes(ctx, to, Number(BigInt.asUintN(32, size)), 'to', true)))],
    ['bpf_skb_set_tstamp', (_ctx, _skb, tstamp, type) => neg(setTstamp(st().skb!, BigInt.asUintN(64, tstamp), Number(BigInt.asUintN(32, type))))],
    // The emulated host has one NUMA node.
    ['bpf_get_numa_node_id', () => 0n],
    [
      'bpf_set_hash',
      (_ctx, _skb, hash) => {
        st().skb!.hash = Number(BigInt.asUintN(32, hash));
        return 0n;
      },
    ],
    [
      'bpf_set_hash_invalid',
      () => {
        st().skb!.hash = 0;
        return 0n;
      },
    ],
    [
      'bpf_skb_change_type',
      // Only PACKET_HOST..PACKET_OTHERHOST (0-3), from and to; else -EINVAL.
      (_ctx, _skb, type) => {
        const skb = st().skb!;
        const t = Number(BigInt.asUintN(32, type));
        if (skb.pktType > 3 || t > 3) return neg(-EINVAL);
        skb.pktType = t;
        return 0n;
      },
    ],
    [
      'bpf_skb_vlan_push',
      // A protocol other than 802.1Q/802.1ad (as stored: big-endian) is taken as 802.1Q; a tag already
      // outside the frame goes into it first (skb_vlan_flush), the frame's protocol becoming its.
      (_ctx, _skb, proto, tci) => {
        const { skb, pkt } = st();
        const p = A.bswap16(Number(BigInt.asUintN(16, proto)));
        const outside = skb!.vlan;
        if (outside) {
          if (pkt.data !== pkt.mac) return neg(-EINVAL);
          pkt.insertVlan(outside.proto, outside.tci);
          skb!.protocol = outside.proto;
        }
        skb!.vlan = { proto: isVlanProto(p) ? p : ETH_P_8021Q, tci: Number(BigInt.asUintN(16, tci)) };
        return 0n;
      },
    ],
    [
      'bpf_skb_vlan_pop',
      // The tag outside the frame dropped, else the frame's own popped; then a next tag in the frame moves outside.
      () => {
        const skb = st().skb!;
        if (skb.vlan) skb.vlan = undefined;
        else {
          if (!isVlanProto(skb.protocol)) return 0n;
          const r = vlanPop(st().pkt, skb);
          if (typeof r === 'number') return neg(r);
        }
        if (!isVlanProto(skb.protocol)) return 0n;
        const proto = skb.protocol;
        const r = vlanPop(st().pkt, skb);
        if (typeof r === 'number') return neg(r);
        skb.vlan = { proto, tci: r.tci };
        return 0n;
      },
    ],
    // A test run's skb has no classid or route realm.
    ['bpf_get_cgroup_classid', () => 0n],
    ['bpf_get_route_realm', () => 0n],
    ['bpf_skb_ecn_set_ce', () => BigInt(ecnSetCe(st().pkt, st().skb!))],
    // A test run's skb is CHECKSUM_NONE: bpf_csum_update works only on CHECKSUM_COMPLETE.
    ['bpf_csum_update', () => neg(-ENOTSUPP)],
    ['bpf_l3_csum_replace', (_ctx, _skb, offset, from, to, flags) => neg(csumReplace(st().pkt, offset, from, to, flags, false))],
    ['bpf_l4_csum_replace', (_ctx, _skb, offset, from, to, flags) => neg(csumReplace(st().pkt, offset, from, to, flags, true))],
    ['bpf_spin_lock', () => 0n],
    ['bpf_spin_unlock', () => 0n],
    [
      'bpf_fib_lookup',
      (ctx, _c, params, plen) => {
        // struct bpf_fib_lookup: family @0, ifindex @8, ipv4_dst @32, smac @52, dmac @58.
        const p = bytes(ctx, params, Math.min(Number(plen), 64), 'params', true);
        if (p.length < 64) return neg(-EINVAL);
        if (p[0] !== 2) return 4n; // not IPv4: BPF_FIB_LKUP_RET_NOT_FWDED
        const dst = `${p[32]}.${p[33]}.${p[34]}.${p[35]}`;
        const route = coll.opts.routes?.[dst];
        if (!route) return 4n; // no route in the table the test gave: BPF_FIB_LKUP_RET_NOT_FWDED
        const mac = (m: string) => Buffer.from(m.replace(/[:-]/g, ''), 'hex');
        new DataView(p.buffer, p.byteOffset).setUint32(8, route.ifindex, true);
        p.set(mac(route.smac).subarray(0, 6), 52);
        p.set(mac(route.dmac).subarray(0, 6), 58);
        return 0n; // BPF_FIB_LKUP_RET_SUCCESS
      },
    ],
  ];
  // The task and tracing state: a packet or syscall run's made when a helper first asks.
  const trace = (): TraceState => {
    const s = st();
    return (s.trace ??= { task: coll.task(s.task), funcRet: false, funcIp: 0n, cookie: 0n });
  };
  // The task's task_struct, mapped once per task and kept (a program may keep its address in a map).
  const taskStructs = new Map<string, bigint>();
  const currentTask = (ctx: HelperContext): bigint => {
    const btf = coll.opts.coreTarget;
    if (!btf) ctx.fault('struct task_struct is laid out by a kernel BTF: give emulate() a coreTarget (e.g. a vmlinux BTF)');
    const t = trace().task;
    const key = `${t.pid} ${t.tgid} ${t.ppid} ${Buffer.from(t.comm).toString('hex')}`;
    let addr = taskStructs.get(key);
    if (addr === undefined) taskStructs.set(key, (addr = mapTaskStruct(coll.memory, btf!, t)));
    return addr;
  };
  defs.push(...traceHelpers(trace, bytes, coll.opts.virtualAddressBits ?? 48, currentTask));
  // Sockets: a struct bpf_sock pointer a SOCKMAP/SOCKHASH lookup gave (NULL where the helper takes one).
  const socketAt = (ctx: HelperContext, addr: bigint, what: string): EmulatedSocket | null => {
    const a = BigInt.asUintN(64, addr);
    if (a === 0n) return null;
    const sock = coll.socketsByRegion.get(Number(a >> 32n));
    if (!sock || (a & 0xffffffffn) !== 0n) ctx.fault(`${what}: ${ctx.memory.describe(a)} is not a socket`);
    return sock!;
  };
  defs.push(
    [
      'bpf_sk_assign',
      (ctx, _ctx, sk, flags) => {
        const lookup = st().skLookup;
        if (!lookup) ctx.fault('bpf_sk_assign is emulated for socket lookup (sk_lookup) programs only');
        return neg(skLookupAssign(lookup!, socketAt(ctx, sk, 'sk'), BigInt.asUintN(64, flags)));
      },
    ],
    ...(['bpf_sk_lookup_tcp', 'bpf_sk_lookup_udp', 'bpf_skc_lookup_tcp'] as const).map((name): [string, HelperDef['fn']] => [
      name,
      // The packet's tuple among the emulated host's sockets (EmulatedCollection.socket()), on the run's device.
      (ctx, _ctx, tuple, size, netns, flags) => {
        const t = socketTuple(bytes(ctx, tuple, Number(BigInt.asUintN(32, size)), 'tuple'));
        const ns = BigInt.asUintN(64, netns);
        // flags must be 0; a netns whose low 32 bits are a negative s32 (BPF_F_CURRENT_NETNS) is the run's,
        // an id another namespace's, which the emulator has none of.
        if (!t || BigInt.asUintN(64, flags) !== 0n || (ns & 0x80000000n) === 0n) return 0n;
        const s = st();
        const dif = s.skb ? s.skb.ifindex : s.xdpMd.ingressIfindex || 1;
        const sock = lookupSocket(coll.sockets, name === 'bpf_sk_lookup_udp' ? 'udp' : 'tcp', t, dif);
        if (!sock) return 0n;
        if (name !== 'bpf_skc_lookup_tcp') return Memory.address(sock.region.id);
        const common = sock.commonRegion;
        coll.socketsByRegion.set(common.id, sock);
        return Memory.address(common.id);
      },
    ]),
    [
      'bpf_get_socket_cookie',
      // A sock_addr or sock_ops program's: the calling socket's cookie (r1 its ctx; a request socket's, which its connection keeps).
      (ctx) => {
        const s = st();
        const sock = s.sockAddrSocket ?? s.sockOps?.sock;
        if (!sock) ctx.fault('bpf_get_socket_cookie outside a cgroup sock_addr or sock_ops run');
        return sock!.cookie;
      },
    ],
    [
      'bpf_sock_ops_cb_flags_set',
      // Replaces the socket's callback flags with those it knows; returns the bits it does not (an int).
      (ctx, _ops, flags) => {
        const so = sockOpsOf(ctx, 'bpf_sock_ops_cb_flags_set');
        if (so.run.op > BPF_SOCK_OPS.WRITE_HDR_OPT_CB) return neg(-EOPNOTSUPP);
        if (so.run.request) return neg(-EINVAL);
        const v = Number(BigInt.asIntN(32, flags));
        so.sock.tcp.cbFlags = v & SOCK_OPS_ALL_CB_FLAGS;
        return neg(v & ~SOCK_OPS_ALL_CB_FLAGS);
      },
    ],
    ...(['bpf_sock_map_update', 'bpf_sock_hash_update'] as const).map((name): [string, HelperDef['fn']] => [
      name,
      // The run's socket into a SOCKMAP slot or SOCKHASH key: from the established and listen callbacks only.
      (ctx, _ops, map, key, flags) => {
        const so = sockOpsOf(ctx, name);
        const m = mapOf(ctx, map);
        if (!m.isSockMap()) ctx.fault(`${name} of ${m.typeName} map ${m.name} (the verifier takes only a ${name === 'bpf_sock_map_update' ? 'SOCKMAP' : 'SOCKHASH'})`);
        const op = so.run.op;
        if (op !== BPF_SOCK_OPS.ACTIVE_ESTABLISHED_CB && op !== BPF_SOCK_OPS.PASSIVE_ESTABLISHED_CB && op !== BPF_SOCK_OPS.TCP_LISTEN_CB) return neg(-EOPNOTSUPP);
        return neg(m.updateSocketFromProgram(bytes(ctx, key, m.keySize, 'key'), so.sock, BigInt.asUintN(64, flags)));
      },
    ]),
    ...sysctlHelpers(() => st().sysctl, bytes),
    ...(['bpf_setsockopt', 'bpf_getsockopt'] as const).map((name): [string, HelperDef['fn']] => [
      name,
      // On a sock_addr or sock_ops program's calling socket (r1 its ctx) or a socket pointer (a sockopt program's ctx->sk).
      (ctx, sk, level, optname, optval, optlen) => {
        const s = st();
        const onCtx = BigInt.asUintN(64, sk) === s.ctxAddr;
        const buf = bytes(ctx, optval, Number(BigInt.asUintN(32, optlen)), 'optval', name === 'bpf_getsockopt');
        if (onCtx && s.sockOps) {
          // A sock_ops program's: TCP callbacks only, on a full socket (a request socket has no options yet).
          const { run } = s.sockOps;
          if (run.op > BPF_SOCK_OPS.WRITE_HDR_OPT_CB) return neg(-EOPNOTSUPP);
          const o = Number(BigInt.asIntN(32, optname));
          // The SYN's headers, before any full-socket check (a request socket has them too).
          if (name === 'bpf_getsockopt' && Number(BigInt.asIntN(32, level)) === SOL_TCP && o >= TCP.BPF_SYN && o <= TCP.BPF_SYN_MAC) return neg(synHeader(run, o, buf, ctx));
          if (run.request) {
            if (name === 'bpf_getsockopt') buf.fill(0);
            return neg(-EINVAL);
          }
        }
        // r1 the ctx: the calling socket (sock_addr, sock_ops); else a socket pointer.
        const sock = (onCtx ? (s.sockAddrSocket ?? s.sockOps?.sock) : undefined) ?? socketAt(ctx, sk, 'sk');
        if (!sock) ctx.fault(`${name} of NULL`);
        const notEmulated = (what: string): never => ctx.fault(`${name} of ${what} is not emulated`);
        const [l, o] = [Number(BigInt.asIntN(32, level)), Number(BigInt.asIntN(32, optname))];
        return neg(name === 'bpf_setsockopt' ? bpfSetsockopt(sock!, l, o, buf, notEmulated) : bpfGetsockopt(sock!, l, o, buf, notEmulated));
      },
    ]),
    [
      'bpf_reserve_hdr_opt',
      // Option space for the program's own TCP header options (HDR_OPT_LEN_CB).
      (ctx, _ops, len, flags) => neg(reserveHdrOpt(sockOpsOf(ctx, 'bpf_reserve_hdr_opt').run, Number(BigInt.asUintN(32, len)), BigInt.asUintN(64, flags))),
    ],
    [
      'bpf_store_hdr_opt',
      // An option into the reserved space (WRITE_HDR_OPT_CB).
      (ctx, _ops, from, len, flags) => neg(storeHdrOpt(sockOpsOf(ctx, 'bpf_store_hdr_opt').run, bytes(ctx, from, Number(BigInt.asUintN(32, len)), 'from'), BigInt.asUintN(64, flags))),
    ],
    [
      'bpf_load_hdr_opt',
      // An option of the segment (or the SYN's) by kind and magic, into the buffer that names it.
      (ctx, _ops, buf, len, flags) => neg(loadHdrOpt(sockOpsOf(ctx, 'bpf_load_hdr_opt').run, bytes(ctx, buf, Number(BigInt.asUintN(32, len)), 'searchby_res', true), BigInt.asUintN(64, flags))),
    ],
    [
      'bpf_get_local_storage',
      // The value of the cgroup the program is attached to (made at its first run, as the kernel's at attach),
      // or a cgroup skb test run's own.
      (ctx, map) => {
        const m = mapOf(ctx, map);
        const ls = coll.localStorage;
        if (!m.isCgroupStorage) ctx.fault(`bpf_get_local_storage of ${m.typeName} map ${m.name} (the verifier takes only a cgroup storage map)`);
        if (!ls) ctx.fault('bpf_get_local_storage outside a testRun()');
        if (!ls!.scratch) return m.storageAddress(ls!.cgroupId, ls!.attachType, st().cpu);
        let regions = ls!.scratch.get(m);
        if (!regions) ls!.scratch.set(m, (regions = m.newStorage()));
        return m.storageRegionAddress(regions, st().cpu);
      },
    ],
    [
      'bpf_get_retval',
      // The cgroup run's retval, an int sign-extended.
      (ctx) => {
        const r = st().cgroupRetval;
        if (r === undefined) ctx.fault('bpf_get_retval outside a cgroup hook run');
        return BigInt.asUintN(64, BigInt(r!));
      },
    ],
    [
      'bpf_set_retval',
      (ctx, retval) => {
        if (st().cgroupRetval === undefined) ctx.fault('bpf_set_retval outside a cgroup hook run');
        st().cgroupRetval = Number(BigInt.asIntN(32, retval));
        return 0n;
      },
    ],
    ...(['bpf_strtol', 'bpf_strtoul'] as const).map((name): [string, HelperDef['fn']] => [
      name,
      // *res is written whatever the result (0 on an error), as the kernel's.
      (ctx, buf, size, flags, res) => {
        const [r, v] = (name === 'bpf_strtol' ? bpfStrtol : bpfStrtoul)(bytes(ctx, buf, Number(BigInt.asUintN(32, size)), 'buf'), BigInt.asUintN(64, flags));
        const out = bytes(ctx, res, 8, 'res', true);
        new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, v), true);
        return neg(r);
      },
    ]),
    [
      'bpf_tcp_sock',
      // A TCP socket's struct bpf_tcp_sock (NULL for any other), which helpers taking a socket take too.
      (ctx, sk) => {
        const sock = socketAt(ctx, sk, 'sk');
        if (!sock || sock.protocol !== IPPROTO_TCP) return 0n;
        const r = sock.tcpSockRegion;
        coll.socketsByRegion.set(r.id, sock);
        return Memory.address(r.id);
      },
    ],
    [
      'bpf_sk_storage_get',
      // The socket's value in an sk_storage map; with BPF_SK_STORAGE_GET_F_CREATE (1) made when missing (zeroed, or `value`'s bytes).
      (ctx, map, sk, value, flags) => {
        const m = mapOf(ctx, map);
        if (!m.isSkStorage) ctx.fault(`bpf_sk_storage_get of ${m.typeName} map ${m.name} (the verifier takes only an sk_storage map)`);
        const sock = socketAt(ctx, sk, 'sk');
        const f = BigInt.asUintN(64, flags);
        if (!sock || f > 1n) return 0n;
        const have = m.skStorageOf(sock);
        if (have) return Memory.address(have.id);
        if (f === 0n) return 0n;
        const init = BigInt.asUintN(64, value) === 0n ? undefined : bytes(ctx, value, m.valueSize, 'value');
        return Memory.address(m.newSkStorage(sock, init).id);
      },
    ],
    [
      'bpf_sk_storage_delete',
      (ctx, map, sk) => {
        const m = mapOf(ctx, map);
        if (!m.isSkStorage) ctx.fault(`bpf_sk_storage_delete of ${m.typeName} map ${m.name} (the verifier takes only an sk_storage map)`);
        const sock = socketAt(ctx, sk, 'sk');
        if (!sock) return neg(-EINVAL);
        return m.deleteSkStorage(sock) ? 0n : neg(-ENOENT);
      },
    ],
    [
      'bpf_sk_release',
      (ctx, sk) => {
        if (!socketAt(ctx, sk, 'sk')) ctx.fault('bpf_sk_release of NULL (the verifier takes only a socket the program holds)');
        return 0n;
      },
    ],
  );
  const reserved = new Map<number, EmulatedMapT>();
  const out = new Map<number, HelperDef>();
  // args: the arrow's parameters after ctx (none of these has a default or rest parameter).
  for (const [name, fn] of defs) out.set(id(name), { name, fn, args: Math.max(0, fn.length - 1) });
  out.get(id('bpf_map_lookup_elem'))!.fast = lookupFast;
  // A socket's cookie is emulated where the socket is: a sock_addr program's calling socket.
  if (progType !== BPF_PROG_TYPE.CGROUP_SOCK_ADDR && progType !== BPF_PROG_TYPE.SOCK_OPS) out.delete(id('bpf_get_socket_cookie'));
  for (const [name, fn] of Object.entries(coll.opts.helpers ?? {})) {
    const n = helperId(name);
    if (n === undefined) throw new BpfError('USAGE', `emulate(): helpers.${name} is no kernel helper (names as in enum bpf_func_id, e.g. bpf_map_lookup_elem)`);
    out.set(n, { name, fn });
  }
  return out;
}

/** `sock`, when this emulation made it (a run's socket), else a USAGE error naming `what`. */
function ownSocket(coll: EmulatedCollection, sock: EmulatedSocket, what: string): EmulatedSocket {
  if (sock.memory !== coll.memory) throw new BpfError('USAGE', `${what}: socket cookie ${sock.cookie} belongs to another emulation`);
  return sock;
}

/**
 * bpf_prog_run_array_cg after the program: the call's result — the run's
 * retval, or -EPERM when the program said no (its low bit, with `retFlags`)
 * and no error is set already.
 */
function cgroupCallRetval(state: RunState, ret: number, retFlags = false): number {
  const r = state.cgroupRetval ?? 0;
  const verdict = retFlags ? ret & 1 : ret;
  return verdict === 0 && !(r < 0 && r >= -4095) ? -EPERM : r;
}

/** `len` bytes a helper's pointer argument points to, or a fault naming the argument. */
function memoryBytes(ctx: HelperContext, addr: bigint, len: number, what: string, write = false): Uint8Array {
  const v = ctx.memory.view(addr, len, write);
  if (!v) ctx.fault(`${what}: ${len} bytes at ${ctx.memory.describe(addr)} are not all in one ${write ? 'writable ' : ''}region`);
  return v!;
}

/** A run's state on a context region (or none: r1 NULL), nothing emitted yet. */
function runState(
  cpu: number,
  pkt: Packet,
  ctx: Region | undefined,
  packet: boolean,
  extra: Pick<RunState, 'task' | 'trace' | 'flow' | 'nfSkb' | 'skLookup' | 'sockAddrSocket' | 'sysctl' | 'cgroupRetval'>,
): RunState {
  return { cpu, pkt, packet, xdpMd: NO_XDP_MD, events: [], printk: [], tailCalls: 0, ctxAddr: ctx ? Memory.address(ctx.id) : 0n, ...extra };
}

/** What a kfunc's address reads as in an emulated program (any non-zero value: nothing may call through it). */
const KFUNC_ADDR = 0xffff_ffff_0000_0001n;

// struct bpf_dynptr as the kernel lays it out (bpf_dynptr_kern): data
// pointer, then size with the type in bits 28-30, then offset. Opaque to
// programs; only the kfuncs read it.
const DYNPTR_SIZE_MASK = 0xff_ffff;
const DYNPTR_TYPE_SHIFT = 28;
const BPF_DYNPTR_TYPE_SKB = 3;
const BPF_DYNPTR_TYPE_XDP = 4;
/** BPF_DYNPTR_RDONLY_BIT in the size word. */
const DYNPTR_RDONLY = 0x8000_0000;

/** The kfuncs the XDP fixtures call, by name, plus EmulateOptions.kfuncs. */
function kernelKfuncs(coll: EmulatedCollection): Map<string, HelperDef> {
  const st = () => coll.state!;
  const dynptr = (ctx: HelperContext, addr: bigint): DataView => {
    const v = memoryBytes(ctx, addr, 16, 'struct bpf_dynptr', true);
    return new DataView(v.buffer, v.byteOffset, 16);
  };
  // bpf_dynptr_slice(_rdwr): a pointer to [offset, offset + size) of the dynptr, NULL past its end (or a
  // read-only one for _rdwr). An XDP frame's range inside its linear part or one fragment is pointed to,
  // one across a boundary copied into `buffer` (NULL without one); a test run's socket buffer is linear.
  const slice = (ctx: HelperContext, ptr: bigint, offset: bigint, buffer: bigint, size: bigint, rdwr: boolean): bigint => {
    const d = dynptr(ctx, ptr);
    const data = d.getBigUint64(0, true);
    const word = d.getUint32(8, true);
    const len = BigInt(word & DYNPTR_SIZE_MASK);
    const off = BigInt.asUintN(64, offset);
    const n = BigInt.asUintN(64, size);
    if (data === 0n || off > len || n > len - off || (rdwr && word & DYNPTR_RDONLY)) return 0n;
    const at = Number(off) + d.getUint32(12, true);
    const pkt = st().pkt;
    if (((word >>> DYNPTR_TYPE_SHIFT) & 7) === BPF_DYNPTR_TYPE_XDP) {
      const p = pkt.framePointer(at, Number(n));
      if (p !== undefined) return p;
      if (buffer === 0n) return 0n;
      pkt.copyFrame(at, memoryBytes(ctx, buffer, Number(n), 'buffer', true));
      return buffer;
    }
    return BigInt.asUintN(64, data + BigInt(at));
  };
  const defs: [string, HelperDef['fn']][] = [
    [
      'bpf_dynptr_from_xdp',
      (ctx, _xdp, flags, ptr) => {
        const d = dynptr(ctx, ptr);
        for (let i = 0; i < 16; i += 4) d.setUint32(i, 0, true);
        if (flags !== 0n) return BigInt.asUintN(64, BigInt(-EINVAL)); // and a null dynptr, as the kernel leaves it
        const pkt = st().pkt;
        d.setBigUint64(0, BigInt.asUintN(64, pkt.addr(pkt.data)), true);
        d.setUint32(8, (pkt.buffLen & DYNPTR_SIZE_MASK) | (BPF_DYNPTR_TYPE_XDP << DYNPTR_TYPE_SHIFT), true);
        return 0n;
      },
    ],
    [
      'bpf_dynptr_from_skb',
      // Over the socket buffer's data (from the network header for netfilter, the mac header for TC);
      // read-only for program types that may not write packets, as the verifier makes it.
      (ctx, skb, flags, ptr) => {
        const s = st();
        const d = dynptr(ctx, ptr);
        for (let i = 0; i < 16; i += 4) d.setUint32(i, 0, true);
        const own = s.nfSkb !== undefined ? BigInt.asUintN(64, skb) === s.nfSkb : s.skb !== undefined && BigInt.asUintN(64, skb) === s.ctxAddr;
        if (!own) ctx.fault(`0x${BigInt.asUintN(64, skb).toString(16)} is not this run's socket buffer`);
        if (flags !== 0n) return BigInt.asUintN(64, BigInt(-EINVAL));
        const pkt = s.pkt;
        d.setBigUint64(0, BigInt.asUintN(64, pkt.addr(pkt.data)), true);
        d.setUint32(8, ((pkt.end - pkt.data) & DYNPTR_SIZE_MASK) | (BPF_DYNPTR_TYPE_SKB << DYNPTR_TYPE_SHIFT) | (s.nfSkb !== undefined ? DYNPTR_RDONLY : 0), true);
        return 0n;
      },
    ],
    ['bpf_dynptr_slice', (ctx, ptr, offset, buffer, size) => slice(ctx, ptr, offset, buffer, size, false)],
    ['bpf_dynptr_slice_rdwr', (ctx, ptr, offset, buffer, size) => slice(ctx, ptr, offset, buffer, size, true)],
    [
      'bpf_dynptr_size',
      (ctx, ptr) => {
        const d = dynptr(ctx, ptr);
        return d.getBigUint64(0, true) === 0n ? BigInt.asUintN(64, BigInt(-EINVAL)) : BigInt(d.getUint32(8, true) & DYNPTR_SIZE_MASK);
      },
    ],
  ];
  const out = new Map<string, HelperDef>();
  for (const [name, fn] of defs) out.set(name, { name, fn, args: Math.max(0, fn.length - 1) });
  for (const [name, fn] of Object.entries(coll.opts.kfuncs ?? {})) out.set(name, { name, fn });
  return out;
}

const TC_ACT_SHOT = 2n;
const ENODEV = 19;
/** The loopback device's MTU, the device of a test run given no other. */
const LO_MTU = 65536;
/** An emulated device's MTU when EmulateOptions.devices gives none. */
const ETH_MTU = 1500;
const TC_ACT_REDIRECT = 7n;
/** sizeof(struct bpf_redir_neigh): nh_family, then an IPv4 or IPv6 address. */
const REDIR_NEIGH_SIZE = 20;
/** A test run's socket buffer starts this far into its buffer (NET_SKB_PAD). */
const SKB_HEADROOM = 64;
/** The longest frame a TC or socket filter test run takes: a page less NET_SKB_PAD and the skb_shared_info. */
const SKB_DATA_MAX = 4096 - SKB_HEADROOM - 320;
/** The longest frame a flow dissector's test run takes: a page (no headroom or shared info). */
const FLOW_DATA_MAX = 4096;

const INT_MAX = 0x7fffffff;
/** l4_csum_replace's flags: the field size (0, 2, 4), BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0, BPF_F_MARK_ENFORCE, BPF_F_IPV6. */
const L4_FLAGS = 0xffn;
const BPF_F_MARK_MANGLED_0 = 0x20n;
const BPF_F_MARK_ENFORCE = 0x40n;

// The kernel's one's-complement helpers (include/net/checksum.h), on u32/u16 numbers.
const csumAdd32 = (a: number, b: number): number => {
  const r = (a + b) >>> 0;
  return (r + (r < b ? 1 : 0)) >>> 0;
};
const csumSub32 = (a: number, b: number): number => csumAdd32(a, ~b >>> 0);
/** A u32 with its halves swapped (ror32 by 16): both folds to 16 bits add it. */
const ror16 = (x: number): number => ((x >>> 16) | (x << 16)) >>> 0;
const csumFold = (x: number): number => ((((~x >>> 0) - ror16(x)) >>> 0) >>> 16) & 0xffff;
const csum16Add = (a: number, b: number): number => {
  const r = (a + b) & 0xffff;
  return (r + (r < b ? 1 : 0)) & 0xffff;
};

/**
 * bpf_l3_csum_replace / bpf_l4_csum_replace as Linux runs them on a test
 * run's skb (ip_summed CHECKSUM_NONE, so BPF_F_PSEUDO_HDR changes nothing):
 * unknown flags -EINVAL, an odd offset or one above 0xffff -EFAULT, a field
 * past the end -EFAULT, then csum_replace2 (l3, 16-bit arithmetic),
 * csum_replace4 (l3 4-byte, and every l4 size: inet_proto_csum_replace2 widens
 * to 4) or, for size 0, the csum_diff value `to` (with `from` 0, else
 * -EINVAL). BPF_F_MARK_MANGLED_0 (UDP) leaves a zero checksum alone unless
 * BPF_F_MARK_ENFORCE, and writes 0xffff for a result of 0. `from` and `to`
 * are the field's bytes as the program loaded them: one's-complement sums do
 * not care about byte order as long as both sides agree. Checked against the
 * kernel at random (test/vm/kernel-random.test.ts).
 */
function csumReplace(pkt: Packet, offset: bigint, from: bigint, to: bigint, flags: bigint, l4: boolean): number {
  if (BigInt.asUintN(64, flags) & ~(l4 ? L4_FLAGS : 0xfn)) return -EINVAL;
  const off = Number(BigInt.asUintN(32, offset));
  if (off > 0xffff || off & 1) return -EFAULT;
  if (off + 2 > pkt.end - pkt.data) return -EFAULT;
  const at = pkt.data + off;
  const dv = new DataView(pkt.buf.buffer, pkt.buf.byteOffset);
  const old = dv.getUint16(at, true);
  const mangled0 = l4 && (flags & BPF_F_MARK_MANGLED_0) !== 0n;
  if (mangled0 && (flags & BPF_F_MARK_ENFORCE) === 0n && old === 0) return 0;
  const f32 = Number(BigInt.asUintN(32, from));
  const t32 = Number(BigInt.asUintN(32, to));
  let v: number;
  switch (Number(flags & 0xfn)) {
    case 0:
      if (from !== 0n) return -EINVAL;
      v = csumFold(csumAdd32(t32, ~old >>> 0));
      break;
    case 2:
      if (l4) v = csumFold(csumAdd32(csumSub32(~old >>> 0, f32 & 0xffff), t32 & 0xffff));
      else v = ~csum16Add(csum16Add(~old & 0xffff, ~f32 & 0xffff), t32 & 0xffff) & 0xffff;
      break;
    case 4:
      v = csumFold(csumAdd32(csumSub32(~old >>> 0, f32), t32));
      break;
    default:
      return -EINVAL;
  }
  if (mangled0 && v === 0) v = 0xffff;
  dv.setUint16(at, v, true);
  return 0;
}

/** The varargs of bpf_trace_vprintk and bpf_snprintf: u64s, `len` a multiple of 8 up to 12 of them (else -EINVAL). */
function printfArgs(ctx: HelperContext, data: bigint, len: bigint): bigint[] | number {
  const n = Number(BigInt.asUintN(32, len));
  if (n % 8 || n > BPRINTF_VARARGS_MAX * 8 || (n && data === 0n)) return -EINVAL;
  if (n === 0) return [];
  const v = ctx.memory.view(data, n);
  if (!v) ctx.fault(`printf arguments: ${n} bytes at ${ctx.memory.describe(data)} are not all in one region`);
  const dv = new DataView(v!.buffer, v!.byteOffset, n);
  return Array.from({ length: n / 8 }, (_, i) => dv.getBigUint64(8 * i, true));
}

/** The bytes at `addr` up to a NUL (at most `max`) and whether the NUL came; undefined where no region is. */
function cString(ctx: HelperContext, addr: bigint, max = Infinity): { bytes: Uint8Array; terminated: boolean } | undefined {
  const f = ctx.memory.find(addr);
  if (!f) return undefined;
  const b = f.region.bytes.subarray(f.offset, f.offset + max);
  const end = b.indexOf(0);
  return { bytes: end < 0 ? b : b.subarray(0, end), terminated: end >= 0 };
}

/** A constant string (bpf_snprintf's format, bpf_strncmp's s2: NUL-terminated, as the verifier made sure). */
function formatString(ctx: HelperContext, addr: bigint): Uint8Array {
  const s = cString(ctx, addr);
  if (!s?.terminated) ctx.fault(`the constant string at ${ctx.memory.describe(addr)} is not NUL-terminated`);
  return s!.bytes;
}

/** What %s, %pks and %pI4/6 read: the program's memory; an address it cannot read gives undefined. */
function printfMemory(ctx: HelperContext): PrintfMemory {
  return {
    bytes: (addr, len) => ctx.memory.view(addr, len)?.slice(),
    string: (addr, max) => {
      const s = cString(ctx, addr, max);
      return s && Buffer.from(s.bytes).toString('latin1');
    },
  };
}

/** Emulate an object's programs and maps (what BpfObjectSpec.emulate does). */
export function emulateObject(file: BpfObjectFile, opts: EmulateOptions = {}): EmulatedCollection {
  return new EmulatedCollection(file, opts);
}

// bpf_csum_diff as Linux 6.13+ computes it on x86-64: any sizes (no
// multiple-of-4 rule any more), the sum over `to` with the seed, less the sum
// over `from`, folded to 16 bits (csum_from32to16, not complemented).
// Checked against the kernel with random buffers, sizes and seeds
// (test/vm/kernel-random.test.ts). Before 6.13, x86 returned the 32-bit sum
// unfolded and refused sizes that are not multiples of 4.

/**
 * csum_partial as x86-64 computes it: little-endian words from the buffer's
 * start (the last one zero-padded) summed with end-around carry, plus seed.
 * Any implementation gives the same 16-bit fold; the 32-bit value itself
 * (which a later complement exposes: 0 or 0xffff after bpf_csum_diff's fold)
 * is the sum modulo 2^32 - 1 over 32-bit words, and 0 only when every
 * addend was 0. Sums of 16-bit words agree only modulo 0xffff.
 */
function csumPartial(b: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  const whole = b.length & ~3;
  for (let i = 0; i < whole; i += 4) sum += (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  let tail = 0;
  for (let i = whole; i < b.length; i++) tail += b[i]! * 2 ** (8 * (i - whole));
  sum += tail;
  // Up to 2^16 words of < 2^32 each: exact in a double.
  const r = sum % 0xffffffff;
  return r === 0 && sum !== 0 ? 0xffffffff : r;
}

/** csum_from32to16: fold a 32-bit sum to 16 bits (0xffff stays 0xffff, 0 only from 0). */
function csumFrom32to16(x: number): number {
  return ((x + ror16(x)) >>> 16) & 0xffff;
}

function csumDiff(from: Uint8Array, to: Uint8Array, seed: number): number {
  if (to.length === 0 && from.length > 0) return csumFrom32to16(~csumPartial(from, ~seed >>> 0) >>> 0);
  if (from.length === 0) return csumFrom32to16(csumPartial(to, seed));
  return csumFrom32to16(csumAdd32(csumPartial(to, seed), ~csumPartial(from, 0) >>> 0));
}

const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;

/**
 * The frames BPF_PROG_TEST_RUN refuses: shorter than an Ethernet header
 * (EINVAL; for XDP, not counting the metadata); for socket buffers, longer
 * than a test run's skb holds (a page less its headroom and skb_shared_info)
 * or an IPv4 or IPv6 EtherType without the whole IP header after it
 * (EINVAL). An XDP frame past its `linear` part goes to fragments of a page
 * each: more than MAX_SKB_FRAGS of them is ENOMEM.
 */
function checkFrame(program: string, data: Uint8Array, skb: boolean, metaLen: number, linear = data.length): void {
  const refuse = (why: string, errno = 'EINVAL'): never => refuseTestRun('INVALID_ARGUMENT', `program ${program}`, `a ${data.length}-byte frame ${why}`, errno);
  if (data.length - metaLen < ETH_HLEN) refuse(`is shorter than its ${ETH_HLEN}-byte Ethernet header${metaLen ? ` after ${metaLen} bytes of metadata` : ''}`);
  if (!skb) {
    const frags = Math.ceil((data.length - linear) / 4096);
    if (frags > MAX_SKB_FRAGS) refuse(`needs ${frags} fragments of a page after its ${linear}-byte linear part, more than the ${MAX_SKB_FRAGS} a frame has`, 'ENOMEM');
    return;
  }
  if (data.length > SKB_DATA_MAX) refuse(`is longer than the ${SKB_DATA_MAX} bytes a test run's socket buffer holds`);
  const proto = (data[12]! << 8) | data[13]!;
  const ip = proto === 0x0800 ? 20 : proto === 0x86dd ? 40 : 0;
  if (data.length < ETH_HLEN + ip) refuse(`has EtherType 0x${proto.toString(16)} but not the ${ip}-byte ${ip === 20 ? 'IPv4' : 'IPv6'} header after it`);
}

/**
 * LD_ABS/LD_IND as the kernel's bpf_skb_load_helper_8/16/32 answer them on a
 * test run's socket buffer: a non-negative offset counts from skb->data (the
 * Ethernet header for TC, the network header for socket filters) and must fit
 * before its end; SKF_NET_OFF + n counts from the network header and
 * SKF_LL_OFF + n from the Ethernet header, anywhere between the buffer's head
 * (its zeroed headroom included) and its end; anything else fails (undefined).
 */
function legacyLoad(st: RunState, offset: number, size: 1 | 2 | 4): bigint | undefined {
  const pkt = st.pkt;
  let at: number;
  if (offset >= 0) {
    if (offset + size > pkt.end - pkt.data) return undefined;
    at = pkt.data + offset;
  } else {
    if (offset >= SKF_NET_OFF) at = pkt.net + (offset - SKF_NET_OFF);
    else if (offset >= SKF_LL_OFF) at = pkt.mac + (offset - SKF_LL_OFF);
    else return undefined;
    if (at < 0 || at + size > pkt.end) return undefined;
  }
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + pkt.buf[at + i]!;
  return BigInt(v);
}

function zeroL2(out: Buffer): Buffer {
  out.fill(0, 0, Math.min(ETH_HLEN, out.length));
  return out;
}
