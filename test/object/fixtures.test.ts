// parseObject on each fixture, checked against what its C source (bpf/*.c)
// says. Every expected value below was written by hand from the source and
// the kernel UAPI (numbers as in include/uapi/linux/bpf.h), not taken from
// our own output. Each expectation applies to every build variant present
// (clang-19 bpfel, bpfeb, clang-14).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseObject } from '../../src/object/object.js';
import { sectionKind } from '../../src/object/section-names.js';
import type { BpfObjectFile, MapSpec, ProgramSpec } from '../../src/object/types.js';
import { type Fixture, functions, listFixtures, parseReadelf, sectionBytes } from '../helpers/oracle.js';

// enum bpf_map_type
const MAP = { HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_ARRAY: 6, LPM_TRIE: 11, ARRAY_OF_MAPS: 12, DEVMAP: 14, SOCKHASH: 18, RINGBUF: 27 };
// enum bpf_prog_type
const PROG = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  LWT_IN: 10,
  SOCK_OPS: 13,
  SK_SKB: 14,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  FLOW_DISSECTOR: 22,
  TRACING: 26,
  SYSCALL: 31,
};
// enum bpf_attach_type
const ATTACH = {
  CGROUP_INET_EGRESS: 1,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_VERDICT: 5,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_CONNECT: 10,
  FLOW_DISSECTOR: 17,
  TRACE_FENTRY: 24,
  XDP_DEVMAP: 33,
  XDP: 37,
  TCX_INGRESS: 46,
};
const BPF_F_NO_PREALLOC = 1;
const BPF_F_RDONLY_PROG = 1 << 7;
const BPF_F_SLEEPABLE = 1 << 4;
const BPF_F_XDP_HAS_FRAGS = 1 << 5;
// enum bpf_func_id
const BPF_FUNC_map_lookup_elem = 1;
const BPF_FUNC_loop = 181;
// enum bpf_core_relo_kind
const CORE = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
};

interface ProgExpect {
  name: string;
  section: string;
  type: number | null;
}
type MapExpect = Pick<MapSpec, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'pinning' | 'style'>;

const xdp = (name: string, section = 'xdp'): ProgExpect => ({ name, section, type: PROG.XDP });
const map = (name: string, type: number, keySize: number, valueSize: number, maxEntries: number, style: MapSpec['style'], flags = 0, pinning: MapSpec['pinning'] = 'none'): MapExpect => ({
  name,
  type,
  keySize,
  valueSize,
  maxEntries,
  flags,
  pinning,
  style,
});

