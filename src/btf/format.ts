// Human-readable printing of BTF types for `bpf-ts btf dump`:
//  - formatType: a C declaration, like `bpftool btf dump … format c` prints it;
//  - formatRaw: bpftool's default ("raw") one-type-per-record listing.

import { BpfError } from '../errors.js';
import type { Btf } from './btf.js';
import type { BtfType } from './kinds.js';

// Declarators nest once per pointer/array/qualifier/inline struct; real types
// stay far below this, so hitting it means a reference loop.
const MAX_DEPTH = 256;
// Anonymous structs are printed inline, so crafted BTF could make the output
// grow exponentially without any loop; cap the member lines printed.
const MAX_LINES = 1_000_000;

function invalid(btf: Btf, msg: string): never {
  const prefix = btf.source ? `${btf.source}: .BTF: ` : '.BTF: ';
  throw new BpfError('BTF_INVALID', prefix + msg);
}

function tooDeep(btf: Btf, id: number): never {
  invalid(btf, `type [${id}] nests too deeply (reference loop?)`);
}

/**
 * Composes C declarations inside-out: `inner` is the declarator built so far
 * (e.g. "*p"), each step wraps it and hands it to the referenced type.
 */
class CPrinter {
  /** Anonymous types being printed inline right now: meeting one again is a loop. */
  readonly #open = new Set<number>();
  #lines = 0;

  constructor(private readonly btf: Btf) {}

  /** `starred`: inner begins with a pointer, so arrays/functions must parenthesise it. */
  decl(id: number, inner: string, indent: number, depth: number, starred = false): string {
    if (depth > MAX_DEPTH) tooDeep(this.btf, id);
    const t = this.btf.typeById(id);
    switch (t.kind) {
      case 'ptr':
        return this.decl(t.type, '*' + inner, indent, depth + 1, true);
      case 'const':
      case 'volatile':
      case 'restrict': {
        // A qualified pointer reads "int *const p": the qualifier sits right of the star.
        if (this.btf.typeById(t.type).kind === 'ptr') {
          return this.decl(t.type, inner ? `${t.kind} ${inner}` : t.kind, indent, depth + 1, starred);
        }
        return `${t.kind} ${this.decl(t.type, inner, indent, depth + 1, starred)}`;
      }
      case 'type_tag':
      case 'var':
      case 'func':
        // Tags do not change the C spelling; VAR/FUNC name their type.
        return this.decl(t.type, inner, indent, depth + 1, starred);
      case 'array': {
        const wrapped = starred ? `(${inner})` : inner;
        return this.decl(t.elemType, `${wrapped}[${t.nelems}]`, indent, depth + 1);
      }
      case 'func_proto': {
        const params = t.params.map((p, i) => (p.type === 0 && i === t.params.length - 1 ? '...' : this.decl(p.type, p.name, indent, depth + 1)));
        const wrapped = starred ? `(${inner})` : inner;
        return this.decl(t.returnType, `${wrapped}(${params.join(', ') || 'void'})`, indent, depth + 1);
      }
      default: {
        const spec = this.spec(t, indent, depth + 1);
        return inner ? `${spec} ${inner}` : spec;
      }
    }
  }

