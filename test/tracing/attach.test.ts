// Tracing attach kinds against the running kernel: each program counts what a
// child process (test/helpers/trace-child.cjs) does, and the count must equal
// the number of calls the child made. The child answers every command only
// after making its calls, so nothing here depends on timing.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { openObject, type BpfCollection } from '../../src/collection.js';
import { BpfLink } from '../../src/link/link.js';
import { attachIter, attachKprobe, attachPerfEvent, attachRawTracepoint, attachTracepoint, attachTracing, attachUprobe, onlineCpus } from '../../src/link/tracing.js';
import { BPF_LINK_TYPE } from '../../src/sys/link-type.js';
import { resolveProbeBinary, symbolFileOffset } from '../../src/link/uprobe-target.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { startTraceChild, type TraceChild } from '../helpers/trace-child.js';
import { bigOutput } from '../helpers/big-output.js';
import { bpftoolList } from '../helpers/bpftool.js';
import { until } from '../helpers/wait.js';

const GETPPID_NR: Record<string, number> = { x64: 110, arm64: 173, riscv64: 173 };

/** Every program id this file loaded: none may be left in the kernel afterwards. */
const loadedIds: number[] = [];

function load(child: TraceChild, programs: string[]): BpfCollection {
  const c = openObject(fixture('tracing.o'))
    .setGlobal('target_tgid', child.pid)
    .setGlobal('getppid_nr', BigInt(GETPPID_NR[process.arch] ?? 110))
    .load({ programs, ignorePinning: true });
  for (const p of c.programs.values()) loadedIds.push(p.id);
  return c;
}

/** Program ids bpftool lists (an independent reading of the kernel's program table). */
const bpftoolProgIds = (): Set<number> => new Set(bpftoolList('prog').map((p) => p.id));

function count(c: BpfCollection, slot: number): bigint {
  const out = Buffer.alloc(8);
  expect(c.map('counts').lookupInto(slot, out)).toBe(true);
  return out.readBigUInt64LE(0);
}

/** BTF id of a vmlinux type as bpftool lists it (an independent reading of the kernel's BTF). */
function bpftoolBtfId(kind: string, name: string): number {
  const out = bigOutput('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux']);
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(out);
  if (!m) throw new Error(`bpftool lists no ${kind} ${name}`);
  return Number(m[1]);
}