// From bpf/*.c. Data maps only list what the source fixes (size, style);
// their flags are checked separately.
const EXPECT: Record<string, { programs: ProgExpect[]; maps: (MapExpect | { name: string; style: 'data'; valueSize: number })[] }> = {
  broken_verifier: { programs: [xdp('xdp_oob')], maps: [] },
  core_echo_dropper: { programs: [xdp('xdp_drop_echo_reply')], maps: [map('reply_drops', MAP.ARRAY, 4, 8, 1, 'btf')] },
  core_missing: {
    programs: [{ name: 'read_missing', section: 'raw_tracepoint/sys_enter', type: PROG.RAW_TRACEPOINT }],
    maps: [map('out', MAP.ARRAY, 4, 8, 1, 'btf')],
  },
  core_reads: {
    programs: [{ name: 'core_reads', section: 'raw_tracepoint/sys_enter', type: PROG.RAW_TRACEPOINT }],
    maps: [map('results', MAP.ARRAY, 4, 8, 16, 'btf')],
  },
  drop_all: { programs: [{ name: 'xdp_drop', section: 'prog', type: null }], maps: [] },
  globals: {
    programs: [xdp('xdp_globals')],
    // drop_port (u32) + verbose (u8) = 5; seen_total (u64) = 8; hits[4] (u64) = 32
    maps: [
      { name: '.rodata', style: 'data', valueSize: 5 },
      { name: '.data', style: 'data', valueSize: 8 },
      { name: '.bss', style: 'data', valueSize: 32 },
    ],
  },
  goebpf_protocount: { programs: [xdp('packet_count')], maps: [map('protocols', MAP.PERCPU_ARRAY, 4, 8, 255, 'legacy')] },
  icmp_even_drop: { programs: [xdp('xdp_even_drop')], maps: [map('counters', MAP.PERCPU_ARRAY, 4, 8, 2, 'btf')] },
  icmp_reflector: { programs: [xdp('xdp_fib_redirect'), xdp('xdp_pass')], maps: [map('tx_ports', MAP.DEVMAP, 4, 4, 256, 'btf')] },
  lpm_blocklist: {
    programs: [xdp('xdp_blocklist')],
    // struct ipv4_lpm_key is two u32s
    maps: [map('blocklist', MAP.LPM_TRIE, 8, 8, 1024, 'btf', BPF_F_NO_PREALLOC), map('drops', MAP.PERCPU_ARRAY, 4, 8, 1, 'btf')],
  },
  // BPF_F_MMAPABLE = 1 << 10
  mmap_array: { programs: [xdp('xdp_mmap_count')], maps: [map('counters', MAP.ARRAY, 4, 8, 8, 'btf', 1 << 10)] },
  // struct counter { struct bpf_spin_lock lock; __u32 packets; __u64 bytes; }: 16 bytes.
  spin_lock: { programs: [xdp('xdp_locked_count')], maps: [map('locked', MAP.ARRAY, 4, 16, 4, 'btf')] },
  map_in_map: {
    programs: [xdp('xdp_mim')],
    // outer's value is a map fd: 4 bytes
    maps: [map('inner_arr', MAP.ARRAY, 4, 4, 1, 'btf'), map('inner_a', MAP.ARRAY, 4, 4, 1, 'btf'), map('outer', MAP.ARRAY_OF_MAPS, 4, 4, 2, 'btf')],
  },
  ringbuf: {
    programs: [xdp('xdp_ringbuf')],
    // ring buffers have no key or value; max_entries is the size in bytes
    maps: [map('events', MAP.RINGBUF, 0, 0, 4096 * 64, 'btf'), { name: '.bss', style: 'data', valueSize: 8 }],
  },
  single_source_filter: {
    programs: [xdp('xdp_filter', 'xdp_ip_filter')],
    maps: [map('blocked_src', MAP.HASH, 4, 4, 64, 'legacy'), map('drop_count', MAP.PERCPU_ARRAY, 4, 8, 1, 'legacy')],
  },
  sockops_redir: {
    programs: [
      { name: 'bpf_sockmap', section: 'sockops', type: PROG.SOCK_OPS },
      { name: 'bpf_redir', section: 'sk_msg', type: PROG.SK_MSG },
    ],
    // struct sock_key: four u32s
    maps: [map('sock_map', MAP.SOCKHASH, 16, 4, 65535, 'btf')],
  },
  subprogs: { programs: [xdp('xdp_a'), xdp('xdp_b'), xdp('xdp_c'), xdp('xdp_loop')], maps: [] },
  syn_reporter: { programs: [xdp('xdp_syn')], maps: [map('syn_events', MAP.PERF_EVENT_ARRAY, 4, 4, 0, 'legacy')] },
  tailcall: { programs: [xdp('xdp_entry'), xdp('tail_drop')], maps: [map('jmp_table', MAP.PROG_ARRAY, 4, 4, 4, 'btf')] },
  tc_shared_map: {
    programs: [
      { name: 'tc_ingress', section: 'ingress', type: PROG.SCHED_CLS },
      { name: 'tc_egress', section: 'egress', type: PROG.SCHED_CLS },
    ],
    maps: [map('acc_map', MAP.ARRAY, 4, 8, 2, 'iproute2', 0, 'global')],
  },
};

