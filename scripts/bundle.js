// Bundle tsc's dist/ (rolldown) into what Node loads: the CLI into
// dist/cli-bundle/ (CommonJS, for bin/bpf-ts.js) and the library into
// dist/bundle/ (ES modules, what the package's "exports" name). Node 20
// spends most of a short command's start-up, and most of an `import` of the
// library, resolving and loading modules one by one: importing the library
// read 138 modules (178 ms wall, paired with 83 ms for the bundle: a few files).
// tsc's dist/ stays what the .d.ts describe (the "types" of every export)
// and what the bundles are made from. Run by `npm run build`, after tsc.
//
// The CLI is CommonJS, not ES modules: Node 20 sets up its ES module loader
// for the first ES module a process runs, ~5 ms of CPU that a bare
// `node -e 0` does not pay; a CommonJS bin and bundle (bin/ and
// dist/cli-bundle/ each hold a package.json saying "commonjs") took --help
// from 1.47x to 1.26x a bare node's CPU and inspect from 2.2x to 1.9x
// (paired, medians of 25). Its chunks: `main.js` holds main.ts and what it
// imports statically (what --help needs); each command stays behind its
// dynamic import. inspect's modules (the object layer, BTF) form one chunk of
// their own, which the kernel commands share; koffi stays external, loaded by
// sys/ffi.ts on the first syscall.
//
// The library keeps one file per entry point (index, testing, asm, vm, btf)
// and chunks for the modules they share, so a class is the same class
// whichever entry a program imports it from.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, RolldownMagicString } from 'rolldown';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
export const BUNDLE_DIR = join(DIST, 'cli-bundle');
export const LIB_BUNDLE_DIR = join(DIST, 'bundle');

/** Every `import.meta.url` expression of an ESTree program. */
function importMetaUrls(ast) {
  const found = [];
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    if (node.type === 'MemberExpression' && node.object?.type === 'MetaProperty' && node.object.meta.name === 'import' && !node.computed && node.property.name === 'url') {
      found.push(node);
      return;
    }
    for (const k in node) if (k !== 'type' && k !== 'start' && k !== 'end') visit(node[k]);
  };
  visit(ast);
  return found;
}

/**
 * tsc's output with tsc's source maps (rolldown chains them, so the bundle's
 * maps name src/*.ts), and `import.meta.url` kept meaning the module's own
 * place in dist/ (main.ts finds package.json from it, demo.ts its fixture,
 * ffi.ts koffi): `moduleUrl(path from the bundle's folder)` writes the expression.
 */
const fromDist = (outDir, moduleUrl) => ({
  name: 'bpf-ts-dist',
  load(id) {
    if (!id.startsWith(DIST + '/') || !id.endsWith('.js')) return null;
    const code = readFileSync(id, 'utf8');
    const map = JSON.parse(readFileSync(id + '.map', 'utf8'));
    return { code, map };
  },
  transform(code, id) {
    if (!id.startsWith(DIST + '/') || !code.includes('import.meta.url')) return null;
    const own = JSON.stringify(relative(outDir, id).split(sep).join('/'));
    const s = new RolldownMagicString(code);
    // Expressions only: the text `import.meta.url` in a string (gen's template) stays.
    for (const node of importMetaUrls(this.parse(code))) s.overwrite(node.start, node.end, moduleUrl(own));
    return { code: s };
  },
});

export async function bundleCli() {
  const out = await build({
    input: { main: join(DIST, 'cli', 'main.js') },
    platform: 'node',
    preserveEntrySignatures: 'allow-extension',
    external: [/^node:/, 'koffi'],
    plugins: [fromDist(BUNDLE_DIR, (own) => `globalThis.process.getBuiltinModule('node:url').pathToFileURL(globalThis.process.getBuiltinModule('node:path').join(__dirname, ${own})).href`)],
    logLevel: 'warn',
    output: {
      dir: BUNDLE_DIR,
      format: 'cjs',
      sourcemap: true,
      cleanDir: true,
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
      codeSplitting: {
        groups: [
          { name: 'main', tags: ['$initial'], priority: 2 },
          { name: 'main', test: (id) => id.includes('rolldown/runtime'), priority: 3 },
          { name: 'inspect', test: /[\\/]dist[\\/]cli[\\/]commands[\\/]inspect\.js$/, priority: 1 },
        ],
      },
    },
  });
  // The package is "type": "module": this directory's .js files are CommonJS.
  writeFileSync(join(BUNDLE_DIR, 'package.json'), '{ "type": "commonjs" }\n');
  // V8 code caches of the chunks (bin/bpf-ts.js), made by a Node started
  // as bin/bpf-ts.js is: no NODE_OPTIONS (V8 refuses a cache made under other flags).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'code-cache.js')], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/code-cache.js failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return out;
}

/** The entry points of package.json's "exports", by their file name in dist/bundle/. */
export const LIB_ENTRIES = {
  index: 'index.js',
  testing: 'testing.js',
  asm: 'asm/index.js',
  vm: 'vm/index.js',
  btf: 'btf/index.js',
};

export async function bundleLib() {
  return build({
    input: Object.fromEntries(Object.entries(LIB_ENTRIES).map(([name, file]) => [name, join(DIST, file)])),
    platform: 'node',
    // Each entry exports exactly what its module exports (the .d.ts describe them).
    preserveEntrySignatures: 'strict',
    external: [/^node:/, 'koffi'],
    plugins: [fromDist(LIB_BUNDLE_DIR, (own) => `new URL(${own}, import.meta.url).href`)],
    logLevel: 'warn',
    output: {
      dir: LIB_BUNDLE_DIR,
      format: 'esm',
      sourcemap: true,
      cleanDir: true,
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
    },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const lib = await bundleLib();
  const cli = await bundleCli();
  const files = (out) => out.output.filter((o) => o.type === 'chunk').length;
  console.log(`bundled the library into ${relative(ROOT, LIB_BUNDLE_DIR)}/ (${files(lib)} files) and the CLI into ${relative(ROOT, BUNDLE_DIR)}/ (${files(cli)} files)`);
}
