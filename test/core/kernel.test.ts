// CO-RE, BTF sanitising and typed maps against the running kernel (root).
// Expected values come from the C sources in bpf/, the frames built by
// test/helpers/packets.ts, and this process's own pid/ppid.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfCollection, BpfObjectSpec, loadObject, openObject } from '../../src/collection.js';
import { CoreRelocationError } from '../../src/errors.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { BtfBuilder } from '../helpers/btf-builder.js';
import { parseBtf } from '../../src/btf/btf.js';
import { type BtfFeatures, sanitizeBtf } from '../../src/btf/sanitize.js';
import { BPF_CORE_FIELD_BYTE_OFFSET, CoreResolver } from '../../src/object/core/index.js';
import type { ProgramSpec } from '../../src/object/types.js';
import { loadProgram } from '../../src/programs/load.js';
import { btfLoad } from '../../src/sys/btf-attr.js';
import { btfFeatures } from '../../src/btf/features.js';
import { btfFdById, btfInfo, kernelBtfById } from '../../src/btf/handle.js';
import * as cmd from '../../src/sys/bpf-cmd.js';
import { E2BIG } from '../../src/sys/errno.js';
import * as ffi from '../../src/sys/ffi.js';
import { Fd } from '../../src/sys/fd.js';
import { withBpfSyscall } from '../../src/sys/wrapper.js';
import { getNextId, GET_NEXT_ID } from '../../src/sys/obj-attr.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BPF_PROG_TYPE } from '../../src/uapi/bpf.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk } from '../helpers/cli.js';
import { programSpec } from '../helpers/program-spec.js';
import { icmpEcho, ipv4, udp } from '../helpers/packets.js';
import { rawTracepointTestRun } from '../helpers/raw-tp-run.js';
import { describeRoot } from '../helpers/root.js';
import { targetBtf } from '../helpers/target-btf.js';
import { thrown } from '../helpers/thrown.js';

const XDP_DROP = 1;
const XDP_PASS = 2;

