// What objects written for libbpf 1.x expect of their loader
// (bpf/libbpf_conventions.c; each convention was found by loading the
// kernel's BPF selftests with libbpf 1.5 and with bpf-ts side by side).
// Expected values come from outside bpf-ts: llvm-readelf and bpftool's dumps
// of the object (committed beside it), the kernel's map info and test-run
// verdicts, and the program tags libbpf 1.5 got for the same object.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfMap } from '../../src/maps/map.js';
import { structOpsKernel } from '../../src/struct-ops.js';
import type { MapSpec } from '../../src/object/types.js';
import { FIXTURES } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';

const VARIANTS = ['', '.clang14', '.clang19'];
const file = (v: string) => join(FIXTURES, `libbpf_conventions${v}.o`);

describe('libbpf conventions in the object (no kernel)', () => {
  it.each(VARIANTS)('libbpf_conventions%s.o: SEC("?xdp") is an xdp program loaded only when asked; __ulong() as libbpf 1.4 writes it', (v) => {
    // llvm-readelf names the section "?xdp"; libbpf reads it as "xdp" with autoload off.
    expect(readFileSync(join(FIXTURES, `libbpf_conventions${v}.readelf.txt`), 'utf8')).toMatch(/\] \?xdp\s+PROGBITS/);
    const spec = openObject(file(v));
    const optIn = spec.program('opt_in');
    expect([optIn.section, optIn.type, optIn.autoload]).toEqual(['xdp', 6, false]);
    expect(spec.program('flavored_kfunc').autoload).toBeUndefined();
    // bpftool: seen_ports's map_extra member is an ENUM whose one value is 3.
    expect(readFileSync(join(FIXTURES, `libbpf_conventions${v}.btf.txt`), 'utf8')).toMatch(/ENUM '\(anon\)' encoding=UNSIGNED size=4 vlen=1\n\t'__unique_value\w*' val=3\n/);
    expect(spec.map('seen_ports').spec.mapExtra).toBe(3n);
  });
});

