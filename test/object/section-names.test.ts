// Section names: every row of bpf-ts's table (libbpf 1.x, libbpf 0.x, older
// loaders) checked against libbpf's own answer (libbpf_prog_type_by_name from
// the system libbpf.so.1) where that libbpf knows the name, and every
// program of bpf/section_table.c parsed with the type its section says.
// The kernel's verdict on the same types is in test/kernel/sections.test.ts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseObject } from '../../src/object/object.js';
import { SECTION_DEFS, sectionDef, sectionKind } from '../../src/object/section-names.js';
import { BPF_ATTACH_TYPE as A, BPF_F_SLEEPABLE, BPF_PROG_TYPE as P } from '../../src/uapi/bpf.js';
import { libbpfAvailable, libbpfSectionType } from '../helpers/libbpf-oracle.js';
import { FIXTURES } from '../helpers/oracle.js';

/** Names a row matches: "name" for exact rows, "name" and "name/target" for "+", "name/target" for "/", the prefix plus a suffix for prefix rows. */
function examples(pattern: string, origin: string): string[] {
  if (pattern.endsWith('+')) return [pattern.slice(0, -1), pattern.slice(0, -1) + '/some_target'];
  if (pattern.endsWith('/')) return [pattern + 'some_target'];
  if (origin !== 'libbpf') return [pattern + '_old_style'];
  return [pattern];
}

const CI = process.env.CI === 'true';
const haveLibbpf = libbpfAvailable();

describe('section table', () => {
  it('libbpf.so.1 is there to compare with', () => {
    if (CI) expect(haveLibbpf, 'libbpf.so.1 missing: .ci/run installs libbpf1').toBe(true);
  });

  // A test per row: each of its example names maps to the row, and libbpf agrees when it knows the name.
  it.each(SECTION_DEFS.map((d) => [d.pattern, d.origin, d] as const))('%s (%s)', (_p, origin, d) => {
    for (const name of examples(d.pattern, origin)) {
      // A prefix row may be shadowed by an earlier one for this particular spelling; the row it lands on must agree on type.
      const k = sectionKind(name);
      const row = sectionDef(name);
      expect(row, name).not.toBeNull();
      if (origin === 'libbpf') expect(row, name).toBe(d);
      expect(k.type, name).toBe(row!.type);
      expect(k.expectedAttachType, name).toBe(row!.attach);
      expect(k.progFlags, name).toBe(row!.flags);
      if (name.endsWith('/some_target') && d.pattern.endsWith('+')) expect(k.attachTarget, name).toBe('some_target');
      if (!haveLibbpf || origin !== 'libbpf') continue;
      const lb = libbpfSectionType(name);
      // libbpf 1.1 predates some rows (tcx, netkit, unix sockets, uprobe.multi, sessions): it does not know them.
      if (lb === 'unknown') continue;
      expect({ type: k.type, attach: k.expectedAttachType ?? 0 }, `${name}: libbpf says`).toEqual(lb);
    }
  });

  it('libbpf 1.x knows most rows (the oracle really answered)', () => {
    if (!haveLibbpf) return;
    const known = SECTION_DEFS.filter(
      (d) =>
        d.origin === 'libbpf' &&
        examples(d.pattern, d.origin)
          .slice(0, 1)
          .some((e) => libbpfSectionType(e) !== 'unknown'),
    );
    expect(known.length).toBeGreaterThan(80);
  });

  it.each([
    // libbpf 1.x refuses these (it prints "failed to guess program type"); bpf-ts follows libbpf 0.x
    ['xdp_devmap/egress', P.XDP, A.XDP_DEVMAP],
    ['xdp_cpumap/egress', P.XDP, A.XDP_CPUMAP],
    ['sk_lookup/dispatch', P.SK_LOOKUP, A.SK_LOOKUP],
    ['xdp_redirect', P.XDP, A.XDP],
    ['socket1', P.SOCKET_FILTER, null],
    ['cgroup_skb/ingress_v2', P.CGROUP_SKB, A.CGROUP_INET_INGRESS],
    // iproute2 / bpf_load.c
    ['ingress', P.SCHED_CLS, null],
    ['egress', P.SCHED_CLS, null],
    ['tc_cls', P.SCHED_CLS, null],
  ] as const)('old name %s', (name, type, attach) => {
    if (haveLibbpf) expect(libbpfSectionType(name)).toBe('unknown');
    const k = sectionKind(name);
    expect([k.type, k.expectedAttachType]).toEqual([type, attach]);
  });

  it.each(['prog', 'license', 'maps', '.text', '', 'my_program', 'fentry', 'xd'])('%s says no type', (name) => {
    if (name === 'fentry') {
      // libbpf 1.x knows bare "fentry" (SEC_ATTACH_BTF without target fails later, at load).
      expect(sectionKind(name).type).toBe(P.TRACING);
      return;
    }
    expect(sectionKind(name).type).toBeNull();
    if (haveLibbpf && name) expect(libbpfSectionType(name)).toBe('unknown');
  });
});

const progName = (section: string) => 's_' + section.replace(/[^A-Za-z0-9]/g, '_');
const SOURCE = readFileSync(join(FIXTURES, '../bpf/section_table.c'), 'utf8');
const SECTIONS = [...SOURCE.matchAll(/^P\("([^"]+)", (\w+), -?\d+\)$/gm)].map(([, section = '']) => section);

describe.each(['section_table.o', 'section_table.clang14.o', 'section_table.clang19.o'])('%s', (file) => {
  const obj = parseObject(new Uint8Array(readFileSync(join(FIXTURES, file))), file);
  it('has one program per P(...) line of the source', () => {
    expect(SECTIONS.length).toBeGreaterThan(120);
    expect(obj.programs.map((p) => p.section).sort()).toEqual([...SECTIONS].sort());
  });
  it.each(SECTIONS)('%s', (section) => {
    const p = obj.programs.find((x) => x.name === progName(section))!;
    expect(p.section).toBe(section);
    const k = sectionKind(section);
    expect({ type: p.type, attach: p.expectedAttachType, flags: p.progFlags, target: p.attachTarget }).toEqual({
      type: k.type,
      attach: k.expectedAttachType,
      flags: k.progFlags,
      target: k.attachTarget,
    });
    if (haveLibbpf && sectionDef(section)?.origin === 'libbpf') {
      const lb = libbpfSectionType(section);
      if (lb !== 'unknown') expect({ type: p.type, attach: p.expectedAttachType ?? 0 }).toEqual(lb);
    }
  });
  it('sleepable sections carry BPF_F_SLEEPABLE', () => {
    const sleepable = obj.programs.filter((p) => /\.s(\/|$)/.test(p.section) || p.section === 'syscall');
    expect(sleepable.length).toBeGreaterThan(15);
    for (const p of sleepable) expect(p.progFlags & BPF_F_SLEEPABLE, p.section).toBe(BPF_F_SLEEPABLE);
  });
  it('my_program has no type', () => {
    expect(obj.programs.find((p) => p.section === 'my_program')!.type).toBeNull();
  });
});
