// The cleanup registry of src/cli/lifecycle.ts, in-process (no signals, no
// process exit: those are tested on the real CLI in exit-paths.test.ts), and
// the rule deciding when `run` falls back from a bpf_link to netlink.
import { afterEach, describe, expect, it } from 'vitest';
import { linksUnavailable } from '../../src/cli/foreground-xdp.js';
import { CLOSED_PIPE_EXIT_CODE, guard, pendingCleanups, runCleanups, signalExitCode } from '../../src/cli/lifecycle.js';
import { run } from '../../src/cli/main.js';
import { BpfError } from '../../src/errors.js';
import * as cmd from '../../src/sys/bpf-cmd.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';

describe('cli lifecycle: cleanup registry', () => {
  afterEach(() => {
    runCleanups('done');
  });

  it('a guard runs once, with the reason of whichever path came first', () => {
    const seen: string[] = [];
    const g = guard('t', (r) => seen.push(r));
    expect(pendingCleanups()).toBe(1);
    g.release('duration');
    g.release('error');
    runCleanups('SIGINT');
    expect(seen).toEqual(['duration']);
    expect(pendingCleanups()).toBe(0);
  });

  it('runCleanups runs the newest first, and keeps going after one fails', () => {
    const seen: string[] = [];
    guard('first', () => seen.push('first'));
    guard('broken', () => {
      throw new Error('no such device');
    });
    guard('last', (r) => seen.push(`last:${r}`));
    const report: string[] = [];
    expect(runCleanups('SIGHUP', (l) => report.push(l))).toBe(false);
    expect(seen).toEqual(['last:SIGHUP', 'first']);
    expect(report).toEqual(['bpf-ts: cleanup (broken) failed: no such device']);
    expect(runCleanups('SIGHUP')).toBe(true);
  });

  it('`using` releases with reason "done"', () => {
    const seen: string[] = [];
    {
      using _g = guard('scoped', (r) => seen.push(r));
    }
    expect(seen).toEqual(['done']);
  });

  it('exit codes: 128 + signal number', () => {
    expect([signalExitCode('SIGHUP'), signalExitCode('SIGINT'), signalExitCode('SIGQUIT'), signalExitCode('SIGTERM')]).toEqual([129, 130, 131, 143]);
    expect(CLOSED_PIPE_EXIT_CODE).toBe(141);
  });

  it('a command that throws has its cleanups run before the error is reported (main.ts)', async () => {
    const seen: string[] = [];
    guard('left by a command', (r) => seen.push(r));
    let stderr = '';
    // An unknown command throws inside run(): the same catch every command's error goes through.
    const code = await run(['no-such-command'], { out: () => undefined, err: (s) => (stderr += s) });
    expect(code).toBe(1);
    expect(seen).toEqual(['error']);
    expect(stderr).toMatch(/^bpf-ts: unknown command/);
  });
});

describe('run: when a bpf_link is unavailable', () => {
  it('falls back to netlink only for "this kernel has no XDP links" errnos', () => {
    for (const errno of [22, 95, 524, 38]) expect(linksUnavailable(new BpfSyscallError(cmd.BPF_LINK_CREATE, errno))).toBe(true);
    // Busy hook, permissions, missing device: real problems, reported as they are.
    for (const errno of [16, 17, 1, 19]) expect(linksUnavailable(new BpfSyscallError(cmd.BPF_LINK_CREATE, errno))).toBe(false);
    expect(linksUnavailable(new BpfError('ALREADY_ATTACHED', 'x'))).toBe(false);
  });
});
