// BTF, one entry point (`bpf-ts/btf`), as cilium/ebpf's btf package: parse a
// blob, its kinds, look types up by id or name, format them as C, read
// .BTF.ext, rewrite kinds an older kernel lacks, and turn bytes into JS
// values and back. Those files are pure (no syscalls; object/ and vm/ use
// them). The kernel side is in kernel.ts (vmlinux and module BTF),
// handle.ts (BPF_BTF_LOAD, BTF objects by id) and features.ts (what the
// running kernel's BTF loader accepts); they alone import sys/.

// Parse, kinds, lookup.
export { parseBtf, BTF_HEADER_SIZE, type Btf, type BtfLayout, type ParseBtfOptions } from './btf.js';
export * from './kinds.js';
export { formatType, formatRaw } from './format.js';
export { parseBtfExt, CORE_RELO_KIND_NAMES, coreReloKindName, type BtfExt, type CoreRelocation, type FuncInfo, type LineInfo, type ParseBtfExtOptions } from './ext.js';
// Rewriting for older kernels.
export { sanitizeBtf, ALL_BTF_FEATURES, type BtfFeatures } from './sanitize.js';
// Values: bytes ⇄ JS by BTF type.
export { decodeBtfValue, encodeBtfValue, encodeBtfValueInto, toJsonValue, valueFields, type BtfValueOptions, type ValueField } from './values/index.js';
// CO-RE targets.
export { coreTargetFromBtf, type CoreTarget } from './target.js';

// Kernel side.
export { vmlinuxBtf, moduleBtf, moduleBtfNames, kernelCoreTarget, readBtfFile, KERNEL_BTF_DIR, VMLINUX_BTF_PATH } from './kernel.js';
export { loadBtf, btfInfo, btfFdById, kernelBtfById, type BtfInfo } from './handle.js';
export { btfFeatures } from './features.js';
