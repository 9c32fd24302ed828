// The value a relocation stands for, computed once from the local spec (what
// clang assumed, to check the instruction against) and once from the target
// spec (what gets written), as libbpf's bpf_core_calc_relo.

import { CoreRelocationError } from '../../errors.js';
import type { BtfType } from '../../btf/kinds.js';
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  coreReloIsEnumvalBased,
  coreReloIsFieldBased,
  coreReloIsTypeBased,
} from './relo-kind.js';
import type { CoreSpec } from './spec.js';
import { isAnyEnum, sizeOf, skipModsAndTypedefs } from './btf-util.js';
import { coreReloKindName } from '../../btf/ext.js';

export interface CoreReloValues {
  /** The value computed on the local BTF: what the instruction should hold now. */
  localValue: bigint;
  /** The value computed on the target BTF: what the instruction gets. */
  targetValue: bigint;
  /** The instruction cannot be relocated and is replaced by an invalid call. */
  poison: boolean;
  /** Check the instruction holds localValue before patching (off for bitfields and type ids). */
  validate: boolean;
  /** Load/store width in bytes before and after (field offsets of non-bitfields; else 0). */
  localSize: number;
  targetSize: number;
  localTypeId: number;
  targetTypeId: number;
  /** The width changes in a way a load cannot follow (e.g. a signed int grew). */
  failMemszAdjust: boolean;
}

/** Signals "poison the instruction" (libbpf's -EUCLEAN). */
class Poison {}

const u64 = (v: bigint | number): bigint => BigInt.asUintN(64, BigInt(v));

