// bpf-ts public API.

export { BpfError, VerifierError, CoreRelocationError, type BpfErrorCode } from './errors.js';

// Object layer (pure: no syscalls).
export { parseObject } from './object/object.js';
export { readObjectFile } from './object/read.js';
export { sectionKind, type SectionKind } from './object/section-names.js';
export type { BpfObjectFile, DataVariable, MapSpec, MapStyle, Pinning, ProgramRelocation, ProgramSpec } from './object/types.js';
export { parseBtf, type Btf, type BtfType, type BtfLayout, type ParseBtfOptions } from './btf/btf.js';
export type {
  BtfKindName,
  BtfLinkage,
  BtfVoid,
  BtfInt,
  BtfRefType,
  BtfArray,
  BtfMember,
  BtfComposite,
  BtfEnumValue,
  BtfEnum,
  BtfEnum64Value,
  BtfEnum64,
  BtfFwd,
  BtfFunc,
  BtfParam,
  BtfFuncProto,
  BtfVar,
  BtfVarSecinfo,
  BtfDatasec,
  BtfFloat,
  BtfDeclTag,
} from './btf/kinds.js';
export { parseBtfExt, type BtfExt, type CoreRelocation, type FuncInfo, type LineInfo, type ParseBtfExtOptions } from './btf/ext.js';
export { Insns } from './object/instruction.js';
export { BPF_ATTACH_TYPE, BPF_MAP_TYPE, BPF_PROG_TYPE, mapTypeName, progTypeName, type ProgTypeName, type MapTypeName } from './uapi/bpf.js';
// CO-RE relocation, BTF sanitising, typed values (pure).
export {
  CoreResolver,
  CoreCandidates,
  applyCoreRelocations,
  patchCoreInsn,
  BPF_CORE_POISON_HELPER,
  type CoreTarget,
  type CoreRelocationResult,
  type CorePoisoned,
  type CoreApplied,
  type CoreCandidate,
  type CorePatchOutcome,
  type CoreReloValues,
  type CoreResolverOptions,
} from './object/core/index.js';
export { sanitizeBtf, ALL_BTF_FEATURES, type BtfFeatures } from './btf/sanitize.js';
export { decodeBtfValue, encodeBtfValue, encodeBtfValueInto, toJsonValue, type BtfValueOptions } from './btf/values/index.js';

// Kernel layer.
export { BpfObjectSpec, BpfCollection, openObject, loadObject, type LoadOptions, type ProgramTypeOption, type FromInstructionsOptions } from './collection.js';
export { BpfMap, updateFlags, type MapCreateSpec, type MapCreateOptions, type MapTypeOption, type MapValue, type UpdateFlag, type UpdateFlags, type BatchChunk } from './maps/map.js';
export { Fd, type FdKind } from './sys/fd.js';
export { u8, u16, u32, u64, readU8, readU16, readU32, readU64, readI32, readI64, type MapBytes } from './maps/codec.js';
export { pinMap, unpin, reusePinnedMap, DEFAULT_BPFFS } from './maps/pin.js';
export { TypedMap, typedMap, typedMapFromKernel, btfCodec, rawCodec, type ValueCodec } from './maps/typed.js';
export { MapView } from './maps/view.js';
export type { Globals, GlobalArray, GlobalStruct, GlobalValue, GlobalLayout, GlobalVariableInfo } from './maps/globals.js';
export { vmlinuxBtf, moduleBtf, moduleBtfNames, kernelCoreTarget, coreTargetFromBtf, readBtfFile } from './btf/kernel.js';
export { btfFeatures } from './btf/features.js';
export { btfInfo, btfFdById, kernelBtfById, loadBtf, type BtfInfo } from './btf/handle.js';
export { BpfProgram, verdictName, type ProgramTestRun, type TestRunOptions } from './programs/program.js';
export type { XlatedLine, XlatedMap, XlatedProgram } from './programs/xlated.js';
export { attachSocketFilter, detachSocketFilter, attachReuseportProgram, socketFd, type SocketAttachment, type SocketTarget } from './attach/socket.js';
export { PacketSocket, type PacketSocketOptions } from './net/packet-socket.js';
export { attachNetfilter, NFPROTO, NF_INET_HOOK, type NetfilterOptions, type NetfilterFamily, type NetfilterHook } from './link/netfilter.js';
export { attachNetns } from './link/netns.js';
export { haveProgramType, haveMapType, haveHelper, helperProbe, haveMiscFeatures, probeKernel, type KernelFeatures, type MiscFeatures } from './features/probe.js';
export { BpfSyscallError, type SyscallErrorInfo } from './sys/syscall-error.js';
export { MapMemory } from './maps/memory.js';
export type { Mapping as MemoryMapping } from './sys/ffi.js';
export { listMaps, listPrograms, listLinks } from './sys/ids.js';
export { possibleCpus } from './sys/cpus.js';

// Attach: XDP over rtnetlink or bpf_link; namespaces and the test network.
export { attachXdp, queryXdp, listXdp, detachXdp, attachXdpLink, XdpLink, listXdpLinks } from './attach/xdp.js';
export type { AttachXdpOptions, DetachXdpOptions, XdpAttachment, XdpStatus, XdpMode, InterfaceRef } from './attach/xdp.js';
export type { XdpDetachment, XdpNetnsOption, XdpProgramSlot, AttachXdpLinkOptions, XdpLinkInfo } from './attach/xdp.js';
export type { XdpAttachMode, XdpAttachedState } from './attach/xdp-flags.js';

