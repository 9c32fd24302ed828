// bpf-ts/vm: run eBPF programs without a kernel. Imports object/ and asm/, never sys/ or koffi.
export { Vm, DEFAULT_BUDGET, type HelperContext, type HelperDef, type HelperFn, type RunResult, type TraceStep, type VmLineInfo, type VmOptions, type VmProgram } from './vm.js';
export { Memory, type Region, type RegionKind } from './memory.js';
export { runAsm, CONFORMANCE_HELPERS, type AsmRunResult } from './asm-run.js';
export { EmulatedCollection, EmulatedProgram, emulateObject, type EmulateOptions, type EmulatedDevice, type EmulatedRunOptions, type EmulatedTestRun } from './emulate.js';
export { EmulatedMap, type EmulatedMapSpec, type MapEvent, type MapKey, type MapLike } from './maps.js';
export { EmulatedSocket, skLookupCtx, type EmulatedSocketSpec, type SkLookupSpec } from './socket.js';
export { sockAddrCtx, type SockAddrSpec } from './sock-addr.js';
export type { SysctlAccess, SysctlOutcome } from './sysctl.js';
export type { SockoptCall, SockoptOutcome } from './sockopt.js';
export { cgroupDevCtx, type CgroupDevSpec } from './device.js';
export { BPF_SOCK_OPS, type SockOpsCall, type SockOpsName, type SockOpsOutcome, type SockOpsSkb } from './sock-ops.js';
export { TcpState } from './tcp.js';
// Types the API above takes or returns (test/api/exports.test.ts).
export type { RunState } from './emulate.js';
export type { SkLookup } from './socket.js';
export type { SysctlRun } from './sysctl.js';
export type { SockOpsRun } from './sock-ops.js';
export type { TcpHost } from './tcp.js';
export type { Packet, SkBuff, SkBuffInput, SkbKind, XdpMdInput } from './context.js';
export type { TunnelInfo } from './skb.js';
export type { EmulatedTask, Task, TraceState } from './trace.js';
export type { RegionHooks } from './memory.js';
export type { UpdateFlag as EmulatedUpdateFlag, UpdateFlags as EmulatedUpdateFlags } from './maps.js';
export type { RegFile, RegNo, RegNoArray } from './vm.js';
