// vitest: long (a TypeScript program over the package: ~5 s)
// Every type the public API accepts or returns is importable from the main
// entry: walk the signatures of everything src/index.ts exports (function
// parameters and results, public class members, properties of option and
// result types, transitively) with the TypeScript checker, and list each
// named type declared under src/ that index.ts does not export.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type TS from 'typescript';
import { describe, expect, it } from 'vitest';
import { ts } from '../helpers/typescript.js';

const SRC = resolve('src') + '/';

/** For each entry: named types its API uses that neither it nor the main entry exports. */
function unexportedTypes(entries: string[]): Record<string, string[]> {
  const program = ts.createProgram(entries, {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const unalias = (s: TS.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exportsOf = (entry: string) => checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!).map(unalias);
  const main = exportsOf(entries[0]!);
  // A type is reachable when any entry point exports it (main, bpf-ts/testing, bpf-ts/asm…).
  const everywhere = entries.flatMap(exportsOf);
  const out: Record<string, string[]> = {};
  for (const entry of entries) out[entry] = missingFrom(entry === entries[0] ? main : exportsOf(entry));
  return out;

  function missingFrom(own: TS.Symbol[]): string[] {
    const exported = new Set([...main, ...everywhere, ...own]);
    const inSrc = (s: TS.Symbol | undefined) => !!s?.declarations?.some((d) => resolve(d.getSourceFile().fileName).startsWith(SRC));
    const NAMED = ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Enum;
    const missing = new Map<string, string>();
    const seenTypes = new Set<TS.Type>();
    const seenSymbols = new Set<TS.Symbol>();

    const isPublic = (d: TS.Declaration) => !(ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !(d as TS.NamedDeclaration).name?.getText().startsWith('#');

    function named(sym: TS.Symbol, via: string): void {
      if (!inSrc(sym) || !(sym.flags & NAMED)) return;
      if (!exported.has(sym)) missing.set(sym.getName(), via);
      if (seenSymbols.has(sym)) return;
      seenSymbols.add(sym);
      if (sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class)) members(checker.getDeclaredTypeOfSymbol(sym), sym.getName());
    }

    function members(t: TS.Type, via: string): void {
      for (const p of checker.getPropertiesOfType(t)) {
        const d = p.valueDeclaration ?? p.declarations?.[0];
        if (!d || !isPublic(d)) continue;
        walk(checker.getTypeOfSymbolAtLocation(p, d), `${via}.${p.getName()}`);
      }
      for (const s of [...t.getCallSignatures(), ...t.getConstructSignatures()]) sig(s, via);
    }

    function sig(s: TS.Signature, via: string): void {
      for (const p of s.getParameters()) walk(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration!), `${via}(${p.getName()})`);
      walk(s.getReturnType(), `${via}()`);
    }

    function walk(t: TS.Type, via: string): void {
      if (seenTypes.has(t)) return;
      seenTypes.add(t);
      if (t.aliasSymbol) {
        named(t.aliasSymbol, via);
        t.aliasTypeArguments?.forEach((a) => walk(a, via));
      }
      if (t.isUnionOrIntersection()) return t.types.forEach((u) => walk(u, via));
      const sym = t.getSymbol();
      if (sym && sym.flags & NAMED) {
        named(sym, via);
        if (t.flags & ts.TypeFlags.Object && (t as TS.ObjectType).objectFlags & ts.ObjectFlags.Reference) checker.getTypeArguments(t as TS.TypeReference).forEach((a) => walk(a, via));
        return;
      }
      if (t.flags & ts.TypeFlags.Object) {
        if ((t as TS.ObjectType).objectFlags & ts.ObjectFlags.Reference) checker.getTypeArguments(t as TS.TypeReference).forEach((a) => walk(a, via));
        if (!inSrc(sym)) return; // lib types (Buffer, Map, Generator…): only their type arguments matter
        members(t, via);
        t.getCallSignatures().forEach((s) => sig(s, via));
      }
    }

    for (const s of own) {
      const d = s.valueDeclaration ?? s.declarations?.[0];
      if (!d || !inSrc(s)) continue;
      if (s.flags & NAMED) named(s, s.getName());
      if (s.flags & ts.SymbolFlags.Value) {
        const t = checker.getTypeOfSymbolAtLocation(s, d);
        t.getCallSignatures().forEach((g) => sig(g, s.getName()));
        t.getConstructSignatures().forEach((g) => g.getParameters().forEach((p) => walk(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration!), `new ${s.getName()}(${p.getName()})`)));
        if (s.flags & ts.SymbolFlags.Class)
          members(t, s.getName()); // statics
        else if (!(s.flags & ts.SymbolFlags.Function)) walk(t, s.getName());
      }
    }
    return [...missing].map(([name, via]) => `${name} (used by ${via})`).sort();
  }
}

describe('public entry points', () => {
  it('the package entry points (main, bpf-ts/testing, …) export every type their API accepts or returns', () => {
    // Every "exports" entry of package.json, as its source file (the one its types were made from).
    const pkgJson = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, { types: string }> };
    const entries = Object.values(pkgJson.exports).map((e) => e.types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts'));
    expect(entries).toEqual(expect.arrayContaining(['src/index.ts', 'src/testing.ts']));
    const missing = unexportedTypes(entries);
    expect(missing).toEqual(Object.fromEntries(entries.map((e) => [e, []])));
  }, 120_000);

  it('package.json maps the entries to the built files', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    // Code from the library bundle (scripts/bundle.js), types from tsc.
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/bundle/index.js' });
    expect(pkg.exports['./testing']).toEqual({ types: './dist/testing.d.ts', import: './dist/bundle/testing.js' });
    expect(pkg.exports['./btf']).toEqual({ types: './dist/btf/index.d.ts', import: './dist/bundle/btf.js' });
  });

  it('test scaffolding lives in bpf-ts/testing, not the main entry', async () => {
    const main = await import('../../src/index.js');
    const testing = await import('../../src/testing.js');
    for (const name of ['setupTestEnv', 'teardownTestEnv', 'statusTestEnv', 'ping', 'withNetns']) {
      expect(name in main, name).toBe(false);
      expect(typeof (testing as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
