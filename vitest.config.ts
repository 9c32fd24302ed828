import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Three projects, sorted by reading each test file, so a new file lands in the
// right one without anyone listing it:
//
// - "pure" (no kernel: parsers, codecs, CLI text, docs, types) and "kernel"
//   (asks for root: describeRoot / isRoot / getuid) run together, files in
//   parallel. Kernel files tolerate each other as they tolerate other people
//   running the suite on the same host: unique netns/veth/map names, private
//   bpffs mounts, assertions only on what the file created.
// - "serial": kernel files that assert or change state the whole host shares
//   run after both, one at a time. A kernel file is serial when it mentions
//     /proc/sys/kernel/ (host-wide sysctls; /proc/sys/net/ is per namespace:
//       tracing/cli checks `top` leaves kernel.bpf_stats_enabled as it was,
//       which any other BPF_ENABLE_STATS holder would break),
//     RLIMIT_ / raiseMemlock (process limits), useradd / userdel (host users),
//     umount of tracefs (there is one, mounted once and left), an attach to
//     the cgroup2 root,
//   or carries the marker comment `// vitest: serial (why)` for anything the
//   words cannot catch (the event flood, which keeps every CPU busy).
//   Holding BPF_ENABLE_STATS (top, sockops-redir), mounting tracefs when it is
//   missing, dropping to uid 65534 with setpriv (caps-matrix) are safe in
//   parallel: stats are counted while anyone holds them, a second tracefs
//   mount stacks, and every unprivileged child works in its own copy, bpffs
//   and namespaces.
// Pure and kernel files share their worker's module cache (isolate: false:
// src/ is loaded and transformed once per worker, not once per file, a third
// less CPU). A file that changes its process for the files after it — mocks
// modules, stubs globals, sets process.env, changes cwd, umask or ids
// (vi.mock, vi.stub…, vi.useFakeTimers, process.env.X = …, process.chdir…) —
// gets a fresh process ("pure-isolated", "kernel-isolated"). Namespace
// switches are safe to share: withNetns always switches back. (Rlimits are
// serial, so isolated already.)
// Workers: the kernel files mostly wait (on children, namespaces, the
// verifier), so there is one worker more than CPUs (more starve the
// CPU-bound pure files: the fuzzer, the compiler runs).
const WORKERS = availableParallelism() + 1;
// Order: files marked `// vitest: long (why)` (a minute of waiting children,
// a nested vitest, the fuzzer) start first, whatever their project, so the
// suite does not end with one long file running alone. vitest's own order
// (longest first by its cache of the last run, else larger files first) knows
// nothing in a fresh clone, and keeps projects apart.
const isLong = (f: string) => /^\/\/ vitest: long\b/m.test(text.get(f) ?? '');
class LongFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const order = await super.sort(files);
    const rank = (t: TestSpecification) => (isLong(relative(process.cwd(), t.moduleId)) ? 0 : 1);
    // Stable: within each rank, vitest's order stands; groups (serial last) stay apart.
    return [...order].sort((a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || rank(a) - rank(b));
  }
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? testFiles(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const text = new Map(testFiles('test').map((f) => [f, readFileSync(f, 'utf8')] as const));
const all = [...text.keys()];
const needsKernel = (f: string) => /\b(describeRoot|isRoot|getuid)\b/.test(text.get(f)!);
const GLOBAL_STATE = [
  /\/proc\/sys\/kernel\//,
  /\bRLIMIT_|\braiseMemlock\b/,
  /\b(useradd|userdel)\b/,
  /umount\w*\([^)]*tracefs|tracefs[^\n]*umount/,
  /attach\w*\(\s*cgroup2Mount\(\)/,
  /^\/\/ vitest: serial\b/m,
];
const needsHost = (f: string) => GLOBAL_STATE.some((re) => re.test(text.get(f)!));
const serial = all.filter((f) => needsKernel(f) && needsHost(f));
const kernelFiles = all.filter((f) => needsKernel(f) && !needsHost(f));
const needsIsolation = (f: string) =>
  /\bvi\.(mock|doMock|stub\w*|useFakeTimers|spyOn)\b|process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|\bdelete process\.env\b|\bprocess\.(chdir|umask|set\w*id|setgroups)\(/.test(text.get(f)!);
const pure = all.filter((f) => !needsKernel(f) && !needsIsolation(f));
const pureIsolated = all.filter((f) => !needsKernel(f) && needsIsolation(f));
const kernel = kernelFiles.filter((f) => !needsIsolation(f));
const kernelIsolated = kernelFiles.filter((f) => needsIsolation(f));

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Builds dist/ once, before any worker: tests that run bin/bpf-ts.js must not race to build it.
    globalSetup: ['./test/helpers/global-setup.ts'],
    sequence: { sequencer: LongFirst },
    // Per-file cleanups of shared helpers (test/helpers/file-scope.ts).
    setupFiles: ['./test/helpers/file-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'pure',
          include: pure,
          maxWorkers: WORKERS,
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'pure-isolated', include: pureIsolated, maxWorkers: WORKERS, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'kernel', include: kernel, maxWorkers: WORKERS, isolate: false, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'kernel-isolated', include: kernelIsolated, maxWorkers: WORKERS, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'serial', include: serial, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
