// Tracing programs in the emulator.
//
// raw_args (fixtures/trace_args.o) runs through BPF_PROG_TEST_RUN and
// through the emulator on the same arguments, in this process (a raw
// tracepoint's test run runs in its caller's task), and every slot of `seen`
// must agree: arguments at four widths, pid/tgid, uid/gid, comm whole and
// cut to 5 bytes, the cgroup id, probe reads of addresses no kernel maps
// (the error differs by helper and by address: user space, non-canonical,
// the kernel's half, the vsyscall page) and of the program's own stack, the
// attach cookie, and the return value. The task is read from /proc and the
// cgroup2 tree, not from the emulator's defaults.
//
// This kernel cannot run trampoline programs (no CONFIG_FUNCTION_TRACER: it
// refuses to load fentry/fexit, EPERM), so fentry3/fexit3's answers are the
// ones kernel/trace/bpf_trace.c and the verifier's inlining give, written
// down here from them.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import { assemble } from '../../src/asm/assembler.js';
import { Memory, Vm, type EmulatedTask, type MapLike } from '../../src/vm/index.js';
import { targetBtf } from '../helpers/target-btf.js';
import { ROOT, cli, cliOk, ensureDist, fixture } from '../helpers/cli.js';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { codeAndMessage, thrown } from '../helpers/thrown.js';
import { Rng, caseRng, seedLine } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';
import { startTraceChild } from '../helpers/trace-child.js';
import { attachTracepoint, attachUprobe } from '../../src/link/tracing.js';

const GETPPID_NR: Record<string, number> = { x64: 110, arm64: 173, riscv64: 173 };

const SLOTS = 64;
const FILE = 'test/vm/trace.test.ts';

const key = (i: number): Buffer => Buffer.from(new Uint32Array([i]).buffer);
const u64s = (args: bigint[]): Buffer => Buffer.concat(args.map((a) => Buffer.from(new BigUint64Array([BigInt.asUintN(64, a)]).buffer)));

/** An address no kernel maps, of each class the probe helpers tell apart. */
function unmappedAddress(rng: Rng): bigint {
  const low = BigInt(rng.u32());
  switch (rng.int(6)) {
    case 0:
      return BigInt(rng.int(4096)); // below mmap_min_addr
    case 1:
      return (1n << 47n) - 4096n + BigInt(rng.int(4096)); // user space's guard page
    case 2:
      return (1n << 47n) + ((BigInt(rng.u32()) << 24n) | low); // non-canonical
    case 3:
      return 0xffff_8000_0000_0000n + ((BigInt(rng.int(0x8000)) << 24n) | low); // the hypervisor hole at the start of the kernel's half
    case 4:
      return 0xffff_ffff_ff60_0000n + BigInt(rng.int(4096)); // the vsyscall page
    default:
      return 0n;
  }
}

/** The CPU's virtual address width, which decides what is canonical. */
function cpuAddressBits(): 48 | 57 {
  const bits = Number(/address sizes\s*:.*?(\d+) bits virtual/.exec(readFileSync('/proc/cpuinfo', 'utf8'))![1]);
  expect([48, 57]).toContain(bits);
  return bits as 48 | 57;
}

/** This thread as the kernel sees it: /proc/thread-self and the cgroup2 tree. */
function hostTask(): Required<EmulatedTask> {
  const [tgid, , tid] = readlinkSync('/proc/thread-self').split('/');
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  const cg2 = mounts.map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')![1]!;
  const path = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))!
    .slice(3);
  return {
    pid: Number(tid),
    tgid: Number(tgid),
    uid: process.getuid!(),
    gid: process.getgid!(),
    comm: readFileSync('/proc/thread-self/comm', 'utf8').replace(/\n$/, ''),
    cgroupId: statSync(`${cg2}${path === '/' ? '' : path}`, { bigint: true }).ino,
    ppid: Number(/^PPid:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]),
  };
}

