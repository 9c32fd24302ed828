// BTF kind numbers and the decoded type shapes. Numbers follow
// include/uapi/linux/btf.h; names are the lower-case spelling used by the
// discriminated union below (and, upper-cased, by bpftool's raw dump).

export const BTF_KIND_UNKN = 0;
export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;
export const BTF_KIND_MAX = BTF_KIND_ENUM64;

export type BtfKindName =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/**
 * Kind number -> name. Index 0 is 'void': kind 0 is never valid in a type
 * record, it only names the implicit type id 0.
 */
export const BTF_KIND_NAMES: readonly BtfKindName[] = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
];

/** Linkage of a FUNC (btf_func_linkage) or VAR (BTF_VAR_*); same numbering. */
export type BtfLinkage = 'static' | 'global' | 'extern';
export const BTF_LINKAGES: readonly BtfLinkage[] = ['static', 'global', 'extern'];

interface Base {
  id: number;
  /** '' for anonymous types. */
  name: string;
}

/** Type id 0: `void`. Not stored in the blob, synthesised by typeById(0). */
export interface BtfVoid extends Base {
  kind: 'void';
}

export interface BtfInt extends Base {
  kind: 'int';
  size: number;
  encoding: { signed: boolean; char: boolean; bool: boolean };
  bitOffset: number;
  bits: number;
}

/** Kinds that only point at another type. */
export interface BtfRefType extends Base {
  kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  type: number;
}

export interface BtfArray extends Base {
  kind: 'array';
  elemType: number;
  indexType: number;
  nelems: number;
}

export interface BtfMember {
  name: string;
  type: number;
  bitOffset: number;
  /** 0 unless the member is a bitfield (only set when the struct has kind_flag). */
  bitfieldSize: number;
}

export interface BtfComposite extends Base {
  kind: 'struct' | 'union';
  size: number;
  members: BtfMember[];
}

export interface BtfEnumValue {
  name: string;
  value: number;
}

export interface BtfEnum extends Base {
  kind: 'enum';
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}

export interface BtfEnum64Value {
  name: string;
  value: bigint;
}

export interface BtfEnum64 extends Base {
  kind: 'enum64';
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}

export interface BtfFwd extends Base {
  kind: 'fwd';
  isUnion: boolean;
}

export interface BtfFunc extends Base {
  kind: 'func';
  /** The FUNC_PROTO. */
  type: number;
  linkage: BtfLinkage;
}

export interface BtfParam {
  /** '' when unnamed; a trailing {name:'', type:0} means `...`. */
  name: string;
  type: number;
}

export interface BtfFuncProto extends Base {
  kind: 'func_proto';
  /** 0 = void. */
  returnType: number;
  params: BtfParam[];
}

export interface BtfVar extends Base {
  kind: 'var';
  type: number;
  linkage: BtfLinkage;
}

export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

export interface BtfDatasec extends Base {
  kind: 'datasec';
  size: number;
  vars: BtfVarSecinfo[];
}

export interface BtfFloat extends Base {
  kind: 'float';
  size: number;
}

export interface BtfDeclTag extends Base {
  kind: 'decl_tag';
  type: number;
  /** -1 when the tag applies to the type itself, else the member/param index. */
  componentIdx: number;
}

export type BtfType = BtfVoid | BtfInt | BtfRefType | BtfArray | BtfComposite | BtfEnum | BtfEnum64 | BtfFwd | BtfFunc | BtfFuncProto | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;