// Attach: TC on clsact (cls_bpf over rtnetlink) or tcx (bpf_link); cgroup v2 hooks; sockmaps.
export { attachTc, queryTc, listTc, detachTc, hasClsact, removeClsact, TC_DIRECTIONS, DEFAULT_TC_PRIORITY, DEFAULT_TC_HANDLE } from './attach/tc.js';
export type { AttachTcOptions, DetachTcOptions, TcAttachment, TcDetachment, TcDirection, TcFilterInfo, TcNetnsOption } from './attach/tc.js';
export { attachTcx, queryTcx, listTcx, detachTcx, TcxLink } from './attach/tcx.js';
export type { AttachTcxOptions, DetachTcxOptions, TcxDetachment, TcxProgram } from './attach/tcx.js';
export {
  attachCgroup,
  attachCgroupLink,
  CgroupLink,
  queryCgroup,
  detachCgroup,
  cgroup2Mount,
  resolveCgroup,
  cgroupId,
  CGROUP_ATTACH_TYPES,
  type CgroupAttachTypeName,
  BPF_F_ALLOW_MULTI,
  BPF_F_ALLOW_OVERRIDE,
  BPF_F_REPLACE,
} from './attach/cgroup.js';
export type { AttachCgroupOptions, AttachCgroupLinkOptions, CgroupAttachment, CgroupDetachment, CgroupProgram, DetachCgroupOptions, QueryCgroupOptions } from './attach/cgroup.js';
export { attachSkMsg, detachSkMsg, querySockmap, SOCKMAP_ATTACH_TYPES } from './attach/sk-msg.js';
export type { AttachSkMsgOptions, SkMsgAttachment, SkMsgDetachment } from './attach/sk-msg.js';
// Test networks, ping and withNetns: import them from 'bpf-ts/testing'.

// Event readers: perf event arrays and ring buffers.
export { PerfBufferReader, type PerfBufferOptions } from './events/perf-buffer.js';
export { RingBufferReader } from './events/ring-buffer.js';
export type { EventRecord } from './events/stream.js';

// Links: one type for every attachment held by a bpf_link; tracing attach.
export { BpfLink, BpfLinkSet, type ProgramRef, type ProgramOption } from './link/link.js';
export {
  attachTracepoint,
  attachRawTracepoint,
  attachTracing,
  attachKprobe,
  attachKsyscall,
  attachUprobe,
  attachUprobeMulti,
  attachKprobeMulti,
  attachIter,
  attachPerfEvent,
  syscallSymbol,
  onlineCpus,
  PerfEventLink,
  IterLink,
  MultiProbeLink,
  type AttachOptions,
  type KprobeOptions,
  type UprobeOptions,
  type UprobeMultiOptions,
  type PerfSampleOptions,
} from './link/tracing.js';
export { autoAttach, autoAttachPlan, type AutoAttachPlan } from './link/auto.js';
export { tracefsRoot, tracepointId } from './link/tracefs.js';
export { symbolFileOffset, functionsAt, matchFunctions, functionOffsets, resolveProbeBinary } from './link/uprobe-target.js';
export type { LinkInfo, LinkDetails, ProgInfo, MapInfo } from './sys/info.js';
// Typed access for modules written by `bpf-ts gen`.
export { codec, layoutSize, type Codec, type Layout, type Field, type Scalar } from './typed/codec.js';
export { openTyped, TypedBpfMap, TypedPerCpuMap, type ObjectSchema, type MapSchema, type VariableSchema } from './typed/object.js';
export { generateModule, type GenerateOptions } from './gen/generate.js';
// Capabilities: what this process holds and what a bpf() command needs (hints, preflight checks).
export { CAP, capName, capNames, capsForCommand, effectiveCaps, missingCaps, type CapNeed, type CapSet, type CapCallInfo } from './sys/caps.js';
export { estimateMapBytes } from './maps/map.js';
export { DEFAULT_MAX_OBJECT_BYTES, type ReadObjectOptions } from './object/read.js';
// Real objects: section table, externs, sizing, struct_ops.
export { SECTION_DEFS, sectionDef, type SectionDef } from './object/section-names.js';
export type { ExternSpec, KconfigType } from './object/types.js';
export type { InstructionsProgram } from './object/from-instructions.js';
export { MapSpecHandle } from './object/map-sizing.js';
// Instructions (assembler, disassembler) and the emulator: also importable
// alone as 'bpf-ts/asm' and 'bpf-ts/vm', which never load koffi.
export { assemble, disassemble, insnText, decode, encode, validate, programListing, type Insn } from './asm/index.js';
export { Vm, Memory, runAsm, type HelperDef, type HelperContext, type VmOptions, type VmProgram, type RunResult } from './vm/index.js';
export {
  EmulatedCollection,
  EmulatedProgram,
  EmulatedMap,
  EmulatedSocket,
  skLookupCtx,
  sockAddrCtx,
  cgroupDevCtx,
  BPF_SOCK_OPS,
  TcpState,
  type CgroupDevSpec,
  type SockOpsCall,
  type SockOpsName,
  type SockOpsOutcome,
  type SockOpsSkb,
  type EmulatedSocketSpec,
  type SkLookupSpec,
  type SockAddrSpec,
  type SysctlAccess,
  type SockoptCall,
  type SockoptOutcome,
  type SysctlOutcome,
  type EmulateOptions,
  type EmulatedDevice,
  type EmulatedRunOptions,
  type EmulatedTestRun,
  type MapLike,
  type EmulatedUpdateFlags,
} from './vm/index.js';
export type { RegFile, RegNo, RegNoArray, TunnelInfo, EmulatedTask, Task, TraceState, SockOpsRun, TcpHost } from './vm/index.js';

// AF_XDP sockets
export { XdpSocket, XdpSocketError, XDP_COPY, XDP_ZEROCOPY, type XdpSocketOptions, type XdpStatistics } from './xsk/socket.js';
