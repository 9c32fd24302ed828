// Make the V8 code caches of the CLI bundle (bin/bpf-ts.js explains
// them): run the commands that need no root over the committed fixtures,
// in this process, with every chunk compiled through vm.Script, then save
// what V8 compiled. Run by scripts/bundle.js in a process of its own
// with no NODE_OPTIONS: a cache is only taken by a Node with the same V8
// flags as the one that made it, and `bpf-ts` runs with none.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { produceCodeCaches, BUNDLE_DIR } = require('../bin/bpf-ts.js');

const save = produceCodeCaches(BUNDLE_DIR);
const { run } = require(join(BUNDLE_DIR, 'main.js'));
const quiet = { out: () => {}, err: () => {} };

const fixtures = join(ROOT, 'fixtures');
const objects = readdirSync(fixtures)
  .filter((f) => f.endsWith('.o'))
  .map((f) => join(fixtures, f));
// Every command's help, from the CLI's own table (tsc's copy: a module, not a chunk, so nothing it compiles is cached).
const { commands } = await import('../dist/cli/commands/index.js');

const argvs = [['--help'], ['--version'], ['help', '--all'], ['completion', 'bash'], ...commands.map((c) => ['help', c.name])];
// inspect reads every fixture (each kind of object the parser knows); the
// other pure commands read a few.
for (const o of objects) argvs.push(['inspect', o]);
for (const o of objects.slice(0, 8)) argvs.push(['inspect', '--json', o], ['disasm', o], ['btf', 'dump', o], ['btf', 'core', o], ['gen', o]);

for (const argv of argvs) await run(argv, quiet);
const { dir, files } = save();
console.log(`code caches for ${files} chunks in ${relative(ROOT, dir)}/`);
