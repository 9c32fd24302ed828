#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm install` (the prepare script, `npm run
// build`): tsc's dist/cli/main.js, bundled into dist/cli-bundle/ (a few
// files instead of dozens of modules: the start-up of a short command is
// mostly Node loading modules; scripts/bundle-cli.js).
// Built-ins through getBuiltinModule, not ESM imports: importing node:fs
// loads its streams and promises API, start-up time no command needs.
const { existsSync } = process.getBuiltinModule('node:fs');
const { fileURLToPath } = process.getBuiltinModule('node:url');

const main = new URL('../dist/cli-bundle/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('bpf-ts: dist/cli-bundle/ is missing; run `npm install` (or `npm run build`) in the package first\n');
  process.exit(1);
}
// --debug prints stack traces: with source maps on (before the bundle
// loads), their frames name src/*.ts lines rather than bundle lines.
if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
