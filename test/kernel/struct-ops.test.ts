// struct_ops: bpf/tcp_cc.c's TCP congestion control, registered by loading
// the object, made the default of a test namespace and used by a TCP
// connection there; unregistered when the collection closes. Evidence from
// outside bpf-ts: /proc/sys/net/ipv4/tcp_available_congestion_control,
// `bpftool struct_ops show -j`, the namespace's own sysctl, and counters the
// kernel's calls into the BPF programs leave in .bss.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { type BpfObjectSpec, openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { createNetns, deleteNetns, withNetns } from '../../src/netns.js';
import { inNetns } from '../helpers/topology.js';
import { linkInfo } from '../../src/sys/info.js';
import { describeRoot } from '../helpers/root.js';
import { uniqueName } from '../helpers/cli.js';
import { allocNative } from '../../src/sys/ffi.js';
import { BpfSyscallError } from '../../src/sys/syscall-error.js';

const AVAILABLE = '/proc/sys/net/ipv4/tcp_available_congestion_control';
const available = () => readFileSync(AVAILABLE, 'utf8').trim().split(/\s+/);
const bpftoolStructOps = (): { id: number; name: string; kernel_struct_ops: string }[] => {
  const out = execFileSync('bpftool', ['struct_ops', 'show', '-j'], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
};

/** Byte offset of a member of struct tcp_congestion_ops, from bpftool's dump of the object's BTF. */
function memberOffset(dump: string, member: string): number {
  const start = dump.indexOf("STRUCT 'tcp_congestion_ops'");
  const m = new RegExp(`'${member}' type_id=\\d+ bits_offset=(\\d+)`).exec(dump.slice(start))!;
  return Number(m[1]) / 8;
}

/**
 * Give the congestion control in `file`'s spec a name of our own (other runs
 * may have theirs registered at the same time); returns it.
 */
function renameCc(spec: BpfObjectSpec, file: string): string {
  const name = `bt${process.pid % 100000}_${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
  const data = spec.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.data;
  const at = memberOffset(readFileSync(file.replace(/\.o$/, '.btf.txt'), 'utf8'), 'name');
  data.fill(0, at, at + 16);
  data.set(Buffer.from(name), at);
  return name;
}

// One TCP connection on 127.0.0.1 inside the namespace, 1 MiB from client to server.
const TRANSFER = `
const net = require('net');
const srv = net.createServer((s) => { let n = 0; s.on('data', (d) => { n += d.length; }); s.on('end', () => { process.stdout.write(String(n)); s.end(); srv.close(); }); });
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => { c.end(Buffer.alloc(1 << 20, 7)); });
});`;

describeRoot('struct_ops: a TCP congestion control in BPF', () => {
  for (const [base, v] of ['tcp_cc', 'tcp_cc_link'].flatMap((b) => ['', '.clang14', '.clang19'].map((x) => [b, x] as const))) {
    const file = `fixtures/${base}${v}.o`;
    const link = base === 'tcp_cc_link';
    it(`${file}: registered on load, used by a socket in a test namespace, gone after close`, () => {
      const spec = openObject(file);
      const m = spec.maps.find((x) => x.name === 'bpfts_cc')!;
      expect(m.structOps!.typeName).toBe('tcp_congestion_ops');
      expect(m.structOps!.link).toBe(link);
      expect(m.structOps!.funcs.map((f) => f.member).sort()).toEqual(['cong_avoid', 'init', 'ssthresh', 'undo_cwnd']);
      const name = renameCc(spec, file);
      const ns = uniqueName('cc');
      let mapId = -1;
      createNetns(ns);
      try {
        using coll = spec.load();
        expect(available()).toContain(name);
        // bpftool lists registered struct_ops by map id and map name.
        mapId = coll.map('bpfts_cc').info().id;
        expect(bpftoolStructOps()).toContainEqual({ id: mapId, name: 'bpfts_cc', kernel_struct_ops: 'tcp_congestion_ops' });
        // .struct_ops.link: created with BPF_F_LINK (0x2000) and registered by a bpf_link of type struct_ops.
        const flags = JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(mapId), '-j'], { encoding: 'utf8' })).flags;
        expect(flags & 0x2000).toBe(link ? 0x2000 : 0);
        expect(coll.structOpsLinks.has('bpfts_cc')).toBe(link);
        if (link) {
          // bpftool shows the link (by the id the kernel gives our fd) as a struct_ops link. Asked
          // by id: a full `link show` fails when another test's link goes away during its walk.
          const linkId = linkInfo(coll.structOpsLinks.get('bpfts_cc')!.value).id;
          const shown = JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(linkId), '-j'], { encoding: 'utf8' })) as { id: number; type: string };
          expect(shown).toEqual(expect.objectContaining({ id: linkId, type: 'struct_ops' }));
        }

        inNetns(ns, ['ip', 'link', 'set', 'lo', 'up']);
        withNetns(ns, () => writeFileSync('/proc/sys/net/ipv4/tcp_congestion_control', name));
        expect(inNetns(ns, ['cat', '/proc/sys/net/ipv4/tcp_congestion_control']).trim()).toBe(name);
        expect(inNetns(ns, [process.execPath, '-e', TRANSFER])).toBe(String(1 << 20));

        const bss = coll.map('.bss').get(0)!;
        const at2 = (n: string) => spec.variable(n).variable.offset;
        // One init per established socket: the client's and the server's.
        expect(bss.readBigUInt64LE(at2('init_calls'))).toBe(2n);
        expect(bss.readBigUInt64LE(at2('cong_avoid_calls'))).toBeGreaterThan(0n);
        // Switch the namespace back before unregistering.
        withNetns(ns, () => writeFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'reno'));
      } finally {
        deleteNetns(ns);
      }
      expect(available()).not.toContain(name);
      expect(bpftoolStructOps().map((x) => x.id)).not.toContain(mapId);
    });
  }

  it('a struct_ops program no .struct_ops map uses cannot be loaded alone, and says why', () => {
    let err: unknown;
    try {
      openObject('fixtures/section_table.o').load({ programs: ['s_struct_ops_init'] });
    } catch (e) {
      err = e;
    }
    expect((err as BpfError).code).toBe('ATTACH_TARGET');
    expect((err as BpfError).message).toMatch(/not used by any .struct_ops map/);
  });

  it('a SEC("?struct_ops") program its .struct_ops map uses is loaded with the map, as libbpf switches it on', () => {
    const spec = openObject('fixtures/tcp_cc.o');
    const name = renameCc(spec, 'fixtures/tcp_cc.o');
    const member = spec.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.funcs[0]!;
    // What parseObject makes of SEC("?struct_ops/…"): autoload off.
    spec.program(member.program).autoload = false;
    using coll = spec.load();
    expect(coll.skipped.map((s) => s.name)).not.toContain(member.program);
    expect(coll.programs.has(member.program)).toBe(true);
    expect(available()).toContain(name);
  });
});

/** bpftool's view of a struct_ops map's registration: BPF_STRUCT_OPS_STATE_INIT until registered, INUSE after. */
const structOpsState = (mapId: number): string => {
  // Asked by id, bpftool prints the map's info and its value as two objects, comma-separated.
  const out = execFileSync('bpftool', ['struct_ops', 'dump', 'id', String(mapId), '-j'], { encoding: 'utf8' });
  const dump = JSON.parse(`[${out}]`) as Record<string, { common?: { state: string } }>[];
  return Object.values(dump[1]!)[0]!.common!.state;
};

/** The BpfError a call throws (fails the test when it throws nothing). */
const thrown = (f: () => unknown): BpfError => {
  try {
    f();
  } catch (e) {
    return e as BpfError;
  }
  throw new Error('expected an error');
};

describeRoot('struct_ops maps loaded without registering them, as libbpf loads (it registers at attach)', () => {
  // Tags libbpf 1.5 (Linux 6.12's tools/lib/bpf) gave these programs on this kernel:
  // bpf_object__load of struct_ops_deferred.o, which creates the map and registers nothing.
  const LIBBPF_TAGS = { scale_state: '112239e850c023fb', sum_args: '229255838da36552' };
  const u64s = (...xs: bigint[]) => {
    const b = Buffer.alloc(8 * xs.length);
    xs.forEach((x, i) => b.writeBigUInt64LE(BigInt.asUintN(64, x), 8 * i));
    return b;
  };

  for (const v of ['', '.clang14', '.clang19']) {
    const file = `fixtures/struct_ops_deferred${v}.o`;

    it(`${file}: bpf_dummy_ops, which the kernel will not register: a default load says so and how to load anyway`, () => {
      const e = thrown(() => openObject(file).load());
      expect(e.code).toBe('SYSCALL');
      expect((e.cause as BpfSyscallError).errnoName).toBe('EOPNOTSUPP');
      expect(e.message).toBe(
        `${file}: the kernel would not register struct_ops map dummy (EOPNOTSUPP): this kernel lets BPF programs implement struct bpf_dummy_ops but does not register it (e.g. bpf_dummy_ops, which exists for test runs); to load its programs without registering it, pass registerStructOps: false`,
      );
    });

    it(`${file}: registerStructOps: false creates the map and loads its programs (libbpf's tags), registers nothing; the kernel test-runs them`, () => {
      using coll = openObject(file).load({ registerStructOps: false });
      expect([...coll.programs.keys()].sort()).toEqual(['scale_state', 'sum_args']);
      expect(Object.fromEntries([...coll.programs].map(([n, p]) => [n, p.info().tag]))).toEqual(LIBBPF_TAGS);
      // The "?.struct_ops" map is not created, nor its program loaded (libbpf: autocreate 0, no tag).
      expect([...coll.maps.keys()]).toEqual(['dummy']);
      expect(coll.skipped).toEqual([
        {
          name: 'optional_state',
          section: 'struct_ops/optional_state',
          reason: "used only by struct_ops map dummy_optional, which is not created unless asked for (spec.map('dummy_optional').autocreate = true)",
        },
      ]);
      expect(coll.unregisteredStructOps).toEqual(['dummy']);
      const mapId = coll.map('dummy').info().id;
      expect(bpftoolStructOps()).toContainEqual({ id: mapId, name: 'dummy', kernel_struct_ops: 'bpf_dummy_ops' });
      expect(structOpsState(mapId)).toBe('BPF_STRUCT_OPS_STATE_INIT');

      // test_1 with no state (a NULL pointer), then with one the kernel copies in and back out.
      expect(coll.program('scale_state').testRun(new Uint8Array(0), { ctx: u64s(0n) }).retval).toBe(0x11);
      const state = allocNative(4);
      state.bytes.writeInt32LE(5);
      expect(coll.program('scale_state').testRun(new Uint8Array(0), { ctx: u64s(state.address) }).retval).toBe(5 + 7);
      expect(state.bytes.readInt32LE()).toBe(5 * 3 + 1);
      // test_2(state, int a1, unsigned short a2, char a3, unsigned long a4): each argument as its C type.
      const sum = coll.program('sum_args').testRun(new Uint8Array(0), { ctx: u64s(state.address, -5n, 0x10002n, 0x41n, 100n) }).retval;
      expect(sum | 0).toBe(-5 + 2 + 0x41 + 100);

      // Registering later meets the kernel's same answer, and the map stays unregistered.
      const e = thrown(() => coll.registerStructOps());
      expect([e.code, (e.cause as BpfSyscallError).errnoName]).toEqual(['SYSCALL', 'EOPNOTSUPP']);
      expect(coll.unregisteredStructOps).toEqual(['dummy']);
      expect(thrown(() => coll.registerStructOps('nope')).code).toBe('MAP_NOT_FOUND');
      coll.close();
      expect(thrown(() => coll.registerStructOps()).code).toBe('CLOSED');
      expect(bpftoolStructOps().map((x) => x.id)).not.toContain(mapId);
    });

    it(`${file}: a "?.struct_ops" map set to autocreate is created and its program loaded with it`, () => {
      const spec = openObject(file);
      expect(spec.map('dummy_optional').autocreate).toBe(false);
      spec.map('dummy_optional').autocreate = true;
      using coll = spec.load({ registerStructOps: false });
      expect([...coll.maps.keys()].sort()).toEqual(['dummy', 'dummy_optional']);
      expect(coll.unregisteredStructOps.sort()).toEqual(['dummy', 'dummy_optional']);
      expect(coll.program('optional_state').testRun(new Uint8Array(0), { ctx: u64s(0n) }).retval).toBe(0x22);
      // Asked for by name while its map stays off: refused, saying which map to switch on.
      const e = thrown(() => openObject(file).load({ programs: ['optional_state'], registerStructOps: false }));
      expect(e.code).toBe('ATTACH_TARGET');
      expect(e.message).toMatch(/dummy_optional, which is not created unless asked for \(spec\.map\('dummy_optional'\)\.autocreate = true\)/);
    });
  }

  it('struct_ops_optional_link.o: its "?.struct_ops.link" map and program are left out; asked for, the map is created with BPF_F_LINK', () => {
    const file = 'fixtures/struct_ops_optional_link.o';
    {
      using coll = openObject(file).load();
      expect([[...coll.maps.keys()], [...coll.programs.keys()], coll.skipped.map((x) => x.name)]).toEqual([[], [], ['linked_state']]);
    }
    const spec = openObject(file);
    spec.map('dummy_linked').autocreate = true;
    using coll = spec.load({ registerStructOps: false });
    const id = coll.map('dummy_linked').info().id;
    // bpftool: the map's flags carry BPF_F_LINK (0x2000).
    const flags = JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' })).flags as number;
    expect(flags & 0x2000).toBe(0x2000);
    expect(coll.program('linked_state').testRun(new Uint8Array(0), { ctx: u64s(0n) }).retval).toBe(0x33);
    // A BPF_F_LINK map is checked when its value is written, before any link: bpf_dummy_ops is refused there.
    const e = thrown(() => coll.registerStructOps());
    expect([e.code, (e.cause as BpfSyscallError).errnoName, (e.cause as BpfSyscallError).command]).toEqual(['SYSCALL', 'EOPNOTSUPP', 'BPF_MAP_UPDATE_ELEM']);
    expect(coll.structOpsLinks.size).toBe(0);
  });

  it('tcp_cc.o with registerStructOps: false: not a congestion control until registerStructOps(), and none again after close', () => {
    const spec = openObject('fixtures/tcp_cc.o');
    const name = renameCc(spec, 'fixtures/tcp_cc.o');
    using coll = spec.load({ registerStructOps: false });
    const mapId = coll.map('bpfts_cc').info().id;
    expect(available()).not.toContain(name);
    expect(structOpsState(mapId)).toBe('BPF_STRUCT_OPS_STATE_INIT');
    coll.registerStructOps('bpfts_cc');
    expect(available()).toContain(name);
    expect(structOpsState(mapId)).toBe('BPF_STRUCT_OPS_STATE_INUSE');
    expect(coll.unregisteredStructOps).toEqual([]);
    expect(thrown(() => coll.registerStructOps('bpfts_cc')).code).toBe('ALREADY_ATTACHED');
    coll.close();
    expect(available()).not.toContain(name);
  });

  it('tcp_cc_link.o: registerStructOps() makes the bpf_link; a second object of the same name is refused with why', () => {
    const file = 'fixtures/tcp_cc_link.o';
    const spec = openObject(file);
    const name = renameCc(spec, file);
    using coll = spec.load({ registerStructOps: false });
    expect(coll.structOpsLinks.size).toBe(0);
    expect(available()).not.toContain(name);
    coll.registerStructOps();
    const linkId = linkInfo(coll.structOpsLinks.get('bpfts_cc')!.value).id;
    expect(JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(linkId), '-j'], { encoding: 'utf8' }))).toEqual(expect.objectContaining({ id: linkId, type: 'struct_ops' }));
    expect(available()).toContain(name);
    // Kept past close by pinning the link, not by keepStructOpsRegistered.
    const keep = thrown(() => coll.keepStructOpsRegistered('bpfts_cc'));
    expect([keep.code, keep.message]).toEqual(['NOT_ATTACHED', `${file}: struct_ops map bpfts_cc is not registered by its update (a bpf_link registers it: pin the link)`]);
    // The same congestion control name again: the kernel says EEXIST.
    const again = openObject(file);
    const at = memberOffset(readFileSync(file.replace(/\.o$/, '.btf.txt'), 'utf8'), 'name');
    again.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.data.set(spec.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.data.subarray(at, at + 16), at);
    const e = thrown(() => again.load());
    expect([e.code, (e.cause as BpfSyscallError).errnoName]).toEqual(['ALREADY_ATTACHED', 'EEXIST']);
    expect(e.message).toMatch(/the kernel already has a struct tcp_congestion_ops of that name registered/);
    expect(available().filter((x) => x === name)).toEqual([name]);
  });

  it('tcp_cc.o without cong_avoid (an incomplete congestion control): the kernel refuses to register it (EINVAL), and the message says why', () => {
    const spec = openObject('fixtures/tcp_cc.o');
    const name = renameCc(spec, 'fixtures/tcp_cc.o');
    const so = spec.maps.find((x) => x.name === 'bpfts_cc')!.structOps!;
    so.funcs.splice(
      so.funcs.findIndex((f) => f.member === 'cong_avoid'),
      1,
    );
    const e = thrown(() => spec.load());
    expect([e.code, (e.cause as BpfSyscallError).errnoName]).toEqual(['SYSCALL', 'EINVAL']);
    expect(e.message).toBe(
      "fixtures/tcp_cc.o: the kernel would not register struct_ops map bpfts_cc (EINVAL): the kernel's checks of struct tcp_congestion_ops refused it (e.g. a member it requires is not set); to load its programs without registering it, pass registerStructOps: false",
    );
    expect(available()).not.toContain(name);
    // Without registering, the rest loads.
    using coll = spec.load({ registerStructOps: false });
    expect([...coll.programs.keys()].sort()).toEqual(['bpfts_init', 'bpfts_ssthresh', 'bpfts_undo_cwnd']);
  });

  it('tcp_cc.o with only some programs: the map waits, and registering names the program it lacks', () => {
    const spec = openObject('fixtures/tcp_cc.o');
    const name = renameCc(spec, 'fixtures/tcp_cc.o');
    using coll = spec.load({ programs: ['bpfts_init', 'bpfts_ssthresh'] });
    expect(coll.unregisteredStructOps).toEqual(['bpfts_cc']);
    expect(available()).not.toContain(name);
    const e = thrown(() => coll.registerStructOps('bpfts_cc'));
    expect(e.code).toBe('PROGRAM_NOT_FOUND');
    // The first member in the object's order whose program was left out (llvm-readelf: cong_avoid's relocation).
    expect(e.message).toBe('fixtures/tcp_cc.o: struct_ops map bpfts_cc needs program bpfts_cong_avoid (member cong_avoid), which was not loaded: load it too (programs option; CLI --program)');
  });
});
