// Every js and ts block of README.md and docs/ runs, and every `bpf-ts …`
// line of their sh blocks, as a user would run them (kernel test: root).
//
// How a block runs:
// - In a scratch project: node_modules/bpf-ts links to this checkout (its
//   package.json exports dist/, built by ensureDist), `fixtures` links to the
//   checkout's fixtures, so `import … from 'bpf-ts'` and 'fixtures/x.o' work
//   as they do for a user of the package. ts blocks are compiled with
//   TypeScript (ES2022: `using` becomes try/finally, so Node 20 runs it).
// - In a private mount namespace with its own bpffs on /sys/fs/bpf: pins the
//   docs name (/sys/fs/bpf/myobj, tc/globals/acc_map, …) are real, never
//   collide with other runs, and vanish with the block.
// - In a network namespace the test made, where `eth0` is one end of a veth
//   whose peer is in a second test namespace: docs write `eth0` as users do,
//   and nothing is attached in the root namespace.
// - The word `lab` (testenv names lab, lab-a, lab-b, cgroup lab, /sys/fs/bpf/lab)
//   is replaced by a name unique to this run: testenv namespaces and cgroups
//   are global names.
// - sh blocks: `sudo` and `npx` are the caller (already root) and the checkout's
//   bin/bpf-ts.js; lines after a command that are not commands are its output
//   as the doc shows it, compared with what the command printed; a foreground
//   command (`run`/`top` with neither --duration nor --count) gets Ctrl-C
//   (SIGINT) after 3 s and must exit 130 having cleaned up.
// A block fenced ```js no-run (or ts/sh) is listed in NO_RUN with the reason.
//
// The blocks are dealt round-robin into parts, one test file each
// (run-blocks-N.test.ts), so the parts run in parallel: each part makes its
// own namespaces, bpffs and names.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDist, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { ts } from '../helpers/typescript.js';

interface Block {
  file: string;
  line: number;
  lang: string;
  info: string;
  code: string;
}

