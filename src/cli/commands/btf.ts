// bpf-ts btf dump FILE [--type NAME]: the types of an object's .BTF or of a
// raw BTF blob (/sys/kernel/btf/*, a saved vmlinux BTF, .gz too), as C.
// bpf-ts btf core OBJ [--target FILE]: every CO-RE relocation of an object,
// what it resolves to against the kernel's BTF (or FILE), and the
// instruction before and after patching. Neither needs root.

import { readFileSync } from 'node:fs';
import { toJsonValue } from '../../btf/values/json.js';
import { BpfError } from '../../errors.js';
import type { Btf } from '../../btf/btf.js';
import { kernelBtfById, listBtf } from '../../btf/handle.js';
import { formatType } from '../../btf/format.js';
import type { BtfKindName, BtfType } from '../../btf/kinds.js';
import { applyCoreRelocations, CoreResolver } from '../../object/core/index.js';
import { Insns } from '../../object/instruction.js';
import { readObjectFile } from '../../object/read.js';
import { KERNEL_BTF_DIR, VMLINUX_BTF_PATH, coreTargetFromBtf, kernelCoreTarget, readBtfFile, vmlinuxBtf } from '../../btf/kernel.js';
import { type CommandContext, defineCommand } from '../command.js';
import { insnText } from '../../asm/disasm.js';
import { decodeAt } from '../../asm/insn.js';
import { table } from '../format.js';

// Past this many types a full dump is unreadable: ask for --type.
const MAX_UNNAMED_DUMP = 10_000;

