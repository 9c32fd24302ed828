// bpf-ts disasm OBJ [--program P]: each program's instructions in the kernel
// verifier's notation, the C source line above each run of them, maps,
// globals, helpers, kfuncs and called functions by name. No root needed.

import { programListing } from '../../asm/listing.js';
import { BpfError } from '../../errors.js';
import { readObjectFile } from '../../object/read.js';
import { defineCommand } from '../command.js';

export const disasm = defineCommand({
  name: 'disasm',
  summary: "print the instructions of an object's programs with their C source lines (no root needed)",
  usage: 'bpf-ts disasm OBJ [--program NAME] [--json]',
  options: {
    program: { type: 'string' },
  },
  run(positionals, values, ctx) {
    const [file, ...more] = positionals;
    if (file === undefined || more.length > 0) throw new BpfError('USAGE', 'disasm takes exactly one object file (usage: bpf-ts disasm OBJ [--program NAME])');
    const obj = readObjectFile(file);
    const wanted = values.program;
    const programs = wanted === undefined ? obj.programs : obj.programs.filter((p) => p.name === wanted);
    if (programs.length === 0) {
      throw new BpfError(
        'PROGRAM_NOT_FOUND',
        wanted === undefined ? `${obj.path} has no programs` : `${obj.path}: no program named ${wanted} (programs: ${obj.programs.map((p) => p.name).join(', ') || 'none'})`,
      );
    }
    const listings = programs.map((p) => ({ name: p.name, section: p.section, lines: programListing(obj, p) }));
    if (ctx.json) {
      ctx.printJson({
        path: obj.path,
        programs: listings.map((l) => ({
          name: l.name,
          section: l.section,
          instructions: l.lines.map((x) => ({ insn: x.slot, text: x.text, plain: x.plain, ...(x.source ? { source: x.source } : {}) })),
        })),
      });
      return 0;
    }
    listings.forEach((l, n) => {
      if (n > 0) ctx.print('');
      const w = String(l.lines.at(-1)?.slot ?? 0).length;
      ctx.print(`${l.name} (section ${l.section}):`);
      for (const x of l.lines) {
        if (x.source) ctx.print(`; ${x.source.text}  [${x.source.file}:${x.source.line}]`);
        ctx.print(`${String(x.slot).padStart(w + 2)}: ${x.text}`);
      }
    });
    return 0;
  },
});
