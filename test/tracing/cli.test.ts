// The tracing CLI: link list (checked against bpftool), iter, top, and the
// pure parts (auto-attach plans, top's arithmetic) without a kernel.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openObject, type BpfCollection } from '../../src/collection.js';
import { topRows } from '../../src/cli/commands/top.js';
import { autoAttachPlan } from '../../src/link/auto.js';
import { attachRawTracepoint, attachTracepoint } from '../../src/link/tracing.js';
import { sectionKind } from '../../src/object/section-names.js';
import type { ProgInfo } from '../../src/sys/info.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { startTraceChild, type TraceChild } from '../helpers/trace-child.js';

const plan = (section: string) => autoAttachPlan({ section, ...sectionKind(section) });

describe('auto-attach plans from section names', () => {
  it.each([
    ['tracepoint/syscalls/sys_enter_openat', { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' }],
    ['tp/sched/sched_switch', { kind: 'tracepoint', category: 'sched', name: 'sched_switch' }],
    ['raw_tp/sys_enter', { kind: 'raw_tracepoint', name: 'sys_enter' }],
    ['raw_tracepoint.w/bpf_test_finish', { kind: 'raw_tracepoint', name: 'bpf_test_finish' }],
    ['tp_btf/sched_switch', { kind: 'tracing', target: 'sched_switch' }],
    ['fentry/tcp_v4_connect', { kind: 'tracing', target: 'tcp_v4_connect' }],
    ['fexit/do_unlinkat', { kind: 'tracing', target: 'do_unlinkat' }],
    ['lsm/file_open', { kind: 'tracing', target: 'file_open' }],
    ['iter/task', { kind: 'iter', target: 'task' }],
    ['kprobe/do_unlinkat', { kind: 'kprobe', func: 'do_unlinkat', offset: 0, retprobe: false }],
    ['kretprobe/do_unlinkat', { kind: 'kprobe', func: 'do_unlinkat', offset: 0, retprobe: true }],
    ['kprobe/do_sys_open+0x10', { kind: 'kprobe', func: 'do_sys_open', offset: 16, retprobe: false }],
    ['ksyscall/openat', { kind: 'ksyscall', syscall: 'openat', retprobe: false }],
    ['kretsyscall/openat', { kind: 'ksyscall', syscall: 'openat', retprobe: true }],
    ['uprobe/libc.so.6:malloc', { kind: 'uprobe', binary: 'libc.so.6', symbol: 'malloc', offset: 0, retprobe: false }],
    ['uretprobe//usr/bin/bash:readline', { kind: 'uprobe', binary: '/usr/bin/bash', symbol: 'readline', offset: 0, retprobe: true }],
    ['perf_event', { kind: 'perf_event' }],
  ])('%s', (section, want) => {
    expect(plan(section)).toEqual(want);
  });

  it.each(['xdp', 'tc', 'kprobe', 'uprobe', 'tracepoint', 'socket'])('%s has no auto-attach target, with a reason', (section) => {
    const p = plan(section);
    expect(p.kind).toBe('none');
    expect(p.kind === 'none' && p.reason).toMatch(new RegExp(section.replace(/[/.]/g, '\\$&')));
  });
});

describe('top arithmetic', () => {
  const info = (id: number, runCnt: bigint, runTimeNs: bigint, name = `p${id}`): ProgInfo => ({ id, runCnt, runTimeNs, name, type: 1 }) as ProgInfo;
  it('rates are deltas over the interval; a new program starts from its own first sample', () => {
    const prev = new Map([
      [1, info(1, 100n, 1_000_000n)],
      [2, info(2, 0n, 0n)],
    ]);
    const rows = topRows(prev, [info(1, 300n, 21_000_000n), info(2, 0n, 0n), info(3, 50n, 5_000n)], 2);
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(rows[0]).toMatchObject({ runsPerSec: 100, avgNs: 100_000, cpuPercent: 1, totalRuns: '300' });
    expect(rows[1]).toMatchObject({ runsPerSec: 0, avgNs: 0, cpuPercent: 0 });
    expect(rows[2]).toMatchObject({ runsPerSec: 0, avgNs: 0 });
  });
  it('sorts by the key asked for', () => {
    const prev = new Map([
      [1, info(1, 0n, 0n, 'b')],
      [2, info(2, 0n, 0n, 'a')],
    ]);
    const now = [info(1, 10n, 10_000n, 'b'), info(2, 20n, 5_000n, 'a')];
    expect(topRows(prev, now, 1, 'runs').map((r) => r.id)).toEqual([2, 1]);
    expect(topRows(prev, now, 1, 'avg').map((r) => r.id)).toEqual([1, 2]);
    expect(topRows(prev, now, 1, 'name').map((r) => r.name)).toEqual(['a', 'b']);
  });
});

describeRoot('tracing CLI', () => {
  let child: TraceChild;
  let coll: BpfCollection;
  beforeAll(async () => {
    child = await startTraceChild();
    coll = openObject(fixture('tracing.o'))
      .setGlobal('target_tgid', child.pid)
      .load({ programs: ['tp_getppid', 'rawtp_sys_enter'], ignorePinning: true });
  });
  afterAll(async () => {
    coll?.close();
    await child?.stop();
  });

  it('link list shows our links as bpftool does', async () => {
    using tp = attachTracepoint(coll.program('tp_getppid'), 'syscalls', 'sys_enter_getppid');
    using raw = attachRawTracepoint(coll.program('rawtp_sys_enter'), 'sys_enter');
    const rows = (await cliOk('link', 'list', '--json')).json() as { id: number; type: string; progId: number; progName: string; target: string }[];
    for (const l of [tp, raw]) {
      const ours = rows.find((r) => r.id === l.id);
      const tool = JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(l.id), '-j']).toString());
      expect(ours).toBeDefined();
      expect(ours!.type).toBe(tool.type);
      expect(ours!.progId).toBe(tool.prog_id);
    }
    expect(rows.find((r) => r.id === raw.id)!.target).toBe('tracepoint sys_enter');
    expect(rows.find((r) => r.id === tp.id)!.progName).toBe('tp_getppid');
    const text = (await cliOk('link', 'list')).stdout;
    expect(text).toMatch(new RegExp(`^${raw.id}\\s+raw_tracepoint\\s+${raw.progId}\\s+rawtp_sys_enter\\s+tracepoint sys_enter$`, 'm'));
  });

  it('iter prints what the iterator wrote: this process and the child', async () => {
    const r = await cliOk('iter', fixture('tracing.o'), '--program', 'iter_tasks');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(`${process.pid} ${process.pid}`);
    expect(lines).toContain(`${child.pid} ${child.pid}`);
    const j = (await cliOk('iter', fixture('tracing.o'), '--json')).json();
    expect(j.program).toBe('iter_tasks');
    expect(j.output).toContain(`${child.pid} ${child.pid}\n`);
  });

  it('iter refuses a program that is not an iterator, naming it', async () => {
    const r = await cli('iter', fixture('tracing.o'), '--program', 'tp_getppid');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/program tp_getppid \(section tracepoint\/syscalls\/sys_enter_getppid\) is not an iterator/);
  });

  it('top --json: one line per interval, our program runs, statistics restored afterwards', async () => {
    const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
    const before = readFileSync(sysctl, 'utf8').trim();
    using tp = attachTracepoint(coll.program('tp_getppid'), 'syscalls', 'sys_enter_getppid');
    const id = coll.program('tp_getppid').id;
    let done = false;
    const running = cli('top', '--json', '--interval', '0.2', '--count', '5', '--sort', 'runs').finally(() => (done = true));
    const counted = (): bigint => {
      const out = Buffer.alloc(8);
      expect(coll.map('counts').lookupInto(0, out)).toBe(true);
      return out.readBigUInt64LE(0);
    };
    const counted0 = counted();
    // Keep the program running while top samples: every round trip waits for the child.
    let calls = 0;
    while (!done) {
      await child.call('getppid', 200);
      calls += 200;
    }
    const r = await running;
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    const ours = lines.flatMap((l) => l.programs).filter((p: { id: number }) => p.id === id);
    expect(ours).toHaveLength(5);
    expect(ours.some((p: { runsPerSec: number; avgNs: number }) => p.runsPerSec > 0 && p.avgNs > 0)).toBe(true);
    // The program runs for every getppid() on the host (it filters by tgid
    // inside), so its run total has no upper bound this test owns: any process
    // starting meanwhile adds runs. What it owns: the program counted exactly
    // the child's calls, and top saw it run.
    expect(counted() - counted0).toBe(BigInt(calls));
    expect(Number(ours[4].totalRuns)).toBeGreaterThan(0);
    expect(readFileSync(sysctl, 'utf8').trim()).toBe(before);
    void tp;
  });

  it('top rejects a bad --sort', async () => {
    const r = await cli('top', '--sort', 'speed', '--count', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--sort must be one of cpu, runs, avg, id, name/);
  });
});
