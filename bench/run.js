#!/usr/bin/env node
// `npm run bench`: speed figures for bpf-ts against their targets.
//
// Prints one line per figure as it is measured, then a summary with each
// figure's target and PASS/MISS. Exits 0 whether targets are met or not (this
// is a report); non-zero only when a run is broken (a build fails, a dump
// comes back wrong, a syscall fails). Everything is built in the run itself:
// dist/ when src/ is newer, and the C baselines from bench/c/ into bench/build/.
// Speed is never asserted in `npm test`.

import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';

// Heap figures need global.gc(): re-run this script under --expose-gc.
if (typeof globalThis.gc !== 'function') {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const { BenchError, bpfPrivilegeProblem, ensureDist } = await import('./util.js');
const { mapOps } = await import('./map-ops.js');
const { batchDump } = await import('./batch-dump.js');
const { btfParse } = await import('./btf-parse.js');
const { ringbuf } = await import('./ringbuf.js');
const { cliStartup } = await import('./cli-startup.js');
const { globalsRead } = await import('./globals.js');
const { loadTime } = await import('./load-time.js');
const { vmLoop } = await import('./vm.js');
const { emulateVsKernel } = await import('./emulate.js');

/**
 * The benchmarks, run in this order. Each `run()` resolves to a list of
 * figures: { name, line, detail?, checks: [{ what?, value, target, pass }] },
 * or { name, line, skip } when it cannot measure here.
 *
 * To add a benchmark (the ring-buffer one goes here): write bench/<name>.js
 * exporting an async function of that shape, import it above and add an entry
 * below; `needsRoot` makes it skip with a reason when BPF objects cannot be
 * created.
 */
const BENCHMARKS = [
  { id: 'map-ops', title: 'single-element map ops', needsRoot: true, run: mapOps },
  { id: 'batch-dump', title: 'batch dump', needsRoot: true, run: batchDump },
  { id: 'btf-parse', title: 'vmlinux BTF parse', needsRoot: false, run: btfParse },
  { id: 'ringbuf', title: 'ring buffer', needsRoot: true, run: ringbuf },
  { id: 'globals', title: 'global data via mmap', needsRoot: true, run: globalsRead },
  { id: 'load-time', title: 'object load time', needsRoot: true, run: loadTime },
  { id: 'cli-startup', title: 'CLI start-up', needsRoot: false, run: cliStartup },
  { id: 'vm', title: 'emulator', needsRoot: false, run: vmLoop },
  { id: 'emulate', title: 'emulated test run', needsRoot: true, run: emulateVsKernel },
];

const started = Date.now();
console.log(
  `bpf-ts bench: node ${process.version}, Linux ${release()}, ${cpus().length} CPUs, ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);

let broken = false;
const results = [];

try {
  const d = ensureDist(['maps/map.js', 'uapi/bpf.js', 'btf/btf.js', 'vm/vm.js', 'asm/assembler.js', 'index.js', 'cli/main.js']);
  if (d.built) console.log('(built dist/ with tsc: src/ was newer)');
  if (d.warnings) console.log(`(tsc reported errors but emitted; measuring what it built)\n${indent(d.warnings)}`);
} catch (e) {
  console.error(`bench: cannot build dist/: ${e.message}`);
  process.exit(1);
}

// `npm run bench -- map-ops ringbuf`: only the named benchmarks (ids above).
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = only.filter((id) => !BENCHMARKS.some((b) => b.id === id));
if (unknown.length) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (one of: ${BENCHMARKS.map((b) => b.id).join(', ')})`);
  process.exit(2);
}

const privilege = bpfPrivilegeProblem();
for (const b of BENCHMARKS) {
  if (only.length && !only.includes(b.id)) continue;
  if (b.needsRoot && privilege) {
    const line = `${b.title}: skipped: ${privilege}`;
    console.log(line);
    results.push({ name: b.title, skip: 'needs root or CAP_BPF' });
    continue;
  }
  try {
    for (const f of await b.run()) {
      console.log(f.line);
      if (f.detail) console.log(`  (${f.detail})`);
      results.push(f);
    }
  } catch (e) {
    broken = true;
    const what = e instanceof BenchError ? e.message : (e?.stack ?? String(e));
    console.log(`${b.title}: ERROR: ${what}`);
    results.push({ name: b.title, error: e instanceof BenchError ? e.message : String(e?.message ?? e) });
  }
}

// ------------------------------------------------------------------ summary

const rows = [];
for (const r of results) {
  if (r.error) rows.push([r.name, '-', '-', 'ERROR']);
  else if (r.skip) rows.push([r.name, '-', '-', `SKIP (${r.skip})`]);
  else for (const c of r.checks) rows.push([c.what ? `${r.name} (${c.what})` : r.name, c.value, `target ${c.target}`, c.pass ? 'PASS' : 'MISS']);
}
const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
console.log('\n== summary ==');
for (const row of rows) console.log(row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  '));
const passed = rows.filter((r) => r[3] === 'PASS').length;
const missed = rows.filter((r) => r[3] === 'MISS').length;
const skipped = rows.filter((r) => r[3].startsWith('SKIP')).length;
console.log(`${passed} PASS, ${missed} MISS` + (skipped ? `, ${skipped} SKIP` : '') + (broken ? ', run BROKEN (see ERROR above)' : '') + ` in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(broken ? 1 : 0);

function indent(text) {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
