// Kernel feature probes (src/features/, `bpf-ts feature probe`) against
// `bpftool feature probe kernel` on the same kernel: every program type, map
// type, verifier feature, sysctl and config option bpftool reports must read
// the same. Helpers: Debian's bpftool (libbpf 1.1) only knows the verifier's
// older words for "not for this program type", so it lists helpers newer
// kernels refuse; every helper we list must be in its list, and every one it
// lists that we do not must have the kernel's refusal on record.
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { beforeAll, expect, it } from 'vitest';
import { loadObject } from '../../src/collection.js';
import { haveHelper, haveMapType, haveMiscFeatures, haveProgramType, helperProbe, probeKernel } from '../../src/features/probe.js';
import { bpfKernelConfig, bpfSysctls } from '../../src/features/system.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE, MAP_TYPE_NAMES, PROG_TYPE_NAMES } from '../../src/uapi/bpf.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { runUnprivileged } from '../helpers/unpriv.js';

interface Bpftool {
  programTypes: Map<string, boolean>;
  mapTypes: Map<string, boolean>;
  helpers: Map<string, string[]>;
  text: string;
}

function bpftoolProbe(): Bpftool {
  const text = execFileSync('bpftool', ['feature', 'probe', 'kernel'], { encoding: 'utf8' });
  const types = (kind: string) => new Map([...text.matchAll(new RegExp(`^eBPF ${kind} (\\w+) is (NOT )?available$`, 'gm'))].map((m) => [m[1]!, !m[2]] as const));
  const helpers = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const h = /^eBPF helpers supported for program type (\w+):$/.exec(line);
    if (h) helpers.set(h[1]!, (current = []));
    else if (current && line.startsWith('\t- ')) current.push(line.slice(3));
    else current = undefined;
  }
  return { programTypes: types('program_type'), mapTypes: types('map_type'), helpers, text };
}