function docBlocks(): Block[] {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  return files.flatMap((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    return [...text.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```/gm)].map((m) => ({
      file,
      line: text.slice(0, m.index).split('\n').length,
      lang: m[1]!,
      info: m[2]!.trim(),
      code: m[3]!,
    }));
  });
}

/** Blocks that do not run, each named by file and a line of it, with why. Keep it short. */
const NO_RUN: { file: string; contains: string; why: string }[] = [
  { file: 'docs/sockets.md', contains: 'steer_ports', why: 'a server in the namespace of the process, waiting forever; test/socket/sk-lookup.test.ts runs the same between test namespaces' },
  { file: 'docs/sockets.md', contains: 'drop_marked', why: 'a server that waits for datagrams forever; test/socket/socket-filter.test.ts runs it in a test namespace' },
];

/** What a js/ts block prints, where the doc says so (in comments): file, a line of the block, stdout patterns. */
const PRINTS: { file: string; contains: string; stdout: RegExp[] }[] = [
  { file: 'README.md', contains: 'console.log(run.verdict)', stdout: [/^XDP_DROP$/m] },
  { file: 'docs/api.md', contains: 'hits.readBigUInt64LE(8)', stdout: [/^XDP_DROP\n103n 3n\n$/] },
  { file: 'docs/api.md', contains: 'blocked_src', stdout: [/^<Buffer c0 00 02 07> <Buffer 02 00 00 00>\n<Buffer 02 00 00 00>\n$/] },
  { file: 'docs/api.md', contains: 'g.seen_total', stdout: [/^8n 5n 9\n0n 10n\n$/] },
  { file: 'docs/api.md', contains: "type: 'lru_hash'", stdout: [/^9 1n\n$/] },
  // 68 instructions in the kernel: the two per-CPU array lookups inlined.
  { file: 'docs/api.md', contains: 'repeat: 100', stdout: [/^1 XDP_DROP\ncounters xdp_even_drop 68\ntrue\n$/] },
  { file: 'docs/api.md', contains: 'queryXdp', stdout: [/attached: 'native'/, /name: 'xdp_globals'/] },
  { file: 'docs/api.md', contains: 'rb.firstRecord()', stdout: [/^500 125250 16\n$/] },
  { file: 'docs/api.md', contains: 'listTc', stdout: [/tc_ingress/] },
  { file: 'docs/api.md', contains: 'PerfBufferReader', stdout: [/^1n\n2n\n3n\n$/] },
  { file: 'docs/cgroup.md', contains: 'queryCgroup', stdout: [/attachTypeName: 'sock_ops'/, /progName: 'bpf_sockmap'/] },
  { file: 'docs/core.md', contains: 'typedMap', stdout: [/^24 0n\n$/] },
  { file: 'docs/emulator.md', contains: 'new Vm', stdout: [/retval: 42n/, /instructions: 2/] },
  // The output the doc shows in the block after it.
  {
    file: 'docs/object-model.md',
    contains: 'ownInstructionCount',
    stdout: [/^xdp_a \[xdp\] xdp: 3 own \+ 3 appended\nxdp_b \[xdp\] xdp: 5 own \+ 6 appended\nxdp_c \[xdp\] xdp: 2 own \+ 0 appended\nxdp_loop \[xdp\] xdp: 15 own \+ 5 appended\n$/],
  },
  { file: 'docs/object-model.md', contains: 'parseObject', stdout: [/\[ '.rodata', '.data', '.bss' \]/] },
  { file: 'docs/tc.md', contains: 'attachTcx', stdout: [/priority: 1/, /handle: 1/, /tc_ingress/] },
  // "tgid pid" per task: a machine has more than ten.
  { file: 'docs/tracing.md', contains: 'attachIter', stdout: [/^(\d+ \d+\n){10,}/] },
  { file: 'docs/api.md', contains: 'attachNetfilter(obj', stdout: [/^0\n3\n3n\n$/] },
  { file: 'docs/api.md', contains: 'haveProgramType', stdout: [/^true true\ntrue false\ntrue\n$/] },
  { file: 'docs/api.md', contains: 'registerStructOps: false })', stdout: [/^SYSCALL EOPNOTSUPP\n\[ 'dummy' \]\n17\n$/] },
  // Three echo requests in and three replies out, 98 bytes each; nothing queued.
  { file: 'docs/sockets.md', contains: "obj.program('count_protocols')", stdout: [/^6n 588n\nnull\n$/] },
  // Three pings from lab-a, redirected into the socket: 14 + 20 + 8 + 56 bytes each, echo requests 1..3.
  { file: 'docs/xsk.md', contains: 'for await (const frame of xsk)', stdout: [/^98 bytes, ICMP type 8 seq 1\n98 bytes, ICMP type 8 seq 2\n98 bytes, ICMP type 8 seq 3\n$/] },
];

/** What an sh command prints where the doc states it in a comment or prose: file, a part of the command, stdout patterns. */
const SH_PRINTS: { file: string; command: string; stdout: (RegExp | ((out: string) => void))[] }[] = [
  // README's demo output block.
  { file: 'README.md', command: 'bpf-ts demo', stdout: [/: 5 answered \(seq 1,3,5,7,9\), 5 dropped \(seq 2,4,6,8,10\)\n/, /passed=5 dropped=5\n/, /removed test network/] },
  { file: 'docs/xdp.md', command: 'ping -c 6', stdout: [/6 packets transmitted, 3 received/] },
  // counters [0] passed, [1] dropped, per CPU: 3 and 3 in all.
  { file: 'docs/xdp.md', command: 'map dump', stdout: [(out) => expect(perCpuSums(out)).toEqual({ '0': 3n, '1': 3n })] },
  { file: 'docs/tc.md', command: 'ping -c 5', stdout: [/5 packets transmitted, 5 received/] },
  // 490 = 5 × 98 bytes (0x1ea) at key 0 (ingress) and key 1 (egress).
  { file: 'docs/tc.md', command: 'map dump', stdout: [/^key: 00 00 00 00 {2}value: ea 01 00 00 00 00 00 00\nkey: 01 00 00 00 {2}value: ea 01 00 00 00 00 00 00\n/] },
  { file: 'docs/cgroup.md', command: 'sh -c', stdout: [/^hello through sk_msg$/m] },
  // The listing in the text block after the command's block, but for the id the kernel gave this run.
  { file: 'docs/cli.md', command: 'prog dump', stdout: [(out) => expect(out.replace(/^xdp_b \(id \d+,/, 'xdp_b (id 3114,')).toBe(textBlockAfter('docs/cli.md', 'bpf-ts prog dump'))] },
  // The pins table after it, but for kernel numbers, this run's name for `lab` and column widths.
  {
    file: 'docs/cli.md',
    command: 'bpf-ts pins',
    stdout: [(out) => expect(kernelNumbersOut(out.replaceAll(u, 'lab')).replace(/ +/g, ' ')).toBe(kernelNumbersOut(textBlockAfter('docs/cli.md', 'sudo npx bpf-ts pins')).replace(/ +/g, ' '))],
  },
  // The sample after link show / prog show / link detach, line for line, but for what the kernel numbers and dates.
  ...['link show', 'prog show', 'link detach'].map((command) => ({
    file: 'docs/cli.md',
    command,
    stdout: [(out: string) => expect(kernelNumbersOut(textBlockAfter('docs/cli.md', 'bpf-ts link detach /sys'))).toContain(kernelNumbersOut(out))],
  })),
];

/** Ids, sizes, tags and dates as the kernel gave them this run, replaced by placeholders. */
function kernelNumbersOut(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, 'DATE')
    .replace(/\b[0-9a-f]{16}\b/g, 'TAG')
    .replace(/\b\d+\b/g, 'N');
}

/** The first ```text block after the line of `file` that contains `marker`. */
function textBlockAfter(file: string, marker: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const block = /^```text\n([\s\S]*?)^```/m.exec(text.slice(text.indexOf(marker)));
  if (!block) throw new Error(`${file}: no text block after ${marker}`);
  return block[1]!;
}

/** `map dump` text of a per-CPU map of u64 with BTF (decimal keys and values): key → sum over CPUs. */
function perCpuSums(out: string): Record<string, bigint> {
  const sums: Record<string, bigint> = {};
  let key = '';
  for (const line of out.split('\n')) {
    const k = /^key: (\d+)$/.exec(line);
    if (k) key = k[1]!;
    const v = /^\s+value \(CPU \d+\): (\d+)$/.exec(line);
    if (v) sums[key] = (sums[key] ?? 0n) + BigInt(v[1]!);
  }
  return sums;
}

const u = uniqueName('dk');
const nsEth = `${u}-e`;
const nsPeer = `${u}-p`;
const cgroupRoot = '/sys/fs/cgroup/unified';

// testenv's subnet 10.11.X.0/24: X from the name (src/testenv.ts subnetOctet).
const octet = (createHash('sha1').update(u).digest().readUInt16BE(0) % 254) + 1;
const subst = (code: string) => code.replace(/\blab\b/g, u).replace(/\b10\.11\.X\./g, `10.11.${octet}.`);

/** What the test provides around a block: a testenv `lab` it uses without setting it up, a cgroup `lab` it does not mkdir. */
const needsTestenv = (b: Block) => /\blab-[ab]\b/.test(b.code) && !/testenv setup|setupTestEnv/.test(b.code);
const needsCgroup = (b: Block) => /(--cgroup |cgroup: ')(\/sys\/fs\/cgroup\/unified\/)?lab\b/.test(b.code) && !/mkdir/.test(b.code);

function cleanupNamed(): string[] {
  const problems: string[] = [];
  for (const ns of [`${u}-a`, `${u}-b`, `${u}-ns`]) {
    if (!existsSync(`/var/run/netns/${ns}`)) continue;
    // Made inside a block's private mount namespace, only the empty mount point file is left out here.
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
    try {
      rmSync(`/var/run/netns/${ns}`, { force: true });
    } catch (e) {
      problems.push(`netns ${ns}: ${(e as Error).message}`);
    }
  }
  if (existsSync(join(cgroupRoot, u))) {
    try {
      rmdirSync(join(cgroupRoot, u));
    } catch (e) {
      problems.push(`cgroup ${u}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Run a block with what it needs around it, and remove all of it after, whatever happened. */
function withContext(b: Block, f: () => void): void {
  let problems: string[] = [];
  try {
    if (needsTestenv(b)) execFileSync(process.execPath, [join(ROOT, 'bin', 'bpf-ts.js'), 'testenv', 'setup', '--name', u], { stdio: 'pipe' });
    if (needsCgroup(b)) mkdirSync(join(cgroupRoot, u));
    f();
  } finally {
    if (needsTestenv(b) && existsSync(`/var/run/netns/${u}-a`)) spawnSync(process.execPath, [join(ROOT, 'bin', 'bpf-ts.js'), 'testenv', 'teardown', '--name', u], { stdio: 'pipe' });
    problems = cleanupNamed();
  }
  // After the finally, so a cleanup problem never hides the block's own failure.
  if (problems.length) throw new Error(`cleanup after ${b.file}:${b.line}: ${problems.join('; ')}`);
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' });
}

/** argv that runs `argv` in a private mount namespace with a fresh bpffs, inside the test's eth0 namespace. */
function isolated(argv: string[]): string[] {
  const setup = [
    'mount -t bpf bpf /sys/fs/bpf',
    // `bpf-ts completion bash > /etc/bash_completion.d/bpf-ts` writes into a throw-away tmpfs.
    '[ ! -d /etc/bash_completion.d ] || mount -t tmpfs tmpfs /etc/bash_completion.d',
    'exec "$@"',
  ].join(' && ');
  return ['unshare', '--mount', '--propagation', 'private', '--', 'nsenter', `--net=/var/run/netns/${nsEth}`, '--', 'sh', '-c', setup, 'sh', ...argv];
}

function runIsolated(argv: string[], cwd: string, timeoutMs = 120_000) {
  const [cmd, ...args] = isolated(argv);
  const r = spawnSync(cmd!, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, PATH: `${join(cwd, 'bin')}:${process.env.PATH}` } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------- sh blocks

const COMMAND = /^(sudo |npx |bpf-ts |printf |source |npm |#|$)/;

interface Step {
  command: string;
  output: string[];
}

/** Split an sh block into commands (continuations and quoted newlines joined) and the output lines shown after each. */
function shSteps(code: string): Step[] {
  const steps: Step[] = [];
  const lines = code.replace(/\n$/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (!COMMAND.test(line) && steps.length) {
      steps.at(-1)!.output.push(line);
      continue;
    }
    while ((/\\$/.test(line) || (line.split("'").length - 1) % 2 === 1) && i + 1 < lines.length) line += '\n' + lines[++i]!;
    steps.push({ command: line, output: [] });
  }
  return steps;
}

const FOREGROUND = /\bbpf-ts (run|top)\b/;

/** The script the test runs for an sh block; output of step N goes to out/N. */
function shScript(steps: Step[], file: string): string {
  const body = steps.map((s, n) => {
    const cmd = s.command.replace(/\s+#[^'"\n]*$/, '');
    if (/^#/.test(cmd) || !cmd.trim()) return s.command;
    // `npm install` set this checkout up and `npm test` is what runs this file.
    if (/^npm (install|test)$/.test(cmd.trim())) return `# not run here: ${cmd}`;
    let line = cmd;
    if (FOREGROUND.test(cmd) && !/--(duration|count)\b/.test(cmd)) {
      line = `{ rc=0; timeout --preserve-status -s INT 3 ${cmd.replace(/^sudo /, '')} || rc=$?; [ $rc = 130 ] || { echo "exit $rc after Ctrl-C (want 130): ${cmd.replace(/["$`\\]/g, '')}" >&2; exit 1; }; }`;
    }
    if (s.output.length) return `${line} > out/${n}`;
    return SH_PRINTS.some((p) => p.file === file && cmd.includes(p.command)) ? `${line} | tee out/${n}` : line;
  });
  return ['set -e -o pipefail', 'mkdir -p out', ...body].join('\n') + '\n';
}

/** Compare what a command printed with what the doc shows: JSON by value (`…` ends a shown prefix), text line by line up to `...`. */
function compareOutput(shown: string[], actual: string, where: string): void {
  const text = shown.join('\n');
  if (text.trimStart().startsWith('{')) {
    const want = JSON.parse(text.replace(/…/g, '')) as Record<string, unknown>;
    const got = JSON.parse(actual) as Record<string, unknown>;
    expect(Object.keys(got).sort(), where).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) {
      // Timings differ run to run: the doc shows an example value.
      if (k === 'durationNs') expect(typeof got[k], `${where}: ${k}`).toBe('number');
      else if (typeof v === 'string' && text.includes(`"${v}…"`)) expect(String(got[k]).startsWith(v), `${where}: ${k} = ${String(got[k])}`).toBe(true);
      else expect(got[k], `${where}: ${k}`).toEqual(v);
    }
    return;
  }
  const upTo = shown.indexOf('...');
  const want = upTo >= 0 ? shown.slice(0, upTo) : shown;
  const got = actual.split('\n').map((l) => l.trimEnd());
  expect(got.slice(0, want.length), where).toEqual(want.map((l) => l.trimEnd()));
  if (upTo < 0) expect(got.filter((l) => l).length, where).toBe(want.length);
}

// ------------------------------------------------------------------- the test

const all = docBlocks();
const noRun = (b: Block) => /\bno-run\b/.test(b.info);
const runnable = all.filter((b) => ['js', 'ts', 'sh'].includes(b.lang) && !noRun(b));

/** Part `part` (0-based) of `parts`: every parts-th runnable block; part 0 also checks the lists. */
export function runDocBlocks(part: number, parts: number): void {
  const mine = runnable.filter((_b, i) => i % parts === part);
  describeRoot(`every js/ts block and bpf-ts command line in README.md and docs/ runs (part ${part + 1} of ${parts})`, () => {
    let dir = '';

    beforeAll(() => {
      ensureDist();
      dir = mkdtempSync(join(tmpdir(), 'bpfts-doc-run-'));
      mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
      symlinkSync(ROOT, join(dir, 'node_modules', 'bpf-ts'));
      symlinkSync(join(ROOT, 'node_modules', 'vitest'), join(dir, 'node_modules', 'vitest'));
      symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'));
      // README's placeholders: obj.o is any XDP object, new.o another one.
      for (const [name, target] of [
        ['obj.o', 'icmp_even_drop.o'],
        ['new.o', 'globals.o'],
        ['tc_shared_map.o', 'tc_shared_map.o'],
        ['sockops_redir.o', 'sockops_redir.o'],
      ])
        symlinkSync(join(ROOT, 'fixtures', target!), join(dir, name!));
      mkdirSync(join(dir, 'bin'));
      const bin = join(ROOT, 'bin', 'bpf-ts.js');
      writeFileSync(join(dir, 'bin', 'bpf-ts'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`, { mode: 0o755 });
      writeFileSync(join(dir, 'bin', 'sudo'), '#!/bin/sh\n# the test already runs as root\nexec "$@"\n', { mode: 0o755 });
      writeFileSync(
        join(dir, 'bin', 'npx'),
        `#!/bin/sh\n[ "$1" = bpf-ts ] || { echo "npx $1: the docs test provides only bpf-ts" >&2; exit 127; }\nshift\nexec "${process.execPath}" "${bin}" "$@"\n`,
        {
          mode: 0o755,
        },
      );
      writeFileSync(join(dir, 'bin', 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 });
      // eth0 lives in a namespace of ours; its peer in another; both up, IPv6 off.
      sh('ip', ['netns', 'add', nsEth]);
      sh('ip', ['netns', 'add', nsPeer]);
      sh('ip', ['-n', nsEth, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsPeer]);
      for (const ns of [nsEth, nsPeer]) {
        sh('nsenter', [`--net=/var/run/netns/${ns}`, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
        sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
    });

    afterAll(() => {
      const problems: string[] = [];
      const tryIt = (what: string, f: () => void) => {
        try {
          f();
        } catch (e) {
          problems.push(`${what}: ${(e as Error).message}`);
        }
      };
      for (const ns of [nsEth, nsPeer]) if (existsSync(`/var/run/netns/${ns}`)) tryIt(`netns ${ns}`, () => sh('ip', ['netns', 'del', ns]));
      problems.push(...cleanupNamed());
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (problems.length) throw new Error(`cleanup: ${problems.join('; ')}`);
    });

    if (part === 0)
      it('finds the blocks: js, ts and sh', () => {
        expect(runnable.filter((b) => b.lang === 'js').length).toBeGreaterThan(10);
        expect(runnable.filter((b) => b.lang === 'ts').length).toBeGreaterThan(3);
        expect(runnable.filter((b) => b.lang === 'sh').length).toBeGreaterThan(15);
      });

    if (part === 0)
      it('each SH_PRINTS entry names a command of its file', () => {
        for (const p of SH_PRINTS)
          expect(
            runnable.some((b) => b.file === p.file && b.lang === 'sh' && b.code.includes(p.command)),
            `${p.file}: ${p.command}`,
          ).toBe(true);
      });

    if (part === 0)
      it('each no-run block is listed with its reason, and each listed one exists', () => {
        const marked = all.filter(noRun).map((b) => `${b.file}:${b.line}`);
        const listed = NO_RUN.map((n) => {
          const b = all.find((x) => x.file === n.file && x.code.includes(n.contains));
          return b ? `${b.file}:${b.line}` : `${n.file}: no block contains ${n.contains}`;
        });
        expect(marked.sort()).toEqual(listed.sort());
      });

    it.each(mine.filter((b) => b.lang !== 'sh').map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs', (where, b) => {
      const base = join(dir, `${b.file.replace(/\W/g, '_')}_${b.line}`);
      let code = subst(b.code);
      if (b.lang === 'ts') {
        const out = ts.transpileModule(code, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
        expect((out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
        code = out.outputText;
      }
      // codegen.md: the module `bpf-ts gen` writes (step 3 of its flow) for the object next to it.
      if (/from '\.\/prog\.js'/.test(b.code)) {
        rmSync(join(dir, 'prog.o'), { force: true });
        symlinkSync(join(ROOT, 'fixtures', 'events_typed.o'), join(dir, 'prog.o'));
        execFileSync(process.execPath, [join(ROOT, 'bin', 'bpf-ts.js'), 'gen', 'prog.o', '--out', 'prog.ts'], { cwd: dir, stdio: 'pipe' });
        writeFileSync(
          join(dir, 'prog.js'),
          ts.transpileModule(readFileSync(join(dir, 'prog.ts'), 'utf8'), { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText,
        );
      }
      withContext(b, () => {
        // testing.md: a vitest file, run by vitest as its user would, with the emulator and (BPF_KERNEL=1) the kernel:
        // one vitest run with a project for each (each project's workers start with its env), not two runs.
        if (/from 'vitest'/.test(b.code)) {
          const file = `${base}.test.ts`;
          writeFileSync(file, subst(b.code));
          const modes = { emulator: '0', kernel: '1' };
          // node_modules/bpf-ts links to the checkout, so vite would take dist/ for project source and transform
          // all of it in each worker; an installed package (a directory under node_modules) is left to Node.
          const installed = `new RegExp(${JSON.stringify(join(ROOT, 'dist').replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '/')})`;
          const projects = Object.entries(modes).map(([name, kernel]) => `{ extends: true, test: { name: '${name}', include: [${JSON.stringify(file)}], env: { BPF_KERNEL: '${kernel}' } } }`);
          writeFileSync(`${base}.config.mjs`, `export default { test: { server: { deps: { external: [${installed}] } }, projects: [${projects.join(', ')}] } };\n`);
          const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VITEST|NODE_OPTIONS|TEST$|BPF_KERNEL$)/.test(k)));
          const [cmd, ...args] = isolated([process.execPath, join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, '--config', `${base}.config.mjs`]);
          const r = spawnSync(cmd!, args, { cwd: dir, encoding: 'utf8', timeout: 300_000, env });
          if (r.status !== 0) throw new Error(`${where} exited ${r.status ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
          // eslint-disable-next-line no-control-regex -- vitest colours its summary with ANSI escapes
          const out = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
          expect(out, where).toMatch(/Tests\s+2 passed \(2\)/);
          for (const [name, kernel] of Object.entries(modes)) expect(out, `${where}: BPF_KERNEL=${kernel}`).toMatch(new RegExp(`✓ +${name} +\\S+\\.test\\.ts \\(1 test\\)`));
          return;
        }
        writeFileSync(`${base}.mjs`, code);
        const r = runIsolated(['node', `${base}.mjs`], dir);
        if (r.code !== 0) throw new Error(`${where} exited ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        for (const p of PRINTS.filter((p) => p.file === b.file && b.code.includes(p.contains))) for (const re of p.stdout) expect(r.stdout, where).toMatch(re);
      });
    });

    it.each(mine.filter((b) => b.lang === 'sh').map((b) => [`${b.file}:${b.line}`, b] as const))('%s: its commands run', (where, b) => {
      const steps = shSteps(subst(b.code));
      const work = mkdtempSync(join(dir, 'sh-'));
      writeFileSync(join(work, 'block.sh'), shScript(steps, b.file));
      withContext(b, () => {
        const r = runIsolated(['bash', join(work, 'block.sh')], dir);
        try {
          if (r.code !== 0) throw new Error(`${where} exited ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\nscript:\n${shScript(steps, b.file)}`);
          steps.forEach((s, n) => {
            if (s.output.length) compareOutput(s.output, readFileSync(join(dir, 'out', String(n)), 'utf8'), `${where}: ${s.command}`);
            for (const p of SH_PRINTS.filter((p) => p.file === b.file && s.command.includes(p.command)))
              for (const check of p.stdout) {
                const out = readFileSync(join(dir, 'out', String(n)), 'utf8');
                if (check instanceof RegExp) expect(out, `${where}: ${s.command}`).toMatch(check);
                else check(out);
              }
          });
        } finally {
          rmSync(join(dir, 'out'), { recursive: true, force: true });
        }
      });
    });
  });
}
