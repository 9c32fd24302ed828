// A test cgroup, a test network namespace and a process in both (Caller),
// for the cgroup hooks the kernel runs only in real calls (sock_addr, sock,
// sysctl, sockopt): test/vm/cgroup-caller.cjs makes the calls one JSON line
// at a time. And accessDiffs(), every load and store of a hook's context
// against the verifier.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import readline from 'node:readline';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { cgroup2Mount } from '../../src/attach/cgroup.js';
import { type BpfCollection, BpfObjectSpec, openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { setLinkUp } from '../../src/netlink/link.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { createNetns, deleteNetns, netnsPath, withNetns } from '../../src/netns.js';
import type { EmulateOptions, EmulatedCollection } from '../../src/vm/index.js';
import { ensureDist, fixture, ROOT, uniqueName } from './cli.js';

const CHILD = join(ROOT, 'test', 'vm', 'cgroup-caller.cjs');

/** The answer to one call (cgroup-caller.cjs says which fields each op gives). */
export interface CallAnswer {
  error?: string;
  remote?: [string, number];
  local?: number | [string, number];
  from?: [string, number];
  timeout?: boolean;
  ok?: boolean;
  mark?: number;
  priority?: number;
  ifindex?: number;
  /** sysctl-read, sockopt get: the bytes read (hex); sysctl-write: how many were written; sockopt get: the length. */
  hex?: string;
  n?: number;
  /** sockopt: the call's errno, and each readback option's answer. */
  errno?: number;
  readback?: { errno?: number; hex?: string }[];
}

/** The child in the test namespace (and in the cgroup, when one is given), spoken to line by line. */
export class Caller {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  stderr = '';

  constructor(netns: string, cgroup?: string) {
    // The shell moves itself into the cgroup, then becomes node: its sockets belong to the cgroup.
    const ffiModule = join(ROOT, 'dist', 'sys', 'ffi.js');
    const enter = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : '';
    this.child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', 'sh', '-c', `${enter}exec "${process.execPath}" "${CHILD}" "${ffiModule}"`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.#lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async call(op: Record<string, unknown>): Promise<CallAnswer> {
    this.child.stdin.write(JSON.stringify(op) + '\n');
    const r = await this.#lines.next();
    if (r.done) throw new Error(`the caller exited; stderr: ${this.stderr}`);
    return JSON.parse(r.value as string);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * A test cgroup, a test network namespace (lo up) and a Caller in both;
 * outsider() a Caller in the namespace only (the hooks do not run for it);
 * close() removes them all.
 */
export class Lab {
  readonly cgroup: string;
  readonly netns: string;
  readonly caller: Caller;
  #outsider: Caller | undefined;

  constructor(tag: string) {
    ensureDist(); // the caller reads the library's FFI from dist/
    this.cgroup = join(cgroup2Mount(), `bpf-ts-${uniqueName(tag)}`);
    mkdirSync(this.cgroup);
    this.netns = uniqueName(`${tag}ns`);
    createNetns(this.netns);
    withNetns(this.netns, () => {
      using sock = NetlinkSocket.open();
      setLinkUp(sock, 1); // lo
    });
    this.caller = new Caller(this.netns, this.cgroup);
  }

  outsider(): Caller {
    return (this.#outsider ??= new Caller(this.netns));
  }

  close(): void {
    try {
      this.caller.kill();
      this.#outsider?.kill();
    } finally {
      deleteNetns(this.netns, { force: true });
      // The cgroup empties once the child has gone.
      for (let i = 0; i < 100 && existsSync(this.cgroup); i++) {
        try {
          rmdirSync(this.cgroup);
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
      }
    }
  }
}

/**
 * Every load and store at every offset and width of a `ctxSize`-byte
 * context: whether the kernel's verifier takes it (a program of `type` and
 * `attach` loads) against whether the emulator's run (`run`) goes through
 * without a fault matching `fault`. The differences, and how many the kernel took.
 */
export function accessDiffs(
  type: 'cgroup_sock' | 'cgroup_sock_addr' | 'cgroup_sysctl' | 'cgroup_sockopt' | 'cgroup_device' | 'sock_ops',
  attach: number,
  ctxSize: number,
  run: (emu: EmulatedCollection) => void,
  fault: RegExp,
) {
  const spec = (text: string) => BpfObjectSpec.fromInstructions(assemble(text).bytes, { type, name: 'p', expectedAttachType: attach });
  const kernelTakes = (text: string) => {
    try {
      spec(text).load().close();
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'VERIFIER') return false;
      throw e;
    }
  };
  const emulatorTakes = (text: string) => {
    try {
      run(spec(text).emulate());
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'EMU_FAULT' && fault.test(e.message)) return false;
      throw e;
    }
  };
  const diffs: string[] = [];
  const taken = { load: 0, store: 0 };
  for (let off = 0; off < ctxSize; off++)
    for (const size of [1, 2, 4, 8]) {
      if (off % size) continue;
      for (const op of ['load', 'store'] as const) {
        // A store writes r0 (0): the kernel refuses storing a pointer.
        const text = op === 'load' ? `r2 = *(u${size * 8} *)(r1 + ${off})\nr0 = 1\nexit` : `r0 = 0\n*(u${size * 8} *)(r1 + ${off}) = r0\nr0 = 1\nexit`;
        const k = kernelTakes(text);
        if (k) taken[op]++;
        if (emulatorTakes(text) !== k) diffs.push(`${op} ${size} at ${off}: kernel ${k ? 'takes' : 'refuses'} it`);
      }
    }
  return { diffs, taken };
}

/** A describe's Lab and one fixture, loaded in the kernel and emulated: made in beforeAll, closed in afterAll. */
export interface LabObject {
  lab: Lab;
  kern: BpfCollection;
  emu: EmulatedCollection;
}

export function labWithObject(tag: string, object: string, timeout = 60_000): LabObject {
  const t = {} as LabObject;
  beforeAll(async () => {
    t.lab = new Lab(tag);
    // The caller has loaded all it uses before any program is attached.
    await t.lab.caller.call({ op: 'ping' });
    const spec = openObject(fixture(object));
    t.kern = spec.load({ ignorePinning: true });
    t.emu = spec.emulate();
  }, timeout);
  afterAll(() => {
    try {
      t.kern?.close();
    } finally {
      t.lab?.close();
    }
  });
  return t;
}

/**
 * The emulator's TCP settings as the kernel has them in `netns`: CONFIG_HZ
 * (/proc/config.gz), the congestion controls registered, and a new socket's.
 */
export function hostTcp(netns: string): Pick<EmulateOptions, 'hz' | 'tcpCongestion' | 'tcpCongestionAvailable'> {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(gunzipSync(readFileSync('/proc/config.gz')).toString());
  if (!m) throw new Error('CONFIG_HZ is not in /proc/config.gz');
  // /proc/sys/net shows the namespace of the thread that opens it.
  return withNetns(netns, () => ({
    hz: Number(m[1]),
    tcpCongestionAvailable: readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/),
    tcpCongestion: readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim(),
  }));
}
