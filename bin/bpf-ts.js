#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm install` (the prepare script).
// Built-ins through getBuiltinModule, not ESM imports: importing node:fs
// loads its streams and promises API, start-up time no command needs.
const { existsSync } = process.getBuiltinModule('node:fs');
const { fileURLToPath } = process.getBuiltinModule('node:url');

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('bpf-ts: dist/ is missing; run `npm install` (or `npm run build`) in the package first\n');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
