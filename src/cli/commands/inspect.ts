// bpf-ts inspect OBJ: what an object holds, without touching the kernel.

import { BpfError } from '../../errors.js';
import { readObjectFile } from '../../object/read.js';
import type { BpfObjectFile } from '../../object/types.js';
import { mapTypeName, progTypeName } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';
import { table } from '../format.js';

export function describeObject(obj: BpfObjectFile) {
  return {
    license: obj.license,
    warnings: obj.warnings,
    programs: obj.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type === null ? null : progTypeName(p.type),
      instructions: p.ownInstructionCount,
      // SEC("?…"): left out of a load unless asked for by name (libbpf's autoload off).
      ...(p.autoload === false ? { autoload: false } : {}),
    })),
    maps: obj.maps.map((m) => ({
      name: m.name,
      type: mapTypeName(m.type),
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      pinning: m.pinning,
      ...(m.mapExtra !== undefined ? { mapExtra: '0x' + m.mapExtra.toString(16) } : {}),
      // SEC("?.struct_ops"): not created unless asked for (libbpf's autocreate off).
      ...(m.autocreate === false ? { autocreate: false } : {}),
      // struct_ops: the kernel struct it implements and which program fills each member.
      ...(m.structOps ? { structOps: { struct: m.structOps.typeName, link: m.structOps.link, members: Object.fromEntries(m.structOps.funcs.map((f) => [f.member, f.program])) } } : {}),
    })),
    // What the loader must find in the running kernel.
    kfuncs: obj.externs.filter((e) => e.kind === 'kfunc').map((e) => ({ name: e.name, weak: e.weak })),
    externs: obj.externs
      .filter((e) => e.kind !== 'kfunc')
      .map((e) => ({
        name: e.name,
        kind: e.kind,
        weak: e.weak,
        ...(e.kconfig ? { type: e.kconfig.type, size: e.kconfig.size } : {}),
        ...(e.kind === 'ksym' ? { typeless: e.typeless === true } : {}),
      })),
  };
}

/** --max-size: bytes, with an optional K/M/G suffix (powers of 1024). */
export function parseMaxSize(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)([KMG]?)$/i.exec(String(v));
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new BpfError('USAGE', `--max-size must be a positive byte count (e.g. 512M), got ${String(v)}`);
  return n;
}

export const inspect = defineCommand({
  name: 'inspect',
  summary: 'list the programs and maps of a BPF object (no root needed)',
  usage: 'bpf-ts inspect OBJ [--max-size BYTES] [--json]  (only regular files; objects over 256 MiB need --max-size)',
  options: { 'max-size': { type: 'string' } },
  run(positionals, values, ctx) {
    const [file, ...more] = positionals;
    if (file === undefined || more.length > 0) throw new BpfError('USAGE', 'inspect takes exactly one object file');
    const d = describeObject(readObjectFile(file, { maxBytes: parseMaxSize(values['max-size']) }));
    if (ctx.json) {
      ctx.printJson(d);
      return 0;
    }
    ctx.print(`license: ${d.license ?? '(none)'}`);
    for (const w of d.warnings) ctx.print(`warning: ${w}`);
    ctx.print('');
    ctx.print(
      table(
        ['PROGRAM', 'SECTION', 'TYPE', 'INSNS'],
        d.programs.map((p) => [p.name, p.autoload === false ? `?${p.section}` : p.section, p.type, p.instructions]),
      ),
    );
    if (d.programs.some((p) => p.autoload === false)) ctx.print('(?: a SEC("?…") program, loaded only when asked for by name: --program NAME)');
    ctx.print('');
    if (d.maps.length === 0) ctx.print('no maps');
    else {
      ctx.print(
        table(
          ['MAP', 'TYPE', 'KEY', 'VALUE', 'MAX', 'FLAGS', 'PINNING'],
          d.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, '0x' + m.flags.toString(16), m.pinning]),
        ),
      );
    }
    for (const m of d.maps) {
      if (!m.structOps) continue;
      ctx.print('');
      const how = [m.structOps.link && 'registered through a bpf_link', m.autocreate === false && 'not created unless asked for: SEC("?.struct_ops")'].filter(Boolean);
      ctx.print(`struct_ops map ${m.name}: struct ${m.structOps.struct}${how.length ? ` (${how.join('; ')})` : ''}`);
      for (const [member, prog] of Object.entries(m.structOps.members)) ctx.print(`  .${member} = ${prog}`);
    }
    if (d.kfuncs.length > 0 || d.externs.length > 0) {
      ctx.print('');
      ctx.print(
        table(
          ['EXTERN', 'KIND', 'WEAK'],
          [
            ...d.kfuncs.map((k) => [k.name, 'kfunc', k.weak ? 'yes' : 'no']),
            ...d.externs.map((e) => [e.name, e.kind === 'kconfig' ? `kconfig ${e.type}` : e.kind === 'ksym' ? (e.typeless ? 'ksym (typeless)' : 'ksym') : e.kind, e.weak ? 'yes' : 'no']),
          ],
        ),
      );
    }
    return 0;
  },
});
