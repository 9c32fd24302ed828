// Capability hints are computed: CapEff parsed from /proc, the capabilities a
// bpf() command needs on Linux 6.x, and a hint that never names a capability
// the caller already holds. No kernel objects are created here.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as cmd from '../../src/sys/bpf-cmd.js';
import { CAP, capBit, capEffFromStatus, capName, capNames, capsForCommand, capsHint, effectiveCaps, hasCap, missingCaps, type CapSet } from '../../src/sys/caps.js';
import { EACCES, EPERM } from '../../src/sys/errno.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { BpfSyscallError, syscallHint } from '../../src/sys/syscall-error.js';
import { BPF_PROG_TYPE } from '../../src/uapi/bpf.js';

const set = (...caps: number[]): CapSet => caps.reduce((s, c) => s | capBit(c), 0n);
const names = (needs: readonly (readonly number[])[]) => needs.map((n) => n.map(capName));

describe('CapEff', () => {
  it('parses the CapEff line of /proc/PID/status', () => {
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t0000008000001000\nCapEff:\t0000008000001000\nCapBnd:\t000001ffffffffff\n';
    const caps = capEffFromStatus(status)!;
    expect(caps).toBe(0x8000001000n);
    expect(capNames(caps)).toEqual(['CAP_NET_ADMIN', 'CAP_BPF']);
    expect(capEffFromStatus('Name:\tx\n')).toBeNull();
  });

  it('reads this process: the same set as the kernel shows in /proc/self/status', () => {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
    expect(effectiveCaps()).toBe(BigInt('0x' + line));
  });
});

describe('what each call needs (kernel/bpf/syscall.c, unprivileged_bpf_disabled set)', () => {
  it('program loads: CAP_BPF, plus CAP_NET_ADMIN for network types and CAP_PERFMON for tracing types', () => {
    expect(names(capsForCommand(cmd.BPF_PROG_LOAD, { progType: BPF_PROG_TYPE.XDP }, 2))).toEqual([
      ['CAP_BPF', 'CAP_SYS_ADMIN'],
      ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
    ]);
    expect(names(capsForCommand(cmd.BPF_PROG_LOAD, { progType: BPF_PROG_TYPE.KPROBE }, 2))).toEqual([
      ['CAP_BPF', 'CAP_SYS_ADMIN'],
      ['CAP_PERFMON', 'CAP_SYS_ADMIN'],
    ]);
    // With unprivileged BPF allowed, a socket filter needs nothing.
    expect(capsForCommand(cmd.BPF_PROG_LOAD, { progType: BPF_PROG_TYPE.SOCKET_FILTER }, 0)).toEqual([]);
  });

  it('map creation: hash needs CAP_BPF only while unprivileged BPF is disabled; sockmap also CAP_NET_ADMIN', () => {
    expect(capsForCommand(cmd.BPF_MAP_CREATE, { mapType: BPF_MAP_TYPE.HASH }, 0)).toEqual([]);
    expect(names(capsForCommand(cmd.BPF_MAP_CREATE, { mapType: BPF_MAP_TYPE.HASH }, 2))).toEqual([['CAP_BPF', 'CAP_SYS_ADMIN']]);
    expect(names(capsForCommand(cmd.BPF_MAP_CREATE, { mapType: BPF_MAP_TYPE.LPM_TRIE }, 0))).toEqual([['CAP_BPF', 'CAP_SYS_ADMIN']]);
    expect(names(capsForCommand(cmd.BPF_MAP_CREATE, { mapType: BPF_MAP_TYPE.SOCKMAP }, 2))).toEqual([
      ['CAP_BPF', 'CAP_SYS_ADMIN'],
      ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
    ]);
  });

  it('id walks and opening by id: CAP_SYS_ADMIN alone', () => {
    for (const c of [cmd.BPF_PROG_GET_NEXT_ID, cmd.BPF_MAP_GET_NEXT_ID, cmd.BPF_LINK_GET_NEXT_ID, cmd.BPF_MAP_GET_FD_BY_ID, cmd.BPF_LINK_GET_FD_BY_ID]) {
      expect(names(capsForCommand(c))).toEqual([['CAP_SYS_ADMIN']]);
    }
    // Element operations on an fd need no capability: EPERM there is about the fd.
    expect(capsForCommand(cmd.BPF_MAP_UPDATE_ELEM)).toEqual([]);
  });
});