describeRoot('tracing attach', () => {
  let child: TraceChild;
  beforeAll(async () => {
    child = await startTraceChild();
  });
  afterAll(async () => {
    await child?.stop();
    // Closed collections and links free their programs; the kernel does it after an RCU grace period.
    let left: number[] = [];
    await until(() => (left = loadedIds.filter((id) => bpftoolProgIds().has(id))).length === 0, 30_000, 100);
    expect(loadedIds.length).toBeGreaterThan(5);
    expect(left, 'programs still loaded after the tests').toEqual([]);
  });

  it('tracepoint syscalls/sys_enter_getppid counts exactly the getppid calls of the child', async () => {
    using c = load(child, ['tp_getppid']);
    const link = attachTracepoint(c.program('tp_getppid'), 'syscalls', 'sys_enter_getppid');
    try {
      expect(link.type).toBe(BPF_LINK_TYPE.PERF_EVENT);
      expect(link.typeName).toBe('perf_event');
      expect(link.progId).toBe(c.program('tp_getppid').id);
      await child.call('getppid', 25);
      expect(count(c, 0)).toBe(25n);
    } finally {
      link.close();
    }
    // Closed: detached, nothing more is counted.
    await child.call('getppid', 7);
    expect(count(c, 0)).toBe(25n);
  });

  it('an unknown tracepoint is NO_SUCH_TARGET naming it', () => {
    using c = load(child, ['tp_getppid']);
    expect(() => attachTracepoint(c.program('tp_getppid'), 'syscalls', 'sys_enter_no_such_call')).toThrow(
      expect.objectContaining({ code: 'NO_SUCH_TARGET', message: expect.stringContaining('syscalls/sys_enter_no_such_call') }),
    );
  });

  it('raw_tp/sys_enter sees each getppid syscall id once', async () => {
    using c = load(child, ['rawtp_sys_enter']);
    using link = attachRawTracepoint(c.program('rawtp_sys_enter'), 'sys_enter');
    const info = link.info();
    expect(info.type).toBe(BPF_LINK_TYPE.RAW_TRACEPOINT);
    expect(info.details).toEqual({ kind: 'raw_tracepoint', tpName: 'sys_enter' });
    await child.call('getppid', 13);
    expect(count(c, 1)).toBe(13n);
  });

  it('tp_btf/sys_enter is loaded against btf_trace_sys_enter and counts the calls', async () => {
    using c = load(child, ['tpbtf_sys_enter']);
    const want = bpftoolBtfId('TYPEDEF', 'btf_trace_sys_enter');
    expect(c.program('tpbtf_sys_enter').info().attachBtfId).toBe(want);
    using link = attachTracing(c.program('tpbtf_sys_enter'));
    // The kernel makes a raw tracepoint link for tp_btf, named after the tracepoint.
    const info = link.info();
    expect(info.type).toBe(BPF_LINK_TYPE.RAW_TRACEPOINT);
    expect(info.details).toEqual({ kind: 'raw_tracepoint', tpName: 'sys_enter' });
    await child.call('getppid', 17);
    expect(count(c, 2)).toBe(17n);
  });

  it.runIf(process.arch === 'x64')('uprobe and uretprobe on libc abs() count the calls and see every return value', async () => {
    using c = load(child, ['uprobe_abs', 'uretprobe_abs']);
    using entry = attachUprobe(c.program('uprobe_abs'), 'libc.so.6', 'abs', { pid: child.pid });
    using ret = attachUprobe(c.program('uretprobe_abs'), 'libc.so.6', 'abs', { pid: child.pid, retprobe: true });
    expect(entry.type).toBe(BPF_LINK_TYPE.PERF_EVENT);
    expect(ret.target).toMatch(/^uretprobe \/.*libc\.so\.6:abs \(pid \d+\)$/);
    const sum = await child.call('abs', 40);
    expect(sum).toBe(820);
    expect(count(c, 3)).toBe(40n);
    expect(count(c, 4)).toBe(40n);
    expect(count(c, 5)).toBe(820n);
  });

  it('uprobe on a function of the node executable itself (by path, .symtab) counts each call', async () => {
    using c = load(child, ['uprobe_abs']);
    using link = attachUprobe(c.program('uprobe_abs'), process.execPath, 'uv_os_getppid', { pid: child.pid });
    expect(link.target).toContain(':uv_os_getppid (pid ');
    await child.call('ppid', 12);
    expect(count(c, 3)).toBe(12n);
  });

  it('symbolFileOffset agrees with readelf for a shared library and an executable', () => {
    const cases: [string, string][] = [
      [resolveProbeBinary('libc.so.6'), 'abs'],
      [realpathSync(process.execPath), 'uv_os_getppid'],
    ];
    for (const [file, sym] of cases) {
      const syms = bigOutput('llvm-readelf-19', ['-W', '--dyn-syms', file]);
      const m = new RegExp(`^\\s*\\d+: ([0-9a-f]+)\\s+\\d+ (?:FUNC|IFUNC)\\s+\\w+\\s+\\w+\\s+(\\d+) ${sym}(?:@\\S*)?$`, 'm').exec(syms);
      expect(m, `${sym} in ${file}`).not.toBeNull();
      const value = BigInt('0x' + m![1]);
      const secs = execFileSync('llvm-readelf-19', ['-WS', file]).toString();
      const sec = new RegExp(`\\[\\s*${m![2]}\\] \\S+\\s+\\S+\\s+([0-9a-f]+) ([0-9a-f]+)`).exec(secs);
      expect(sec).not.toBeNull();
      const want = Number(value - BigInt('0x' + sec![1]) + BigInt('0x' + sec![2]));
      expect(symbolFileOffset(readFileSync(file), sym, file)).toBe(want);
    }
    expect(() => symbolFileOffset(readFileSync(process.execPath), 'no_such_function_here', 'node')).toThrow(expect.objectContaining({ code: 'NO_SUCH_TARGET' }));
  });

  it('fentry/fexit on do_getpgid count the calls and see the return value, or the refusal says why', async () => {
    let c: BpfCollection;
    try {
      c = load(child, ['fentry_getpgid', 'fexit_getpgid']);
    } catch (e) {
      // This kernel verifies the program, then refuses it (trampolines are
      // not allowed here): the error must say that, not blame the verifier.
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).code).toBe('KERNEL_UNSUPPORTED');
      expect((e as BpfError).message).toMatch(/program fentry_getpgid refused by the kernel \(EPERM\): the kernel would not attach a BPF trampoline/);
      return;
    }
    using coll = c;
    using f = attachTracing(coll.program('fentry_getpgid'));
    using x = attachTracing(coll.program('fexit_getpgid'));
    void f;
    void x;
    const pgid = await child.call('getpgid', 9);
    expect(count(coll, 6)).toBe(9n);
    expect(count(coll, 7)).toBe(9n);
    expect(count(coll, 8)).toBe(BigInt(9 * pgid));
  });

  it('iter/task lists this process with its tgid and pid', () => {
    using c = openObject(fixture('tracing.o')).load({ programs: ['iter_tasks'], ignorePinning: true });
    using link = attachIter(c.program('iter_tasks'));
    expect(link.type).toBe(BPF_LINK_TYPE.ITER);
    const lines = link.read().toString().trim().split('\n');
    expect(lines).toContain(`${process.pid} ${process.pid}`);
    expect(lines).toContain(`${child.pid} ${child.pid}`);
    // Every task once: as many lines as /proc has thread ids of this process.
    const ownThreads = lines.filter((l) => l.startsWith(`${process.pid} `)).length;
    expect(ownThreads).toBeGreaterThanOrEqual(1);
  });

  it('perf_event samples on every online CPU until the links close', async () => {
    using c = load(child, ['perf_sample']);
    const set = attachPerfEvent(c.program('perf_sample'), { frequency: 997 });
    try {
      expect(set.links.length).toBe(onlineCpus().length);
      for (const l of set) expect(l.type).toBe(BPF_LINK_TYPE.PERF_EVENT);
      // Burn CPU here until a sample lands (bounded: 20 s).
      const deadline = Date.now() + 20_000;
      while (count(c, 9) === 0n && Date.now() < deadline) {
        const until = Date.now() + 20;
        while (Date.now() < until) Math.sqrt(Math.random());
        await new Promise((r) => setImmediate(r));
      }
      expect(count(c, 9)).toBeGreaterThan(0n);
    } finally {
      set.close();
    }
    for (const l of set) expect(l.closed).toBe(true);
  });

  it('kprobe: attaches where the kernel has kprobes, and says which config is missing where not', async () => {
    using c = load(child, ['tp_getppid']);
    const hasKprobes = (() => {
      try {
        readFileSync('/sys/bus/event_source/devices/kprobe/type');
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasKprobes) {
      let err: unknown;
      try {
        attachKprobe(c.program('tp_getppid'), 'do_getpgid');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('KERNEL_UNSUPPORTED');
      expect((err as BpfError).message).toMatch(/CONFIG_KPROBES/);
      return;
    }
    // A kprobe needs a kprobe program: the tracepoint program is refused by the kernel.
    expect(() => attachKprobe(c.program('tp_getppid'), 'do_getpgid')).toThrow(BpfError);
  });

  it('a pinned link stays attached after its fd closes; fromPin opens it; unpin and close detach', async () => {
    const fs = mountBpffs();
    try {
      using c = load(child, ['tp_getppid']);
      const pin = join(fs.path, 'tp_link');
      const link = attachTracepoint(c.program('tp_getppid'), 'syscalls', 'sys_enter_getppid');
      link.pin(pin);
      const id = link.id;
      link.close();
      await child.call('getppid', 4);
      expect(count(c, 0)).toBe(4n);
      const again = BpfLink.fromPin(pin);
      expect(again.id).toBe(id);
      expect(again.typeName).toBe('perf_event');
      expect(again.progId).toBe(c.program('tp_getppid').id);
      expect(() => BpfLink.fromPin(join(fs.path, 'nothing'))).toThrow(BpfError);
      again.unpin(pin);
      again.close();
      await child.call('getppid', 3);
      expect(count(c, 0)).toBe(4n);
      expect(() => BpfLink.fromId(id)).toThrow(expect.objectContaining({ code: 'NOT_ATTACHED' }));
    } finally {
      fs.unmount();
    }
  });
});
