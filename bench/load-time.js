// Figure: load time of the largest fixture object (programs verified, maps
// created, CO-RE applied against the running kernel's BTF) with bpf-ts and
// with `bpftool prog loadall` of the same object, in the same run.
//
// bpftool is timed as a whole process: each run parses the kernel's BTF anew
// (libbpf does for CO-RE) and loads everything. bpf-ts is timed inside a fresh
// node process around openObject().load() — the same work: read and parse the
// object and the kernel BTF, create maps, relocate, load — without Node's own
// start-up (the CLI start-up figure covers that). Rounds alternate the two and
// the median of the per-round ratios is reported.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError, check, fmt, largestFixture, nowNs, ROOT } from './util.js';

const ROUNDS = 9;
const TARGET = 1.1;

const CHILD = `
const { openObject } = await import(process.argv[1]);
const t0 = process.hrtime.bigint();
const u0 = process.cpuUsage();
const c = openObject(process.argv[2]).load();
const u = process.cpuUsage(u0);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const programs = c.programs.size;
c.close();
console.log(JSON.stringify({ ms, cpuMs: (u.user + u.system) / 1000, programs }));
`;

function bpftsLoad(object) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, join(ROOT, 'dist', 'collection.js'), object], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new BenchError(`bpf-ts load of ${object} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

// GNU time reports bpftool's CPU time (user + sys) on stderr's last line.
const GNU_TIME = '/usr/bin/time';

function bpftoolLoad(object, pinDir) {
  const withTime = existsSync(GNU_TIME);
  const cmd = withTime ? GNU_TIME : 'bpftool';
  const args = [...(withTime ? ['-f', 'cpu %U %S', 'bpftool'] : []), 'prog', 'loadall', object, pinDir];
  const t0 = nowNs();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const ms = (nowNs() - t0) / 1e6;
  if (r.error) throw new BenchError(`bpftool: ${r.error.message}`);
  if (r.status !== 0) throw new BenchError(`bpftool prog loadall ${object} failed: ${r.stderr.trim()}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  const pins = readdirSync(pinDir).length;
  rmSync(pinDir, { recursive: true, force: true });
  return { ms, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN, programs: pins };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function loadTime() {
  const object = largestFixture();
  const fs = mkdtempSync(join(tmpdir(), 'bpf-ts-bench-load-'));
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', fs], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    rmdirSync(fs);
    throw new BenchError(`mount -t bpf bpf ${fs} failed: ${`${e.stderr ?? e.message}`.trim()}`);
  }
  try {
    const pinDir = join(fs, 'progs');
    const ours = [];
    const theirs = [];
    const ourCpu = [];
    const theirCpu = [];
    const ratios = [];
    // One of each first, untimed: page cache, kernel BTF in memory.
    bpftoolLoad(object, pinDir);
    bpftsLoad(object);
    for (let r = 0; r < ROUNDS; r++) {
      const first = r % 2 === 0;
      const a = first ? bpftsLoad(object) : null;
      const b = bpftoolLoad(object, pinDir);
      const c = first ? a : bpftsLoad(object);
      check(c.programs === b.programs, `load: bpf-ts loaded ${c.programs} programs, bpftool ${b.programs}`);
      ours.push(c.ms);
      theirs.push(b.ms);
      ourCpu.push(c.cpuMs);
      theirCpu.push(b.cpuMs);
      ratios.push(c.ms / b.ms);
    }
    const ratio = median(ratios);
    const rel = object.split('/fixtures/')[1] ?? object;
    return [
      {
        name: 'object load time',
        line:
          `object load (${rel}): bpf-ts ${fmt.ms(median(ours))} ms, bpftool prog loadall ${fmt.ms(median(theirs))} ms; ` +
          `paired ratio ${fmt.ratio(ratio)} (median of ${ROUNDS})`,
        detail:
          `CPU time (user+sys): bpf-ts ${fmt.ms(median(ourCpu))} ms, bpftool ${fmt.ms(median(theirCpu))} ms ` +
          `(GNU time, 10 ms resolution); the verifier's share is small for this object`,
        checks: [{ value: `ratio ${fmt.ratio(ratio)}`, target: `ratio <= ${TARGET}`, pass: ratio <= TARGET }],
      },
    ];
  } finally {
    execFileSync('umount', [fs], { stdio: ['ignore', 'pipe', 'pipe'] });
    rmdirSync(fs);
  }
}