describeRoot('raw tracepoint programs: the emulator against the kernel', () => {
  it('raw_args: every slot and the return value agree on random arguments', () => {
    console.log(seedLine(FILE));
    using coll = openObject(fixture('trace_args.o')).load({ programs: ['raw_args'], ignorePinning: true });
    const task = hostTask();
    const emu = openObject(fixture('trace_args.o')).emulate({ task, virtualAddressBits: cpuAddressBits() });
    const kseen = coll.map('seen');
    const eseen = emu.map('seen');
    const out = Buffer.alloc(8);
    const errors = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const rng = caseRng('raw_args', i);
      const args = [(BigInt(rng.u32()) << 32n) | BigInt(rng.u32()), unmappedAddress(rng), unmappedAddress(rng), (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())];
      const k = coll.program('raw_args').testRun(new Uint8Array(0), { ctx: u64s(args) });
      const e = emu.program('raw_args').testRun(new Uint8Array(0), { args });
      const want: string[] = [];
      const got: string[] = [];
      for (let s = 0; s < SLOTS; s++) {
        kseen.lookupInto(s, out);
        want.push(out.readBigUInt64LE().toString(16));
        got.push((eseen.get(key(s)) as Buffer).readBigUInt64LE().toString(16));
      }
      expect({ args: args.map((a) => a.toString(16)), retval: e.retval, seen: got }).toEqual({ args: args.map((a) => a.toString(16)), retval: k.retval, seen: want });
      for (const s of [11, 13, 15, 17, 19, 21]) errors.add(want[s]!);
    }
    // Both errors the kernel gives (-ERANGE, -EFAULT) were reached.
    expect([...errors].sort()).toEqual(['ffffffffffffffde', 'fffffffffffffff2']);
  });

  it('the emulator without a task option is the calling process, as the kernel test run is', () => {
    using coll = openObject(fixture('trace_args.o')).load({ programs: ['raw_args'], ignorePinning: true });
    const emu = openObject(fixture('trace_args.o')).emulate();
    const args = u64s([1n, 0n, 0n, 2n]);
    coll.program('raw_args').testRun(new Uint8Array(0), { ctx: args });
    emu.program('raw_args').testRun(new Uint8Array(0), { ctx: args });
    const out = Buffer.alloc(8);
    // pid/tgid, uid/gid, comm, comm cut (the cgroup, slot 10, depends on where the test runs: EmulatedTask.cgroupId).
    for (const s of [4, 5, 6, 7, 8, 9]) {
      coll.map('seen').lookupInto(s, out);
      expect((emu.map('seen').get(key(s)) as Buffer).toString('hex'), `slot ${s}`).toBe(out.toString('hex'));
    }
  });

  it('the verifier refuses a tracepoint program reading the common fields, as the emulator does', () => {
    const prog = BpfObjectSpec.fromInstructions(assemble('r0 = *(u32 *)(r1 + 4)\nexit').bytes, { type: 'tracepoint', name: 'tp' });
    expect(() => prog.load({ ignorePinning: true })).toThrow(/rejected by the verifier at instruction 0: invalid bpf_context access off=4 size=4/);
  });

  it('arguments shorter than the program reads: the kernel refuses the run (EINVAL), the emulator faults naming them', () => {
    using coll = openObject(fixture('trace_args.o')).load({ programs: ['raw_args'], ignorePinning: true });
    const short = u64s([1n, 2n, 3n]);
    expect(() => coll.program('raw_args').testRun(new Uint8Array(0), { ctx: short })).toThrow(expect.objectContaining({ errno: 22 }));
    const emu = openObject(fixture('trace_args.o')).emulate();
    const err = thrown(() => emu.program('raw_args').testRun(new Uint8Array(0), { ctx: short }));
    expect(err.code).toBe('EMU_FAULT');
    expect(err.message).toMatch(/instruction 36 \(r7 = \*\(u8 \*\)\(r6 \+ 31\)\): read of 1 bytes at 0x[0-9a-f]+ \(args\+31, region of 24 bytes\): outside args/);
  });
});