// bpf/sections.c: one trivial program per section name; names are "prog_" + section with / and . -> _.
// [section, prog type, expected attach type, prog flags, attach target]
const SECTIONS_C: [string, number, number | null, number, string | undefined][] = [
  ['xdp.frags', PROG.XDP, ATTACH.XDP, BPF_F_XDP_HAS_FRAGS, undefined],
  ['xdp/devmap', PROG.XDP, ATTACH.XDP_DEVMAP, 0, undefined],
  ['tc', PROG.SCHED_CLS, null, 0, undefined],
  ['classifier', PROG.SCHED_CLS, null, 0, undefined],
  ['tcx/ingress', PROG.SCHED_CLS, ATTACH.TCX_INGRESS, 0, undefined],
  ['socket', PROG.SOCKET_FILTER, null, 0, undefined],
  ['cgroup/skb', PROG.CGROUP_SKB, null, 0, undefined],
  ['cgroup_skb/egress', PROG.CGROUP_SKB, ATTACH.CGROUP_INET_EGRESS, 0, undefined],
  ['cgroup/connect4', PROG.CGROUP_SOCK_ADDR, ATTACH.CGROUP_INET4_CONNECT, 0, undefined],
  ['kprobe/do_unlinkat', PROG.KPROBE, null, 0, 'do_unlinkat'],
  ['kretprobe/do_unlinkat', PROG.KPROBE, null, 0, 'do_unlinkat'],
  ['tracepoint/syscalls/sys_enter_openat', PROG.TRACEPOINT, null, 0, 'syscalls/sys_enter_openat'],
  ['raw_tracepoint/sys_enter', PROG.RAW_TRACEPOINT, null, 0, 'sys_enter'],
  ['fentry/do_unlinkat', PROG.TRACING, ATTACH.TRACE_FENTRY, 0, 'do_unlinkat'],
  ['sk_skb/stream_verdict', PROG.SK_SKB, ATTACH.SK_SKB_STREAM_VERDICT, 0, undefined],
  ['sockops', PROG.SOCK_OPS, ATTACH.CGROUP_SOCK_OPS, 0, undefined],
  ['sk_msg', PROG.SK_MSG, ATTACH.SK_MSG_VERDICT, 0, undefined],
  ['perf_event', PROG.PERF_EVENT, null, 0, undefined],
  ['lwt_in', PROG.LWT_IN, null, 0, undefined],
  ['flow_dissector', PROG.FLOW_DISSECTOR, ATTACH.FLOW_DISSECTOR, 0, undefined],
  ['syscall', PROG.SYSCALL, null, BPF_F_SLEEPABLE, undefined],
];
const progNameOf = (section: string) => 'prog_' + section.replace(/[/.]/g, '_');

const ALL = listFixtures();
const variantsOf = (base: string): Fixture[] => ALL.filter((f) => f.base === base);
const load = (f: Fixture): BpfObjectFile => parseObject(new Uint8Array(readFileSync(f.path)), f.file);
const prog = (obj: BpfObjectFile, name: string): ProgramSpec => {
  const p = obj.programs.find((x) => x.name === name);
  if (!p) throw new Error(`no program ${name} in ${obj.path}`);
  return p;
};
const mapOf = (obj: BpfObjectFile, name: string): MapSpec => {
  const m = obj.maps.find((x) => x.name === name);
  if (!m) throw new Error(`no map ${name} in ${obj.path}`);
  return m;
};

/** Decode instruction i of a program's stream. */
function insn(p: ProgramSpec, le: boolean, i: number) {
  const dv = new DataView(p.instructions.buffer, p.instructions.byteOffset, p.instructions.byteLength);
  const regs = p.instructions[i * 8 + 1]!;
  return {
    code: p.instructions[i * 8]!,
    src: le ? regs >> 4 : regs & 0xf,
    imm: dv.getInt32(i * 8 + 4, le),
  };
}

/** Indices of instructions with opcode `code` (skipping ld_imm64 second slots). */
function findInsns(p: ProgramSpec, le: boolean, code: number, src?: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.instructions.length / 8; i++) {
    const x = insn(p, le, i);
    if (x.code === code && (src === undefined || x.src === src)) out.push(i);
    if (x.code === 0x18) i++;
  }
  return out;
}

describe('every fixture source has expectations', () => {
  it('covers the fixtures present', () => {
    const bases = [...new Set(ALL.map((f) => f.base))];
    expect(bases.length).toBeGreaterThan(10);
    // New fixtures may appear; the ones this file knows must be there.
    for (const b of Object.keys(EXPECT)) expect(bases, b).toContain(b);
  });
});

