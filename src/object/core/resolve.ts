// Resolving one CO-RE relocation (libbpf's bpf_core_calc_relo_insn): parse
// the local spec, match it against every candidate, and insist that all
// matching candidates agree. No match is not an error here: the result says
// to poison the instruction (or, for existence checks, to write 0), and the
// reason is kept for the loader's error message.

import { CoreRelocationError } from '../../errors.js';
import type { Btf } from '../../btf/btf.js';
import type { CoreRelocation } from '../../btf/ext.js';
import { coreReloKindName } from '../../btf/ext.js';
import { calcCoreRelo, type CoreReloValues } from './calc.js';
import { CoreCandidates, type CoreTarget } from './candidates.js';
import { describeSpec, specPath, specRootLabel } from './describe.js';
import { essentialName } from './names.js';
import { BPF_CORE_TYPE_ID_LOCAL, coreReloIsEnumvalBased, coreReloIsFieldBased } from './relo-kind.js';
import { type CoreMismatch, matchCoreSpec } from './spec-match.js';
import { parseCoreSpec, type CoreSpec } from './spec.js';
import { typeLabel } from './btf-util.js';

export interface CoreRelocationResult extends CoreReloValues {
  kind: number;
  kindName: string;
  /** The local spec as C: "struct iphdr.protocol". */
  local: string;
  /** The type it resolved to, or null when no candidate matched. */
  target: { btf: Btf; typeId: number; description: string } | null;
  /** Why nothing matched ("field x not found in kernel BTF"); null when something did. */
  reason: string | null;
  /** The local root type as C ("struct task_struct___missing"), for messages. */
  localType: string;
}

export interface CoreResolverOptions {
  /** Byte order of the program (bitfield shifts depend on it); default little-endian. */
  littleEndian?: boolean;
}

function mismatchReason(local: CoreSpec, why: CoreMismatch, depth: number): string {
  if (coreReloIsEnumvalBased(local.kind)) {
    return why === 'missing' ? `enumerator ${local.accessors[0]?.name} not found in kernel BTF` : `not an enum in kernel BTF`;
  }
  if (!coreReloIsFieldBased(local.kind)) return `type is not compatible with the kernel's`;
  const path = specPath(local, depth + 1) || '(root)';
  switch (why) {
    case 'missing':
      return `field ${path} not found in kernel BTF`;
    case 'incompatible':
      return `field ${path} has an incompatible type in kernel BTF`;
    case 'not_composite':
      return `field ${path}: kernel BTF has no struct or union there`;
    case 'not_array':
      return `${path}: kernel BTF has no array there`;
    case 'bounds':
      return `${path}: index past the end of the kernel's array`;
    default:
      return `type is not compatible with the kernel's`;
  }
}

/**
 * Resolves relocations of one local BTF against one target, caching
 * candidates per name and results per (type id, access string, kind).
 */
export class CoreResolver {
  readonly local: Btf;
  readonly candidates: CoreCandidates;
  readonly littleEndian: boolean;
  readonly #results = new Map<string, CoreRelocationResult>();

  constructor(local: Btf, target: CoreTarget | CoreCandidates, opts: CoreResolverOptions = {}) {
    this.local = local;
    this.candidates = target instanceof CoreCandidates ? target : new CoreCandidates(target);
    this.littleEndian = opts.littleEndian ?? true;
  }

  resolve(relo: Pick<CoreRelocation, 'typeId' | 'accessStr' | 'kind'>): CoreRelocationResult {
    const key = `${relo.typeId}:${relo.accessStr}:${relo.kind}`;
    let res = this.#results.get(key);
    if (!res) {
      res = this.#resolve(relo);
      this.#results.set(key, res);
    }
    return res;
  }

  #resolve(relo: Pick<CoreRelocation, 'typeId' | 'accessStr' | 'kind'>): CoreRelocationResult {
    const { kind } = relo;
    const kindName = coreReloKindName(kind);
    const local = parseCoreSpec(this.local, relo.typeId, relo.accessStr, kind);
    const localType = specRootLabel(local);
    const base = { kind, kindName, local: describeSpec(local), localType };

    // The local type id needs no target (and ids may have moved when linking).
    if (kind === BPF_CORE_TYPE_ID_LOCAL) {
      const id = BigInt(relo.typeId);
      return {
        ...base,
        ...calcZero(),
        localValue: id,
        targetValue: id,
        validate: false,
        target: { btf: this.local, typeId: relo.typeId, description: base.local },
        reason: null,
      };
    }

    const rootType = this.local.typeById(relo.typeId);
    if (rootType.name === '') {
      throw new CoreRelocationError(`${kindName} relocation of ${base.local}: anonymous types cannot be relocated`);
    }

    let chosen: { res: CoreReloValues; spec: CoreSpec } | null = null;
    let best: { why: CoreMismatch; depth: number } | null = null;
    const cands = this.candidates.find(rootType);
    for (const cand of cands) {
      const m = matchCoreSpec(local, cand.btf, cand.id);
      if (!m.ok) {
        // Remember the furthest any candidate got, to name the missing piece.
        if (!best || m.depth > best.depth) best = { why: m.why, depth: m.depth };
        continue;
      }
      const r = calcCoreRelo(kind, local, m.spec, this.littleEndian);
      if (!chosen) {
        chosen = { res: r, spec: m.spec };
      } else if (coreReloIsFieldBased(kind) && m.spec.bitOffset !== chosen.spec.bitOffset) {
        throw new CoreRelocationError(
          `${kindName} relocation of ${base.local}: ambiguous: kernel types [${chosen.spec.rootTypeId}] and [${cand.id}] put the field at different offsets (bit ${chosen.spec.bitOffset} vs ${m.spec.bitOffset})`,
        );
      } else if (r.poison !== chosen.res.poison || r.targetValue !== chosen.res.targetValue) {
        throw new CoreRelocationError(
          `${kindName} relocation of ${base.local}: ambiguous: kernel types [${chosen.spec.rootTypeId}] and [${cand.id}] give different values (${chosen.res.targetValue} vs ${r.targetValue})`,
        );
      }
    }

    if (chosen) {
      const t = chosen.spec.btf.typeById(chosen.spec.rootTypeId);
      return {
        ...base,
        ...chosen.res,
        target: { btf: chosen.spec.btf, typeId: t.id, description: describeSpec(chosen.spec) },
        reason: chosen.res.failMemszAdjust ? memszReason(local, chosen.res) : null,
      };
    }

    const r = calcCoreRelo(kind, local, null, this.littleEndian);
    const reason = cands.length === 0 ? `no ${typeLabel(rootType).replace(rootType.name, essentialName(rootType.name))} in kernel BTF` : mismatchReason(local, best!.why, best!.depth);
    return { ...base, ...r, target: null, reason };
  }
}

function memszReason(local: CoreSpec, r: CoreReloValues): string {
  return `field ${specPath(local)} is ${r.targetSize} bytes in kernel BTF but ${r.localSize} in the program, and only pointers and unsigned integers may be read at another width`;
}

function calcZero(): CoreReloValues {
  return { localValue: 0n, targetValue: 0n, poison: false, validate: true, localSize: 0, targetSize: 0, localTypeId: 0, targetTypeId: 0, failMemszAdjust: false };
}
