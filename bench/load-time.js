// Figure: load time of the largest fixture object (programs verified, maps
// created, CO-RE applied for the running kernel) with bpf-ts and with
// `bpftool prog loadall` of the same object, in the same run.
//
// bpftool is timed as a whole process (exec and its libraries' loading
// included, about a millisecond): each run parses the kernel's BTF anew
// (libbpf resolves CO-RE itself), probes kernel features, loads everything
// and pins the programs. bpf-ts is timed inside a fresh node process around
// openObject().load(), after the library's modules are imported: read and
// parse the object, load its BTF, create maps, relocate, load — plus loading
// koffi (the FFI, loaded on the first syscall), without Node's own start-up
// (the CLI start-up figure covers that). Two differences in approach, both
// what a user gets: bpf-ts hands CO-RE relocations to the kernel (core_relos,
// Linux 5.17+) instead of reading the kernel's BTF, and skips its BTF feature
// probes when the kernel takes the object's BTF as it is. The detail line
// times the same load with the relocations resolved in bpf-ts
// (`kernelCore: false`, what a kernel before 5.17 gets).
//
// That first load is the headline (what `bpf-ts load` pays). The same child
// then loads the object a second time: what each further load costs a
// long-running process, with koffi loaded and the feature probes made once
// per process. Rounds alternate bpf-ts and bpftool; the median of the
// per-round ratios is reported.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError, check, fmt, largestFixture, nowNs, ROOT } from './util.js';

const ROUNDS = 9;
const TARGET = 1.1;

const CHILD = `
const ti = process.hrtime.bigint();
const { openObject } = await import(process.argv[1]);
const importMs = Number(process.hrtime.bigint() - ti) / 1e6;
const t0 = process.hrtime.bigint();
const u0 = process.cpuUsage();
const opts = { kernelCore: process.argv[3] !== 'here' };
const c = openObject(process.argv[2]).load(opts);
const u = process.cpuUsage(u0);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const programs = c.programs.size;
c.close();
const t1 = process.hrtime.bigint();
const u1 = process.cpuUsage();
const again = openObject(process.argv[2]).load(opts);
const uAgain = process.cpuUsage(u1);
const msAgain = Number(process.hrtime.bigint() - t1) / 1e6;
again.close();
console.log(JSON.stringify({ importMs, ms, cpuMs: (u.user + u.system) / 1000, programs, msAgain, cpuMsAgain: (uAgain.user + uAgain.system) / 1000 }));
`;

/** `where`: 'kernel' (the default load: the kernel applies CO-RE) or 'here' (kernelCore: false). */
function bpftsLoad(object, where = 'kernel') {
  // What `import { openObject } from 'bpf-ts'` loads: the library's bundle (package.json "exports").
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, join(ROOT, 'dist', 'bundle', 'index.js'), object, where], {
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
    const oursAgain = [];
    const ourCpuAgain = [];
    const ratiosAgain = [];
    const imports = [];
    const oursHere = [];
    const ratiosHere = [];
    // One of each first, untimed: page cache, kernel BTF in memory.
    bpftoolLoad(object, pinDir);
    bpftsLoad(object);
    bpftsLoad(object, 'here');
    for (let r = 0; r < ROUNDS; r++) {
      const first = r % 2 === 0;
      const a = first ? bpftsLoad(object) : null;
      const h = first ? bpftsLoad(object, 'here') : null;
      const b = bpftoolLoad(object, pinDir);
      const c = first ? a : bpftsLoad(object);
      const d = first ? h : bpftsLoad(object, 'here');
      oursHere.push(d.ms);
      ratiosHere.push(d.ms / b.ms);
      check(c.programs === b.programs, `load: bpf-ts loaded ${c.programs} programs, bpftool ${b.programs}`);
      ours.push(c.ms);
      theirs.push(b.ms);
      ourCpu.push(c.cpuMs);
      theirCpu.push(b.cpuMs);
      ratios.push(c.ms / b.ms);
      oursAgain.push(c.msAgain);
      ourCpuAgain.push(c.cpuMsAgain);
      imports.push(c.importMs);
      ratiosAgain.push(c.msAgain / b.ms);
    }
    const ratio = median(ratios);
    const ratioAgain = median(ratiosAgain);
    const rel = object.split('/fixtures/')[1] ?? object;
    return [
      {
        name: 'object load time',
        line:
          `object load (${rel}): bpf-ts first load in a process ${fmt.ms(median(ours))} ms (openObject().load() after import, koffi loading included, ` +
          `Node start-up not), bpftool prog loadall ${fmt.ms(median(theirs))} ms (whole process, pins included); ` +
          `paired ratio ${fmt.ratio(ratio)} (median of ${ROUNDS})`,
        detail:
          `CPU time (user+sys): bpf-ts ${fmt.ms(median(ourCpu))} ms, bpftool ${fmt.ms(median(theirCpu))} ms ` +
          `(GNU time, 10 ms resolution); the verifier's share is small for this object; the import before it (the library bundle) ${fmt.ms(median(imports))} ms; ` +
          `with CO-RE resolved in bpf-ts instead of the kernel (kernelCore: false, as on kernels before 5.17) ${fmt.ms(median(oursHere))} ms, paired ratio ${fmt.ratio(median(ratiosHere))}`,
        checks: [{ value: `ratio ${fmt.ratio(ratio)}`, target: `ratio <= ${TARGET}`, pass: ratio <= TARGET }],
      },
      {
        name: 'object load time, further loads',
        line:
          `object load (${rel}), a further load in the same process (koffi and feature probes already there): ` +
          `bpf-ts ${fmt.ms(median(oursAgain))} ms, bpftool prog loadall ${fmt.ms(median(theirs))} ms (whole process, as above); ` +
          `paired ratio ${fmt.ratio(ratioAgain)} (median of ${ROUNDS})`,
        detail: `CPU time (user+sys): bpf-ts ${fmt.ms(median(ourCpuAgain))} ms`,
        checks: [{ value: `ratio ${fmt.ratio(ratioAgain)}`, target: `ratio <= ${TARGET}`, pass: ratioAgain <= TARGET }],
      },
    ];
  } finally {
    execFileSync('umount', [fs], { stdio: ['ignore', 'pipe', 'pipe'] });
    rmdirSync(fs);
  }
}
