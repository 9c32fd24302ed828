// Every code block of README.md and docs/ is valid as written, on the Node
// this runs on (CI: Node 20): js blocks parse as ES modules with `node
// --check` (so no `using`, which Node 20 does not have), json blocks parse
// (a fragment like `"maps": [...]` inside braces), ts blocks have no syntax
// errors. Placeholders written `…` stand for elided code. Running them (as
// root) is test/docs/run-blocks.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ts } from '../helpers/typescript.js';

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
}

function blocks(): Block[] {
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  return files.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    // The info string may go on after the language (```js no-run).
    return [...text.matchAll(/^```(\w*)[^\n]*\n([\s\S]*?)^```/gm)].map((m) => ({ file, line: text.slice(0, m.index).split('\n').length, lang: m[1]!, code: m[2]! }));
  });
}

// `…` in code position becomes an empty comment; inside comments it already is one.
const elide = (code: string) => code.replace(/…/g, '/**/');

describe('code blocks in README.md and docs/', () => {
  const all = blocks();
  const dir = mkdtempSync(join(tmpdir(), 'bpfts-doc-blocks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('there are blocks of each checked kind', () => {
    expect(all.filter((b) => b.lang === 'js').length).toBeGreaterThan(10);
    expect(all.filter((b) => b.lang === 'json').length).toBeGreaterThan(5);
    expect(all.filter((b) => b.lang === 'ts').length).toBeGreaterThan(2);
  });

  it.each(all.filter((b) => b.lang === 'js').map((b) => [`${b.file}:${b.line}`, b] as const))('js %s parses on this Node', (_where, b) => {
    const f = join(dir, `${b.file.replace(/\W/g, '_')}_${b.line}.mjs`);
    writeFileSync(f, elide(b.code));
    try {
      execFileSync(process.execPath, ['--check', f], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(
        `${b.file}:${b.line}: ${String((e as { stderr?: Buffer }).stderr ?? e)
          .split('\n')
          .find((l) => /Error/.test(l))}`,
      );
    }
  });

  it.each(all.filter((b) => b.lang === 'json').map((b) => [`${b.file}:${b.line}`, b] as const))('json %s parses', (_where, b) => {
    const text = b.code.trim();
    const parse = (s: string) => JSON.parse(s) as unknown;
    expect(() => {
      try {
        parse(text);
      } catch {
        parse(`{${text.replace(/,\s*$/, '')}}`);
      }
    }).not.toThrow();
  });

  it.each(all.filter((b) => b.lang === 'ts').map((b) => [`${b.file}:${b.line}`, b] as const))('ts %s has no syntax errors', (_where, b) => {
    const out = ts.transpileModule(elide(b.code), { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    expect((out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });
});
