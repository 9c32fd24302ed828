// Loading fixtures into the kernel and running them with BPF_PROG_TEST_RUN.
// Expected verdicts and counts come from the C sources in bpf/ and the
// frames built here, never from our own output.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadObject, openObject } from '../../src/collection.js';
import { BpfError, VerifierError } from '../../src/errors.js';
import type { BpfMap, MapValue } from '../../src/maps/map.js';
import { mapIds, progIds } from '../../src/sys/ids.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../src/uapi/bpf.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { icmpEcho, ipv4, ipv6Stub, udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

function sum(v: MapValue | undefined): bigint {
  if (v === undefined) throw new Error('missing map entry');
  const list = Array.isArray(v) ? v : [v];
  return list.reduce((a, b) => a + b.readBigUInt64LE(0), 0n);
}

/** The counter at `key`, summed over CPUs for per-CPU maps. */
function sumAt(m: BpfMap, key: number): bigint {
  return sum(m.perCpu ? m.getPerCpu(key) : m.get(key));
}

// Objects that are not meant to load as a whole: section-name samples with
// tracing programs that need attach targets, and deliberately broken ones;
// tracing.o and trace_args.o, whose fentry/fexit/lsm programs need BPF
// trampolines some kernels refuse (test/tracing and test/vm/trace.test.ts load
// the others on their own).
// section_table has a program for every section name (some need targets or
// kernel features); kfunc_missing fails by design; externs' typed ksym needs
// CONFIG_KALLSYMS_ALL. Their own tests are test/kernel/{sections,externs}.test.ts.
const NOT_LOADABLE = new Set([
  'sections.o',
  'broken_verifier.o',
  'core_missing.o',
  'section_table.o',
  'kfunc_missing.o',
  'externs.o',
  'sized_maps.o',
  'tcp_cc.o',
  'tcp_cc_link.o',
  'struct_ops_deferred.o',
  'struct_ops_optional_link.o',
  'freplace_ext.o',
  'tracing.o',
  'trace_args.o',
]);
// tcp_cc registers a TCP congestion control under a fixed name: struct-ops.test.ts loads it under unique names.
// struct_ops_deferred implements bpf_dummy_ops, which the kernel does not register: struct-ops.test.ts loads it without.
// struct_ops_optional_link's one map is created only when asked for (SEC("?.struct_ops.link")): struct-ops.test.ts.
// sized_maps leaves a map's size to the loader: test/kernel/map-sizing.test.ts sizes it.

describeRoot('loading fixtures into the kernel', () => {
  const objects = readdirSync('fixtures').filter((f) => /^[a-z_0-9]+\.o$/.test(f) && !NOT_LOADABLE.has(f));

  it('covers the fixtures it should', () => {
    expect(objects).toEqual(
      expect.arrayContaining([
        'drop_all.o',
        'icmp_even_drop.o',
        'tc_shared_map.o',
        'goebpf_protocount.o',
        'single_source_filter.o',
        'lpm_blocklist.o',
        'globals.o',
        'subprogs.o',
        'tailcall.o',
        'map_in_map.o',
        'ringbuf.o',
        'sockops_redir.o',
        'syn_reporter.o',
        'icmp_reflector.o',
      ]),
    );
  });

  for (const f of objects) {
    for (const variant of ['', '.clang14']) {
      const file = `fixtures/${f.replace(/\.o$/, variant + '.o')}`;
      it(`${file}: every map is created and every program accepted`, () => {
        const spec = openObject(file);
        using c = spec.load({ programType: 'xdp', ignorePinning: true });
        expect(c.btfError).toBeNull();
        expect([...c.maps.keys()].sort()).toEqual(spec.maps.map((m) => m.name).sort());
        for (const m of spec.maps) {
          const info = c.map(m.name).info();
          expect(info.type).toBe(m.type);
          if (m.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY && m.maxEntries === 0) expect(info.maxEntries).toBe(possibleCpus());
          else if (m.type === BPF_MAP_TYPE.RINGBUF) expect(info.maxEntries).toBe(pagesPowerOfTwo(m.maxEntries));
          else expect(info.maxEntries).toBe(m.maxEntries);
          if (m.type !== BPF_MAP_TYPE.RINGBUF) {
            expect(info.keySize).toBe(m.keySize);
            expect(info.valueSize).toBe(m.valueSize);
          }
        }
        // SEC("?…") programs (autoload off) are skipped unless asked for by name.
        const loaded = spec.programs.filter((p) => p.autoload !== false);
        expect([...c.programs.keys()].sort()).toEqual(loaded.map((p) => p.name).sort());
        expect(c.skipped.map((p) => p.name).sort()).toEqual(
          spec.programs
            .filter((p) => p.autoload === false)
            .map((p) => p.name)
            .sort(),
        );
        for (const p of loaded) {
          const info = c.program(p.name).info();
          expect(info.type).toBe(p.type ?? BPF_PROG_TYPE.XDP);
          expect(info.name).toBe(p.name.slice(0, 15));
          expect(info.id).toBeGreaterThan(0);
        }
      });
    }
  }
});