describeRoot("uprobes and tracepoints: the emulator against the kernel on a child's calls", () => {
  // The child calls abs(-1) … abs(-5) and getppid() 3 times; the programs record only its tgid.
  it('abs_entry/abs_return read pt_regs (di, ax) and getppid_record its record as the emulator does', async () => {
    const child = await startTraceChild();
    try {
      const spec = openObject(fixture('trace_args.o')).setGlobal('target_tgid', child.pid);
      using coll = spec.load({ programs: ['abs_entry', 'abs_return', 'getppid_record'], ignorePinning: true });
      {
        using entry = attachUprobe(coll.program('abs_entry'), 'libc.so.6', 'abs', { pid: child.pid });
        using ret = attachUprobe(coll.program('abs_return'), 'libc.so.6', 'abs', { pid: child.pid, retprobe: true });
        using tp = attachTracepoint(coll.program('getppid_record'), 'syscalls', 'sys_enter_getppid');
        void entry;
        void ret;
        void tp;
        expect(await child.call('abs', 5)).toBe(15);
        await child.call('getppid', 3);
      }
      const kernel = Array.from({ length: 9 }, (_, i) => BigInt.asIntN(64, coll.map('regs_seen').get(i)!.readBigUInt64LE(0)));
      // What the kernel saw: the last call, abs(-5) returning 5; getppid's number; this child.
      const nr = BigInt(GETPPID_NR[process.arch] ?? 110);
      expect(kernel).toEqual([-5n, 0xfffffffbn, BigInt(child.pid), 0n, 5n, 5n, nr, 0n, 0n]);
      // The emulator on the same arguments, return value and record (the common fields zero: no program reads them).
      const emu = spec.emulate({ task: { tgid: child.pid } });
      emu.program('abs_entry').testRun(new Uint8Array(0), { args: [0xfffffffbn] });
      emu.program('abs_return').testRun(new Uint8Array(0), { ret: 5 });
      const record = Buffer.alloc(16);
      record.writeInt32LE(Number(nr), 8);
      emu.program('getppid_record').testRun(new Uint8Array(0), { ctx: record });
      expect(Array.from({ length: 9 }, (_, i) => BigInt.asIntN(64, (emu.map('regs_seen').get(key(i)) as Buffer).readBigUInt64LE(0)))).toEqual(kernel);
    } finally {
      await child.stop();
    }
  });
});