describe.each(Object.keys(EXPECT).flatMap((b) => variantsOf(b)))('$file (from bpf/$base.c)', (fx) => {
  const want = EXPECT[fx.base]!;
  const obj = load(fx);

  it('has the license GPL', () => {
    expect(obj.license).toBe('GPL');
  });

  it('has the programs the source defines', () => {
    const got = obj.programs.map((p) => ({ name: p.name, section: p.section, type: p.type })).sort((a, b) => a.name.localeCompare(b.name));
    expect(got).toEqual([...want.programs].sort((a, b) => a.name.localeCompare(b.name)));
  });

  it('has the maps the source defines', () => {
    expect(obj.maps.map((m) => m.name).sort()).toEqual(want.maps.map((m) => m.name).sort());
    for (const m of want.maps) expect(mapOf(obj, m.name), m.name).toMatchObject(m);
  });
});

describe.each(variantsOf('drop_all'))('drop_all: $file', (fx) => {
  const obj = load(fx);
  it('leaves the type of an iproute2 "prog" section to the caller', () => {
    const p = prog(obj, 'xdp_drop');
    expect(p.type).toBeNull();
    expect(p.expectedAttachType).toBeNull();
    expect(p.progFlags).toBe(0);
    expect(p.relocations).toEqual([]);
    // return XDP_DROP: r0 = 1; exit
    expect(p.ownInstructionCount).toBe(2);
    expect(insn(p, obj.littleEndian, 0)).toMatchObject({ code: 0xb7, imm: 1 });
    expect(insn(p, obj.littleEndian, 1).code).toBe(0x95);
  });
});

describe.each(variantsOf('tc_shared_map'))('tc_shared_map: $file', (fx) => {
  const obj = load(fx);
  it('reads acc_map as an iproute2 bpf_elf_map pinned in the global namespace', () => {
    const m = mapOf(obj, 'acc_map');
    expect(m).toMatchObject({ type: MAP.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, pinning: 'global', style: 'iproute2', section: 'maps' });
    expect(m.iproute2).toEqual({ id: 0, innerId: 0, innerIdx: 0 });
  });
  it('has both programs use acc_map through a map_fd relocation and call helper 1 by number', () => {
    for (const name of ['tc_ingress', 'tc_egress']) {
      const p = prog(obj, name);
      expect(p.relocations.map((r) => ({ kind: r.kind, map: 'map' in r ? r.map : undefined }))).toEqual([{ kind: 'map_fd', map: 'acc_map' }]);
      const calls = findInsns(p, obj.littleEndian, 0x85).map((i) => insn(p, obj.littleEndian, i));
      expect(calls).toContainEqual({ code: 0x85, src: 0, imm: BPF_FUNC_map_lookup_elem });
    }
  });
});

describe.each(variantsOf('goebpf_protocount'))('goebpf_protocount: $file', (fx) => {
  const obj = load(fx);
  it('reads the 280-byte goebpf definition', () => {
    const o = parseReadelf(readFileSync(fx.readelfPath, 'utf8'));
    expect(o.symbols.find((s) => s.name === 'protocols')!.size).toBe(280);
    expect(mapOf(obj, 'protocols')).toMatchObject({ type: MAP.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 255, flags: 0, pinning: 'none', style: 'legacy' });
    expect(prog(obj, 'packet_count').relocations).toMatchObject([{ kind: 'map_fd', map: 'protocols' }]);
  });
});

describe.each(variantsOf('single_source_filter'))('single_source_filter: $file', (fx) => {
  const obj = load(fx);
  it('infers XDP from the bpf_load.c-style section xdp_ip_filter', () => {
    expect(prog(obj, 'xdp_filter')).toMatchObject({ section: 'xdp_ip_filter', type: PROG.XDP });
  });
  it('reads two 20-byte bpf_map_def entries', () => {
    expect(prog(obj, 'xdp_filter').relocations.map((r) => ('map' in r ? r.map : r.symbol))).toEqual(['blocked_src', 'drop_count']);
  });
});

