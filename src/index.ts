// bpf-ts public API.

export { BpfError, type BpfErrorCode } from './errors.js';

// Object layer (pure: no syscalls).
export { parseObject } from './object/object.js';
export { readObjectFile } from './object/read.js';
export { sectionKind, type SectionKind } from './object/section-names.js';
export type { BpfObjectFile, DataVariable, MapSpec, MapStyle, Pinning, ProgramRelocation, ProgramSpec } from './object/types.js';
export { parseBtf, type Btf, type BtfType } from './object/btf/btf.js';
export { parseBtfExt, type BtfExt, type CoreRelocation, type FuncInfo, type LineInfo } from './object/btf/ext.js';
export { BPF_ATTACH_TYPE, BPF_MAP_TYPE, BPF_PROG_TYPE, mapTypeName, progTypeName } from './uapi/bpf.js';

// Kernel layer.
export { BpfObjectSpec, BpfCollection, openObject, loadObject, type LoadOptions } from './collection.js';
export { BpfMap, type MapCreateSpec, type MapCreateOptions, type MapValue, type UpdateFlag } from './maps/map.js';
export { u8, u16, u32, u64, readU8, readU16, readU32, readU64, readI32, readI64, type MapBytes } from './maps/codec.js';
export { pinMap, unpin, openPinnedMap, reusePinnedMap, DEFAULT_BPFFS } from './maps/pin.js';
export { BpfProgram, verdictName, type ProgramTestRun, type TestRunOptions } from './programs/program.js';
export { BpfSyscallError } from './sys/syscall-error.js';
export { listMaps, listPrograms, listLinks } from './sys/ids.js';
export { possibleCpus } from './sys/cpus.js';

// Attach: XDP over rtnetlink or bpf_link; namespaces and the test network.
export { attachXdp, queryXdp, listXdp, detachXdp, attachXdpLink, XdpLink, listXdpLinks } from './attach/xdp.js';
export type { AttachXdpOptions, DetachXdpOptions, XdpAttachment, XdpStatus, XdpMode, InterfaceRef } from './attach/xdp.js';
export { withNetns } from './netns.js';
export { setupTestEnv, teardownTestEnv, statusTestEnv, type TestEnv } from './testenv.js';
export { ping, type PingResult } from './net/icmp.js';
