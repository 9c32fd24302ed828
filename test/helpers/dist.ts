// ensureDist() builds dist/ and the CLI bundle when missing or older than
// src/. Kept apart from cli.ts (which registers vitest hooks) so the global
// setup can use it.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Run a build step (node SCRIPT ARGS…) in the checkout; its output goes into the error when it fails. */
function step(what: string, args: string[]): void {
  try {
    execFileSync(process.execPath, args, {
      cwd: ROOT,
      stdio: 'pipe',
      // Only a bound for a hung compiler: on a loaded machine tsc takes minutes.
      timeout: 900_000,
    });
  } catch (e) {
    const out = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`${what} failed: ${out.message}\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
  }
}

/**
 * What `npm run build` makes, when missing or older than src/: dist/ with
 * tsc, then the CLI bundle bin/bpf-ts.js runs (dist/cli-bundle/, from
 * scripts/bundle.js), and the library's bundle the package exports.
 */
export function ensureDist(): void {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  const bundles = [join(ROOT, 'dist', 'cli-bundle', 'main.js'), join(ROOT, 'dist', 'bundle', 'index.js')];
  if (!existsSync(main) || statSync(main).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    step('building dist/ with tsc', [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')]);
  }
  if (bundles.some((b) => !existsSync(b) || statSync(b).mtimeMs < statSync(main).mtimeMs)) {
    step('bundling the library and the CLI (scripts/bundle.js)', [join(ROOT, 'scripts', 'bundle.js')]);
  }
}