describeRoot('feature probes against bpftool feature probe', () => {
  let tool: Bpftool;
  beforeAll(() => {
    tool = bpftoolProbe();
  });

  it('every program type and map type bpftool knows reads the same', () => {
    expect(tool.programTypes.size).toBeGreaterThan(25);
    expect(tool.mapTypes.size).toBeGreaterThan(25);
    const k = probeKernel();
    for (const [name, available] of tool.programTypes) expect(k.programTypes[name], `program type ${name}`).toBe(available);
    for (const [name, available] of tool.mapTypes) expect(k.mapTypes[name], `map type ${name}`).toBe(available);
    expect(k.unknown).toEqual([]);
    // Types newer than this bpftool: named so a newer bpftool makes this list shrink, not pass silently.
    expect(Object.keys(k.programTypes).filter((n) => !tool.programTypes.has(n))).toEqual(['netfilter']);
    expect(Object.keys(k.mapTypes).filter((n) => !tool.mapTypes.has(n))).toEqual(['cgrp_storage', 'arena']);
    // Those checked by using them: an arena map is made.
    expect(k.mapTypes.arena).toBe(true);
    BpfMap.create({ name: 'probe_arena', type: BPF_MAP_TYPE.ARENA, keySize: 0, valueSize: 0, maxEntries: 1, flags: 1 << 10 }).close();
    // This kernel refuses BPF trampolines to root too: tracing, ext and lsm are no, as bpftool says, not unknown.
    expect([k.programTypes.tracing, k.programTypes.ext, k.programTypes.lsm]).toEqual([tool.programTypes.get('tracing'), tool.programTypes.get('ext'), tool.programTypes.get('lsm')]);
  });

  it('verifier features as bpftool words them; ISA v4 by the kernel version (6.6)', () => {
    const m = haveMiscFeatures();
    const said = (phrase: string) => new RegExp(`^${phrase} is available$`, 'm').test(tool.text);
    expect(m.largeInsnLimit).toBe(said('Large program size limit'));
    expect(m.boundedLoops).toBe(said('Bounded loop support'));
    expect(m.isaV2).toBe(said('ISA extension v2'));
    expect(m.isaV3).toBe(said('ISA extension v3'));
    const [major, minor] = release().split('.').map(Number) as [number, number];
    expect(m.isaV4).toBe(major > 6 || (major === 6 && minor >= 6));
  });

  it('sysctls and kernel config as bpftool reports them', () => {
    const s = bpfSysctls();
    const disabled = {
      0: /^bpf\(\) syscall for unprivileged users is enabled$/m,
      1: /^bpf\(\) syscall restricted to privileged users \(without recovery\)$/m,
      2: /^bpf\(\) syscall restricted to privileged users \(admin can change\)$/m,
    };
    expect(tool.text).toMatch(disabled[s.unprivilegedBpfDisabled as 0 | 1 | 2]);
    expect(tool.text).toMatch(s.jitEnable === 0 ? /^JIT compiler is disabled$/m : /^JIT compiler is enabled/m);
    expect(tool.text).toMatch(s.jitHarden === 0 ? /^JIT compiler hardening is disabled$/m : /^JIT compiler hardening is enabled/m);
    expect(tool.text).toContain(`Global memory limit for JIT compiler for unprivileged users is ${s.jitLimit} bytes`);
    const c = bpfKernelConfig();
    expect(c.path).not.toBeNull();
    let compared = 0;
    for (const [, name, value] of tool.text.matchAll(/^(CONFIG_\w+) is (?:set to (\S+)|not set)$/gm)) {
      if (!(name! in c.options)) continue;
      expect(c.options[name!], name).toBe(value ?? null);
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('helpers: ours within bpftool’s; each of its extras refused by the kernel for this program type', () => {
    for (const type of ['socket_filter', 'xdp', 'sched_cls', 'cgroup_skb']) {
      const theirs = tool.helpers.get(type)!;
      expect(theirs.length, type).toBeGreaterThan(30);
      const ours = theirs.filter((h) => haveHelper(type as 'xdp', h));
      for (const h of theirs.filter((x) => !ours.includes(x))) expect(helperProbe(type as 'xdp', h).because, `${type} ${h}`).toMatch(new RegExp(`^program of this type cannot use helper ${h}#\\d+$`));
      expect(ours.length, type).toBeGreaterThan(20);
    }
    // What the fixtures call loads, so the probe must say yes to it; a helper id the kernel does not have is a no.
    loadObject(fixture('socket_filter.o')).close();
    expect(haveHelper('socket_filter', 'bpf_skb_load_bytes_relative')).toBe(true);
    loadObject(fixture('xsk_redirect.o')).close();
    expect(haveHelper('xdp', 'bpf_redirect_map')).toBe(true);
    expect(helperProbe('xdp', 250)).toEqual({ available: false, because: 'invalid func unknown#250' });
    expect(haveHelper('socket_filter', 'bpf_xdp_adjust_head')).toBe(false);
  });

  it('refusals: unknown names, types helpers cannot be probed from', () => {
    expect(thrown(() => haveProgramType('nope' as 'xdp')).message).toMatch(/^unknown program type nope \(known: socket_filter, kprobe, /);
    expect(thrown(() => haveMapType(999)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => haveHelper('xdp', 'bpf_no_such_helper')).message).toBe('unknown helper bpf_no_such_helper');
    expect(thrown(() => haveHelper('tracing', 1)).message).toBe('helpers cannot be probed from tracing programs: they do not load without an attach target');
  });

  it('bpf-ts feature probe: the same answers as text and --json; --helpers adds the lists', async () => {
    const j = (await cliOk('feature', 'probe', '--json')).json();
    const k = probeKernel();
    expect(j.programTypes).toEqual(k.programTypes);
    expect(j.mapTypes).toEqual(k.mapTypes);
    expect(j.misc).toEqual(k.misc);
    expect(j.sysctls).toEqual(bpfSysctls());
    expect(j.helpers).toBeUndefined();
    const text = (await cliOk('feature', 'probe')).stdout;
    const n = Object.values(k.programTypes).filter((v) => v).length;
    expect(text).toContain(`program types: ${n} of ${Object.keys(k.programTypes).length} available`);
    expect(text).toMatch(/^xdp +yes$/m);
    expect(text).toMatch(/^CONFIG_BPF_SYSCALL +y$/m);
    const h = (await cliOk('feature', 'probe', '--helpers', '--json')).json();
    expect(h.helpers.xdp).toContain('bpf_redirect_map');
    expect(h.helpers.xdp).not.toContain('bpf_skb_store_bytes');
    expect(Object.keys(h.helpers)).not.toContain('tracing');
    expect((await cli('feature')).stderr).toBe('bpf-ts: feature needs the sub-command probe (usage: bpf-ts feature probe [--helpers] [--json])\n');
  });

  it('as uid 65534: nothing without CAP_BPF (an error naming it); with CAP_BPF alone, the network and tracing types unknown and named', async () => {
    const none = await runUnprivileged(['feature', 'probe', '--json'], []);
    expect(none.code).toBe(1);
    // Every program type, every map type and the verifier features: all refused.
    const probes = PROG_TYPE_NAMES.length - 1 + MAP_TYPE_NAMES.length - 1 + 1;
    expect(none.stderr).toBe(
      `bpf-ts: feature probe: ${probes} probes were refused for want of CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON (program type socket_filter, program type kprobe, program type sched_cls, …): run as root or grant them\n`,
    );
    const bpf = await runUnprivileged(['feature', 'probe', '--json'], ['bpf']);
    expect(bpf.code, bpf.stderr).toBe(0);
    const j = bpf.json();
    expect(j.programTypes.socket_filter).toBe(true);
    expect(j.programTypes.xdp).toBeNull();
    expect(j.programTypes.kprobe).toBeNull();
    expect(j.mapTypes.hash).toBe(true);
    expect(j.unknown).toContainEqual({ feature: 'program type xdp', needs: ['CAP_NET_ADMIN'] });
    expect(j.unknown).toContainEqual({ feature: 'program type kprobe', needs: ['CAP_PERFMON'] });
    expect(bpf.stderr).toMatch(/^bpf-ts: warning: \d+ probes were refused for want of CAP_NET_ADMIN, CAP_PERFMON \(.*\): they show as unknown\n$/);
    const all = (await runUnprivileged(['feature', 'probe', '--json'], ['bpf', 'net_admin', 'perfmon'])).json();
    expect(all.programTypes).toEqual(probeKernel().programTypes);
    expect(all.unknown).toEqual([]);
  });
});
