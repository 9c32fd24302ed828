// The library bundle (scripts/bundle.js, dist/bundle/) is what the package's
// "exports" name. Each entry must export what tsc's module of the same entry
// exports (the .d.ts describe those), and the entries must share their
// classes and functions, as the modules do.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureDist } from './helpers/dist.js';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
const load = (rel: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(ROOT, rel)).href);

beforeAll(() => ensureDist());

describe('library bundle', () => {
  test('every export points into dist/bundle/, its types at the tsc module the bundle entry was made from', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './asm', './btf', './testing', './vm']);
    for (const [, e] of Object.entries(pkg.exports)) {
      expect(e.import).toMatch(/^\.\/dist\/bundle\/\w+\.js$/);
      expect(e.types).toMatch(/^\.\/dist\/.+\.d\.ts$/);
    }
  });

  for (const [sub, e] of Object.entries(pkg.exports)) {
    test(`${sub}: the bundle exports exactly what tsc's ${e.types.replace('.d.ts', '.js')} exports`, async () => {
      const fromTsc = await load(e.types.replace(/\.d\.ts$/, '.js'));
      const fromBundle = await load(e.import);
      expect(Object.keys(fromBundle).sort()).toEqual(Object.keys(fromTsc).sort());
      // Same kinds of values (a class stays a class, a constant its value).
      for (const k of Object.keys(fromTsc)) {
        const a = fromTsc[k];
        const b = fromBundle[k];
        expect({ k, type: typeof b }).toEqual({ k, type: typeof a });
        if (typeof a !== 'function' && typeof a !== 'object') expect({ k, v: b }).toEqual({ k, v: a });
        if (typeof a === 'function') expect({ k, name: (b as { name: string }).name }).toEqual({ k, name: a.name });
      }
    });
  }

  test('the entries share one copy of what they both export', async () => {
    const main = await load(pkg.exports['.']!.import);
    const btf = await load(pkg.exports['./btf']!.import);
    const shared = Object.keys(btf).filter((k) => k in main);
    expect(shared).toContain('parseBtf');
    for (const k of shared) expect({ k, same: btf[k] === main[k] }).toEqual({ k, same: true });
  });
});