describe.each(variantsOf('globals'))('globals: $file', (fx) => {
  const obj = load(fx);
  const le = obj.littleEndian;
  it('makes .rodata a frozen, program-read-only map holding drop_port and verbose', () => {
    const m = mapOf(obj, '.rodata');
    expect(m).toMatchObject({ type: MAP.ARRAY, keySize: 4, valueSize: 5, maxEntries: 1, style: 'data', freeze: true });
    expect(m.flags & BPF_F_RDONLY_PROG).toBe(BPF_F_RDONLY_PROG);
    expect(m.variables!.map((v) => ({ name: v.name, offset: v.offset, size: v.size }))).toEqual([
      { name: 'drop_port', offset: 0, size: 4 },
      { name: 'verbose', offset: 4, size: 1 },
    ]);
    expect(Array.from(m.initialValue!)).toEqual([0, 0, 0, 0, 0]);
  });
  it('makes .data a writable map whose initial value has seen_total = 7', () => {
    const m = mapOf(obj, '.data');
    expect(m).toMatchObject({ type: MAP.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, freeze: false });
    expect(m.flags & BPF_F_RDONLY_PROG).toBe(0);
    expect(m.variables!.map((v) => ({ name: v.name, offset: v.offset, size: v.size }))).toEqual([{ name: 'seen_total', offset: 0, size: 8 }]);
    const dv = new DataView(m.initialValue!.buffer, m.initialValue!.byteOffset, 8);
    expect(dv.getBigUint64(0, le)).toBe(7n);
  });
  it('makes .bss a zeroed map holding hits[4]', () => {
    const m = mapOf(obj, '.bss');
    expect(m).toMatchObject({ type: MAP.ARRAY, keySize: 4, valueSize: 32, maxEntries: 1, freeze: false });
    expect(m.flags & BPF_F_RDONLY_PROG).toBe(0);
    expect(m.variables!.map((v) => ({ name: v.name, offset: v.offset, size: v.size }))).toEqual([{ name: 'hits', offset: 0, size: 32 }]);
    expect(m.initialValue!.length).toBe(32);
    expect(m.initialValue!.every((b) => b === 0)).toBe(true);
  });
  it('points each variable access at its map and offset', () => {
    const p = prog(obj, 'xdp_globals');
    const got = new Set(p.relocations.map((r) => (r.kind === 'map_value' ? `${r.map}+${r.offset}` : `${r.kind}`)));
    // &hits (hits[1] is reached by an instruction offset from it), &seen_total, &drop_port, &verbose
    expect([...got].sort()).toEqual(['.bss+0', '.data+0', '.rodata+0', '.rodata+4']);
    for (const r of p.relocations) expect(p.instructions[r.insnIndex * 8], `insn ${r.insnIndex}`).toBe(0x18);
  });
});

describe.each(variantsOf('ringbuf'))('ringbuf: $file', (fx) => {
  const obj = load(fx);
  it('has a 256 KiB ring buffer and seq_counter in .bss', () => {
    expect(mapOf(obj, 'events')).toMatchObject({ type: MAP.RINGBUF, maxEntries: 262144 });
    expect(mapOf(obj, '.bss').variables!.map((v) => ({ name: v.name, offset: v.offset, size: v.size }))).toEqual([{ name: 'seq_counter', offset: 0, size: 8 }]);
    const rel = prog(obj, 'xdp_ringbuf').relocations.map((r) => (r.kind === 'map_value' ? `${r.map}+${r.offset}` : r.kind === 'map_fd' ? r.map : r.symbol));
    expect(rel.sort()).toEqual(['.bss+0', 'events']);
  });
});

describe.each(variantsOf('syn_reporter'))('syn_reporter: $file', (fx) => {
  const obj = load(fx);
  it('keeps max_entries 0 for the perf event array (the loader fills in the CPU count)', () => {
    expect(mapOf(obj, 'syn_events')).toMatchObject({ type: MAP.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0, style: 'legacy' });
  });
});

describe.each(variantsOf('sockops_redir'))('sockops_redir: $file', (fx) => {
  const obj = load(fx);
  it('infers sock_ops and sk_msg with their attach types', () => {
    expect(prog(obj, 'bpf_sockmap')).toMatchObject({ type: PROG.SOCK_OPS, expectedAttachType: ATTACH.CGROUP_SOCK_OPS });
    expect(prog(obj, 'bpf_redir')).toMatchObject({ type: PROG.SK_MSG, expectedAttachType: ATTACH.SK_MSG_VERDICT });
    for (const name of ['bpf_sockmap', 'bpf_redir']) expect(prog(obj, name).relocations).toMatchObject([{ kind: 'map_fd', map: 'sock_map' }]);
  });
});

