#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm install` (the prepare script, `npm run
// build`): tsc's dist/cli/main.js, bundled into dist/cli-bundle/ (a few
// files instead of dozens of modules: the start-up of a short command is
// mostly Node loading modules; scripts/bundle.js). This file and the
// bundle are CommonJS (bin/package.json): an ES module here would make Node
// set up its ES module loader, start-up time no command needs.
//
// V8 code caches. A short command such as `bpf-ts inspect OBJ` spends much
// of its time compiling JavaScript (the bundle's chunks, then each function
// the first time it runs): its object parse takes ~10 ms the first time in
// a process and ~2 ms the second. V8 can save what it compiled as a code
// cache and take it back instead of compiling again; Node 22 does this
// itself (module.enableCompileCache), Node 20 only through vm.Script's
// cachedData. `npm run build` runs the pure commands once over the fixtures
// with the chunks compiled through vm.Script (scripts/code-cache.js, with
// produceCodeCaches below) and writes one cache per chunk into
// dist/cli-bundle/v8-cache/<node version>-<arch>/; this file then compiles
// the chunks with them (useCodeCaches). The hook lives here, not in a module
// of its own: loading one more file cost ~0.8 ms of inspect's start-up.
//
// Why a cache can be trusted:
// - Nothing writes caches at run time: they sit in the package beside the
//   code, with the code's owner and permissions (no shared or temporary
//   directory another user could plant a file in).
// - Only chunks whose name carries rolldown's content hash get one: a chunk
//   that changes gets a new name, so a cache is never applied to code other
//   than the code it was made from. (V8 itself checks only the source's
//   length, its own version and its flags, and compiles from scratch when any
//   of them differs: another Node build, `node --some-v8-flag`, a damaged file.)
'use strict';

const Module = require('node:module');
const { existsSync, readFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');

const BUNDLE_DIR = join(__dirname, '..', 'dist', 'cli-bundle');

/** Chunk names rolldown gave a content hash (scripts/bundle.js: `[name]-[hash].js`). */
const HASHED_CHUNK = /^[\w.-]+-[\w-]{8}\.js$/;

/** This Node build's cache folder: V8 refuses a cache another version made. */
function cacheDir(bundleDir) {
  return join(bundleDir, 'v8-cache', `${process.version}-${process.arch}`);
}

const cacheFile = (dir, filename) => join(dir, basename(filename) + '.cache');

/** What useCodeCaches did, for the tests: chunks compiled from a cache, and caches V8 refused. */
const stats = { used: 0, rejected: 0 };

/**
 * Compile the bundle's hashed chunks through `compile(script source, filename)`,
 * which returns a vm.Script; everything else loads as Node loads it.
 */
function hookChunks(bundleDir, compile) {
  const vm = require('node:vm');
  const original = Module.prototype._compile;
  Module.prototype._compile = function (content, filename, ...rest) {
    if (dirname(filename) !== bundleDir || !HASHED_CHUNK.test(basename(filename))) return original.call(this, content, filename, ...rest);
    const script = compile(Module.wrap(content), filename, vm);
    const fn = script.runInThisContext({ displayErrors: true });
    return fn.call(this.exports, this.exports, requireFor(this), this, filename, dirname(filename));
  };
}

/** The require() a chunk sees: the chunks only call require(id) (rolldown's CommonJS output). */
function requireFor(mod) {
  const req = (id) => mod.require(id);
  req.resolve = (id, opts) => Module._resolveFilename(id, mod, false, opts);
  req.cache = Module._cache;
  req.main = require.main;
  return req;
}

/** Compile the bundle's chunks from this Node build's caches, when the build made them. */
function useCodeCaches(bundleDir) {
  const dir = cacheDir(bundleDir);
  if (!existsSync(dir)) return;
  hookChunks(bundleDir, (source, filename, vm) => {
    let cachedData;
    try {
      cachedData = readFileSync(cacheFile(dir, filename));
    } catch {
      // No cache for this chunk: compile it as usual.
    }
    const script = new vm.Script(source, { filename, cachedData });
    if (cachedData) {
      if (script.cachedDataRejected) stats.rejected++;
      else stats.used++;
    }
    return script;
  });
}

/**
 * For the build: compile every chunk this process loads from now on through
 * vm.Script, and return a function that writes their caches (call it after
 * running the commands, so that the functions they ran are in the caches).
 */
function produceCodeCaches(bundleDir) {
  const { mkdirSync, readdirSync, writeFileSync } = require('node:fs');
  const scripts = new Map();
  hookChunks(bundleDir, (source, filename, vm) => {
    const script = new vm.Script(source, { filename });
    scripts.set(filename, script);
    return script;
  });
  return () => {
    // Chunks of commands the build cannot run (they need root) still get
    // their top-level code cached.
    for (const f of readdirSync(bundleDir)) if (HASHED_CHUNK.test(f)) require(join(bundleDir, f));
    const dir = cacheDir(bundleDir);
    mkdirSync(dir, { recursive: true });
    for (const [filename, script] of scripts) writeFileSync(cacheFile(dir, filename), script.createCachedData());
    return { dir, files: scripts.size };
  };
}

// Required as a module (the build's scripts/code-cache.js, the tests): the
// functions above, and nothing runs.
module.exports = { useCodeCaches, produceCodeCaches, cacheDir, stats, HASHED_CHUNK, BUNDLE_DIR };

if (require.main === module) {
  const main = join(BUNDLE_DIR, 'main.js');
  if (!existsSync(main)) {
    process.stderr.write('bpf-ts: dist/cli-bundle/ is missing; run `npm install` (or `npm run build`) in the package first\n');
    process.exit(1);
  }
  // --debug prints stack traces: with source maps on (before the bundle
  // loads), their frames name src/*.ts lines rather than bundle lines.
  // Otherwise the chunks compile from the code caches: inspect takes
  // 0.87-0.91x the CPU it takes without them.
  if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
  else useCodeCaches(BUNDLE_DIR);
  require(main)
    .run(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    });
}