function isElf(path: string): boolean {
  try {
    const b = readFileSync(path).subarray(0, 4);
    return b.length === 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  } catch (e) {
    throw new BpfError('IO', `${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** BTF of an object (its .BTF), a raw blob (module BTF under /sys/kernel/btf is split on vmlinux), or a BTF object in the kernel (id:N). */
function openBtf(path: string, basePath?: string): { btf: Btf; object: boolean } {
  const id = /^id:(\d+)$/.exec(path);
  if (id) {
    const n = Number(id[1]);
    if (n < 1 || n > 0xffffffff) throw new BpfError('USAGE', `${path} is not a BTF id: write id:N (bpf-ts btf list shows them)`);
    // A program's or map's BTF is whole; the kernel's module BTF is parsed on top of vmlinux.
    return { btf: kernelBtfById(n), object: false };
  }
  if (path.startsWith('id:')) throw new BpfError('USAGE', `${path} is not a BTF id: write id:N (bpf-ts btf list shows them)`);
  if (isElf(path)) {
    const obj = readObjectFile(path);
    if (!obj.btf) throw new BpfError('BTF_INVALID', `${path}: no .BTF section (build with -g)`);
    return { btf: obj.btf, object: true };
  }
  const inKernelDir = path.startsWith(`${KERNEL_BTF_DIR}/`) && path !== VMLINUX_BTF_PATH;
  const base = basePath ? readBtfFile(basePath) : inKernelDir ? vmlinuxBtf() : undefined;
  return { btf: readBtfFile(path, { base }), object: false };
}

const KIND_WORDS: Record<string, BtfKindName> = { struct: 'struct', union: 'union', enum: 'enum', typedef: 'typedef', func: 'func' };

/** Types named `spec` ("task_struct", or "struct task_struct" to pick a kind). */
function findTypes(btf: Btf, spec: string): BtfType[] {
  const m = /^(struct|union|enum|typedef|func)\s+(\S+)$/.exec(spec.trim());
  const name = m ? m[2]! : spec.trim();
  const kind = m ? KIND_WORDS[m[1]!] : undefined;
  const all = btf.findAllByName(name).filter((t) => t.id >= btf.startId || btf.base === null);
  return kind ? all.filter((t) => t.kind === kind || (kind === 'enum' && t.kind === 'enum64')) : all;
}

function dump(positionals: string[], values: { base?: string; type?: string }, ctx: CommandContext): number {
  const [path] = positionals;
  if (!path || positionals.length !== 1) throw new BpfError('USAGE', 'btf dump takes one file or id: an object, raw BTF such as /sys/kernel/btf/vmlinux, or id:N of a BTF object in the kernel');
  const { btf, object } = openBtf(path, values.base);
  let types: BtfType[];
  if (typeof values.type === 'string') {
    types = findTypes(btf, values.type);
    if (types.length === 0) throw new BpfError('USAGE', `${path}: no type named ${values.type}`);
  } else {
    const own = btf.count - btf.startId;
    if (!object && own > MAX_UNNAMED_DUMP) {
      throw new BpfError('USAGE', `${path} has ${own} types, too many to print: name one with --type NAME (e.g. --type task_struct, --type "struct sk_buff")`);
    }
    types = [];
    for (let id = btf.startId; id < btf.count; id++) {
      const t = btf.typeById(id);
      // Base types (int, float) print as a bare "unsigned int": they show up
      // inside the typedefs and structs that use them; --type still finds them.
      if (t.name && t.kind !== 'int' && t.kind !== 'float') types.push(t);
    }
  }
  const rows = types.map((t) => ({ id: t.id, kind: t.kind, name: t.name, c: formatType(btf, t.id) }));
  if (ctx.json) ctx.printJson({ types: rows });
  else ctx.print(rows.map((r) => `/* [${r.id}] ${r.kind} */\n${r.c}`).join('\n\n'));
  return 0;
}

function core(positionals: string[], values: { target?: string }, ctx: CommandContext): number {
  const [path] = positionals;
  if (!path || positionals.length !== 1) throw new BpfError('USAGE', 'btf core takes one object file');
  const obj = readObjectFile(path);
  const relocating = obj.programs.filter((p) => p.coreRelocations.length > 0);
  if (!obj.btf || relocating.length === 0) {
    if (ctx.json) ctx.printJson({ programs: [] });
    else ctx.print(`${path}: no CO-RE relocations`);
    return 0;
  }
  const targetPath = typeof values.target === 'string' ? values.target : VMLINUX_BTF_PATH;
  const target = typeof values.target === 'string' ? coreTargetFromBtf(readBtfFile(values.target)) : kernelCoreTarget();
  const resolver = new CoreResolver(obj.btf, target, { littleEndian: obj.littleEndian });
  const programs = relocating.map((p) => {
    const before = new Insns(p.instructions, obj.littleEndian);
    const bytes = p.instructions.slice();
    const after = new Insns(bytes, obj.littleEndian);
    const { applied } = applyCoreRelocations(bytes, obj.littleEndian, p.coreRelocations, resolver, `${path}: program ${p.name}`);
    return {
      name: p.name,
      section: p.section,
      relocations: applied.map(({ relocation: r, result: x, outcome }) => ({
        insn: r.insnOff,
        kind: r.kindName,
        typeId: r.typeId,
        access: r.accessStr,
        local: x.local,
        target: x.target ? `[${x.target.typeId}] ${x.target.description}` : null,
        localValue: x.localValue,
        targetValue: x.targetValue,
        poisoned: outcome === 'poisoned',
        reason: x.reason,
        before: insnText(decodeAt(before.bytes, r.insnOff, obj.littleEndian)),
        after: insnText(decodeAt(after.bytes, r.insnOff, obj.littleEndian)),
      })),
    };
  });
  if (ctx.json) {
    ctx.printJson(toJsonValue({ target: targetPath, programs }));
    return 0;
  }
  ctx.print(`CO-RE relocations of ${path} against ${targetPath}`);
  for (const p of programs) {
    ctx.print('');
    ctx.print(`program ${p.name} (section ${p.section}): ${p.relocations.length} relocation${p.relocations.length === 1 ? '' : 's'}`);
    ctx.print(
      table(
        ['INSN', 'KIND', 'ACCESS', 'LOCAL', 'VALUE', 'BEFORE', 'AFTER'],
        p.relocations.map((r) => [
          r.insn,
          r.kind,
          r.access,
          r.local,
          r.poisoned ? `POISONED: ${r.reason}` : r.localValue === r.targetValue ? String(r.targetValue) : `${r.localValue} -> ${r.targetValue}`,
          r.before,
          r.after,
        ]),
      ),
    );
  }
  return 0;
}

/** `btf list`: the kernel's BTF objects, like `bpftool btf list`. */
function list(ctx: CommandContext): number {
  const all = listBtf();
  if (ctx.json) ctx.printJson(all);
  else
    ctx.print(
      table(
        ['ID', 'NAME', 'KERNEL', 'SIZE'],
        all.map((b) => [b.id, b.name || '-', b.kernelBtf ? 'yes' : 'no', b.size]),
      ),
    );
  return 0;
}

export const btf = defineCommand({
  name: 'btf',
  summary: "print BTF types as C (objects, /sys/kernel/btf/*, the kernel's BTF objects by id); list those; show CO-RE relocations and what they resolve to",
  usage: 'bpf-ts btf dump OBJ|BTF_FILE|id:N [--type NAME] [--base BTF_FILE] [--json] | btf list [--json] | btf core OBJ [--target BTF_FILE] [--json]',
  options: {
    type: { type: 'string' },
    base: { type: 'string' },
    target: { type: 'string' },
  },
  run(positionals, values, ctx) {
    const [sub, ...rest] = positionals;
    if (sub === 'dump') return dump(rest, values, ctx);
    if (sub === 'core') return core(rest, values, ctx);
    if (sub === 'list' && rest.length === 0) return list(ctx);
    throw new BpfError('USAGE', `btf needs a sub-command: dump, list or core (usage: ${this.usage})`);
  },
});