describeRoot('libbpf conventions in the kernel', () => {
  // Tags libbpf 1.5 (built from Linux 6.12's tools/lib/bpf) gave the programs of
  // libbpf_conventions.o on this kernel (bpf_object__load, bpf_prog_get_info_by_fd);
  // Debian's bpftool 7.1 (libbpf 1.1) is too old to load the object.
  // flavored_kfunc's instructions hold a kernel BTF id, so its tag is checked by behaviour.
  const LIBBPF_TAGS: Record<string, string> = {
    hidden_fill: '6867f9d7e39c66a0',
    ring_len: '982baff624c4dbc2',
    storage_count: '1e870fe2ed4e376c',
    locked_inner: '91dfdaf4f64de505',
    add_args: 'd59845aa4a90867b',
    // Subprograms appended depth-first (first_a, leaf_c, second_b), as libbpf does.
    call_order: 'f70ec25af1db421d',
    // Its dead call of the unresolved kfunc carries 2002000000 + the extern's index in
    // libbpf's sorted table (3), not in the object's symbol order (2).
    flavor_mismatch: '2069b74dd13474c3',
  };

  it.each(VARIANTS)('libbpf_conventions%s.o loads whole, with the instructions libbpf gives the kernel', (v) => {
    using coll = openObject(file(v)).load();
    expect(coll.skipped.map((s) => s.name)).toEqual(['opt_in']);
    expect(coll.skipped[0]!.reason).toContain('SEC("?xdp")');
    for (const [name, tag] of Object.entries(LIBBPF_TAGS)) expect(coll.program(name).info().tag, name).toBe(tag);
    // The kernel's view of the maps: a ring buffer of one page (declared 1000 bytes),
    // socket storage with max_entries 0, the bloom filter's 3 hash functions.
    expect(coll.map('events').info().maxEntries).toBe(4096);
    expect(coll.map('bytes_per_socket').info().maxEntries).toBe(0);
    expect(coll.map('seen_ports').info().mapExtra).toBe(3n);
  });

  it('a __weak kfunc under a flavor name (bpf_dynptr_size___mine) is bpf_dynptr_size: the call runs', () => {
    using coll = openObject(file('')).load({ programs: ['flavored_kfunc'] });
    // XDP_DROP would mean the symbol read 0 (unresolved); XDP_PASS that bpf_dynptr_size returned > 0.
    expect(coll.program('flavored_kfunc').testRun(Buffer.alloc(64)).verdict).toBe('XDP_PASS');
  });

  it("a __weak kfunc under a flavor whose prototype is not the kernel's stays unresolved (libbpf's rule): the symbol reads 0", () => {
    using coll = openObject(file('')).load({ programs: ['flavor_mismatch'] });
    // XDP_DROP would mean bpf_dynptr_size___two_args was taken for bpf_dynptr_size despite its extra argument.
    expect(coll.program('flavor_mismatch').testRun(Buffer.alloc(64)).verdict).toBe('XDP_PASS');
  });

  it('a hidden global subprogram goes to the verifier as static: it writes through its unchecked pointer, and runs', () => {
    using coll = openObject(file('')).load({ programs: ['hidden_fill'] });
    const p = coll.program('hidden_fill');
    expect(p.testRun(Buffer.alloc(64)).verdict).toBe('XDP_PASS');
    expect(p.testRun(Buffer.alloc(60)).verdict).toBe('XDP_DROP');
  });

  it('bpf_throw: the exception callback (named by a BTF decl tag, called by nothing) is appended, and answers the throw', () => {
    using coll = openObject(file('')).load({ programs: ['throws'] });
    const p = coll.program('throws');
    expect(p.testRun(Buffer.alloc(64)).retval).toBe(1);
    // 200 bytes: bpf_throw(7); the callback returns cookie + 100.
    expect(p.testRun(Buffer.alloc(200)).retval).toBe(107);
  });

  it("an arena without map_extra is mmap'd before its programs load: they allocate its pages until it is full", () => {
    using coll = openObject(file('')).load({ programs: ['arena_page'] });
    const p = coll.program('arena_page');
    // max_entries 2: two pages, then bpf_arena_alloc_pages returns NULL.
    expect([1, 2, 3].map(() => p.testRun(new Uint8Array(0)).retval)).toEqual([1, 1, 0]);
  });

  it('SEC("?xdp"): loaded when asked for by name', () => {
    using coll = openObject(file('')).load({ programs: ['opt_in'] });
    expect(coll.program('opt_in').testRun(Buffer.alloc(64)).verdict).toBe('XDP_DROP');
  });

  it('a spin lock in a map-in-map inner value: the program loads and counts under it', () => {
    using coll = openObject(file('')).load({ programs: ['locked_inner'] });
    expect(coll.program('locked_inner').testRun(Buffer.alloc(64), { repeat: 3 }).retval).toBe(0);
    // The outer map's slot 0 holds the inner map's id; struct inner_value is { lock, count }.
    const innerId = coll.map('outer').get(0)!.readUInt32LE(0);
    using inner = BpfMap.fromId(innerId);
    expect(inner.get(0)!.readUInt32LE(4)).toBe(3);
  });

  it('a syscall program runs on its context only: retval, and the context it wrote back', () => {
    using coll = openObject(file('')).load({ programs: ['add_args'] });
    const ctx = Buffer.alloc(12);
    ctx.writeInt32LE(20, 0);
    ctx.writeInt32LE(22, 4);
    const r = coll.program('add_args').testRun(new Uint8Array(0), { ctx });
    expect(r.retval).toBe(40);
    expect(r.ctxOut!.readInt32LE(8)).toBe(42);
    expect(() => coll.program('add_args').testRun(Buffer.alloc(14))).toThrow(/runs on its context only/);
  });

  it('struct_ops under a flavor name (tcp_congestion_ops___mine) is the kernel struct tcp_congestion_ops', () => {
    const spec = { name: 'cc', structOps: { typeName: 'tcp_congestion_ops___mine', link: false, funcs: [] } } as unknown as MapSpec;
    const k = structOpsKernel(spec, 'test');
    expect(k.struct.name).toBe('tcp_congestion_ops');
    expect(k.value.name).toBe('bpf_struct_ops_tcp_congestion_ops');
  });
});
