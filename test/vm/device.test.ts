// cgroup device programs in the emulator. The kernel has no test run for
// them, so the comparison is with the calls themselves: fixtures/
// dev_policy.o (a device allow-list, as container runtimes attach) on a test
// cgroup, a process in it opening the host's device nodes for reading
// and/or writing and making char and block nodes with mknod in a private
// directory, against the emulator's run of the same access (twice for a
// block device opened: the kernel checks it again when the block layer opens
// it). What the program read (`seen`, narrow loads of access_type included)
// and counted is the same; a call the emulator refuses failed with its errno; a call it lets
// through answered as the same call from outside the cgroup does.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { openObject } from '../../src/collection.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { type CgroupDevSpec, cgroupDevCtx, type EmulatedCollection } from '../../src/vm/index.js';
import { accessDiffs, labWithObject } from '../helpers/cgroup-lab.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { Rng } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';

/** .bss of the fixture (llvm-readelf's symbol table): seen at 0 (28 bytes), calls at 0x20 (8 u64), deny_eacces at 0x60. */
const BSS = { seen: 0, calls: 0x20, denyEacces: 0x60, size: 0x64 };
const [READ, WRITE] = [2, 4];
const ANY = 0xffffffff;
const key = (type: 'char' | 'block', major: number, minor: number) => {
  const k = Buffer.alloc(12);
  k.writeUInt32LE(type === 'char' ? 2 : 1, 0);
  k.writeUInt32LE(major, 4);
  k.writeUInt32LE(minor >>> 0, 8);
  return k;
};
const globals = (c: { map(n: string): { set(k: number, v: Buffer): void } }, denyEacces: boolean) => {
  const b = Buffer.alloc(BSS.size);
  b.writeUInt32LE(denyEacces ? 1 : 0, BSS.denyEacces);
  c.map('.bss').set(0, b);
};
const bssOf = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).toString('hex');

describe('cgroup device programs in the emulator', () => {
  const setup = () => {
    const emu = openObject(fixture('dev_policy.o')).emulate();
    emu.map('allow').set(key('char', 1, 3), READ | WRITE); // /dev/null
    emu.map('allow').set(key('char', 1, ANY), READ); // any mem device, read only
    globals(emu, false);
    return emu;
  };
  const run = (emu: EmulatedCollection, spec: CgroupDevSpec) => emu.program('dev').testRun(new Uint8Array(0), { ctx: cgroupDevCtx(spec) });

  it('allows what a rule allows wholly, refuses the rest (EPERM, or EACCES by bpf_set_retval), the exact minor before the wildcard', () => {
    const emu = setup();
    expect(run(emu, { type: 'char', major: 1, minor: 3, access: ['read', 'write'] })).toMatchObject({ retval: 1, callRetval: 0 });
    expect(run(emu, { type: 'char', major: 1, minor: 5, access: ['read'] })).toMatchObject({ retval: 1, callRetval: 0 });
    expect(run(emu, { type: 'char', major: 1, minor: 5, access: ['read', 'write'] })).toMatchObject({ retval: 0, callRetval: -1 });
    expect(run(emu, { type: 'block', major: 1, minor: 3, access: ['read'] }).callRetval).toBe(-1);
    globals(emu, true);
    expect(run(emu, { type: 'char', major: 1, minor: 3, access: ['mknod'] }).callRetval).toBe(-13);
    // seen: access_type (MKNOD << 16 | CHAR), major, minor, the two u16 halves, bytes 0 and 2, verdict, the rule's minor.
    const seen = (emu.map('.bss').get(0) as Buffer).subarray(0, 28);
    expect([seen.readUInt32LE(0), seen.readUInt32LE(4), seen.readUInt32LE(8), seen.readUInt16LE(12), seen.readUInt16LE(14), seen[16], seen[17], seen.readUInt32LE(20), seen.readUInt32LE(24)]).toEqual([
      0x10002, 1, 3, 2, 1, 2, 1, 0, 3,
    ]);
  });

  it('refuses a context it cannot run on, in words', () => {
    const emu = setup();
    const p = emu.program('dev');
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0)))).toBe(
      "USAGE: program dev: it needs a struct bpf_cgroup_dev_ctx: the device and the access (cgroupDevCtx({ type: 'char', major: 1, minor: 3, access: ['read'] }))",
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { ctx: new Uint8Array(8) }))).toBe('USAGE: program dev: a struct bpf_cgroup_dev_ctx is 12 bytes, not 8');
    expect(codeAndMessage(() => cgroupDevCtx({ type: 'char', major: 1, minor: 3, access: [] }))).toBe("USAGE: device char 1:3: access is one or more of 'read', 'write', 'mknod'");
    expect(codeAndMessage(() => cgroupDevCtx({ type: 'char', major: -1, minor: 3, access: ['read'] }))).toBe('USAGE: device char -1:3: -1 is not a device number');
  });
});

