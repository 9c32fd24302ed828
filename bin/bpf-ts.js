#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm install` (the prepare script, `npm run
// build`): tsc's dist/cli/main.js, bundled into dist/cli-bundle/ (a few
// files instead of dozens of modules: the start-up of a short command is
// mostly Node loading modules; scripts/bundle.js). This file and the
// bundle are CommonJS (bin/package.json): an ES module here would make Node
// set up its ES module loader, start-up time no command needs.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'cli-bundle', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('bpf-ts: dist/cli-bundle/ is missing; run `npm install` (or `npm run build`) in the package first\n');
  process.exit(1);
}
// --debug prints stack traces: with source maps on (before the bundle
// loads), their frames name src/*.ts lines rather than bundle lines.
// Otherwise the chunks compile from the V8 code caches the build made
// (bin/code-cache.js): inspect takes 0.87-0.91x the CPU it takes without them.
if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
else require('./code-cache.js').useCodeCaches(join(__dirname, '..', 'dist', 'cli-bundle'));
require(main)
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
