// Emulation runs with no kernel and no koffi: nothing src/vm/ or src/asm/
// imports, directly or through other modules, may be under src/sys/ or be
// koffi. Read from the source text (static and dynamic imports, re-exports).

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

  it('the checker itself sees an import of sys/ (it can fail)', () => {
    const { files, packages } = closure([join(SRC, 'collection.ts')]);
    expect([...files].some((f) => f.startsWith('sys/'))).toBe(true);
    expect(packages.has('koffi')).toBe(true);
  });
});
