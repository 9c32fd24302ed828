// Emulation runs with no kernel and no koffi: nothing src/vm/ or src/asm/
// imports, directly or through other modules, may be under src/sys/ or be
// koffi. The same holds for the object layer (src/object/) and the pure part
// of src/btf/ (all but the kernel side: kernel.ts, handle.ts, features.ts and
// the index that re-exports them). Read from the source text (static and
// dynamic imports, re-exports).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/oracle.js';

const SRC = join(ROOT, 'src');

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) {
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return out;
}

/** Every module reachable from `entries`: src-relative paths, and bare package names. */
function closure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const f = todo.pop()!;
    const rel = relative(SRC, f);
    if (files.has(rel)) continue;
    files.add(rel);
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('.')) {
        packages.add(spec.replace(/^node:/, 'node:'));
        continue;
      }
      const target = resolve(dirname(f), spec).replace(/\.js$/, '.ts');
      if (!existsSync(target)) throw new Error(`${rel}: import ${spec} does not resolve to ${target}`);
      todo.push(target);
    }
  }
  return { files, packages };
}

const tsFiles = (dir: string) =>
  readdirSync(join(SRC, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(SRC, dir, f));

describe('import graph', () => {
  for (const dir of ['vm', 'asm']) {
    it(`src/${dir}/ reaches neither src/sys/ nor koffi`, () => {
      const entries = tsFiles(dir);
      expect(entries.length).toBeGreaterThan(3);
      const { files, packages } = closure(entries);
      expect([...files].filter((f) => f.startsWith('sys/') || f.startsWith('netlink/') || f.startsWith('attach/'))).toEqual([]);
      expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
      expect(files.has(`${dir}/${dir === 'vm' ? 'vm' : 'assembler'}.ts`)).toBe(true);
    });
  }

  const kernelSide = (f: string) => f.startsWith('sys/') || f.startsWith('netlink/') || f.startsWith('attach/');
  // The files of src/btf/ that may touch the kernel; every other one is pure.
  const BTF_KERNEL = ['btf/kernel.ts', 'btf/handle.ts', 'btf/features.ts', 'btf/index.ts'];

  it('src/object/ reaches neither src/sys/ nor koffi (it may import the pure BTF files)', () => {
    const entries = [...tsFiles('object'), ...tsFiles('object/core')];
    const { files, packages } = closure(entries);
    expect([...files].filter(kernelSide)).toEqual([]);
    expect([...files].filter((f) => BTF_KERNEL.includes(f))).toEqual([]);
    // elfy comes in through require() in elf.ts, which this reader does not follow: look for koffi in the text too.
    expect([...packages].filter((p) => !p.startsWith('node:') && p !== 'elfy')).toEqual([]);
    expect([...files].filter((f) => readFileSync(join(SRC, f), 'utf8').includes('koffi'))).toEqual([]);
    expect(files.has('btf/btf.ts')).toBe(true);
  });

  it("src/btf/'s pure files reach neither src/sys/ nor koffi, nor src/object/ (no cycle)", () => {
    const all = [...tsFiles('btf'), ...tsFiles('btf/values')];
    const pure = all.filter((f) => !BTF_KERNEL.includes(relative(SRC, f)));
    expect(pure.map((f) => relative(SRC, f))).toEqual(expect.arrayContaining(['btf/btf.ts', 'btf/kinds.ts', 'btf/ext.ts', 'btf/format.ts', 'btf/sanitize.ts', 'btf/values/decode.ts']));
    const { files, packages } = closure(pure);
    expect([...files].filter((f) => kernelSide(f) || f.startsWith('object/') || BTF_KERNEL.includes(f))).toEqual([]);
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
    // The kernel side does reach sys/ (so the split above means something), and nothing in btf/ reaches object/.
    const whole = closure(all);
    expect([...whole.files].some((f) => f.startsWith('sys/'))).toBe(true);
    expect([...whole.files].filter((f) => f.startsWith('object/'))).toEqual([]);
  });

  it('the checker itself sees an import of sys/ (it can fail)', () => {
    const { files, packages } = closure([join(SRC, 'collection.ts')]);
    expect([...files].some((f) => f.startsWith('sys/'))).toBe(true);
    expect(packages.has('koffi')).toBe(true);
  });
});