  /** The type specifier: a name, or the whole body for anonymous struct/union/enum. */
  spec(t: BtfType, indent: number, depth: number): string {
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
        return t.name ? `${keyword(t)} ${t.name}` : this.body(t, indent, depth);
      case 'fwd':
        return `${t.isUnion ? 'union' : 'struct'} ${t.name}`;
      case 'datasec':
      case 'decl_tag':
        return `/* ${t.kind} ${t.name} */`;
      default:
        return t.name || `/* anonymous ${t.kind} */`;
    }
  }

  /** "struct name {\n\tmembers;\n}" without the trailing semicolon. */
  body(t: BtfType, indent: number, depth: number): string {
    if (depth > MAX_DEPTH) tooDeep(this.btf, t.id);
    if (this.#open.has(t.id)) invalid(this.btf, `type [${t.id}] contains itself`);
    this.#open.add(t.id);
    const pad = '\t'.repeat(indent + 1);
    const lines: string[] = [];
    if (t.kind === 'struct' || t.kind === 'union') {
      for (const m of t.members) {
        const d = this.decl(m.type, m.name, indent + 1, depth + 1);
        lines.push(`${pad}${d}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ''};`);
      }
    } else if (t.kind === 'enum') {
      for (const v of t.values) lines.push(`${pad}${v.name} = ${v.value},`);
    } else if (t.kind === 'enum64') {
      for (const v of t.values) lines.push(`${pad}${v.name} = ${v.value}${t.signed ? 'LL' : 'ULL'},`);
    }
    this.#open.delete(t.id);
    this.#lines += lines.length + 1;
    if (this.#lines > MAX_LINES) invalid(this.btf, `type [${t.id}] expands to over ${MAX_LINES} lines`);
    const head = t.name ? `${keyword(t)} ${t.name}` : keyword(t);
    return `${head} {\n${lines.join('\n')}${lines.length ? '\n' : ''}${'\t'.repeat(indent)}}`;
  }
}

function keyword(t: BtfType): string {
  return t.kind === 'enum64' ? 'enum' : t.kind;
}

/**
 * One type as C: full definitions for struct/union/enum, `typedef …;`,
 * function prototypes (with `static` for static linkage), variables, and
 * for the remaining kinds the type expression (e.g. "const char *").
 */
export function formatType(btf: Btf, id: number): string {
  const p = new CPrinter(btf);
  const t = btf.typeById(id);
  switch (t.kind) {
    case 'struct':
    case 'union':
    case 'enum':
    case 'enum64':
      return `${p.body(t, 0, 0)};`;
    case 'fwd':
      return `${t.isUnion ? 'union' : 'struct'} ${t.name};`;
    case 'typedef':
      return `typedef ${p.decl(t.type, t.name, 0, 0)};`;
    case 'func':
      return `${t.linkage === 'static' ? 'static ' : t.linkage === 'extern' ? 'extern ' : ''}${p.decl(t.type, t.name, 0, 0)};`;
    case 'var':
      return `${t.linkage === 'static' ? 'static ' : t.linkage === 'extern' ? 'extern ' : ''}${p.decl(t.type, t.name, 0, 0)};`;
    case 'datasec': {
      const lines = t.vars.map((v) => {
        const vt = btf.typeById(v.type);
        // Only VARs belong here; anything else (corrupt input) is named, not expanded.
        const text = vt.kind === 'var' ? formatType(btf, vt.id).replace(/\n/g, '\n\t') : `/* [${vt.id}] ${vt.kind} ${vt.name} */`;
        return `\t${text} /* offset=${v.offset} size=${v.size} */`;
      });
      return `/* SEC("${t.name}") size=${t.size} */\n${lines.join('\n')}`;
    }
    case 'decl_tag': {
      const target = btf.typeById(t.type);
      const where = t.componentIdx >= 0 ? ` component ${t.componentIdx}` : '';
      return `/* __attribute__((btf_decl_tag("${t.name}"))) on ${target.kind} ${target.name || `[${target.id}]`}${where} */`;
    }
    default:
      return p.decl(id, '', 0, 0);
  }
}

const INT_ENCODINGS: Record<string, string> = { '0': '(none)', '1': 'SIGNED', '2': 'CHAR', '4': 'BOOL' };

/**
 * One type in bpftool's raw format: "[id] KIND 'name' fields…", followed by
 * one tab-indented line per member, enumerator, parameter or section variable.
 */
export function formatRaw(btf: Btf, id: number): string {
  const t = btf.typeById(id);
  const head = `[${id}] ${t.kind.toUpperCase()} '${t.name || '(anon)'}'`;
  const quote = (s: string): string => `'${s || '(anon)'}'`;
  switch (t.kind) {
    case 'void':
      return `[0] VOID`;
    case 'int': {
      const e = t.encoding;
      const enc = INT_ENCODINGS[String((e.signed ? 1 : 0) | (e.char ? 2 : 0) | (e.bool ? 4 : 0))] ?? 'UNKN';
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`;
    }
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      return `${head} type_id=${t.type}`;
    case 'array':
      return `${head} type_id=${t.elemType} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'struct':
    case 'union':
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map((m) => `\t${quote(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`),
      ].join('\n');
    case 'enum':
      return [`${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`, ...t.values.map((v) => `\t${quote(v.name)} val=${v.value}`)].join('\n');
    case 'enum64':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${quote(v.name)} val=${v.value}${t.signed ? 'LL' : 'ULL'}`),
      ].join('\n');
    case 'fwd':
      return `${head} fwd_kind=${t.isUnion ? 'union' : 'struct'}`;
    case 'func':
      return `${head} type_id=${t.type} linkage=${t.linkage}`;
    case 'func_proto':
      return [`${head} ret_type_id=${t.returnType} vlen=${t.params.length}`, ...t.params.map((p) => `\t${quote(p.name)} type_id=${p.type}`)].join('\n');
    case 'var':
      return `${head} type_id=${t.type}, linkage=${t.linkage}`;
    case 'datasec':
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const vt = btf.typeById(v.type);
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt.kind.toUpperCase()} ${quote(vt.name)})`;
        }),
      ].join('\n');
    case 'float':
      return `${head} size=${t.size}`;
    case 'decl_tag':
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}