describeRoot('CO-RE programs in the kernel', () => {
  for (const target of ['running kernel', 'committed 6.18 blob'] as const) {
    it(`core_echo_dropper (relocated against the ${target}) drops echo replies only, and counts them`, () => {
      using c = loadObject('fixtures/core_echo_dropper.o', target === 'running kernel' ? {} : { targetBtf: targetBtf() });
      const p = c.program('xdp_drop_echo_reply');
      expect(p.testRun(icmpEcho({ seq: 1, type: 0 })).retval).toBe(XDP_DROP);
      expect(p.testRun(icmpEcho({ seq: 2, type: 8 })).retval).toBe(XDP_PASS);
      expect(p.testRun(udp({ dport: 53 })).retval).toBe(XDP_PASS);
      p.testRun(icmpEcho({ seq: 3, type: 0 }), { repeat: 4 });
      const drops = c.typedMap<number, bigint>('reply_drops');
      expect(drops.get(0)).toBe(5n);
    });
  }

  for (const kernelCore of [true, false]) {
    it(`core_reads (relocated ${kernelCore ? 'by the kernel' : 'here'}) fills \`results\` with this process's pid/ppid and the values the source promises`, () => {
      using c = loadObject('fixtures/core_reads.o', { kernelCore });
      const p = c.program('core_reads');
      // ctx viewed as struct iphdr: byte 0 = 0x45 -> version 4, ihl 5.
      const ctx = new Uint8Array(16);
      ctx[0] = 0x45;
      expect(rawTracepointTestRun(p.fd.value, ctx)).toBe(0);
      const results = c.typedMap<number, bigint>('results');
      const slot = (i: number) => results.get(i);
      expect(slot(0)).toBe(BigInt(process.pid)); // group_leader->pid: the process's tgid
      expect(slot(1)).toBe(BigInt(process.ppid)); // real_parent->tgid
      expect(slot(2)).toBeGreaterThan(0n); // mm->map_count
      expect(slot(3)).toBe(1n); // field_exists(task->pid)
      expect(slot(4)).toBe(0n); // field_exists(a field only the local flavour has)
      expect(slot(5)).toBe(1n); // type_exists(struct bpf_map)
      expect(slot(6)).toBe(0n); // type_exists(a made-up type)
      expect(slot(7)).toBe(27n); // BPF_MAP_TYPE_RINGBUF (UAPI)
      expect(slot(8)).toBe(16n); // sizeof(task->comm) = TASK_COMM_LEN
      expect(slot(9)).toBe(0n); // in_execve: not inside execve
      expect(slot(10)).toBe(4n); // iphdr version
      expect(slot(11)).toBe(5n); // iphdr ihl
      expect(slot(12)).toBe(1n); // run counter
      expect(slot(13)).toBe(20n); // sizeof(struct iphdr)
      expect(slot(14)).toBe(1n); // enum_value_exists(BPF_MAP_TYPE_RINGBUF)
      // A zero context: both bitfields read 0, the counter moves on.
      rawTracepointTestRun(p.fd.value, new Uint8Array(16));
      expect([slot(10), slot(11), slot(12)]).toEqual([0n, 0n, 2n]);
      // The typed map walks as plain numbers and bigints.
      expect([...results.keys()]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    });
  }

  for (const kernelCore of [true, false]) {
    it(`core_missing fails with CORE_RELOCATION naming the type, the field and the instruction (${kernelCore ? 'the kernel failed it first' : 'resolved here'})`, () => {
      const err = thrown(() => loadObject('fixtures/core_missing.o', { kernelCore }));
      expect(err).toBeInstanceOf(CoreRelocationError);
      const e = err as CoreRelocationError;
      expect(e.code).toBe('CORE_RELOCATION');
      expect(e.relocation?.insnOff).toBe(e.instruction);
      expect(e.log).toContain('unknown#195896080');
      expect(e.message).toBe(
        `fixtures/core_missing.o: raw_tracepoint program read_missing: CO-RE relocation failed: struct task_struct___missing: field no_such_field_xyz not found in kernel BTF (insn ${e.instruction})`,
      );
      // The verifier's own words stay available.
      expect(e.details).toContain('invalid func unknown#195896080');
    });
  }

  describe('a poisoned instruction the program can never reach', () => {
    // struct thing___local { int gone; } against a kernel whose thing has no `gone`.
    const local = new BtfBuilder();
    const li = local.int('int', 4, { signed: true });
    const thing = local.composite('struct', 'thing___local', 4, [{ name: 'gone', type: li, bitOffset: 0 }]);
    const target = new BtfBuilder();
    target.composite('struct', 'thing', 4, [{ name: 'other', type: target.int('int', 4, { signed: true }), bitOffset: 0 }]);

    /** r0 = 2; if r0 == jumpIf goto +1; r0 = <offsetof(thing, gone)>; exit */
    function program(jumpIf: number): ProgramSpec {
      const b = Buffer.alloc(32);
      b.set([0xb7, 0x00, 0, 0], 0);
      b.writeInt32LE(2, 4);
      b.set([0x15, 0x00], 8);
      b.writeInt16LE(1, 10);
      b.writeInt32LE(jumpIf, 12);
      b.set([0xb7, 0x00, 0, 0], 16);
      b.writeInt32LE(0, 20);
      b.set([0x95], 24);
      return programSpec({
        name: 'guarded',
        section: 'xdp',
        type: BPF_PROG_TYPE.XDP,
        instructions: new Uint8Array(b),
        coreRelocations: [{ insnOff: 2, typeId: thing, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET, kindName: 'field_byte_offset' }],
      });
    }
    const load = (jumpIf: number) =>
      loadProgram(program(jumpIf), {
        source: 'hand-made',
        littleEndian: true,
        license: 'GPL',
        mapFds: new Map(),
        core: new CoreResolver(parseBtf(local.build()), { vmlinux: parseBtf(target.build()) }),
      });

    it("loads when the branch always skips it (dead code is the program's own guard)", () => {
      const { fd } = load(2);
      fd.close();
    });

    it('and fails naming the relocation when it is reachable', () => {
      expect(() => load(3)).toThrow(
        expect.objectContaining({
          code: 'CORE_RELOCATION',
          message: 'hand-made: xdp program guarded: CO-RE relocation failed: struct thing___local: field gone not found in kernel BTF (insn 2)',
        }),
      );
    });
  });
});

// The kernel's own CO-RE (BPF_PROG_LOAD core_relos, Linux 5.17+): what a
// default load uses when the kernel took the object's BTF as it is.
describeRoot('CO-RE applied by the kernel', () => {
  const OBJ = 'fixtures/core_reads.o';
  // struct bpf_attr for BPF_PROG_LOAD: core_relo_cnt at 116, core_relo_rec_size at 136.
  const coreReloCnt = (attr: Uint8Array) => new DataView(attr.buffer, attr.byteOffset).getUint32(116, true);
  const coreReloRecSize = (attr: Uint8Array) => new DataView(attr.buffer, attr.byteOffset).getUint32(136, true);

  /**
   * Runs `fn` with the bpf() syscall passed through (or answered by `fake`
   * when it returns a number); returns each BPF_PROG_LOAD's core_relos
   * fields and result.
   */
  function watchProgLoads(fn: () => void, fake: (attr: Uint8Array) => number | null = () => null) {
    const progLoads: { relos: number; recSize: number; result: number }[] = [];
    withBpfSyscall((c, attr, size) => {
      if (typeof attr === 'number') return ffi.bpfAt(c, attr, size);
      if (c !== cmd.BPF_PROG_LOAD) return ffi.bpf(c, attr, size);
      const r = fake(attr) ?? ffi.bpf(c, attr, size);
      progLoads.push({ relos: coreReloCnt(attr), recSize: coreReloRecSize(attr), result: r < 0 ? r : 0 });
      return r;
    }, fn);
    return progLoads;
  }

  /** Loads `spec` (OBJ) under watchProgLoads; returns the PROG_LOADs made and the program's results after one run. */
  function loadWatched(opts: { kernelCore?: boolean }, fake?: (attr: Uint8Array) => number | null, spec: BpfObjectSpec = openObject(OBJ)) {
    let results: (bigint | undefined)[] = [];
    const progLoads = watchProgLoads(() => {
      using c = spec.load(opts);
      expect(rawTracepointTestRun(c.program('core_reads').fd.value, new Uint8Array(16))).toBe(0);
      const m = c.typedMap<number, bigint>('results');
      results = Array.from({ length: 15 }, (_, i) => m.get(i));
    }, fake);
    return { progLoads, results };
  }
  const relocations = openObject(OBJ).file.programs.find((p) => p.name === 'core_reads')!.coreRelocations.length;

  it('a default load hands every relocation to the kernel in one BPF_PROG_LOAD', () => {
    const { progLoads, results } = loadWatched({});
    expect(relocations).toBeGreaterThan(10);
    expect(progLoads).toEqual([{ relos: relocations, recSize: 16, result: 0 }]);
    expect(results[0]).toBe(BigInt(process.pid));
    // kernelCore: false resolves them here: the same load without core_relos, the same results.
    const here = loadWatched({ kernelCore: false });
    expect(here.progLoads).toEqual([{ relos: 0, recSize: 0, result: 0 }]);
    // Slot 2 (mm->map_count) moves with this process's mappings between the loads.
    const stable = (r: (bigint | undefined)[]) => r.filter((_, i) => i !== 2);
    expect(stable(here.results)).toEqual(stable(results));
  });

  it("the kernel's relocated program is instruction for instruction the one relocated here (bpftool prog dump xlated)", () => {
    const xlated = (kernelCore: boolean) => {
      using c = loadObject(OBJ, { kernelCore });
      const id = c.program('core_reads').info().id;
      const insns = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'dump', 'xlated', 'id', String(id)], { encoding: 'utf8' })) as { disasm: string }[];
      // Map ids differ between the two loads.
      return insns.map((i) => i.disasm.replace(/map\[id:\d+\]/g, 'map[id:N]'));
    };
    const byKernel = xlated(true);
    expect(byKernel.length).toBeGreaterThan(100);
    expect(byKernel).toEqual(xlated(false));
  });

  it('a kernel that does not know core_relos (E2BIG, before 5.17) is asked once per load; the relocations are then resolved here', () => {
    // The object with its program twice: the second is not offered to the kernel again.
    const spec = openObject(OBJ);
    const p = spec.file.programs.find((x) => x.name === 'core_reads')!;
    const twice = new BpfObjectSpec({ ...spec.file, programs: [p, { ...p, name: 'core_reads_too' }] }, spec.sha1);
    const { progLoads, results } = loadWatched({}, (attr) => (coreReloCnt(attr) > 0 ? -E2BIG : null), twice);
    expect(progLoads).toEqual([
      { relos: relocations, recSize: 16, result: -E2BIG },
      { relos: 0, recSize: 0, result: 0 },
      { relos: 0, recSize: 0, result: 0 },
    ]);
    expect(results[0]).toBe(BigInt(process.pid));
    expect(results[8]).toBe(16n); // sizeof(task->comm), resolved here
  });

  it("a load the kernel relocates never opens the kernel's BTF (/sys/kernel/btf/vmlinux); one relocated here does", () => {
    // A fresh process (this one may hold the kernel's BTF already), its fs calls recorded.
    const script = `
      import fs from 'node:fs';
      const opened = [];
      for (const f of ['openSync', 'readFileSync']) {
        const orig = fs[f];
        fs[f] = function (p, ...rest) { opened.push(String(p)); return orig.call(this, p, ...rest); };
      }
      const { openObject } = await import(process.argv[1]);
      for (const kernelCore of [true, false]) {
        opened.length = 0;
        openObject(process.argv[2]).load({ kernelCore }).close();
        console.log(JSON.stringify(opened.filter((p) => p.startsWith('/sys/kernel/btf/'))));
      }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, join(process.cwd(), 'dist/bundle/index.js'), OBJ], { encoding: 'utf8' });
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([[], ['/sys/kernel/btf/vmlinux']]);
  });

  it('a load given targetBtf resolves against it here, never through the kernel', () => {
    const progLoads = watchProgLoads(() => loadObject('fixtures/core_echo_dropper.o', { targetBtf: targetBtf() }).close());
    expect(progLoads.map((l) => l.relos)).toEqual([0]);
  });
});

describeRoot('BTF features and sanitising', () => {
  it('this 6.18 kernel accepts every BTF kind the probes try', () => {
    expect(btfFeatures()).toEqual({ btfFunc: true, funcGlobal: true, datasec: true, float: true, declTag: true, typeTag: true, enum64: true });
  });

  const NONE: BtfFeatures = { btfFunc: false, funcGlobal: false, datasec: false, float: false, declTag: false, typeTag: false, enum64: false };
  it("every fixture's BTF, sanitised for the oldest kernel, is still accepted by BPF_BTF_LOAD", () => {
    const objects = readdirSync('fixtures').filter((f) => /\.o$/.test(f) && !f.includes('.bpfeb'));
    let n = 0;
    for (const f of objects) {
      const spec = openObject(`fixtures/${f}`);
      if (!spec.file.btfForKernel) continue;
      for (const features of [NONE, { ...NONE, btfFunc: true }, { ...NONE, btfFunc: true, datasec: true, funcGlobal: true }]) {
        const r = btfLoad(sanitizeBtf(spec.file.btfForKernel, features), 1 << 20);
        expect(r.result, `${f} ${JSON.stringify(features)}: ${r.log}`).toBeGreaterThanOrEqual(0);
        new Fd(r.result).close();
        n++;
      }
    }
    expect(n).toBeGreaterThan(50);
  });

  it("a refused BTF blob leaves the kernel's log in btfError, and maps and programs still load", () => {
    const spec = openObject('fixtures/lpm_blocklist.o');
    const btf = spec.file.btf!;
    // Shrink struct ipv4_lpm_key to 4 bytes: its `addr` member (bits 32..63) then sticks out.
    const key = btf.findByName('ipv4_lpm_key', 'struct')!;
    const raw = spec.file.btfForKernel!.slice();
    new DataView(raw.buffer).setUint32(btf.recordOffset(key.id) + 8, 4, true);
    const broken = new BpfObjectSpec({ ...spec.file, btfForKernel: raw }, spec.sha1);
    using c = broken.load();
    expect(c.btf).toBeNull();
    expect(c.btfError).toMatch(/ipv4_lpm_key/);
    expect(c.btfError).toMatch(/Member exceeds struct_size/);
    expect(c.btfError!.split('\n').length).toBeGreaterThan(1);
    expect(c.map('blocklist').info().btfId).toBe(0);
    expect(c.program('xdp_blocklist').testRun(icmpEcho({ seq: 1 })).retval).toBe(XDP_PASS);
  });
});

describeRoot('BTF from the kernel and typed dumps', () => {
  let fs: { path: string; unmount(): void };
  beforeAll(() => {
    fs = mountBpffs();
  });
  afterAll(() => fs.unmount());

  it('kernelBtfById reads back exactly the BTF a collection loaded, and vmlinux by its id', () => {
    using c = loadObject('fixtures/lpm_blocklist.o');
    const info = c.map('blocklist').info();
    expect(info.btfId).toBeGreaterThan(0);
    const btf = kernelBtfById(info.btfId);
    expect(Buffer.from(btf.raw).equals(Buffer.from(openObject('fixtures/lpm_blocklist.o').file.btfForKernel!))).toBe(true);
    expect(btf.typeById(info.btfKeyTypeId)).toMatchObject({ kind: 'struct', name: 'ipv4_lpm_key' });
    // The first BTF id is vmlinux's.
    const first = getNextId(GET_NEXT_ID.btf, 0)!;
    using fd = btfFdById(first);
    const vm = btfInfo(fd.value);
    expect(vm).toMatchObject({ name: 'vmlinux', kernelBtf: true });
    expect(Buffer.from(vm.raw).equals(readFileSync('/sys/kernel/btf/vmlinux'))).toBe(true);
  });

  /** 198.51.100.0/24 into the LPM blocklist with `count`; returns the key's bytes. */
  const blockPrefix = (c: BpfCollection, count: bigint): Buffer => {
    const key = Buffer.alloc(8);
    key.writeUInt32LE(24, 0);
    ipv4('198.51.100.0').copy(key, 4);
    c.map('blocklist').set(key, count);
    return key;
  };

  it('bpf-ts map dump --json adds bpftool\'s "formatted" key/value (LPM blocklist) and per-CPU values', async () => {
    const dir = join(fs.path, 'lpm');
    using c = loadObject('fixtures/lpm_blocklist.o', { pinMaps: dir });
    const key = blockPrefix(c, 0n);
    expect(c.program('xdp_blocklist').testRun(icmpEcho({ seq: 1, src: '198.51.100.9' })).retval).toBe(XDP_DROP);
    const out = (await cliOk('map', 'dump', join(dir, 'blocklist'), '--json')).json();
    expect(out).toHaveLength(1);
    expect(out[0].key).toEqual(Array.from(key, (b) => '0x' + b.toString(16).padStart(2, '0')));
    expect(out[0].formatted).toEqual({ key: { prefixlen: 24, addr: ipv4('198.51.100.0').readUInt32LE(0) }, value: 1 });

    const drops = (await cliOk('map', 'dump', join(dir, 'drops'), '--json')).json();
    expect(drops[0].formatted.key).toBe(0);
    expect(drops[0].formatted.values).toHaveLength(possibleCpus());
    expect(drops[0].formatted.values.map((v: { cpu: number }) => v.cpu)).toEqual(Array.from({ length: possibleCpus() }, (_, i) => i));
    expect(drops[0].formatted.values.reduce((a: number, v: { value: number }) => a + v.value, 0)).toBe(1);

    // The typed map writes keys from objects, too.
    const typed = c.typedMap<{ prefixlen: number; addr: number }, bigint>('blocklist');
    typed.set({ prefixlen: 16, addr: ipv4('203.0.0.0').readUInt32LE(0) }, 5n);
    expect(c.program('xdp_blocklist').testRun(icmpEcho({ seq: 1, src: '203.0.113.1' })).retval).toBe(XDP_DROP);
    expect(typed.get({ prefixlen: 16, addr: ipv4('203.0.0.0').readUInt32LE(0) })).toBe(6n);
    expect(new Map([...typed].map(([k, v]) => [k.prefixlen, v]))).toEqual(
      new Map([
        [24, 1n],
        [16, 6n],
      ]),
    );
  });

  it('bpf-ts map update --set NAME=VALUE changes one member of a BTF-described value; the program sees it', async () => {
    const dir = join(fs.path, 'globals_set');
    using c = loadObject('fixtures/globals.o', { pinMaps: dir });
    const data = join(dir, 'globals_data');
    const dumped = () => JSON.parse(execFileSync('bpftool', ['map', 'dump', 'pinned', data], { encoding: 'utf8' }))[0].value['.data'][0].seen_total;
    expect(dumped()).toBe(7);
    expect((await cliOk('map', 'update', data, '--set', 'seen_total=100')).stdout).toBe('updated map .data: key 00 00 00 00  value: { seen_total: 100 }\n');
    // xdp_globals adds 1 to seen_total on every run: it read the 100.
    c.program('xdp_globals').testRun(udp({ dport: 9 }));
    expect(dumped()).toBe(101);
    expect((await cli('map', 'update', data, '--set', 'nope=1')).stderr).toBe('bpf-ts: map .data: no member nope (its members: seen_total)\n');
    const frozen = await cli('map', 'update', join(dir, 'globals_rodata'), '--set', 'verbose=1');
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toMatch(/EPERM: map is frozen/);
    using plain = BpfMap.create({ name: 'no_btf', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
    plain.pin(join(dir, 'plain'));
    expect((await cli('map', 'update', join(dir, 'plain'), '--key', '00000000', '--set', 'x=1')).stderr).toBe(
      'bpf-ts: map no_btf: no BTF describes its value, so --set has no names to go by: give --value HEX\n',
    );
  });

  it('bpf-ts map dump and lookup (text) decode through BTF as bpftool map dump does; --hex gives the bytes', async () => {
    const dir = join(fs.path, 'lpm_text');
    using c = loadObject('fixtures/lpm_blocklist.o', { pinMaps: dir });
    const key = blockPrefix(c, 3n);
    // bpftool's plain dump of a map with BTF is its decoded JSON.
    const pin = join(dir, 'blocklist');
    const tool = JSON.parse(execFileSync('bpftool', ['map', 'dump', 'pinned', pin], { encoding: 'utf8' }));
    expect(tool).toHaveLength(1);
    const line = `key: { prefixlen: ${tool[0].key.prefixlen}, addr: ${tool[0].key.addr} }  value: ${tool[0].value}`;
    expect((await cliOk('map', 'dump', pin)).stdout).toBe(`${line}\nFound 1 element\n`);
    expect((await cliOk('map', 'lookup', pin, '--key', key.toString('hex'))).stdout).toBe(`${line}\n`);
    // --hex: the bytes bpftool -j gives for the same entry.
    const raw = JSON.parse(execFileSync('bpftool', ['map', 'dump', 'pinned', pin, '-j'], { encoding: 'utf8' }))[0];
    const spaced = (l: string[]) => l.map((b) => b.slice(2)).join(' ');
    expect((await cliOk('map', 'dump', pin, '--hex')).stdout).toBe(`key: ${spaced(raw.key)}  value: ${spaced(raw.value)}\nFound 1 element\n`);
    expect((await cliOk('map', 'dump', pin, '--hex', '--json')).json()).toEqual([{ key: raw.key, value: raw.value }]);
  });
});