describeRoot('the current task_struct: the emulator against the kernel', () => {
  it('task_fields reads pid, tgid, comm, real_parent->tgid and group_leader->pid as the kernel gives them, directly and by probe read', () => {
    const spec = openObject(fixture('trace_args.o'));
    using coll = spec.load({ programs: ['task_fields'], ignorePinning: true });
    coll.program('task_fields').testRun(new Uint8Array(0));
    const emu = spec.emulate({ coreTarget: targetBtf(), task: hostTask() });
    emu.program('task_fields').testRun(new Uint8Array(0));
    const slots = (m: MapLike) => Array.from({ length: 8 }, (_, i) => (m.get(key(i)) as Buffer).readBigUInt64LE(0));
    const kernel = slots(coll.map('task_seen'));
    const task = hostTask();
    expect(kernel).toEqual([
      BigInt(task.pid),
      BigInt(task.tgid),
      Buffer.from(task.comm.padEnd(8, '\0').slice(0, 8), 'latin1').readBigUInt64LE(0),
      BigInt(task.ppid),
      BigInt(task.tgid),
      0n,
      BigInt(task.tgid),
      0x1234n, // a load through pi_blocked_on, NULL while the task runs: 0, plus 0x1234
    ]);
    expect(slots(emu.map('task_seen'))).toEqual(kernel);
  });

  // The worker loads the built package (tsc may have to build dist/ first: not part of the test's time).
  beforeAll(() => ensureDist(), 300_000);

  it("from a worker thread: its own pid, the process's tgid, and group_leader the first thread, in both", async () => {
    // The test run happens on the worker's thread (a raw tracepoint's test run runs in its caller's task).
    const code = `
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      import(${JSON.stringify(join(ROOT, 'dist', 'collection.js'))}).then(({ openObject }) => {
        const c = openObject(${JSON.stringify(fixture('trace_args.o'))}).load({ ignorePinning: true, programs: ['task_fields'] });
        c.program('task_fields').testRun(new Uint8Array(0));
        const seen = Array.from({ length: 8 }, (_, i) => c.map('task_seen').get(Buffer.from(new Uint32Array([i]).buffer)).readBigUInt64LE(0).toString());
        c.close();
        parentPort.postMessage({ tid: Number(readlinkSync('/proc/thread-self').split('/')[2]), seen });
      });`;
    const worker = new Worker(code, { eval: true });
    const { tid, seen } = await new Promise<{ tid: number; seen: string[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    const kernel = seen.map(BigInt);
    expect(tid).not.toBe(process.pid);
    expect([kernel[0], kernel[1], kernel[4]]).toEqual([BigInt(tid), BigInt(process.pid), BigInt(process.pid)]);
    const emu = openObject(fixture('trace_args.o')).emulate({ coreTarget: targetBtf(), task: { ...hostTask(), pid: tid } });
    emu.program('task_fields').testRun(new Uint8Array(0));
    expect(Array.from({ length: 8 }, (_, i) => (emu.map('task_seen').get(key(i)) as Buffer).readBigUInt64LE(0))).toEqual(kernel);
  });
});

describe('tracing programs in the emulator', () => {
  const spec = () => openObject(fixture('trace_args.o')).setGlobal('target_tgid', 4242);
  const seen = (emu: ReturnType<ReturnType<typeof spec>['emulate']>, s: number): bigint => (emu.map('seen').get(key(s)) as Buffer).readBigUInt64LE();
  const task = { tgid: 4242, pid: 4243, uid: 1000, gid: 100, comm: 'a-very-long-thread-name', cgroupId: 77n };

  it('fentry on bpf_fentry_test3(4, 5, 6): the arguments, their count, bpf_get_func_arg in and past range, the function address', () => {
    const emu = spec().emulate({ task });
    const r = emu.program('fentry3').testRun(new Uint8Array(0), { args: [4, 5, 6], funcIp: 0xffffffff81f07870n });
    expect(r.retval).toBe(0);
    expect([42, 43, 44].map((s) => seen(emu, s))).toEqual([4n, 5n, 6n]);
    expect(seen(emu, 45)).toBe(3n); // bpf_get_func_arg_cnt
    expect([seen(emu, 46), seen(emu, 47)]).toEqual([0n, 6n]); // bpf_get_func_arg(ctx, 2): 0, the third argument
    expect([seen(emu, 48), seen(emu, 49)]).toEqual([BigInt.asUintN(64, -22n), 0x77n]); // past the arguments: -EINVAL, *value untouched
    expect(seen(emu, 50)).toBe(0xffffffff81f07870n);
    // The task: tgid << 32 | pid, gid << 32 | uid, comm cut to 15 bytes and NUL-padded, cut again to 4 and a NUL.
    expect(seen(emu, 51)).toBe((4242n << 32n) | 4243n);
    expect(seen(emu, 52)).toBe((100n << 32n) | 1000n);
    expect(seen(emu, 53)).toBe(0n);
    const comm = Buffer.concat([Buffer.from(new BigUint64Array([seen(emu, 54), seen(emu, 55)]).buffer)]);
    expect(comm.toString('latin1')).toBe('a-very-long-thr\0');
    expect(Buffer.from(new BigUint64Array([seen(emu, 56)]).buffer).toString('hex')).toBe(Buffer.from('a-ve\0\xaa\xaa\xaa', 'latin1').toString('hex'));
    expect(seen(emu, 57)).toBe(77n);
  });

  it('fentry of another process records nothing (its tgid filter, from the task)', () => {
    const emu = spec().emulate();
    emu.program('fentry3').testRun(new Uint8Array(0), { args: [4, 5, 6] });
    expect(seen(emu, 42)).toBe(0n);
    emu.program('fentry3').testRun(new Uint8Array(0), { args: [4, 5, 6], task: { tgid: 4242 } });
    expect(seen(emu, 42)).toBe(4n);
    expect(seen(emu, 51)).toBe((4242n << 32n) | 4242n); // pid defaults to the tgid
  });

  it('fexit: the return value after the arguments, bpf_get_func_ret, the cookie', () => {
    const emu = spec().emulate({ task });
    emu.program('fexit3').testRun(new Uint8Array(0), { args: [4, 5, 6], ret: 15, cookie: 0xc00c1en, funcIp: 0x1234n });
    expect(seen(emu, 58)).toBe(19n); // ret + a
    expect([seen(emu, 59), seen(emu, 60)]).toEqual([0n, 15n]);
    expect(seen(emu, 61)).toBe(3n);
    expect(seen(emu, 62)).toBe(0x1234n);
    expect(seen(emu, 63)).toBe(0xc00c1en);
    // Without ret, 0 (the value a test run's fexit would see from a function returning 0).
    emu.program('fexit3').testRun(new Uint8Array(0), { args: [4, 5, 6] });
    expect([seen(emu, 58), seen(emu, 60)]).toEqual([4n, 0n]);
  });

  it('tracing.o: tp_btf, raw_tp, lsm and fexit programs count the task they filter on; a uretprobe adds PT_REGS_RC; a tracepoint reads its record; a perf event program counts every sample', () => {
    const emu = openObject(fixture('tracing.o'))
      .setGlobal('target_tgid', 777)
      .setGlobal('getppid_nr', 110n)
      .emulate({ task: { tgid: 777 } });
    const count = (s: number): bigint => (emu.map('counts').get(key(s)) as Buffer).readBigUInt64LE();
    emu.program('tpbtf_sys_enter').testRun(new Uint8Array(0), { args: [0n, 110n] });
    emu.program('tpbtf_sys_enter').testRun(new Uint8Array(0), { args: [0n, 39n] });
    emu.program('rawtp_sys_enter').testRun(new Uint8Array(0), { args: [0n, 110n] });
    emu.program('lsm_file_open').testRun(new Uint8Array(0), { args: [0x1000n] });
    emu.program('fexit_getpgid').testRun(new Uint8Array(0), { args: [0n], ret: -3 });
    emu.program('fexit_getpgid').testRun(new Uint8Array(0), { args: [0n], ret: 10 });
    emu.program('uretprobe_abs').testRun(new Uint8Array(0), { ret: 41 });
    emu.program('uretprobe_abs').testRun(new Uint8Array(0), { ret: 1 });
    emu.program('tp_getppid').testRun(new Uint8Array(0), { ctx: new Uint8Array(16) });
    // perf_event: struct bpf_perf_event_data (registers, sample_period, addr), from any task.
    emu.program('perf_sample').testRun(new Uint8Array(0));
    emu.program('perf_sample').testRun(new Uint8Array(0), { ctx: new Uint8Array(184), task: { tgid: 1 } });
    expect([0, 1, 2, 4, 5, 7, 8, 9, 10].map(count)).toEqual([1n, 1n, 1n, 2n, 42n, 2n, 7n, 2n, 1n]);
    // Another task: nothing counted.
    emu.program('tpbtf_sys_enter').testRun(new Uint8Array(0), { args: [0n, 110n], task: { tgid: 778 } });
    expect(count(2)).toBe(1n);
  });

  it('a probe read refuses addresses not canonical for the CPU (-ERANGE) and tries the others (-EFAULT)', () => {
    const addr = 0x0000_8000_0000_1234n; // canonical with 57 bits, not with 48
    const run = (bits: 48 | 57): bigint[] => {
      const emu = spec().emulate({ virtualAddressBits: bits });
      emu.program('raw_args').testRun(new Uint8Array(0), { args: [0n, addr, 0x0100_0000_0000_0000n, 0n] });
      return [11, 13, 23, 25].map((s) => BigInt.asIntN(64, seen(emu, s)));
    };
    // kernel and user reads of each address: ERANGE -34, EFAULT -14
    expect(run(48)).toEqual([-34n, -14n, -34n, -14n]);
    expect(run(57)).toEqual([-14n, -14n, -34n, -14n]);
  });

  it('bpf_get_current_task(_btf): a task_struct laid out by the coreTarget BTF, its parent behind real_parent; without a BTF, an error saying so', () => {
    const emu = openObject(fixture('trace_args.o')).emulate({ coreTarget: targetBtf(), task: { pid: 11, tgid: 10, ppid: 1, comm: 'worker-thread-17' } });
    emu.program('task_fields').testRun(new Uint8Array(0));
    const slot = (i: number) => (emu.map('task_seen').get(key(i)) as Buffer).readBigUInt64LE(0);
    // group_leader: the process's first thread, whose pid is the tgid; through a NULL pointer a load reads 0.
    expect([slot(0), slot(1), slot(3), slot(4), slot(5), slot(6), slot(7)]).toEqual([11n, 10n, 1n, 10n, 0n, 10n, 0x1234n]);
    // The same in the reference interpreter.
    const interpreted = openObject(fixture('trace_args.o')).emulate({ coreTarget: targetBtf(), tier: 'interpret', task: { pid: 11, tgid: 10, ppid: 1 } });
    interpreted.program('task_fields').testRun(new Uint8Array(0));
    expect((interpreted.map('task_seen').get(key(7)) as Buffer).readBigUInt64LE(0)).toBe(0x1234n);
    expect(Buffer.from(new BigUint64Array([slot(2)]).buffer).toString('latin1')).toBe('worker-t');
    const bare = openObject(fixture('trace_args.o')).emulate();
    expect(codeAndMessage(() => bare.program('task_fields').testRun(new Uint8Array(0)))).toBe(
      `CORE_RELOCATION: ${fixture('trace_args.o')}: program task_fields has CO-RE relocations: give emulate() a coreTarget (e.g. a vmlinux BTF)`,
    );
  });

  it('Vm probeMem: a load from no region reads 0 (plain and sign-extending, both tiers); outside a region that is there it still faults', () => {
    const run = (text: string, tier: 'compile' | 'interpret', probeMem: boolean, arg: bigint) => {
      const vm = new Vm({ instructions: assemble(text).bytes }, { tier, probeMem });
      const mem = vm.memory.add('obj', new Uint8Array(8).fill(0xff));
      return vm.run([arg === -1n ? Memory.address(mem.id) : arg]).retval;
    };
    for (const tier of ['compile', 'interpret'] as const) {
      expect(run('r0 = *(u64 *)(r1 + 16)\nr0 += 5\nexit', tier, true, 0n)).toBe(5n);
      expect(run('r0 = *(s8 *)(r1 + 3)\nexit', tier, true, 0x1234_0000_0000n)).toBe(0n);
      expect(run('r0 = *(u32 *)(r1 + 4)\nexit', tier, true, -1n)).toBe(0xffffffffn);
      expect(codeAndMessage(() => run('r0 = *(u32 *)(r1 + 8)\nexit', tier, true, -1n))).toMatch(/^EMU_FAULT: .*read of 4 bytes .*: outside obj \(8 bytes\)$/);
      expect(codeAndMessage(() => run('r0 = *(u64 *)(r1 + 16)\nexit', tier, false, 0n))).toMatch(/^EMU_FAULT: .*read of 8 bytes at 0x10 .*outside every memory region$/);
    }
  });

  it('a tracepoint record: its first 8 bytes (the common fields) are refused, as by the verifier; past the record faults', () => {
    const prog = (off: number) => BpfObjectSpec.fromInstructions(assemble(`r0 = *(u32 *)(r1 + ${off})\nexit`).bytes, { type: 'tracepoint', name: 'tp' });
    const record = Buffer.from('0000000000000000' + '6e000000' + '00000000', 'hex');
    expect(prog(8).emulate().program('tp').testRun(new Uint8Array(0), { ctx: record }).retval).toBe(110);
    expect(codeAndMessage(() => prog(4).emulate().program('tp').testRun(new Uint8Array(0), { ctx: record }))).toBe(
      "EMU_FAULT: tp: instruction 0 (r0 = *(u32 *)(r1 + 4)): tracepoint record: a 4-byte read at offset 4: the first 8 bytes (common_type, common_flags, common_preempt_count, common_pid) are not readable (the kernel's verifier refuses it)",
    );
    expect(codeAndMessage(() => prog(16).emulate().program('tp').testRun(new Uint8Array(0), { ctx: record }))).toMatch(
      /read of 4 bytes at 0x[0-9a-f]+ \(record\+16, region of 16 bytes\): outside record \(16 bytes\)$/,
    );
  });

  it('a pointer argument into memory the test maps: kernel probe reads copy it, user ones fail', () => {
    const emu = spec().emulate();
    const obj = emu.memory.add('object', Buffer.from('kernel!\0tail', 'latin1'));
    const addr = Memory.address(obj.id);
    emu.program('raw_args').testRun(new Uint8Array(0), { args: [0n, addr, addr + 8n, 0n] });
    const text = (s: number) => Buffer.from(new BigUint64Array([seen(emu, s)]).buffer).toString('latin1');
    expect([seen(emu, 11), text(12)]).toEqual([0n, 'kernel!\0']); // bpf_probe_read_kernel
    expect([BigInt.asIntN(64, seen(emu, 13)), seen(emu, 14)]).toEqual([-14n, 0n]); // bpf_probe_read_user: -EFAULT, zeroed
    expect([seen(emu, 15), text(16)]).toEqual([8n, 'kernel!\0']); // _str: 7 bytes and the NUL
    expect([seen(emu, 19), text(20)]).toEqual([0n, 'kernel!\0']); // bpf_probe_read: the kernel's (not below TASK_SIZE as a user address)
    // 4 bytes from args[2] to the region's end, no NUL: an 8-byte read faults, a string read too.
    expect([BigInt.asIntN(64, seen(emu, 23)), seen(emu, 24)]).toEqual([-14n, 0n]);
    expect([BigInt.asIntN(64, seen(emu, 27)), seen(emu, 28)]).toEqual([-14n, 0n]);
    // A string read takes up to size bytes, the last made a NUL: 8 bytes with none are enough for size 8, 7 are not.
    const eight = Memory.address(emu.memory.add('eight', Buffer.from('abcdefgh')).id);
    const seven = Memory.address(emu.memory.add('seven', Buffer.from('abcdefg')).id);
    emu.program('raw_args').testRun(new Uint8Array(0), { args: [0n, eight, seven, 0n] });
    expect([seen(emu, 15), text(16)]).toEqual([8n, 'abcdefg\0']);
    expect([BigInt.asIntN(64, seen(emu, 27)), seen(emu, 28)]).toEqual([-14n, 0n]);
  });

  it('says what a run lacks or has too much of', () => {
    const emu = spec().emulate();
    const codeOf = codeAndMessage;
    expect(codeOf(() => emu.program('raw_args').testRun(new Uint8Array(14), { args: [1] }))).toBe(
      'USAGE: program raw_args: a raw_tracepoint program runs on its arguments alone (testRun(new Uint8Array(0), { args }))',
    );
    expect(codeOf(() => emu.program('raw_args').testRun(new Uint8Array(0), { args: [1], ctx: new Uint8Array(8) }))).toBe('USAGE: program raw_args: give the context as ctx bytes or as args, not both');
    expect(codeOf(() => emu.program('raw_args').testRun(new Uint8Array(0), { args: Array(13).fill(0) }))).toBe(
      "USAGE: program raw_args: 104 bytes of arguments; a raw tracepoint takes at most 12 (the kernel's test run refuses more: EINVAL)",
    );
    expect(codeOf(() => emu.program('raw_args').testRun(new Uint8Array(0), { args: [0.5] }))).toBe('USAGE: program raw_args: argument 0 is 0.5, not an integer (give a bigint for 64-bit values)');
    const tracing = openObject(fixture('tracing.o')).emulate();
    expect(codeOf(() => tracing.program('tp_getppid').testRun(new Uint8Array(0)))).toBe(
      'USAGE: program tp_getppid: a tracepoint program runs on its record: give it as ctx (the layout is in /sys/kernel/tracing/events/<category>/<name>/format)',
    );
    expect(codeOf(() => tracing.program('uprobe_abs').testRun(new Uint8Array(0), { args: [1, 2, 3, 4, 5, 6, 7] }))).toBe(
      "USAGE: program uprobe_abs: a kprobe's registers hold 6 arguments, not 7 (give the struct pt_regs as ctx for more)",
    );
    expect(codeOf(() => tracing.program('iter_tasks').testRun(new Uint8Array(0)))).toMatch(/^USAGE: program iter_tasks: emulating iterator programs is not supported/);
  });
});

describe('bpf-ts test-run --arg / --ret', () => {
  it('emulates tracing programs on their arguments; refuses what does not fit, saying why', async () => {
    // fexit3 with (4, 5, 6) returning 15: the program's own return value is 0.
    expect((await cliOk('test-run', fixture('trace_args.o'), '--program', 'fexit3', '--arg', '4', '--arg', '5', '--arg', '6', '--ret', '15', '--emulate', '--json')).json()).toMatchObject({
      retval: 0,
      verdict: null,
      dataOutHex: '',
    });
    // raw_args returns args[0] + args[3] as a u32: -1 is 0xffffffff_ffffffff, + 0x10 wraps to 0xf.
    const r = await cliOk('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '-1', '--arg', '0', '--arg', '0', '--arg', '0x10', '--emulate');
    expect(r.stdout).toMatch(/^raw_args: retval 15 \(0xf\) \(emulated, \d+ instructions\)$/m);
    const err = async (...argv: string[]) => (await cli(...argv)).stderr.trim();
    expect(await err('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '1x', '--emulate')).toBe('bpf-ts: --arg 1x: not a 64-bit integer (decimal, -1, or 0x hex)');
    expect(await err('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '18446744073709551616', '--emulate')).toBe(
      'bpf-ts: --arg 18446744073709551616: not a 64-bit integer (decimal, -1, or 0x hex)',
    );
    expect(await err('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '1', '--ctx-hex', '00', '--emulate')).toBe('bpf-ts: give the arguments as --arg or as --ctx-hex, not both');
    expect(await err('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--data-hex', '00', '--emulate')).toBe(
      'bpf-ts: raw_args is a raw_tracepoint program: it runs on its arguments (--arg N…) alone, without --data-hex',
    );
    expect(await err('test-run', fixture('xdp_frags.o'), '--arg', '1', '--data-hex', '00'.repeat(60), '--emulate')).toBe('bpf-ts: program xdp_frags (xdp): --arg and --ret are for tracing programs');
    expect(await err('test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '1', '--ret', '2')).toBe(
      "bpf-ts: --ret gives an emulated run the traced function's return value: add --emulate",
    );
  });

  describeRoot('in the kernel', () => {
    it("--arg is a raw tracepoint's ctx: the kernel and the emulator return the same", async () => {
      const argv = ['test-run', fixture('trace_args.o'), '--program', 'raw_args', '--arg', '0xfffffffffffffff0', '--arg', '0', '--arg', '0', '--arg', '0x25', '--json'];
      const kernel = (await cliOk(...argv)).json();
      const emulated = (await cliOk(...argv, '--emulate')).json();
      expect(kernel.retval).toBe(0x15);
      expect(emulated.retval).toBe(0x15);
      expect((await cli('test-run', fixture('xdp_frags.o'), '--arg', '1', '--data-hex', '00'.repeat(60))).stderr.trim()).toBe(
        "bpf-ts: program xdp_frags (xdp): --arg gives a raw tracepoint's arguments (with --emulate, any tracing program's)",
      );
    });
  });
});
