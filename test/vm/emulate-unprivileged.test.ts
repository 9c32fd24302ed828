// vitest: long (a nested vitest as uid 65534: ~8 s)
// The seed behaviour tests, emulated, as an unprivileged user: vitest runs
// the "seed programs, emulated" tests of emulate.test.ts (even-sequence
// dropper, single-source filter, LPM blocklist, protocol counter, SYN
// reporter events, ...) in a child as uid/gid 65534 with every capability
// set empty (setpriv), from a world-readable copy of the package (the
// checkout may sit where that user cannot enter). Root starts it; the child
// proves what it runs as (uid and /proc/self/status capability sets).

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openUp, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const SETPRIV = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
const SEED = ['icmp_even_drop', 'single_source_filter', 'lpm_blocklist', 'goebpf_protocount', 'syn_reporter'];

/** Packages under node_modules that `names` need at run time, and theirs. */
function closure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (n: string) => {
    const pj = join(ROOT, 'node_modules', n, 'package.json');
    if (seen.has(n) || !existsSync(pj)) return; // optional dependencies for other platforms are absent
    seen.add(n);
    const j = JSON.parse(readFileSync(pj, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const d of Object.keys({ ...j.dependencies, ...j.optionalDependencies })) visit(d);
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const n of [...names, ...Object.keys(pkg.dependencies ?? {})]) visit(n);
  return [...seen];
}

let copy: string | undefined;
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describeRoot('seed behaviours, emulated, as uid 65534 with no capabilities', () => {
  it('the seed tests of emulate.test.ts pass in a vitest child with every capability set empty', async () => {
    execFileSync('setpriv', ['--version'], { stdio: 'pipe' }); // util-linux: fails the test, not skips it, when missing
    copy = mkdtempSync(join(tmpdir(), `bpf-ts-unpriv-${process.pid}-vitest-`)); // cli.ts sweeps it if this process dies first
    for (const part of ['package.json', 'src', 'test', 'fixtures']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    for (const dep of closure(['vitest'])) {
      mkdirSync(dirname(join(copy, 'node_modules', dep)), { recursive: true });
      cpSync(join(ROOT, 'node_modules', dep), join(copy, 'node_modules', dep), { recursive: true, dereference: true });
    }
    openUp(copy);
    // No config file: vitest's defaults find the test; `--configLoader runner` writes no bundled config next to it.
    const argv = [
      ...SETPRIV,
      process.execPath,
      join(copy, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      'test/vm/emulate.test.ts',
      '-t',
      'seed programs, emulated',
      '--reporter=json',
      '--configLoader',
      'runner',
    ];
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const [cmd = 'setpriv', ...args] = argv;
      const child = spawn(cmd, args, { cwd: copy, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPF_TS_EXPECT_NO_PRIVILEGES: '1' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      // Only a bound for a hung child; a loaded machine takes long to start vitest.
      const timer = setTimeout(() => child.kill('SIGKILL'), 280_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    const json = out.stdout.slice(out.stdout.indexOf('{'));
    let report: { testResults: { assertionResults: { ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }[] }[] };
    try {
      report = JSON.parse(json);
    } catch {
      throw new Error(`the child printed no JSON report (exit ${out.code})\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
    }
    const results = report.testResults.flatMap((f) => f.assertionResults).filter((r) => r.ancestorTitles[0] === 'seed programs, emulated');
    const failed = results.filter((r) => r.status !== 'passed');
    expect(failed.map((r) => `${r.title}: ${r.failureMessages.join('\n')}`)).toEqual([]);
    expect(out.code).toBe(0);
    // Everything in that describe ran (the privilege check included), and every seed program had its test.
    expect(results.map((r) => r.title)).toContain('runs as uid 65534 with no capabilities at all');
    for (const s of SEED)
      expect(
        results.some((r) => r.title.startsWith(`${s}:`)),
        s,
      ).toBe(true);
    const inFile = (
      readFileSync(join(ROOT, 'test', 'vm', 'emulate.test.ts'), 'utf8')
        .split("describe('helpers that change")[0]
        ?.match(/^\s+(?:if \([^)]*\) )?it(\.runIf\([^)]*\))?\(/gm) ?? []
    ).length;
    expect(results).toHaveLength(inFile);
  }, 300_000);
});
