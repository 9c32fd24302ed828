// CO-RE (compile once, run everywhere): relocating a program's field offsets,
// sizes, type and enum facts from the BTF it was compiled against to the
// running kernel's. Pure: the target BTF comes in from the caller.

export * from './relo-kind.js';
export { essentialName, essentialNameLength } from './names.js';
export { parseCoreSpec, type CoreSpec, type CoreAccessor, BPF_CORE_SPEC_MAX_LEN } from './spec.js';
export { matchCoreSpec, type CoreSpecMatch, type CoreMismatch } from './spec-match.js';
export { typesAreCompat, fieldsAreCompat } from './compat.js';
export { typesMatch } from './match.js';
export { calcCoreRelo, type CoreReloValues } from './calc.js';
export { CoreCandidates, type CoreTarget, type CoreCandidate } from './candidates.js';
export { CoreResolver, type CoreRelocationResult, type CoreResolverOptions } from './resolve.js';
export { patchCoreInsn, poisonInsn, BPF_CORE_POISON_HELPER, type CorePatchOutcome } from './patch.js';
export { applyCoreRelocations, type CorePoisoned, type CoreApplied } from './apply.js';
export { describeSpec } from './describe.js';
