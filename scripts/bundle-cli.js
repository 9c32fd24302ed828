// Bundle the CLI: dist/cli/main.js (tsc's output) and everything it imports,
// into a few files under dist/cli-bundle/, for bin/bpf-ts.js. Node 20 spends
// most of a short command's start-up resolving and loading ES modules one by
// one (inspect imported 28); with the bundle, --help loads 2 files (the bin
// and main.js) and inspect 4. tsc's dist/ stays what the library exports
// and what the .d.ts describe; this is an extra output only the bin uses.
// Run by `npm run build`, after tsc.
//
// CommonJS, not ES modules: Node 20 sets up its ES module loader for the
// first ES module a process runs, ~5 ms of CPU that a bare `node -e 0` does
// not pay; a CommonJS bin and bundle (bin/ and dist/cli-bundle/ each hold a
// package.json saying "commonjs") took --help from 1.47x to 1.26x a bare
// node's CPU and inspect from 2.2x to 1.9x (paired, medians of 25).
//
// Chunks: `main.js` holds main.ts and what it imports statically (what
// --help needs); each command stays behind its dynamic import. inspect's
// modules (the object layer, BTF) form one chunk of their own, which the
// kernel commands share; koffi stays external, loaded by sys/ffi.ts on the
// first syscall.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, RolldownMagicString } from 'rolldown';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
export const BUNDLE_DIR = join(DIST, 'cli-bundle');

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
 * place in dist/ (main.ts finds package.json from it, demo.ts its fixture).
 */
const fromDist = {
  name: 'bpf-ts-dist',
  load(id) {
    if (!id.startsWith(DIST + '/') || !id.endsWith('.js')) return null;
    const code = readFileSync(id, 'utf8');
    const map = JSON.parse(readFileSync(id + '.map', 'utf8'));
    return { code, map };
  },
  transform(code, id) {
    if (!id.startsWith(DIST + '/') || !code.includes('import.meta.url')) return null;
    const own = JSON.stringify(relative(BUNDLE_DIR, id).split(sep).join('/'));
    const s = new RolldownMagicString(code);
    // Expressions only: the text `import.meta.url` in a string (gen's template) stays.
    for (const node of importMetaUrls(this.parse(code)))
      s.overwrite(node.start, node.end, `globalThis.process.getBuiltinModule('node:url').pathToFileURL(globalThis.process.getBuiltinModule('node:path').join(__dirname, ${own})).href`);
    return { code: s };
  },
};

export async function bundleCli() {
  const out = await build({
    input: { main: join(DIST, 'cli', 'main.js') },
    platform: 'node',
    preserveEntrySignatures: 'allow-extension',
    external: [/^node:/, 'koffi'],
    plugins: [fromDist],
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
  // V8 code caches of the chunks (bin/code-cache.js), made by a Node started
  // as bin/bpf-ts.js is: no NODE_OPTIONS (V8 refuses a cache made under other flags).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'code-cache.js')], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/code-cache.js failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await bundleCli();
  console.log(`bundled the CLI into ${relative(ROOT, BUNDLE_DIR)}/: ${out.output.filter((o) => o.type === 'chunk').length} files`);
}
