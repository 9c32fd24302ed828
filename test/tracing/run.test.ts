// `bpf-ts run OBJ` with no hook: auto-attach the tracing programs, count,
// detach on every way out (Ctrl-C, SIGHUP, SIGKILL), checked against bpftool.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { BpfLink } from '../../src/link/link.js';
import { BpfMap } from '../../src/maps/map.js';
import { BpfProgram } from '../../src/programs/program.js';
import { progInfo } from '../../src/sys/info.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { CliChild, cli, cliOk, ensureDist, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { startTraceChild, type TraceChild } from '../helpers/trace-child.js';
import { bpftoolList } from '../helpers/bpftool.js';
import { until } from '../helpers/wait.js';

interface ToolLink {
  id: number;
  prog_id: number;
}
const linkIds = (): Set<number> => new Set(bpftoolList<ToolLink>('link').map((l) => l.id));

/** Wait (bounded) until none of `ids` is in the kernel's link table. */
function gone(ids: number[], timeoutMs = 15_000): Promise<boolean> {
  return until(
    () => {
      const now = linkIds();
      return ids.every((id) => !now.has(id));
    },
    timeoutMs,
    50,
  );
}

describeRoot('run: tracing auto-attach', () => {
  let child: TraceChild;
  beforeAll(async () => {
    ensureDist();
    child = await startTraceChild();
  });
  afterAll(async () => {
    await child?.stop();
  });

  for (const sig of ['SIGINT', 'SIGHUP', 'SIGKILL'] as const) {
    it(`attaches tracepoint and raw_tp from their sections, counts, and ${sig} leaves nothing attached`, async () => {
      const run = new CliChild(['run', fixture('tracing.o'), '--json', '--interval', '60', '--set', `target_tgid=${child.pid}`, '--program', 'tp_getppid']);
      const run2 = new CliChild(['run', fixture('tracing.o'), '--json', '--interval', '60', '--set', `target_tgid=${child.pid}`, '--program', 'rawtp_sys_enter']);
      try {
        const a = JSON.parse((await run.waitForLine((l) => l.includes('"attached"'), 20_000)).line).attached;
        const b = JSON.parse((await run2.waitForLine((l) => l.includes('"attached"'), 20_000)).line).attached;
        expect(a).toMatchObject({ program: 'tp_getppid', target: 'tracepoint syscalls/sys_enter_getppid' });
        expect(b).toMatchObject({ program: 'rawtp_sys_enter', section: 'raw_tp/sys_enter' });
        const ids: number[] = [...a.linkIds, ...b.linkIds];
        const tool = linkIds();
        for (const id of ids) expect(tool.has(id)).toBe(true);
        await child.call('getppid', 21);
        run.child.kill(sig);
        run2.child.kill(sig);
        const [ea, eb] = await Promise.all([run.exited, run2.exited]);
        if (sig === 'SIGKILL') {
          expect(ea.signal).toBe('SIGKILL');
        } else {
          // 128 + the signal's number, as a shell reports it (lifecycle.ts).
          const code = sig === 'SIGINT' ? 130 : 129;
          expect(ea.code).toBe(code);
          expect(eb.code).toBe(code);
          // The last report has the final counts: slot 0 (tracepoint) and 1 (raw_tp).
          const last = (c: CliChild) => JSON.parse(c.lines.filter((l) => l.includes('"counters"')).at(-1)!).counters as { map: string; key: string; value: string }[];
          expect(last(run).find((r) => r.map === 'counts' && r.key === '0')!.value).toBe('21');
          expect(last(run2).find((r) => r.map === 'counts' && r.key === '1')!.value).toBe('21');
          expect(JSON.parse(run.lines.at(-1)!)).toEqual({ detached: true, reason: sig });
        }
        expect(await gone(ids)).toBe(true);
      } finally {
        await run.kill();
        await run2.kill();
      }
    });
  }

  it('a program the kernel cannot take is skipped with the reason; the others attach (fentry without trampolines)', async () => {
    const r = await cli('run', fixture('tracing.o'), '--json', '--duration', '0.5', '--interval', '60');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const attached = lines
      .filter((l) => l.attached)
      .map((l) => l.attached.program)
      .sort();
    const skipped = lines
      .filter((l) => l.skipped)
      .map((l) => l.skipped.name)
      .sort();
    expect(r.code).toBe(0);
    // Every program of the object is either attached or skipped with a reason.
    expect(attached.concat(skipped).sort()).toEqual([
      'fentry_getpgid',
      'fexit_getpgid',
      'iter_tasks',
      'lsm_file_open',
      'perf_sample',
      'rawtp_sys_enter',
      'tp_getppid',
      'tpbtf_sys_enter',
      'uprobe_abs',
      'uretprobe_abs',
    ]);
    expect(lines.find((l) => l.skipped?.name === 'iter_tasks').skipped.reason).toMatch(/bpf-ts iter/);
    for (const n of ['tp_getppid', 'rawtp_sys_enter', 'tpbtf_sys_enter', 'perf_sample']) expect(attached).toContain(n);
    // Plain "uprobe" sections name no binary: skipped with that reason.
    expect(lines.find((l) => l.skipped?.name === 'uprobe_abs').skipped.reason).toMatch(/names no target/);
    expect(lines.at(-1)).toEqual({ detached: true, reason: 'duration' });
  });

  it('an object with no tracing program says how to attach it', async () => {
    const r = await cli('run', fixture('drop_all.o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no program names a tracing target.*for XDP use --xdp IFACE/);
  });
});

describeRoot('load --pin-links / detach --links', () => {
  it('pins every attachable link, keeps counting after the command, and detach --links removes them all', async () => {
    const fs = mountBpffs();
    const child = await startTraceChild();
    try {
      const dir = `${fs.path}/trace`;
      const r = (await cliOk('load', fixture('tracing.o'), '--pin-links', dir, '--set', `target_tgid=${child.pid}`, '--json')).json();
      const names = (r.pinned as { program: string; path: string; linkId: number }[]).map((p) => p.path.slice(dir.length + 1));
      expect(names).toEqual(expect.arrayContaining(['tp_getppid', 'rawtp_sys_enter', 'tpbtf_sys_enter', 'perf_sample_0']));
      expect(execFileSync('ls', [dir]).toString().trim().split('\n').sort()).toEqual([...names].sort());
      const ids = (r.pinned as { linkId: number }[]).map((p) => p.linkId);
      for (const id of ids) expect(linkIds().has(id)).toBe(true);
      // The command has exited; the pinned links still count.
      using tp = BpfLink.fromPin(`${dir}/tp_getppid`);
      const prog = BpfProgram.fromId(tp.progId);
      const counts = progInfo(prog.fd.value, { mapIds: true })
        .mapIds.map((id) => BpfMap.fromId(id))
        .find((m) => m.name === 'counts')!;
      prog.close();
      await child.call('getppid', 11);
      const out = Buffer.alloc(8);
      counts.lookupInto(0, out);
      expect(out.readBigUInt64LE(0)).toBe(11n);
      tp.close();
      const d = (await cliOk('detach', '--links', dir, '--json')).json();
      expect((d.detached as { linkId: number }[]).map((x) => x.linkId).sort()).toEqual([...ids].sort());
      expect(d.left).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      expect(await gone(ids)).toBe(true);
      await child.call('getppid', 5);
      counts.lookupInto(0, out);
      expect(out.readBigUInt64LE(0)).toBe(11n);
      counts.close();
    } finally {
      await child.stop();
      fs.unmount();
    }
  });
});