describe('bpf-ts test-run --emulate --device', () => {
  const OBJ = fixture('dev_policy.o');
  it('says whether the open or mknod goes on; JSON too', async () => {
    const entry = `allow:${key('char', 1, 3).toString('hex')}=06000000`;
    expect((await cliOk('test-run', OBJ, '--emulate', '--device', 'char 1:3 rw', '--entry', entry)).stdout).toMatch(/^dev: retval 1 \(0x1\) \(emulated, \d+ instructions\)\nthe call goes on\n$/);
    expect((await cliOk('test-run', OBJ, '--emulate', '--device', 'char 1:3 m', '--entry', entry)).stdout).toMatch(/\nthe call fails: EPERM\n$/);
    expect((await cliOk('test-run', OBJ, '--emulate', '--device', 'block 7:0 r', '--json')).json()).toMatchObject({ retval: 0, allowed: false, callRetval: -1 });
  });
  it('refuses in words: no device, a malformed one, --device for another program type, a kernel run', async () => {
    const errors: [string[], string][] = [
      [['--emulate'], "bpf-ts: dev is a cgroup device program: give the device access it runs on, e.g. --device 'char 1:3 rw' (r, w: an open; m: mknod)\n"],
      [['--emulate', '--device', 'char 1 rw'], "bpf-ts: --device \"char 1 rw\": write it as 'char|block MAJOR:MINOR ACCESS' (ACCESS: r, w, m or a mix: 'char 1:3 rw')\n"],
      [
        ['--device', 'char 1:3 r'],
        'bpf-ts: dev is a cgroup device program: the kernel has no test run for those (it runs them in open and mknod of device nodes): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n',
      ],
    ];
    for (const [args, stderr] of errors) expect(await cli('test-run', OBJ, ...args)).toMatchObject({ code: 1, stdout: '', stderr });
    expect(await cli('test-run', fixture('sysctl_guard.o'), '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward', '--device', 'char 1:3 r')).toMatchObject({
      code: 1,
      stderr: "bpf-ts: program guard (cgroup_sysctl): --device is a cgroup device program's input\n",
    });
  });
});

// ---------------------------------------------------------------- against the kernel's calls

/** Device nodes of this host the test opens (those that exist), by type, major and minor. */
const NODES: [string, 'char' | 'block', number, number][] = [
  ['/dev/null', 'char', 1, 3],
  ['/dev/zero', 'char', 1, 5],
  ['/dev/full', 'char', 1, 7],
  ['/dev/random', 'char', 1, 8],
  ['/dev/urandom', 'char', 1, 9],
  ['/dev/tty', 'char', 5, 0],
  ['/dev/ptmx', 'char', 5, 2],
  ['/dev/loop0', 'block', 7, 0],
];

