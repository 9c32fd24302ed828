// bpf-ts inspect OBJ: what an object holds, without touching the kernel.

import { BpfError } from '../../errors.js';
import { readObjectFile } from '../../object/read.js';
import type { BpfObjectFile } from '../../object/types.js';
import { mapTypeName, progTypeName } from '../../uapi/bpf.js';
import type { Command } from '../command.js';
import { table } from '../format.js';

export function describeObject(obj: BpfObjectFile) {
  return {
    license: obj.license,
    programs: obj.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type === null ? null : progTypeName(p.type),
      instructions: p.ownInstructionCount,
    })),
    maps: obj.maps.map((m) => ({
      name: m.name,
      type: mapTypeName(m.type),
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      pinning: m.pinning,
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

export const inspect: Command = {
  name: 'inspect',
  summary: 'list the programs and maps of a BPF object (no root needed)',
  usage: 'bpf-ts inspect OBJ [--max-size BYTES] [--json]  (only regular files; objects over 256 MiB need --max-size)',
  options: { 'max-size': { type: 'string' } },
  run(positionals, values, ctx) {
    if (positionals.length !== 1) throw new BpfError('USAGE', 'inspect takes exactly one object file');
    const d = describeObject(readObjectFile(positionals[0], { maxBytes: parseMaxSize(values['max-size']) }));
    if (ctx.json) {
      ctx.printJson(d);
      return 0;
    }
    ctx.print(`license: ${d.license ?? '(none)'}`);
    ctx.print('');
    ctx.print(table(['PROGRAM', 'SECTION', 'TYPE', 'INSNS'], d.programs.map((p) => [p.name, p.section, p.type, p.instructions])));
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
    return 0;
  },
};