interface FieldValue {
  val: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

function fieldValue(kind: number, spec: CoreSpec | null, littleEndian: boolean): FieldValue {
  if (kind === BPF_CORE_FIELD_EXISTS) return { val: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) throw new Poison();
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  const what = `[${spec.rootTypeId}]`;

  // The path ends in an array element (a[n]): only offset and size make sense.
  if (acc.name === null) {
    const sz = sizeOf(btf, acc.typeId, what);
    if (kind === BPF_CORE_FIELD_BYTE_OFFSET) return { val: BigInt(spec.bitOffset / 8), size: sz, typeId: acc.typeId, validate: true };
    if (kind === BPF_CORE_FIELD_BYTE_SIZE) return { val: BigInt(sz), size: 0, typeId: 0, validate: true };
    throw new CoreRelocationError(`${coreReloKindName(kind)} cannot apply to an array element access`);
  }

  const owner = btf.typeById(acc.typeId);
  if (owner.kind !== 'struct' && owner.kind !== 'union') throw new CoreRelocationError(`accessor on ${owner.kind} [${owner.id}]`);
  const m = owner.members[acc.idx]!;
  const mt: BtfType = skipModsAndTypedefs(btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteOff: number;
  let byteSize: number;
  if (bitfield) {
    // The smallest aligned load of the field's base type's size (or larger) that covers every bit.
    byteSize = 'size' in mt ? mt.size : 0;
    if (byteSize === 0) throw new CoreRelocationError(`bitfield ${m.name} has a sizeless type`);
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new CoreRelocationError(`bitfield ${m.name} cannot be read with one 64-bit load`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    // Only a bitfield may start inside a byte (libbpf refuses the same).
    if (bitOff % 8 !== 0) throw new CoreRelocationError(`field ${m.name} at bit ${bitOff} is not a bitfield but does not start on a byte`);
    byteSize = sizeOf(btf, mt.id, what);
    byteOff = bitOff / 8;
    bitSize = byteSize * 8;
  }

  switch (kind) {
    case BPF_CORE_FIELD_BYTE_OFFSET:
      // Compilers may split bitfield loads differently: only check plain fields.
      return { val: BigInt(byteOff), size: bitfield ? 0 : byteSize, typeId: bitfield ? 0 : mt.id, validate: !bitfield };
    case BPF_CORE_FIELD_BYTE_SIZE:
      return { val: BigInt(byteSize), size: 0, typeId: 0, validate: !bitfield };
    case BPF_CORE_FIELD_SIGNED: {
      const signed = (isAnyEnum(mt) && 'signed' in mt && mt.signed) || (mt.kind === 'int' && mt.encoding.signed);
      return { val: signed ? 1n : 0n, size: 0, typeId: 0, validate: true };
    }
    case BPF_CORE_FIELD_LSHIFT_U64: {
      // Shift that brings the field's top bit to bit 63 after a byteSize load.
      const v = littleEndian ? 64 - (bitOff + bitSize - byteOff * 8) : (8 - byteSize) * 8 + (bitOff - byteOff * 8);
      return { val: BigInt(v), size: 0, typeId: 0, validate: !bitfield };
    }
    case BPF_CORE_FIELD_RSHIFT_U64:
      return { val: BigInt(64 - bitSize), size: 0, typeId: 0, validate: true };
    default:
      throw new CoreRelocationError(`unknown field relocation kind ${kind}`);
  }
}

function typeValue(kind: number, spec: CoreSpec | null): { val: bigint; validate: boolean } {
  // Type relocations resolve to 0 when the target has no such type.
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    case BPF_CORE_TYPE_ID_TARGET:
      // Type ids shift when objects are linked: never worth checking.
      return { val: BigInt(spec.rootTypeId), validate: false };
    case BPF_CORE_TYPE_EXISTS:
    case BPF_CORE_TYPE_MATCHES:
      return { val: 1n, validate: true };
    case BPF_CORE_TYPE_SIZE:
      return { val: BigInt(sizeOf(spec.btf, spec.rootTypeId, `[${spec.rootTypeId}]`)), validate: true };
    default:
      throw new CoreRelocationError(`unknown type relocation kind ${kind}`);
  }
}

function enumvalValue(kind: number, spec: CoreSpec | null): bigint {
  if (kind === BPF_CORE_ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (kind !== BPF_CORE_ENUMVAL_VALUE) throw new CoreRelocationError(`unknown enum relocation kind ${kind}`);
  if (!spec) throw new Poison();
  const acc = spec.accessors[0]!;
  const t = spec.btf.typeById(acc.typeId);
  if (t.kind !== 'enum' && t.kind !== 'enum64') throw new CoreRelocationError(`enumerator of ${t.kind} [${t.id}]`);
  return u64(t.values[acc.idx]!.value);
}

/**
 * Values for one relocation. `targ` is null when no candidate matched: then
 * existence kinds and type kinds give 0, everything else poisons.
 */
export function calcCoreRelo(kind: number, local: CoreSpec, targ: CoreSpec | null, littleEndian: boolean): CoreReloValues {
  const res: CoreReloValues = {
    localValue: 0n,
    targetValue: 0n,
    poison: false,
    validate: true,
    localSize: 0,
    targetSize: 0,
    localTypeId: 0,
    targetTypeId: 0,
    failMemszAdjust: false,
  };
  try {
    if (coreReloIsFieldBased(kind)) {
      const o = fieldValue(kind, local, littleEndian);
      Object.assign(res, { localValue: o.val, validate: o.validate, localSize: o.size, localTypeId: o.typeId });
      const n = fieldValue(kind, targ, littleEndian);
      Object.assign(res, { targetValue: n.val, targetSize: n.size, targetTypeId: n.typeId });
      if (o.size !== n.size) {
        // A load may change width only where zero-extension keeps the value:
        // pointers (32-bit kernels) and unsigned integers.
        const ot = local.btf.typeById(o.typeId);
        const nt = targ!.btf.typeById(n.typeId);
        const ok = (ot.kind === 'ptr' && nt.kind === 'ptr') || (ot.kind === 'int' && nt.kind === 'int' && !ot.encoding.signed && !nt.encoding.signed);
        res.failMemszAdjust = !ok;
      }
    } else if (coreReloIsTypeBased(kind)) {
      const o = typeValue(kind, local);
      res.localValue = o.val;
      res.validate = o.validate;
      res.targetValue = typeValue(kind, targ).val;
    } else if (coreReloIsEnumvalBased(kind)) {
      res.localValue = enumvalValue(kind, local);
      res.targetValue = enumvalValue(kind, targ);
    } else {
      throw new CoreRelocationError(`unknown relocation kind ${kind}`);
    }
  } catch (e) {
    if (!(e instanceof Poison)) throw e;
    res.poison = true;
  }
  return res;
}