describe('hints never ask for a capability the caller holds', () => {
  const pool = [CAP.BPF, CAP.NET_ADMIN, CAP.PERFMON, CAP.SYS_ADMIN, CAP.NET_RAW, CAP.DAC_OVERRIDE];
  const infos = [
    {},
    { progType: BPF_PROG_TYPE.XDP },
    { progType: BPF_PROG_TYPE.KPROBE },
    { progType: BPF_PROG_TYPE.SOCKET_FILTER },
    { mapType: BPF_MAP_TYPE.HASH },
    { mapType: BPF_MAP_TYPE.DEVMAP },
    { mapType: BPF_MAP_TYPE.LRU_HASH },
  ];

  it('for every command, call detail and subset of six capabilities', () => {
    let checked = 0;
    for (let mask = 0; mask < 1 << pool.length; mask++) {
      const caps = set(...pool.filter((_, i) => mask & (1 << i)));
      for (let command = 0; command <= 37; command++) {
        for (const info of infos) {
          for (const sysctl of [0, 2]) {
            const needs = capsForCommand(command, info, sysctl);
            const missing = missingCaps(needs, caps);
            for (const m of missing) expect(hasCap(caps, m), `${command} ${JSON.stringify(info)} caps=${caps.toString(16)} asks for ${capName(m)}`).toBe(false);
            const hint = capsHint(needs, 'OTHERWISE', caps);
            if (missing.length === 0) expect(hint).toBe('OTHERWISE');
            else for (const held of capNames(caps)) expect(hint).not.toContain(held);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(64 * 38 * infos.length * 2);
  });

  it('names the least-privileged capability of each unmet need, once', () => {
    const needs = capsForCommand(cmd.BPF_PROG_LOAD, { progType: BPF_PROG_TYPE.XDP }, 2);
    expect(missingCaps(needs, 0n).map(capName)).toEqual(['CAP_BPF', 'CAP_NET_ADMIN']);
    expect(missingCaps(needs, set(CAP.BPF)).map(capName)).toEqual(['CAP_NET_ADMIN']);
    // CAP_SYS_ADMIN covers both.
    expect(missingCaps(needs, set(CAP.SYS_ADMIN))).toEqual([]);
    expect(capsHint(needs, 'x', set(CAP.NET_ADMIN))).toMatch(/^needs CAP_BPF, which this process lacks/);
  });

  it('the EPERM hint of this very process names only capabilities it lacks', () => {
    const caps = effectiveCaps()!;
    const hint = syscallHint(cmd.BPF_PROG_LOAD, EPERM, { progType: BPF_PROG_TYPE.XDP });
    const asked = [...hint.matchAll(/CAP_[A-Z_]+/g)].map((m) => m[0]);
    for (const a of asked) expect(capNames(caps), `${hint}`).not.toContain(a);
    if (hasCap(caps, CAP.SYS_ADMIN)) expect(hint).toMatch(/has the capabilities this call needs/);
    // The old fixed text told root to get CAP_BPF and CAP_NET_ADMIN.
    expect(new BpfSyscallError(cmd.BPF_PROG_LOAD, EPERM, 'program x', { progType: BPF_PROG_TYPE.XDP }).message).toContain(hint);
  });

  it('EPERM on a map write is about the fd (read-only or frozen), not a capability', () => {
    expect(syscallHint(cmd.BPF_MAP_UPDATE_ELEM, EPERM)).toMatch(/frozen or opened read-only/);
    expect(syscallHint(cmd.BPF_MAP_UPDATE_ELEM, EPERM)).not.toMatch(/CAP_/);
  });

  it('EACCES on a pin names its owner and mode', () => {
    // A real file with a known owner and mode: the hint reads it with stat, as it does a pin.
    const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-hint-'));
    try {
      const file = join(dir, 'pin');
      writeFileSync(file, '');
      chmodSync(file, 0o640);
      const uid = process.getuid!();
      const hint = syscallHint(cmd.BPF_OBJ_GET, EACCES, { path: file });
      expect(hint).toMatch(new RegExp(`^${file} is owned by uid ${uid}\\b.*, mode 0640; this process runs as uid ${uid}\\b`));
      expect(syscallHint(cmd.BPF_OBJ_PIN, EACCES, { path: file })).toMatch(new RegExp(`^cannot create a pin in ${dir}, which is owned by uid ${uid}\\b.*mode 0700`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