describeRoot('cgroup device: the emulator against the kernel running the program in open() and mknod()', () => {
  const t = labWithObject('dv', 'dev_policy.o');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-ts-dev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('300 random opens and mknods under random allow-lists: the same verdict, error and result', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('dev'), attachType: 'device' });
    const rng = new Rng(0xde71ce);
    const present = NODES.filter(([path, type]) => {
      try {
        const s = statSync(path);
        return type === 'char' ? s.isCharacterDevice() : s.isBlockDevice();
      } catch {
        return false;
      }
    });
    // The node numbers this host gives them, as stat reads them (not assumed).
    for (const [path, , major, minor] of present) {
      const rdev = statSync(path).rdev;
      expect([Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & ~0xff)], path).toEqual([major, minor]);
    }
    expect(present.length).toBeGreaterThanOrEqual(5);
    const paths = { allowed: 0, eperm: 0, eacces: 0 };
    for (let i = 0; i < 300; i++) {
      // A random allow-list over the nodes' numbers, exact minors and wildcards.
      const rules: [Buffer, number][] = [];
      for (let r = rng.int(6); r > 0; r--) {
        const [, type, major, minor] = rng.pick(present);
        rules.push([key(rng.chance(0.9) ? type : type === 'char' ? 'block' : 'char', major, rng.chance(0.3) ? ANY : minor), rng.int(8)]);
      }
      const denyEacces = rng.chance(0.3);
      for (const c of [t.kern, t.emu]) {
        for (const k of [...c.map('allow').keys()]) c.map('allow').delete(k as Buffer);
        for (const [k, v] of rules) c.map('allow').set(k, v);
        globals(c, denyEacces);
      }
      let call: Record<string, unknown>;
      let spec: CgroupDevSpec;
      if (rng.chance(0.6)) {
        const [path, type, major, minor] = rng.pick(present);
        const mode = rng.pick(['r', 'w', 'rw'] as const);
        call = { op: 'open', path, mode };
        spec = { type, major, minor, access: mode === 'r' ? ['read'] : mode === 'w' ? ['write'] : ['read', 'write'] };
      } else {
        const [, type, major, minor] = rng.pick(present);
        const m = rng.chance(0.7) ? minor : rng.int(16);
        call = { op: 'mknod', path: join(dir, `n${i}`), type, major, minor: m };
        spec = { type, major, minor: m, access: ['mknod'] };
      }
      const inside = await t.lab.caller.call(call);
      const e = t.emu.program('dev').testRun(new Uint8Array(0), { ctx: cgroupDevCtx(spec) });
      // A block device the inode check lets open is checked again by the block layer (bdev_permission): a second run.
      if (call.op === 'open' && spec.type === 'block' && e.callRetval === 0) t.emu.program('dev').testRun(new Uint8Array(0), { ctx: cgroupDevCtx(spec) });
      const what = `${JSON.stringify(call)} under ${rules.map(([k, v]) => `${k.toString('hex')}=${v}`).join(' ')}${denyEacces ? ' (EACCES)' : ''}`;
      expect(bssOf(t.emu), what).toBe(bssOf(t.kern));
      if (e.callRetval !== 0) {
        expect(inside, what).toEqual({ errno: -e.callRetval! });
        paths[e.callRetval === -13 ? 'eacces' : 'eperm']++;
      } else {
        expect(inside, what).toEqual(await t.lab.outsider().call(call));
        paths.allowed++;
      }
    }
    expect(
      Object.values(paths).every((n) => n >= 20),
      JSON.stringify(paths),
    ).toBe(true);
  }, 120_000);
});

describeRoot('struct bpf_cgroup_dev_ctx: the loads and stores the verifier takes', () => {
  it('every load and store at every offset and width, taken or refused as by the verifier', () => {
    const { diffs, taken } = accessDiffs(
      'cgroup_device',
      BPF_ATTACH_TYPE.CGROUP_DEVICE,
      12,
      (e) => e.program('p').testRun(new Uint8Array(0), { ctx: cgroupDevCtx({ type: 'char', major: 1, minor: 3, access: ['read'] }) }),
      /bpf_cgroup_dev_ctx/,
    );
    expect(diffs).toEqual([]);
    // access_type in 1, 2 and 4 bytes (7 loads), major and minor whole; no store.
    expect(taken).toEqual({ load: 9, store: 0 });
  });
});
