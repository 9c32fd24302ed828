// bpf-ts gen OBJ: a TypeScript module typed from the object's BTF (maps,
// globals, programs, event structs), like bpf2go or libbpf's skeletons.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { BpfError } from '../../errors.js';
import { generateModule } from '../../gen/generate.js';
import { parseObject } from '../../object/object.js';
import { readObjectBytes } from '../../object/read.js';
import { defineCommand } from '../command.js';

export const gen = defineCommand({
  name: 'gen',
  summary: "write a TypeScript module typed from the object's BTF: maps, globals, programs, events",
  usage: 'bpf-ts gen OBJ [--out FILE.ts] [--embed] [--event-type STRUCT]… [--runtime MODULE] [--json]',
  options: {
    out: { type: 'string' },
    embed: { type: 'boolean' },
    'event-type': { type: 'string', multiple: true },
    runtime: { type: 'string' },
  },
  run(positionals, values, ctx) {
    if (positionals.length !== 1) throw new BpfError('USAGE', `gen takes exactly one object file (usage: ${this.usage})`);
    const objPath = positionals[0]!;
    const bytes = readObjectBytes(objPath);
    const file = parseObject(bytes, objPath);
    const out = values.out;
    if (out !== undefined && !out.endsWith('.ts')) throw new BpfError('USAGE', `--out names a TypeScript file (FILE.ts), got ${out}`);
    const fromDir = out ? dirname(resolve(out)) : process.cwd();
    let rel = relative(fromDir, resolve(objPath)).split(sep).join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    const text = generateModule(file, {
      objectLabel: objPath,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      relativePath: rel,
      ...(values.embed ? { embed: bytes } : {}),
      eventTypes: values['event-type'] ?? [],
      ...(values.runtime ? { runtimeModule: values.runtime } : {}),
    });
    if (!out) {
      // print() adds the newline the module text ends with.
      ctx.print(text.endsWith('\n') ? text.slice(0, -1) : text);
      return 0;
    }
    mkdirSync(dirname(resolve(out)), { recursive: true });
    writeFileSync(out, text);
    if (ctx.json) ctx.printJson({ out: resolve(out), object: objPath, bytes: Buffer.byteLength(text) });
    else ctx.print(`wrote ${out} (${Buffer.byteLength(text)} bytes) from ${objPath}`);
    return 0;
  },
});
