// What `npm pack` ships: dist with its sources (the source maps point at
// src/), bin, docs, the C sources, and exactly the fixtures the demo, the docs
// and the README use; none of the test-only dumps. engines names the Node
// versions the tree is tested on. (.ci/pack-check installs the tarball into a
// scratch project and runs the CLI and the quickstart from there.)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

describe('npm pack', () => {
  let files: string[];
  beforeAll(() => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    files = (JSON.parse(out)[0].files as { path: string }[]).map((f) => f.path);
  }, 120_000);

  it('ships bin, docs, dist with the sources its maps name, and the license', () => {
    for (const f of [
      'bin/bpf-ts.js',
      'LICENSE',
      'README.md',
      'docs/api.md',
      'docs/examples/quickstart.mjs',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/bundle/index.js',
      'dist/bundle/testing.js',
      'dist/testing.js',
      'dist/cli/main.js',
      'dist/cli-bundle/main.js',
    ]) {
      expect(files, f).toContain(f);
    }
    const maps = files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing = maps.flatMap((m) => {
      const sources: string[] = JSON.parse(readFileSync(m, 'utf8')).sources;
      return sources.map((s) => join(m, '..', s)).filter((s) => !files.includes(s));
    });
    expect(missing).toEqual([]);
  });

  it('ships exactly the fixtures the demo, docs and README use, and no dumps', () => {
    const used = new Set<string>();
    const texts = [readFileSync('README.md', 'utf8'), ...files.filter((f) => f.startsWith('docs/') || (f.startsWith('src/cli/') && f.endsWith('.ts'))).map((f) => readFileSync(f, 'utf8'))];
    for (const t of texts) for (const m of t.matchAll(/fixtures\/([\w.-]+\.o)\b/g)) used.add(`fixtures/${m[1]}`);
    expect(used.has('fixtures/icmp_even_drop.o')).toBe(true); // the demo's
    expect(files.filter((f) => f.startsWith('fixtures/')).sort()).toEqual([...used].sort());
    expect(files.filter((f) => /\.(readelf|btf)\.txt$|vmlinux/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('test/'))).toEqual([]);
  });

  it('engines: the Node versions the tree is tested on (vite needs 20.19)', () => {
    expect(pkg.engines).toEqual({ node: '>=20.19' });
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect(major! > 20 || (major === 20 && minor! >= 19)).toBe(true);
  });
});