describe.each(variantsOf('tailcall'))('tailcall: $file', (fx) => {
  const obj = load(fx);
  it('declares tail_drop in slot 1 of jmp_table', () => {
    expect(mapOf(obj, 'jmp_table').contents).toEqual([{ key: 1, target: 'tail_drop', kind: 'program' }]);
    expect(prog(obj, 'xdp_entry').relocations).toMatchObject([{ kind: 'map_fd', map: 'jmp_table' }]);
    expect(prog(obj, 'tail_drop').relocations).toEqual([]);
  });
});

describe.each(variantsOf('map_in_map'))('map_in_map: $file', (fx) => {
  const obj = load(fx);
  it('gives outer an inner map template and inner_a in slot 0', () => {
    const outer = mapOf(obj, 'outer');
    expect(outer.innerMap).toMatchObject({ type: MAP.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(outer.contents).toEqual([{ key: 0, target: 'inner_a', kind: 'map' }]);
    expect(mapOf(obj, 'inner_a').contents).toBeUndefined();
    expect(prog(obj, 'xdp_mim').relocations).toMatchObject([{ kind: 'map_fd', map: 'outer' }]);
  });
});

describe.each(variantsOf('lpm_blocklist'))('lpm_blocklist: $file', (fx) => {
  const obj = load(fx);
  it('reads map_flags BPF_F_NO_PREALLOC and the struct key size from BTF', () => {
    const m = mapOf(obj, 'blocklist');
    expect(m.flags).toBe(BPF_F_NO_PREALLOC);
    expect(obj.btf!.typeById(m.btfKeyTypeId).name).toBe('ipv4_lpm_key');
  });
});

describe.each(variantsOf('core_missing'))('core_missing: $file', (fx) => {
  const obj = load(fx);
  it('carries the CO-RE relocation against task_struct___missing', () => {
    const p = prog(obj, 'read_missing');
    expect(p.attachTarget).toBe('sys_enter');
    const names = p.coreRelocations.map((r) => obj.btf!.typeById(r.typeId).name);
    expect(names).toContain('task_struct___missing');
    for (const r of p.coreRelocations) expect(r.insnOff).toBeLessThan(p.instructions.length / 8);
  });
});

describe.each(variantsOf('core_reads'))('core_reads: $file', (fx) => {
  const obj = load(fx);
  it('carries one CO-RE relocation of every kind the source uses', () => {
    const kinds = new Set(prog(obj, 'core_reads').coreRelocations.map((r) => r.kind));
    for (const k of Object.values(CORE)) expect(kinds, `kind ${k}`).toContain(k);
    const names = new Set(prog(obj, 'core_reads').coreRelocations.map((r) => obj.btf!.typeById(r.typeId).name));
    for (const n of ['task_struct', 'task_struct___local', 'type_not_in_any_kernel___local', 'iphdr', 'bpf_map_type']) expect(names, n).toContain(n);
  });
});

describe.each(variantsOf('core_echo_dropper'))('core_echo_dropper: $file', (fx) => {
  const obj = load(fx);
  it('has CO-RE field relocations for the header accesses', () => {
    const p = prog(obj, 'xdp_drop_echo_reply');
    const names = new Set(p.coreRelocations.map((r) => obj.btf!.typeById(r.typeId).name));
    for (const n of ['ethhdr', 'iphdr', 'icmphdr']) expect(names, n).toContain(n);
  });
});

describe.each(variantsOf('subprogs'))('subprogs: $file', (fx) => {
  const obj = load(fx);
  const le = obj.littleEndian;
  const file = new Uint8Array(readFileSync(fx.path));
  const o = parseReadelf(readFileSync(fx.readelfPath, 'utf8'));
  const fn = (name: string) => functions(o).find((f) => f.name === name)!;
  /** A function's bytes as the file has them (located through readelf). */
  const bytesOf = (name: string) => {
    const f = fn(name);
    return sectionBytes(file, f.section).subarray(f.value, f.value + f.size);
  };
  const size = (name: string) => fn(name).size / 8;
  const BPF_PSEUDO_CALL = 1;
  const BPF_PSEUDO_FUNC = 4;

  it('finds the four programs of the shared xdp section, and none in .text', () => {
    expect(obj.programs.map((p) => p.name).sort()).toEqual(['xdp_a', 'xdp_b', 'xdp_c', 'xdp_loop']);
    for (const p of obj.programs) expect(p.section).toBe('xdp');
  });

  it('appends add_one to xdp_a and points the call at the copy', () => {
    const p = prog(obj, 'xdp_a');
    const own = p.ownInstructionCount;
    expect(own).toBe(size('xdp_a'));
    expect(p.instructions.length / 8).toBe(own + size('add_one'));
    expect(Array.from(p.instructions.subarray(own * 8))).toEqual(Array.from(bytesOf('add_one')));
    const calls = findInsns(p, le, 0x85, BPF_PSEUDO_CALL);
    expect(calls).toHaveLength(1);
    const c = calls[0]!;
    expect(c + insn(p, le, c).imm + 1).toBe(own);
  });

  it('appends add_one and mul_two to xdp_b, each call reaching its own copy', () => {
    const p = prog(obj, 'xdp_b');
    const own = p.ownInstructionCount;
    expect(p.instructions.length / 8).toBe(own + size('add_one') + size('mul_two'));
    const targets = findInsns(p, le, 0x85, BPF_PSEUDO_CALL).map((i) => i + insn(p, le, i).imm + 1);
    expect(targets).toHaveLength(2);
    const copies = targets.map((t) => Array.from(p.instructions.subarray(t * 8, t * 8 + 24)));
    // add_one and mul_two are both three instructions long: compare the copies.
    expect(copies).toContainEqual(Array.from(bytesOf('add_one')));
    expect(copies).toContainEqual(Array.from(bytesOf('mul_two')));
    for (const t of targets) expect(t).toBeGreaterThanOrEqual(own);
  });

  it('leaves xdp_c alone', () => {
    const p = prog(obj, 'xdp_c');
    expect(p.instructions.length / 8).toBe(p.ownInstructionCount);
    expect(findInsns(p, le, 0x85, BPF_PSEUDO_CALL)).toEqual([]);
  });

  it('turns the bpf_loop callback into a BPF_PSEUDO_FUNC ld_imm64 aimed at the appended sum_index', () => {
    const p = prog(obj, 'xdp_loop');
    const own = p.ownInstructionCount;
    expect(p.instructions.length / 8).toBe(own + size('sum_index'));
    const funcs = findInsns(p, le, 0x18, BPF_PSEUDO_FUNC);
    expect(funcs).toHaveLength(1);
    const i = funcs[0]!;
    expect(i + insn(p, le, i).imm + 1).toBe(own);
    expect(Array.from(p.instructions.subarray(own * 8))).toEqual(Array.from(bytesOf('sum_index')));
    // bpf_loop itself stays a helper call.
    expect(findInsns(p, le, 0x85).map((j) => insn(p, le, j))).toContainEqual({ code: 0x85, src: 0, imm: BPF_FUNC_loop });
  });

  it('re-bases func_info onto the appended copies', () => {
    const p = prog(obj, 'xdp_a');
    const fi = p.funcInfo.map((f) => ({ at: f.insnOff, name: obj.btf!.typeById(f.typeId).name })).sort((a, b) => a.at - b.at);
    expect(fi).toEqual([
      { at: 0, name: 'xdp_a' },
      { at: p.ownInstructionCount, name: 'add_one' },
    ]);
    for (const l of p.lineInfo) expect(l.insnOff).toBeLessThan(p.instructions.length / 8);
  });
});

describe.skipIf(variantsOf('sections').length === 0).each(variantsOf('sections'))('sections: $file', (fx) => {
  const obj = load(fx);
  it.each(SECTIONS_C)('%s', (section, type, attach, flags, target) => {
    const p = prog(obj, progNameOf(section));
    expect(p.section).toBe(section);
    expect({ type: p.type, expectedAttachType: p.expectedAttachType, progFlags: p.progFlags, attachTarget: p.attachTarget }).toEqual({
      type,
      expectedAttachType: attach,
      progFlags: flags,
      attachTarget: target,
    });
  });
  it('infers XDP for xdp_custom_name the way bpf_load.c matched any "xdp" prefix', () => {
    expect(prog(obj, 'prog_xdp_custom_name').type).toBe(PROG.XDP);
  });
  it('has a program for every section in the source', () => {
    expect(obj.programs).toHaveLength(SECTIONS_C.length + 1);
  });
});

describe('sectionKind', () => {
  it.each(SECTIONS_C)('%s (bpf/sections.c)', (section, type, attach, flags, target) => {
    expect(sectionKind(section)).toEqual({ type, expectedAttachType: attach, progFlags: flags, ...(target ? { attachTarget: target } : {}) });
  });

  // [section, prog type, attach type or undefined to skip, flags, target]
  const more: [string, number | null, number | null | undefined, number, string | undefined][] = [
    // names iproute2, bpf_load.c and goebpf used
    ['prog', null, null, 0, undefined],
    ['ingress', PROG.SCHED_CLS, null, 0, undefined],
    ['egress', PROG.SCHED_CLS, null, 0, undefined],
    ['classifier', PROG.SCHED_CLS, null, 0, undefined],
    ['xdp_ip_filter', PROG.XDP, undefined, 0, undefined],
    ['xdp', PROG.XDP, ATTACH.XDP, 0, undefined],
    ['kprobe/foo', PROG.KPROBE, null, 0, 'foo'],
    ['kretprobe/sys_write', PROG.KPROBE, null, 0, 'sys_write'],
    ['tracepoint/sched/sched_switch', PROG.TRACEPOINT, null, 0, 'sched/sched_switch'],
    ['tp/sched/sched_switch', PROG.TRACEPOINT, null, 0, 'sched/sched_switch'],
    ['raw_tp/sys_enter', PROG.RAW_TRACEPOINT, null, 0, 'sys_enter'],
    ['socket1', PROG.SOCKET_FILTER, undefined, 0, undefined],
    // libbpf names
    ['tc/ingress', PROG.SCHED_CLS, ATTACH.TCX_INGRESS, 0, undefined],
    ['tcx/egress', PROG.SCHED_CLS, 47, 0, undefined],
    ['xdp/cpumap', PROG.XDP, 35, 0, undefined],
    ['xdp.frags/devmap', PROG.XDP, ATTACH.XDP_DEVMAP, BPF_F_XDP_HAS_FRAGS, undefined],
    ['cgroup_skb/ingress', PROG.CGROUP_SKB, 0, 0, undefined],
    ['cgroup/sock_create', 9, 2, 0, undefined],
    ['cgroup/dev', 15, 6, 0, undefined],
    ['cgroup/sysctl', 23, 18, 0, undefined],
    ['cgroup/getsockopt', 25, 21, 0, undefined],
    ['sk_skb/stream_parser', PROG.SK_SKB, 4, 0, undefined],
    ['sk_lookup', 30, 36, 0, undefined],
    ['lsm/file_open', 29, 27, 0, 'file_open'],
    ['lsm.s/file_open', 29, 27, BPF_F_SLEEPABLE, 'file_open'],
    ['fexit/do_unlinkat', PROG.TRACING, 25, 0, 'do_unlinkat'],
    ['fentry.s/do_unlinkat', PROG.TRACING, ATTACH.TRACE_FENTRY, BPF_F_SLEEPABLE, 'do_unlinkat'],
    ['tp_btf/sched_switch', PROG.TRACING, 23, 0, 'sched_switch'],
    ['iter/task', PROG.TRACING, 28, 0, 'task'],
    ['uprobe.s/bin:func', PROG.KPROBE, null, BPF_F_SLEEPABLE, 'bin:func'],
    ['kprobe.multi/do_*', PROG.KPROBE, 42, 0, 'do_*'],
    ['netfilter', 32, 45, 0, undefined],
    ['struct_ops/dctcp_init', 27, null, 0, 'dctcp_init'],
    // not program sections
    ['license', null, null, 0, undefined],
    ['maps', null, null, 0, undefined],
    ['.text', null, null, 0, undefined],
    ['', null, null, 0, undefined],
    ['my_custom_section', null, null, 0, undefined],
  ];
  it.each(more)('%s', (section, type, attach, flags, target) => {
    const k = sectionKind(section);
    expect(k.type).toBe(type);
    if (attach !== undefined) expect(k.expectedAttachType).toBe(attach);
    expect(k.progFlags).toBe(flags);
    expect(k.attachTarget).toBe(target);
  });
});
