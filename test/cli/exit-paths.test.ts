// vitest: long (signals and pipes to CLI children: ~6 s)
// Every way a CLI process ends leaves the system as it found it (issue 9,
// items 2, 3 and 8), checked on the real CLI in a child process:
// - a closed stdout (EPIPE): no stack trace; read-only commands exit 0; run
//   and demo run their cleanup and exit 141;
// - SIGINT, SIGTERM, SIGHUP, SIGQUIT on run and demo: cleanup, then 128+signo;
// - an error after attach (perf_event_open EACCES, caused for real by
//   dropping CAP_PERFMON and CAP_SYS_ADMIN) runs the same cleanup;
// - SIGKILL of run: the kernel detaches its unpinned bpf_link.
// What is attached is read with iproute2 (`ip -j -d link show`) and bpftool,
// not with bpf-ts. Everything happens in this file's namespaces.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { BIN, ensureDist, fixture, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE } from '../../src/uapi/bpf.js';

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const;
type ExitSignal = keyof typeof SIGNALS;

const parse = (l: string): any => {
  try {
    return JSON.parse(l);
  } catch {
    return undefined;
  }
};

/** The CLI as a child process; stdout 'closed' means its pipe is closed before the child can write. */
class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], opts: { stdout?: 'pipe' | 'closed' | number; wrap?: string[] } = {}) {
    const argv = [...(opts.wrap ?? []), process.execPath, BIN, ...args];
    const out = typeof opts.stdout === 'number' ? opts.stdout : 'pipe';
    this.proc = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', out, 'pipe'] });
    if (opts.stdout === 'closed') this.proc.stdout!.destroy();
    else this.proc.stdout?.on('data', (d) => (this.stdout += d));
    this.proc.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve, reject) => {
      this.proc.on('error', reject);
      this.proc.on('close', (code, signal) => resolve({ code, signal }));
    });
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter(Boolean);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Wait (bounded) until stdout has a line matching `pred`. */
  async line(pred: (l: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (!this.running || Date.now() > deadline) {
        throw new Error(`no expected line (${this.running ? 'timeout' : 'exited'})\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async kill(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited.catch(() => undefined);
  }
}

/** Poll `cond` until true or `timeoutMs` passed; returns its last value. */
async function until(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return cond();
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/**
 * A FIFO whose buffer is full before the child gets it as stdout: the
 * child's first write blocks — and with it the whole Node event loop, so no
 * signal handler can run — until release() starts reading. That pins a
 * signal to a known point of the command, with no timing involved.
 */
function fullFifo(): { fd: number; release(onData: (s: string) => void): void; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bpfts-exit-'));
  const path = join(dir, 'stdout');
  execFileSync('mkfifo', ['-m', '0600', path]);
  const rd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const fill = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const fd = openSync(path, constants.O_WRONLY);
  rmSync(dir, { recursive: true });
  // Pages first, then single bytes: a pipe write of ≤ PIPE_BUF is all or nothing.
  for (const size of [4096, 1]) {
    for (;;) {
      try {
        writeSync(fill, Buffer.alloc(size, 0x23));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
    }
  }
  closeSync(fill);
  let reader: Socket | undefined;
  return {
    fd,
    release(onData) {
      let skip = true;
      reader = new Socket({ fd: rd, readable: true, writable: false });
      reader.setEncoding('utf8');
      reader.on('data', (d: string) => {
        // The filler is '#' bytes; the child's own output follows.
        if (skip) {
          d = d.replace(/^#+/, '');
          if (d.length) skip = false;
        }
        if (d.length) onData(d);
      });
    },
    close() {
      if (reader) reader.destroy();
      else closeSync(rd);
    },
  };
}

describeRoot('CLI exit paths: closed pipe, signals, errors, SIGKILL (child process)', () => {
  let env: TestEnv;
  const children: Cli[] = [];
  const cli = (args: string[], opts?: ConstructorParameters<typeof Cli>[1]) => {
    const c = new Cli(args, opts);
    children.push(c);
    return c;
  };

  /** The XDP program id on the B end, as iproute2 reports it (0: nothing attached). */
  const ipXdpProgId = (): number => {
    const out = execFileSync('nsenter', [`--net=/var/run/netns/${env.nsB}`, 'ip', '-j', '-d', 'link', 'show', 'dev', env.vethB], { encoding: 'utf8' });
    const xdp = JSON.parse(out)[0]?.xdp;
    return xdp?.prog?.id ?? xdp?.attached?.[0]?.prog?.id ?? 0;
  };
  /** Whether bpftool still finds a link with this id. */
  const linkExists = (id: number): boolean => {
    try {
      execFileSync('bpftool', ['-j', 'link', 'show', 'id', String(id)], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  };
  const runArgs = (...extra: string[]) => ['run', fixture('icmp_even_drop.o'), '--xdp', env.vethB, '--netns', env.nsB, '--mode', 'skb', '--json', '--interval', '0.1', ...extra];
  const attachedLine = async (c: Cli) => parse(await c.line((l) => parse(l)?.attached !== undefined)).attached;

  beforeAll(() => {
    ensureDist();
    env = setupTestEnv({ name: uniqueName('ex') });
  }, 120_000);

  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    if (env && netnsExists(env.nsB) && queryXdp(env.vethB, { netns: env.nsB }).attached !== 'none') detachXdp(env.vethB, { netns: env.nsB });
  });

  afterAll(() => {
    if (env) teardownTestEnv(env);
  });

  describe('closed stdout (EPIPE)', () => {
    // pins lists a bpffs of the test's own (with a map pinned), not /sys/fs/bpf: a host may not mount that.
    let fs: ReturnType<typeof mountBpffs> | undefined;
    beforeAll(() => {
      fs = mountBpffs();
      using m = BpfMap.create({ name: 'epipe_pin', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      m.pin(join(fs.path, 'epipe_pin'));
    });
    afterAll(() => fs?.unmount());
    const readOnly = (): [string, string[]][] => [
      ['inspect OBJ', ['inspect', fixture('icmp_even_drop.o')]],
      ['inspect OBJ --json', ['inspect', fixture('syn_reporter.o'), '--json']],
      ['map list', ['map', 'list']],
      ['prog list --json', ['prog', 'list', '--json']],
      ['show --netns', ['show', '--netns', env.nsB]],
      ['pins', ['pins', fs!.path]],
      ['link list --json', ['link', 'list', '--json']],
    ];
    it('read-only commands end quietly with exit 0 (inspect, map list, prog list, show, pins, link list)', async () => {
      // Side by side: each is its own process with its own closed pipe.
      const ends = readOnly().map(async ([name, args]) => {
        const c = cli(args, { stdout: 'closed' });
        const exit = await c.exited;
        return { name, exit, stderr: c.stderr };
      });
      for (const end of await Promise.all(ends)) expect(end).toEqual({ name: end.name, exit: { code: 0, signal: null }, stderr: '' });
    });

    for (const via of ['link', 'netlink'] as const) {
      it(`run (${via}) | head -3: cleanup detaches, exit 141, nothing on stderr`, async () => {
        const c = cli(runArgs(...(via === 'netlink' ? ['--netlink'] : [])));
        const attached = await attachedLine(c);
        expect(attached.via).toBe(via);
        expect(ipXdpProgId()).toBe(attached.progId);
        await c.line((l) => parse(l)?.counters !== undefined && c.lines.length >= 3);
        c.proc.stdout!.destroy();
        const exit = await c.exited;
        expect(c.stderr).toBe('');
        expect(exit).toEqual({ code: 141, signal: null });
        expect(ipXdpProgId()).toBe(0);
      });
    }

    it('demo --name N | (closed): removes its namespaces, exit 141, nothing on stderr', async () => {
      const name = uniqueName('ep');
      const c = cli(['demo', '--name', name], { stdout: 'closed' });
      const exit = await c.exited;
      expect(c.stderr).toBe('');
      expect(exit).toEqual({ code: 141, signal: null });
      expect(netnsExists(`${name}-a`) || netnsExists(`${name}-b`)).toBe(false);
    });
  });

  describe('signals', () => {
    for (const sig of Object.keys(SIGNALS) as ExitSignal[]) {
      for (const via of ['link', 'netlink'] as const) {
        it(`run (${via}) on ${sig}: detaches, prints the last counters, exits ${128 + SIGNALS[sig]}`, async () => {
          const c = cli(runArgs(...(via === 'netlink' ? ['--netlink'] : [])));
          const attached = await attachedLine(c);
          expect(attached.via).toBe(via);
          expect(ipXdpProgId()).toBe(attached.progId);
          c.proc.kill(sig);
          const exit = await c.exited;
          expect(c.stderr).toBe('');
          expect(exit).toEqual({ code: 128 + SIGNALS[sig], signal: null });
          expect(parse(c.lines.at(-1)!)).toEqual({ detached: true, reason: sig });
          expect(parse(c.lines.at(-2)!)?.counters).toBeDefined();
          expect(ipXdpProgId()).toBe(0);
          if (via === 'link') expect(linkExists(attached.linkId)).toBe(false);
        });
      }
    }

    for (const sig of ['SIGHUP', 'SIGQUIT', 'SIGTERM', 'SIGINT'] as ExitSignal[]) {
      it(`demo on ${sig} (mid-way, pinned by a blocked stdout): removes its namespaces, exits ${128 + SIGNALS[sig]}`, async () => {
        const name = uniqueName('sg');
        const fifo = fullFifo();
        let c: Cli;
        try {
          c = cli(['demo', '--name', name], { stdout: fifo.fd });
        } finally {
          closeSync(fifo.fd);
        }
        try {
          // Blocked writing step 1, so the network is complete and the handler cannot run yet.
          expect(await until(() => netnsExists(`${name}-a`) && netnsExists(`${name}-b`), 30_000)).toBe(true);
          c.proc.kill(sig);
          let out = '';
          fifo.release((d) => (out += d));
          const exit = await c.exited;
          expect(c.stderr).toBe('');
          expect(exit).toEqual({ code: 128 + SIGNALS[sig], signal: null });
          expect(out).toContain(`1. test network "${name}"`);
          expect(out).toContain(`6. removed test network "${name}" (${sig})`);
          expect(out).not.toContain('5. ');
          expect(netnsExists(`${name}-a`) || netnsExists(`${name}-b`)).toBe(false);
        } finally {
          fifo.close();
          if (netnsExists(`${name}-a`) || netnsExists(`${name}-b`)) teardownTestEnv(name);
        }
      });
    }
  });

  describe('an error after attach', () => {
    // Without CAP_PERFMON (and CAP_SYS_ADMIN, which implies it) the program
    // still loads and attaches (CAP_BPF + CAP_NET_ADMIN), but
    // perf_event_open() for its event map fails with EACCES. Without
    // CAP_SYS_ADMIN setns() is refused too, so the child starts inside the
    // namespace (nsenter) instead of using --netns.
    const dropped = () => ['nsenter', `--net=/var/run/netns/${env.nsB}`, 'setpriv', '--bounding-set', '-sys_admin,-perfmon', '--inh-caps', '-sys_admin,-perfmon'];
    for (const via of ['link', 'netlink'] as const) {
      it(`run (${via}): perf_event_open EACCES detaches again, exit 1, one line on stderr`, async () => {
        const c = cli(['run', fixture('perf_ifindex.o'), '--xdp', env.vethB, '--mode', 'skb', '--json', ...(via === 'netlink' ? ['--netlink'] : [])], { wrap: dropped() });
        const exit = await c.exited;
        expect(exit).toEqual({ code: 1, signal: null });
        const lines = c.lines.map(parse);
        expect(lines).toHaveLength(3);
        expect(lines[0].attached).toMatchObject({ interface: env.vethB, program: 'xdp_perf_ifindex', mode: 'skb', via });
        expect(lines[0].attached.progId).toBeGreaterThan(0);
        expect(lines[1]).toEqual({ detached: true, reason: 'error' });
        expect(lines[2]).toEqual({ error: { code: 'SYSCALL', message: expect.stringMatching(/perf_event_open .*pkt_events.*EACCES/) } });
        const err = c.stderr.split('\n').filter(Boolean);
        expect(err).toHaveLength(1);
        expect(err[0]).toMatch(/^bpf-ts: perf_event_open .*EACCES/);
        expect(ipXdpProgId()).toBe(0);
      });
    }
  });

  describe('SIGKILL', () => {
    it('run: the kernel detaches its unpinned bpf_link when the process dies', async () => {
      const c = cli(runArgs());
      const attached = await attachedLine(c);
      expect(attached.via).toBe('link');
      expect(ipXdpProgId()).toBe(attached.progId);
      expect(linkExists(attached.linkId)).toBe(true);
      c.proc.kill('SIGKILL');
      expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // Bounded wait: a link walk elsewhere on the host may hold a reference for a moment.
      expect(await until(() => ipXdpProgId() === 0 && !linkExists(attached.linkId))).toBe(true);
    });

    it('run --netlink: what SIGKILL leaves behind without a link (why run uses one)', async () => {
      const c = cli(runArgs('--netlink'));
      const attached = await attachedLine(c);
      expect(attached.via).toBe('netlink');
      c.proc.kill('SIGKILL');
      await c.exited;
      expect(ipXdpProgId()).toBe(attached.progId);
      detachXdp(env.vethB, { netns: env.nsB });
      expect(ipXdpProgId()).toBe(0);
    });
  });
});
