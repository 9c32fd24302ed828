// bpf-ts gen: TypeScript from an object's BTF. One module per object: an
// interface (or type) for every BTF type a map key or value, a global
// variable or a named event type uses, a codec for each, and open() that
// returns a spec and collection typed with them. Pure: it reads the parsed
// object only; the generated module runs on src/typed at run time.

import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import type { BtfType } from '../btf/kinds.js';
import type { BpfObjectFile, MapSpec } from '../object/types.js';
import { BPF_MAP_TYPE as M } from '../uapi/bpf.js';
import type { Field, Layout, Scalar } from '../typed/codec.js';
import { valueFields } from '../btf/values/fields.js';

export interface GenerateOptions {
  /** The object as the module names it in its header (as given on the command line). */
  objectLabel: string;
  /** sha256 of the object's bytes, hex. */
  sha256: string;
  /** Path of the object relative to the generated file (for the default open() path). */
  relativePath: string;
  /** The object's bytes, to embed in the module (--embed). */
  embed?: Uint8Array;
  /** Extra BTF types to emit (event structs a map does not name). */
  eventTypes?: string[];
  /** Module to import the runtime from (default "bpf-ts"). */
  runtimeModule?: string;
}

const TYPED_MAPS = new Set<number>([M.HASH, M.ARRAY, M.PERCPU_HASH, M.PERCPU_ARRAY, M.LRU_HASH, M.LRU_PERCPU_HASH, M.LPM_TRIE]);
const PER_CPU = new Set<number>([M.PERCPU_HASH, M.PERCPU_ARRAY, M.LRU_PERCPU_HASH]);

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with as implements interface let package private protected public static yield any boolean number string symbol type object never unknown bigint undefined'.split(
    ' ',
  ),
);
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** A property key as TypeScript needs it: bare when it is an identifier, quoted otherwise. */
export function propName(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function typeIdent(name: string): string {
  const n = name.replace(/[^\w$]/g, '_');
  return RESERVED.has(n) || !IDENT.test(n) ? `${n}_` : n;
}

interface Shape {
  /** TypeScript type text. */
  ts: string;
  layout: Layout;
  /** The exported codec of a named struct, when there is one. */
  codecName?: string;
}

/** A codec expression for a shape: the named codec, or one made from its layout. */
function codecExpr(s: Shape, label: string): string {
  return s.codecName ?? `codec(${JSON.stringify(s.layout)}, ${JSON.stringify(label)})`;
}

class Generator {
  readonly #btf: Btf | null;
  /** Declarations by type name, in emission order. */
  readonly #decls = new Map<string, string>();
  /** Named BTF type id -> its TS name. */
  readonly #names = new Map<number, string>();
  readonly #inProgress = new Set<number>();

  constructor(btf: Btf | null) {
    this.#btf = btf;
  }

  get declarations(): string[] {
    return [...this.#decls.values()];
  }

  #nameFor(t: BtfType): string {
    let n = this.#names.get(t.id);
    if (n) return n;
    n = typeIdent(t.name);
    // Two BTF types with one name (struct foo and typedef foo of something else): suffix.
    const taken = new Set(this.#names.values());
    for (let i = 2; taken.has(n); i++) n = `${typeIdent(t.name)}_${i}`;
    this.#names.set(t.id, n);
    return n;
  }

  scalarOf(t: BtfType): Scalar | null {
    if (t.kind === 'int') {
      if (t.encoding.bool) return 'bool';
      const s = t.encoding.signed;
      switch (t.size) {
        case 1:
          return s ? 'i8' : 'u8';
        case 2:
          return s ? 'i16' : 'u16';
        case 4:
          return s ? 'i32' : 'u32';
        case 8:
          return s ? 'i64' : 'u64';
        default:
          return null;
      }
    }
    if (t.kind === 'enum') return t.size === 1 ? (t.signed ? 'i8' : 'u8') : t.size === 2 ? (t.signed ? 'i16' : 'u16') : t.signed ? 'i32' : 'u32';
    if (t.kind === 'enum64') return t.signed ? 'i64' : 'u64';
    if (t.kind === 'ptr') return 'u64';
    if (t.kind === 'float') return t.size === 4 ? 'f32' : t.size === 8 ? 'f64' : null;
    return null;
  }

  static tsOfScalar(s: Scalar): string {
    return s === 'bool' ? 'boolean' : s === 'u64' || s === 'i64' ? 'bigint' : 'number';
  }

  /** The shape of BTF type `id`, declaring named types on the way. */
  shape(id: number, depth = 0): Shape {
    const btf = this.#btf!;
    if (depth > 32) throw new BpfError('BTF_INVALID', `type [${id}] nests too deeply to generate`);
    const raw = btf.typeById(id);
    // Typedefs keep their name when they name a struct/union/enum; else they are the type they alias.
    const t = btf.typeById(btf.skipQualifiers(id));
    if (raw.kind === 'typedef' && raw.name) {
      const inner = this.shape(raw.type, depth + 1);
      const target = btf.typeById(btf.skipQualifiers(raw.type));
      if (target.kind === 'struct' || target.kind === 'union') {
        if (!target.name) {
          // typedef struct { … } name_t: the typedef names the struct.
          return this.#declareStruct(raw, target, depth);
        }
        return inner;
      }
      const name = this.#nameFor(raw);
      if (!this.#decls.has(name)) this.#decls.set(name, `/** typedef ${raw.name} */\nexport type ${name} = ${inner.ts};`);
      return { ts: name, layout: inner.layout };
    }
    const scalar = this.scalarOf(t);
    if (scalar) {
      if ((t.kind === 'enum' || t.kind === 'enum64') && t.name) this.#declareEnum(t);
      const ts = (t.kind === 'enum' || t.kind === 'enum64') && t.name ? this.#nameFor(t) : Generator.tsOfScalar(scalar);
      return { ts, layout: { kind: 'scalar', type: scalar } };
    }
    switch (t.kind) {
      case 'array': {
        const elem = btf.typeById(btf.skipQualifiers(t.elemType));
        const es = this.scalarOf(elem);
        if (elem.kind === 'int' && elem.size === 1 && (elem.encoding.char || elem.name === 'char')) {
          return { ts: 'string', layout: { kind: 'string', length: t.nelems } };
        }
        if (es && elem.kind !== 'enum' && elem.kind !== 'enum64') {
          const arrayTs: Record<Scalar, string> = {
            u8: 'Uint8Array',
            i8: 'Int8Array',
            u16: 'Uint16Array',
            i16: 'Int16Array',
            u32: 'Uint32Array',
            i32: 'Int32Array',
            u64: 'BigUint64Array',
            i64: 'BigInt64Array',
            f32: 'Float32Array',
            f64: 'Float64Array',
            bool: 'boolean[]',
          };
          return { ts: arrayTs[es], layout: { kind: 'array', length: t.nelems, type: es } };
        }
        const inner = this.shape(t.elemType, depth + 1);
        const stride = btf.resolveSize(t.elemType);
        const small = t.nelems > 0 && t.nelems <= 16;
        const ts = small ? `[${Array.from({ length: t.nelems }, () => inner.ts).join(', ')}]` : `${/^[\w$]+$/.test(inner.ts) ? inner.ts : `(${inner.ts})`}[]`;
        return { ts, layout: { kind: 'list', length: t.nelems, elem: inner.layout, stride } };
      }
      case 'struct':
      case 'union':
        return this.#declareStruct(t, t, depth);
      default:
        return { ts: 'Uint8Array', layout: { kind: 'bytes', length: safeSize(btf, id) } };
    }
  }

  #declareEnum(t: Extract<BtfType, { kind: 'enum' | 'enum64' }>): void {
    const name = this.#nameFor(t);
    if (this.#decls.has(name)) return;
    const big = t.kind === 'enum64';
    const values = t.values.map((v) => `  ${propName(v.name)}: ${big ? `${v.value}n` : v.value},`).join('\n');
    this.#decls.set(name, `/** enum ${t.name} (its values; the type is the number) */\nexport type ${name} = ${big ? 'bigint' : 'number'};\nexport const ${name} = {\n${values}\n} as const;`);
  }

  #declareStruct(named: BtfType, t: Extract<BtfType, { kind: 'struct' | 'union' }>, depth: number): Shape {
    const btf = this.#btf!;
    const layout: Layout = { kind: 'struct', size: t.size, fields: [] };
    const anonymous = !named.name;
    const name = anonymous ? '' : this.#nameFor(named);
    if (!anonymous && this.#inProgress.has(named.id)) {
      throw new BpfError('BTF_INVALID', `struct ${named.name} contains itself: no value shape can be generated for it`);
    }
    this.#inProgress.add(named.id);
    const lines: string[] = [];
    try {
      for (const f of valueFields(btf, t)) {
        const ft = btf.typeById(btf.skipQualifiers(f.type));
        if (f.bitfieldSize) {
          const s = this.scalarOf(ft);
          const bool = s === 'bool';
          (layout.fields as Field[]).push({ name: f.name, bitOffset: f.bitOffset, bits: f.bitfieldSize, signed: /^i/.test(s ?? ''), ...(bool ? { bool: true } : {}) });
          lines.push(`  ${propName(f.name)}: ${bool ? 'boolean' : 'number'};`);
          continue;
        }
        const s = this.shape(f.type, depth + 1);
        (layout.fields as Field[]).push({ name: f.name, offset: f.bitOffset / 8, layout: s.layout });
        lines.push(`  ${propName(f.name)}: ${s.ts};`);
      }
    } finally {
      this.#inProgress.delete(named.id);
    }
    const body = `{\n${lines.join('\n')}\n}`;
    if (anonymous) return { ts: body.replace(/\n/g, ' ').replace(/ {2,}/g, ' '), layout };
    if (!this.#decls.has(name)) {
      const what = named.kind === 'typedef' ? `typedef ${named.name}` : `${t.kind} ${named.name}`;
      this.#decls.set(name, `/** ${what} (${t.size} bytes) */\nexport interface ${name} ${body}\nexport const ${name} = codec<${name}>(${JSON.stringify(layout)}, ${JSON.stringify(what)});`);
    }
    return { ts: name, layout, codecName: name };
  }
}

function safeSize(btf: Btf, id: number): number {
  try {
    return btf.resolveSize(id);
  } catch {
    return 0;
  }
}

/** `{ a; b }` as an indented block, or `{}` when empty. */
function block(lines: string[]): string {
  return lines.length ? `{\n${lines.join('\n')}\n}` : '{}';
}

/** Object literal lines at the schema's second level. */
function objBlock(lines: string[]): string {
  return lines.length ? `{\n${lines.join('\n')}\n  }` : '{}';
}

function rawScalarShape(size: number): Shape {
  switch (size) {
    case 1:
      return { ts: 'number', layout: { kind: 'scalar', type: 'u8' } };
    case 2:
      return { ts: 'number', layout: { kind: 'scalar', type: 'u16' } };
    case 4:
      return { ts: 'number', layout: { kind: 'scalar', type: 'u32' } };
    case 8:
      return { ts: 'bigint', layout: { kind: 'scalar', type: 'u64' } };
    default:
      return { ts: 'Uint8Array', layout: { kind: 'bytes', length: size } };
  }
}

const isDataMap = (m: MapSpec): boolean => m.variables !== undefined || m.name.startsWith('.');

/** The TypeScript module for `file`. */
export function generateModule(file: BpfObjectFile, opts: GenerateOptions): string {
  const g = new Generator(file.btf);
  const runtime = opts.runtimeModule ?? 'bpf-ts';
  const mapLines: string[] = [];
  const mapSchema: string[] = [];
  const rawMaps: string[] = [];
  const sideShape = (typeId: number, size: number): Shape => (typeId && file.btf ? g.shape(typeId) : rawScalarShape(size));

  for (const m of file.maps) {
    if (isDataMap(m)) continue;
    if (!TYPED_MAPS.has(m.type) || m.keySize === 0 || m.valueSize === 0) {
      rawMaps.push(m.name);
      mapLines.push(`  ${propName(m.name)}: BpfMap;`);
      continue;
    }
    const k = sideShape(m.btfKeyTypeId, m.keySize);
    const v = sideShape(m.btfValueTypeId, m.valueSize);
    const perCpu = PER_CPU.has(m.type);
    mapLines.push(`  ${propName(m.name)}: ${perCpu ? 'TypedPerCpuMap' : 'TypedBpfMap'}<${k.ts}, ${v.ts}>;`);
    mapSchema.push(`    ${propName(m.name)}: { key: ${codecExpr(k, `map ${m.name} key`)}, value: ${codecExpr(v, `map ${m.name} value`)}, perCpu: ${perCpu} },`);
  }

  const globalLines: string[] = [];
  const globalSchema: string[] = [];
  const rodataLines: string[] = [];
  const rodataSchema: string[] = [];
  for (const m of file.maps) {
    if (!isDataMap(m) || !m.variables) continue;
    for (const v of m.variables) {
      if (v.name.startsWith('.')) continue; // section symbols, not variables
      let typeId = v.btfTypeId;
      if (typeId && file.btf && file.btf.typeById(typeId).kind === 'var') typeId = (file.btf.typeById(typeId) as { type: number }).type;
      const s = sideShape(typeId, v.size);
      const line = `  ${propName(v.name)}: ${s.ts};`;
      const schema = `    ${propName(v.name)}: { map: ${JSON.stringify(m.name)}, offset: ${v.offset}, codec: ${codecExpr(s, `global ${v.name}`)} },`;
      if (m.freeze) {
        rodataLines.push(line);
        rodataSchema.push(schema);
      } else {
        globalLines.push(line);
        globalSchema.push(schema);
      }
    }
  }

  for (const name of opts.eventTypes ?? []) {
    if (!file.btf) throw new BpfError('BTF_INVALID', `${opts.objectLabel} has no BTF: --event-type ${name} cannot be generated`);
    const t = file.btf.findByName(name, 'struct') ?? file.btf.findByName(name, 'union') ?? file.btf.findByName(name, 'typedef');
    if (!t) throw new BpfError('BTF_INVALID', `${opts.objectLabel}: no struct, union or typedef named ${name} in its BTF (is it used by a program, so that clang keeps it?)`);
    const s = g.shape(t.id);
    if (!/^[\w$]+$/.test(s.ts)) throw new BpfError('BTF_INVALID', `${opts.objectLabel}: ${name} has no struct layout to generate`);
  }

  const programs = file.programs.map((p) => p.name);
  const defaultSource = opts.embed ? `embedded` : `fileURLToPath(new URL(${JSON.stringify(opts.relativePath)}, import.meta.url))`;
  const out: string[] = [];
  out.push(`// Code generated by bpf-ts gen from ${opts.objectLabel} (sha256 ${opts.sha256}). DO NOT EDIT.`);
  out.push(`// Regenerate with: bpf-ts gen ${opts.objectLabel}${opts.embed ? ' --embed' : ''}${(opts.eventTypes ?? []).map((e) => ` --event-type ${e}`).join('')}`);
  out.push('');
  if (!opts.embed) out.push(`import { fileURLToPath } from 'node:url';`);
  // The runtime imports, filled in at the end with only the names the module uses
  // (a user's noUnusedLocals would refuse the others).
  const importsAt = out.push('', '') - 2;
  out.push('');
  out.push(`/** sha256 of the object this module was generated from. */`);
  out.push(`export const objectSha256 = ${JSON.stringify(opts.sha256)};`);
  out.push('');
  for (const d of g.declarations) out.push(d, '');
  out.push(`export interface Maps ${block(mapLines)}`, '');
  out.push(`export interface Programs ${block(programs.map((p) => `  ${propName(p)}: BpfProgram;`))}`, '');
  out.push(`/** Writable globals (.bss, .data): read and assigned in the kernel's copy. */`);
  out.push(`export interface Globals ${block(globalLines)}`, '');
  out.push(`/** const volatile globals (.rodata): assign on the spec before load(). */`);
  out.push(`export interface Rodata ${block(rodataLines)}`, '');
  out.push(`export interface Collection extends Disposable {
  readonly maps: Maps;
  /** Programs that were loaded (all by default; those named in LoadOptions.programs otherwise). */
  readonly programs: Partial<Programs>;
  readonly globals: Globals;
  readonly rodata: Readonly<Rodata>;
  /** The untyped collection underneath. */
  readonly raw: BpfCollection;
  close(): void;
}

export interface Spec {
  readonly rodata: Rodata;
  readonly raw: BpfObjectSpec;
  load(options?: LoadOptions): Collection;
}
`);
  out.push(`/** What open() builds on: codecs of every map side and variable (for introspection). */\nexport const schema = {
  maps: ${objBlock(mapSchema)},
  rawMaps: ${JSON.stringify(rawMaps)},
  programs: ${JSON.stringify(programs)},
  globals: ${objBlock(globalSchema)},
  rodata: ${objBlock(rodataSchema)},
};
`);
  if (opts.embed) {
    const b64 = Buffer.from(opts.embed).toString('base64');
    const chunks = b64.match(/.{1,100}/g) ?? [];
    out.push(`const embedded = Buffer.from(\n${chunks.map((c) => `  '${c}'`).join(' +\n')},\n  'base64',\n);\n`);
    out.push(`/** Open the object embedded in this module (or another build of it at \`path\`). */`);
  } else {
    out.push(`/** Open the object (default: ${opts.relativePath} next to this module). */`);
  }
  out.push(`export function open(path?: string): Spec {\n  return openTyped<Spec>(path ?? ${defaultSource}, schema);\n}\n`);
  const body = out.join('\n');
  const used = (names: string[]) => names.filter((n) => new RegExp(`\\b${n}\\b`).test(body)).join(', ');
  out[importsAt] = `import { ${used(['codec', 'openTyped'])} } from ${JSON.stringify(runtime)};`;
  out[importsAt + 1] = `import type { ${used(['BpfCollection', 'BpfMap', 'BpfObjectSpec', 'BpfProgram', 'LoadOptions', 'TypedBpfMap', 'TypedPerCpuMap'])} } from ${JSON.stringify(runtime)};`;
  return out.join('\n');
}