/** A ring buffer's size in the kernel: a power-of-two number of pages, the smallest at or above the declared bytes. */
function pagesPowerOfTwo(bytes: number): number {
  const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  let size = page;
  while (size < bytes) size *= 2;
  return size;
}

describeRoot('test-run verdicts', () => {
  it('icmp_even_drop: even sequence numbers are dropped, odd pass, counters exact', () => {
    using c = loadObject('fixtures/icmp_even_drop.o');
    const p = c.program('xdp_even_drop');
    const counters = c.map('counters');
    for (let seq = 1; seq <= 10; seq++) {
      const r = p.testRun(icmpEcho({ seq }));
      expect(r.retval).toBe(seq % 2 === 0 ? XDP_DROP : XDP_PASS);
      expect(r.verdict).toBe(seq % 2 === 0 ? 'XDP_DROP' : 'XDP_PASS');
    }
    // Echo replies and non-ICMP are not counted.
    expect(p.testRun(icmpEcho({ seq: 4, type: 0 })).retval).toBe(XDP_PASS);
    expect(p.testRun(udp({ dport: 53 })).retval).toBe(XDP_PASS);
    expect(p.testRun(ipv6Stub()).retval).toBe(XDP_PASS);
    expect(sum(counters.getPerCpu(0))).toBe(5n);
    expect(sum(counters.getPerCpu(1))).toBe(5n);
    // repeat runs the program N times: the drop counter grows by exactly N.
    p.testRun(icmpEcho({ seq: 100 }), { repeat: 37 });
    expect(sum(counters.getPerCpu(1))).toBe(5n + 37n);
    const perCpu = counters.getPerCpu(1)!;
    expect(perCpu).toHaveLength(possibleCpus());
  });

  it('drop_all in section "prog" loads as XDP when asked and drops everything', () => {
    expect(() => loadObject('fixtures/drop_all.o', { programs: ['xdp_drop'] })).toThrow(/does not say which program type/);
    using c = loadObject('fixtures/drop_all.o', { programType: 'xdp' });
    expect(c.program('xdp_drop').testRun(icmpEcho({ seq: 1 })).verdict).toBe('XDP_DROP');
    expect(c.program('xdp_drop').testRun(udp({ dport: 1 })).retval).toBe(XDP_DROP);
  });

  it('single_source_filter drops a source only after it is written to the map', () => {
    using c = loadObject('fixtures/single_source_filter.o');
    const p = c.program('xdp_filter');
    const frame = icmpEcho({ seq: 1, src: '192.0.2.7' });
    expect(p.testRun(frame).retval).toBe(XDP_PASS);
    expect(sumAt(c.map('drop_count'), 0)).toBe(0n);
    // Key: the IPv4 source address as it sits in the packet (network order).
    c.map('blocked_src').set(ipv4('192.0.2.7'), 1);
    expect(p.testRun(frame).retval).toBe(XDP_DROP);
    expect(p.testRun(icmpEcho({ seq: 1, src: '192.0.2.8' })).retval).toBe(XDP_PASS);
    p.testRun(frame, { repeat: 9 });
    expect(sumAt(c.map('drop_count'), 0)).toBe(10n);
  });

  it('lpm_blocklist: a /24 blocks its addresses and no others', () => {
    using c = loadObject('fixtures/lpm_blocklist.o');
    const p = c.program('xdp_blocklist');
    const key = Buffer.alloc(8);
    key.writeUInt32LE(24, 0); // prefixlen, host order
    ipv4('198.51.100.0').copy(key, 4); // address, network order
    c.map('blocklist').set(key, 0n);
    expect(p.testRun(icmpEcho({ seq: 1, src: '198.51.100.77' })).retval).toBe(XDP_DROP);
    expect(p.testRun(icmpEcho({ seq: 1, src: '198.51.100.1' })).retval).toBe(XDP_DROP);
    expect(p.testRun(icmpEcho({ seq: 1, src: '198.51.101.1' })).retval).toBe(XDP_PASS);
    expect(sumAt(c.map('drops'), 0)).toBe(2n);
    expect(c.map('blocklist').get(key)!.readBigUInt64LE(0)).toBe(2n);
  });

  it('goebpf_protocount counts IPv4 packets per protocol on each CPU', () => {
    using c = loadObject('fixtures/goebpf_protocount.o');
    const p = c.program('packet_count');
    p.testRun(icmpEcho({ seq: 1 }), { repeat: 3 });
    p.testRun(udp({ dport: 9 }), { repeat: 2 });
    expect(sumAt(c.map('protocols'), 1)).toBe(3n); // IPPROTO_ICMP
    expect(sumAt(c.map('protocols'), 17)).toBe(2n); // IPPROTO_UDP
    expect(sumAt(c.map('protocols'), 6)).toBe(0n);
  });

  it('subprograms: static, global and callback calls return what the C says', () => {
    using c = loadObject('fixtures/subprogs.o');
    const frame = udp({ dport: 1 });
    expect(c.program('xdp_a').testRun(frame).retval).toBe(XDP_PASS); // add_one(1)
    expect(c.program('xdp_b').testRun(frame).retval).toBe(XDP_TX); // add_one(mul_two(1))
    expect(c.program('xdp_c').testRun(frame).retval).toBe(XDP_DROP);
    expect(c.program('xdp_loop').testRun(frame).retval).toBe(XDP_PASS); // 0+1+2+3 == 6
  });

  it('tail calls through a prog array filled from the object declaration', () => {
    using c = loadObject('fixtures/tailcall.o');
    expect(c.map('jmp_table').get(1)).toBeDefined();
    expect(c.program('xdp_entry').testRun(udp({ dport: 1 })).retval).toBe(XDP_DROP);
  });

  it('map in map: the outer slot holds inner_a, which the program increments', () => {
    using c = loadObject('fixtures/map_in_map.o');
    c.program('xdp_mim').testRun(udp({ dport: 1 }), { repeat: 4 });
    expect(c.map('inner_a').get(0)!.readUInt32LE(0)).toBe(4);
  });

  it('globals: .rodata set before load changes behaviour, .data keeps its initial value, .rodata is frozen', () => {
    const frame = udp({ dport: 9 });
    using plain = loadObject('fixtures/globals.o');
    expect(plain.program('xdp_globals').testRun(frame).retval).toBe(XDP_PASS);
    const data = plain.map('.data').get(0)!;
    // seen_total starts at 7 and the program adds one per run.
    expect(data.readBigUInt64LE(0)).toBe(8n);
    expect(() => plain.map('.rodata').set(0, Buffer.alloc(plain.map('.rodata').valueSize))).toThrow(/EPERM/);

    const spec = openObject('fixtures/globals.o');
    spec.setGlobal('drop_port', 9);
    using configured = spec.load();
    expect(configured.program('xdp_globals').testRun(frame).retval).toBe(XDP_DROP);
    expect(configured.program('xdp_globals').testRun(udp({ dport: 10 })).retval).toBe(XDP_PASS);
    expect(() => spec.setGlobal('no_such_global', 1)).toThrow(/no global variable named no_such_global/);
    expect(() => spec.setGlobal('verbose', 300)).toThrow(/does not fit/);
  });

  it('a program the verifier rejects fails with the log and the C source line', () => {
    let err: unknown;
    try {
      loadObject('fixtures/broken_verifier.o');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toBeInstanceOf(VerifierError);
    const e = err as VerifierError;
    expect(e.code).toBe('VERIFIER');
    expect(e.name).toBe('VerifierError');
    expect(e.log).toMatch(/invalid access to packet/);
    expect(e.instruction).toBeGreaterThanOrEqual(0);
    expect(e.log).toContain(`${e.instruction}: (`);
    expect(e.message).toMatch(/^fixtures\/broken_verifier\.o: xdp program xdp_oob rejected by the verifier/);
    const src = readFileSync('bpf/broken_verifier.c', 'utf8').split('\n');
    const badLine = src.findIndex((l) => l.includes('VERIFIER REJECTS THIS LINE')) + 1;
    expect(e.sourceLine?.line).toBe(badLine);
    expect(e.message).toContain(`broken_verifier.c:${badLine}`);
    expect(e.details).toMatch(/invalid access to packet/);
  });

  it('a big-endian object is refused with a clear message', () => {
    expect(() => loadObject('fixtures/drop_all.bpfeb.o', { programType: 'xdp' })).toThrow(/big-endian BPF/);
  });
});

describeRoot('pinning declared by objects', () => {
  let fs: { path: string; unmount(): void };
  beforeAll(() => {
    fs = mountBpffs();
  });
  afterAll(() => fs.unmount());

  it('iproute2 PIN_GLOBAL_NS pins at tc/globals/<name> and a second load reuses it', () => {
    const first = loadObject('fixtures/tc_shared_map.o', { bpffs: fs.path });
    const pinned = `${fs.path}/tc/globals/acc_map`;
    expect(first.createdPins).toEqual([pinned]);
    const id = first.map('acc_map').id;
    first.map('acc_map').set(0, 1234n);
    first.close();
    using second = loadObject('fixtures/tc_shared_map.o', { bpffs: fs.path });
    expect(second.reusedPins.has('acc_map')).toBe(true);
    expect(second.map('acc_map').id).toBe(id);
    expect(second.map('acc_map').get(0)!.readBigUInt64LE(0)).toBe(1234n);
  });

  it('--pin-maps style pinning refuses to overwrite an existing pin', () => {
    const dir = `${fs.path}/pm`;
    const c = loadObject('fixtures/icmp_even_drop.o', { pinMaps: dir });
    c.close();
    expect(() => loadObject('fixtures/icmp_even_drop.o', { pinMaps: dir })).toThrow(expect.objectContaining({ code: 'PIN_EXISTS' }));
  });
});

describeRoot('ownership: nothing leaks', () => {
  const fdCount = () => readdirSync('/proc/self/fd').length;

  it('1,000 open/load/close cycles leave fds and kernel objects as they were', async () => {
    const spec = openObject('fixtures/icmp_even_drop.o');
    // Warm up: koffi and lazy module state open their own fds once.
    spec.load().close();
    const fds = fdCount();
    // Other engineers load programs at the same time: follow only the ids this loop made.
    const ourProgs: number[] = [];
    const ourMaps: number[] = [];
    for (let i = 0; i < 1000; i++) {
      using c = spec.load();
      expect(c.programs.size).toBe(1);
      for (const p of c.programs.values()) ourProgs.push(p.id);
      for (const m of c.maps.values()) ourMaps.push(m.id);
    }
    // At most as many: kernel files share a worker, and another file's dropped
    // object may be finalized meanwhile. A leaked program or map fd keeps its
    // kernel object alive, which the id check below catches.
    expect(fdCount()).toBeLessThanOrEqual(fds);
    expect(ourProgs).toHaveLength(1000);
    // The kernel frees programs and maps after an RCU grace period: wait for
    // it (the bound only stops a real leak from hanging the run).
    const deadline = Date.now() + 60_000;
    let leftProgs: number[] = [];
    let leftMaps: number[] = [];
    do {
      const progsNow = new Set(progIds());
      const mapsNow = new Set(mapIds());
      leftProgs = ourProgs.filter((id) => progsNow.has(id));
      leftMaps = ourMaps.filter((id) => mapsNow.has(id));
      if (leftProgs.length === 0 && leftMaps.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(leftProgs).toEqual([]);
    expect(leftMaps).toEqual([]);
  }, 180_000);
});
