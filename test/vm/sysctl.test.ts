// cgroup sysctl programs in the emulator. The kernel has no test run for
// them, so the comparison is with the calls themselves: fixtures/
// sysctl_guard.o attached to a test cgroup, a node process in that cgroup and
// in a test network namespace reading and writing the namespace's own
// sysctls (net/…) with pread/pwrite, against the emulator's run of the same
// access. What the program read (`seen`: every helper's result and bytes)
// must be the same in both; when the emulator says the call fails, the
// kernel's failed with that errno and changed nothing; when it says the call
// goes on (at the file position the program left, with the bytes it put in
// place of a write's), the kernel's call answered as the same call does
// from a process outside the cgroup (no program), and left the same value.
// bpf_strtol/bpf_strtoul are also held to the kernel's on random strings by
// test runs of an XDP program (the helpers are there for every program type).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/assembler.js';
import { attachCgroupLink } from '../../src/attach/cgroup.js';
import { BpfObjectSpec, openObject } from '../../src/collection.js';
import type { EmulatedCollection, SysctlAccess } from '../../src/vm/index.js';
import { accessDiffs, type CallAnswer, labWithObject } from '../helpers/cgroup-lab.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { Rng } from '../helpers/fuzz.js';
import { describeRoot } from '../helpers/root.js';
import { codeAndMessage } from '../helpers/thrown.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';

/** .bss of the fixture (llvm-readelf's symbol table): seen at 0 (200 bytes, BTF), calls at 0xc8 (2 u64), probes at 0xd8 (216 bytes). */
const BSS = { seen: 0, seenSize: 200, calls: 0xc8, probes: 0xd8, probesSize: 216, size: 0x1b0 };
/** struct rule (BTF): flags, pos, max (u64 at 8), replace_len (16), replace[32] (20); 56 bytes. */
const RULE = { DENY_READ: 1, DENY_WRITE: 2, REPLACE: 4, POS: 8, EACCES: 16, size: 56 };
const ERRNO: Record<number, string> = { 1: 'EPERM', 13: 'EACCES' };

const nameKey = (name: string) => {
  const k = Buffer.alloc(64);
  k.write(name);
  return k;
};
function rule(r: { flags: number; pos?: number; max?: bigint; replace?: string; replaceLen?: number }): Buffer {
  const b = Buffer.alloc(RULE.size);
  b.writeUInt32LE(r.flags, 0);
  b.writeUInt32LE(r.pos ?? 0, 4);
  b.writeBigUInt64LE(r.max ?? 0n, 8);
  b.writeUInt32LE(r.replaceLen ?? Buffer.byteLength(r.replace ?? ''), 16);
  b.write(r.replace ?? '', 20);
  return b;
}
const seenOf = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).subarray(BSS.seen, BSS.seen + BSS.seenSize);
const callsOf = (c: { map(n: string): { get(k: number): unknown } }) => {
  const b = c.map('.bss').get(0) as Buffer;
  return [b.readBigUInt64LE(BSS.calls), b.readBigUInt64LE(BSS.calls + 8)];
};

describe('cgroup sysctl programs in the emulator', () => {
  const setup = () => openObject(fixture('sysctl_guard.o')).emulate();
  const run = (emu: EmulatedCollection, access: SysctlAccess) => emu.program('guard').testRun(new Uint8Array(0), { sysctl: access });

  it('reads the name, the current and the new value; a replaced write comes back as newValue; a denied one is -EPERM or the set retval', () => {
    const emu = setup();
    emu.map('rules').set(nameKey('net/ipv4/ip_default_ttl'), rule({ flags: RULE.REPLACE, max: 100n, replace: '99\n' }));
    emu.map('rules').set(nameKey('net/ipv4/ip_forward'), rule({ flags: RULE.DENY_WRITE | RULE.EACCES }));
    const read = run(emu, { name: 'net.ipv4.ip_default_ttl', value: '64\n' });
    expect([read.retval, read.callRetval, read.sysctl]).toEqual([1, 0, { filePos: 0, newValue: null }]);
    const seen = seenOf(emu);
    // seen: write, file_pos, name_ret, base_ret, cur_ret, new_ret at 0..20; name at 56, base at 120, cur at 136.
    expect([0, 4, 8, 12, 16, 20].map((o) => seen.readInt32LE(o))).toEqual([0, 0, 23, 14, 3, -22]);
    expect(seen.subarray(56, 80).toString('latin1')).toBe('net/ipv4/ip_default_ttl\0');
    expect(seen.subarray(120, 136).toString('latin1')).toBe('ip_default_ttl\0\0');
    expect(seen.subarray(136, 140).toString('latin1')).toBe('64\n\0');
    // A write above the rule's max: replaced by "99\n" (bpf_strtoul read 200, 3 bytes).
    const big = run(emu, { name: 'net/ipv4/ip_default_ttl', value: '64\n', write: '200\n' });
    expect([big.retval, big.callRetval, big.sysctl?.newValue?.toString()]).toEqual([1, 0, '99\n']);
    expect([seenOf(emu).readInt32LE(24), seenOf(emu).readBigUInt64LE(40)]).toEqual([3, 200n]);
    expect(run(emu, { name: 'net/ipv4/ip_default_ttl', value: '64\n', write: '50\n' }).sysctl).toEqual({ filePos: 0, newValue: null });
    // ip_forward: writes denied with EACCES (bpf_set_retval), reads let through.
    const denied = run(emu, { name: '/proc/sys/net/ipv4/ip_forward', value: '0\n', write: '1\n' });
    expect([denied.retval, denied.callRetval, denied.sysctl]).toEqual([0, -13, { filePos: 0, newValue: null }]);
    expect(run(emu, { name: 'net/ipv4/ip_forward', value: '0\n' }).callRetval).toBe(0);
    expect(callsOf(emu)).toEqual([2n, 3n]);
  });

  it('moves the file position when the program writes it, and a sysctl that cannot be read has no current value (-EINVAL)', () => {
    const emu = setup();
    emu.map('rules').set(nameKey('net/ipv4/route/flush'), rule({ flags: RULE.POS, pos: 7 }));
    const r = run(emu, { name: 'net/ipv4/route/flush', value: null, write: '1\n', filePos: 3 });
    expect(r.sysctl).toEqual({ filePos: 7, newValue: null });
    expect([seenOf(emu).readUInt32LE(4), seenOf(emu).readInt32LE(16), seenOf(emu).readInt32LE(12)]).toEqual([3, -22, 5]);
  });

  it('refuses an access it cannot run on, in words', () => {
    const emu = setup();
    const p = emu.program('guard');
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0)))).toBe(
      "USAGE: program guard: give the access it runs on: testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_forward', value: '0\\n', write: '1\\n' } })",
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(4), { sysctl: { name: 'net/ipv4/ip_forward', value: '0\n' } }))).toBe(
      'USAGE: program guard: a cgroup sysctl program runs on a sysctl access alone (testRun(new Uint8Array(0), { sysctl: { name, value, write } }))',
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { sysctl: { name: 'ip_forward', value: '0\n' } }))).toBe(
      'USAGE: program guard: sysctl ip_forward: a sysctl file is in a directory of /proc/sys (kernel/, net/, vm/, …)',
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { sysctl: { name: 'net//ip_forward', value: '0\n' } }))).toBe(
      "USAGE: program guard: sysctl net//ip_forward: write its path under /proc/sys, as 'net/ipv4/ip_forward' or 'net.ipv4.ip_forward'",
    );
    expect(codeAndMessage(() => p.testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_forward', value: 'x'.repeat(4097) } }))).toBe(
      'USAGE: program guard: sysctl net/ipv4/ip_forward: a 4097-byte current value: the kernel reads at most a page (4096 bytes) of it',
    );
  });
});

describe('bpf-ts test-run --emulate --sysctl', () => {
  const OBJ = fixture('sysctl_guard.o');
  const entry = (name: string, r: Buffer) => `rules:${nameKey(name).toString('hex')}=${r.toString('hex')}`;

  it('says whether a read or write goes on, with which value and from which position; JSON too', async () => {
    const read = await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward', '--sysctl-current', '0');
    expect(read.stdout).toMatch(/^guard: retval 1 \(0x1\) \(emulated, \d+ instructions\)\nthe read goes on\n$/);
    const cap = entry('net/ipv4/ip_default_ttl', rule({ flags: RULE.REPLACE | RULE.POS, pos: 2, max: 100n, replace: '99\n' }));
    const replaced = await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net/ipv4/ip_default_ttl=200', '--sysctl-current', '64', '--entry', cap);
    expect(replaced.stdout).toMatch(/\nthe write goes on with "99\\n" \(the program's, in place of "200\\n"\)\nfile position: 2 \(was 0\)\n$/);
    const deny = entry('net/ipv4/ip_forward', rule({ flags: RULE.DENY_WRITE | RULE.EACCES }));
    expect((await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl-current', '0', '--entry', deny)).stdout).toMatch(
      /\nthe call fails: EACCES\n$/,
    );
    const json = await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_default_ttl=200', '--sysctl-current', '64', '--entry', cap, '--json');
    expect(json.json()).toMatchObject({ retval: 1, allowed: true, sysctl: { name: 'net.ipv4.ip_default_ttl', filePos: 2, newValue: '99\n' } });
    const denied = await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl-current', '0', '--entry', deny, '--json');
    expect(denied.json()).toMatchObject({ retval: 0, allowed: false, callRetval: -13, sysctl: { newValue: null } });
  });

  it("reads the current value from this machine's /proc/sys when none is given", async () => {
    // What the run read is what the file reads here: bpf_sysctl_get_current_value's result, in the trace, is its length.
    const now = readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'latin1');
    const r = await cliOk('test-run', OBJ, '--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_default_ttl', '--trace', '--json');
    expect(r.json()).toMatchObject({ retval: 1, allowed: true });
    const calls = (r.json() as { trace: { text: string; changed: Record<string, string> }[] }).trace;
    const at = calls.findIndex((t) => t.text.startsWith('call bpf_sysctl_get_current_value'));
    expect(calls[at]!.changed.r0).toBe(`0x${now.length.toString(16)}`);
  });

  it('refuses in words: no access, a packet, a malformed name, --sysctl for another program type, a kernel run', async () => {
    const errors: [string[], string][] = [
      [
        ['--program', 'guard', '--emulate'],
        'bpf-ts: guard is a cgroup sysctl program: give the read or write of a sysctl it runs on, e.g. --sysctl net.ipv4.ip_forward (a read) or --sysctl net.ipv4.ip_forward=1 (a write)\n',
      ],
      [
        ['--program', 'guard', '--emulate', '--sysctl', 'net.ipv4.ip_forward', '--data-hex', '00'.repeat(14)],
        'bpf-ts: guard is a cgroup sysctl program: it runs on a read or write of a sysctl (--sysctl), not on a packet or a context\n',
      ],
      [['--program', 'guard', '--emulate', '--sysctl', '../x'], 'bpf-ts: --sysctl ../x: write it as NAME or NAME=VALUE (net.ipv4.ip_forward=1)\n'],
      [
        ['--program', 'guard', '--sysctl', 'net.ipv4.ip_forward'],
        'bpf-ts: guard is a cgroup sysctl program: the kernel has no test run for those (it runs them in reads and writes of /proc/sys): add --emulate, or attach it (bpf-ts load OBJ --cgroup DIR)\n',
      ],
    ];
    for (const [args, stderr] of errors) expect(await cli('test-run', OBJ, ...args)).toMatchObject({ code: 1, stdout: '', stderr });
    expect(await cli('test-run', fixture('sock_create.o'), '--program', 'create', '--emulate', '--socket', 'udp 0.0.0.0:0', '--sysctl', 'net.ipv4.ip_forward')).toMatchObject({
      code: 1,
      stderr: "bpf-ts: program create (cgroup_sock): --sysctl is a cgroup sysctl program's input\n",
    });
  });
});

// ---------------------------------------------------------------- against the kernel's calls

/** The namespace's sysctls the tests read and write, and values a write may try. */
const SYSCTLS: Record<string, string[]> = {
  'net/ipv4/ip_default_ttl': ['64\n', '200\n', '50', '0x20\n', '017\n', ' 99\n', '-5\n', '0\n', '300\n'],
  // Not ip_forward: a write that changes it while another task holds the RTNL lock is restarted by
  // the kernel (restart_syscall), and the program runs again each time — thousands of runs for one
  // pwrite when other tests are busy with netlink.
  'net/ipv4/ip_no_pmtu_disc': ['1\n', '0\n', '3', '4\n', 'yes\n'],
  'net/core/somaxconn': ['4096\n', '128\n', '99999999999999999999\n', '0x1000', '\t4000 \n', '-1\n'],
  'net/ipv4/tcp_fin_timeout': ['60\n', '30\n', '18446744073709551615\n', '9223372036854775808\n', '-9223372036854775808\n'],
  'net/ipv4/tcp_congestion_control': ['reno\n', 'cubic\n', 'none\n', ' 12 '],
  'net/ipv4/ping_group_range': ['1\t0\n', '0 0\n', '10 20\n'],
  'net/ipv4/route/flush': ['1\n', '0\n'],
  'net/ipv4/conf/all/accept_source_route': ['0\n', '1\n', '0' + ' '.repeat(40) + '\n'],
};
const REPLACEMENTS = ['99\n', '1\n', 'reno\n', '0\n', '128', '5 6\n', 'x'];

describeRoot('cgroup sysctl: the emulator against the kernel running the program in read() and write()', () => {
  const t = labWithObject('sc', 'sysctl_guard.o');

  /** What reading the whole file gives now (its current value), or null when it cannot be read. */
  const current = async (name: string): Promise<string | null> => {
    const r = await t.lab.outsider().call({ op: 'sysctl-read', name, pos: 0, size: 4096 });
    return r.error ? null : Buffer.from(r.hex!, 'hex').toString('latin1');
  };
  /** The call as a process outside the cgroup makes it: the file's handler alone. */
  const call = (c: { call(op: Record<string, unknown>): Promise<CallAnswer> }, name: string, access: { write?: Buffer; pos: number }) =>
    c.call(access.write ? { op: 'sysctl-write', name, hex: access.write.toString('hex'), pos: access.pos } : { op: 'sysctl-read', name, pos: access.pos, size: 64 });

  /**
   * One access through the kernel and the emulator with the same rule: the
   * same `seen` and counts, and the same outcome (see the file's comment).
   * Returns what it saw, for the coverage checks.
   */
  const compare = async (name: string, r: Buffer | undefined, access: { write?: string; pos: number }) => {
    for (const c of [t.kern, t.emu]) {
      if (r) c.map('rules').set(nameKey(name), r);
      else c.map('rules').delete(nameKey(name));
      // seen and the counts from zero: calls made outside compare() count too.
      c.map('.bss').set(0, Buffer.alloc(BSS.size));
    }
    const before = await current(name);
    const write = access.write === undefined ? undefined : Buffer.from(access.write, 'latin1');
    const inside = await call(t.lab.caller, name, { write, pos: access.pos });
    const after = await current(name);
    const e = t.emu.program('guard').testRun(new Uint8Array(0), { sysctl: { name, value: before, write, filePos: access.pos } });
    const what = `${name} ${write ? `write ${JSON.stringify(access.write)}` : 'read'} at ${access.pos}, rule ${r?.toString('hex') ?? 'none'}`;
    expect(seenOf(t.emu).toString('hex'), what).toBe(seenOf(t.kern).toString('hex'));
    expect(callsOf(t.emu), what).toEqual(callsOf(t.kern));
    if (e.callRetval !== 0) {
      expect({ error: inside.error, after }, what).toEqual({ error: ERRNO[-e.callRetval!], after: before });
      return { denied: true, replaced: false, moved: false };
    }
    const moved = e.sysctl!.filePos !== access.pos;
    const replaced = e.sysctl!.newValue !== null;
    const alone = await call(t.lab.outsider(), name, { write: e.sysctl!.newValue ?? write, pos: e.sysctl!.filePos });
    expect(inside, what).toEqual(alone);
    if (write) expect(await current(name), what).toBe(after);
    return { denied: false, replaced, moved };
  };

  it('a read let through, a write replaced (write() returns the new length), one denied with EPERM, one with EACCES', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('guard'), attachType: 'sysctl' });
    await compare('net/ipv4/ip_default_ttl', undefined, { pos: 0 });
    const cap = rule({ flags: RULE.REPLACE, max: 100n, replace: '99\n' });
    expect(await compare('net/ipv4/ip_default_ttl', cap, { write: '200\n', pos: 0 })).toEqual({ denied: false, replaced: true, moved: false });
    expect(await current('net/ipv4/ip_default_ttl')).toBe('99\n');
    expect(await call(t.lab.caller, 'net/ipv4/ip_default_ttl', { write: Buffer.from('250\n'), pos: 0 })).toEqual({ n: 3 });
    expect(await compare('net/ipv4/ip_forward', rule({ flags: RULE.DENY_WRITE }), { write: '1\n', pos: 0 })).toEqual({ denied: true, replaced: false, moved: false });
    expect(await compare('net/ipv4/ip_forward', rule({ flags: RULE.DENY_READ | RULE.EACCES }), { pos: 0 })).toEqual({ denied: true, replaced: false, moved: false });
    expect(await call(t.lab.caller, 'net/ipv4/ip_forward', { pos: 0 })).toEqual({ error: 'EACCES' });
  });

  it('200 random accesses: reads and writes at random positions under random rules, the same in both', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('guard'), attachType: 'sysctl' });
    const rng = new Rng(0x5c7a11);
    const names = Object.keys(SYSCTLS);
    const seen = { denied: 0, replaced: 0, moved: 0, passed: 0 };
    for (let i = 0; i < 200; i++) {
      const name = rng.pick(names);
      const replace = rng.pick(REPLACEMENTS);
      const r = rng.chance(0.25)
        ? undefined
        : rule({
            flags: rng.int(32),
            pos: rng.pick([0, 0, 1, 2, 64]),
            max: rng.pick([0n, 1n, 50n, 100n, 5000n]),
            replace,
            replaceLen: rng.chance(0.8) ? Buffer.byteLength(replace) : rng.int(40),
          });
      // route/flush cannot be read: the caller gets EACCES before any program runs.
      const write = name.endsWith('/flush') || rng.chance(0.5) ? rng.pick(SYSCTLS[name]!) : undefined;
      const o = await compare(name, r, { write, pos: rng.pick([0, 0, 0, 1, 3]) });
      seen.denied += +o.denied;
      seen.replaced += +o.replaced;
      seen.moved += +o.moved;
      seen.passed += +!o.denied;
    }
    // Every path taken more than a few times.
    expect(
      Object.values(seen).every((n) => n >= 5),
      JSON.stringify(seen),
    ).toBe(true);
  }, 120_000);

  it('the name, current and new value into buffers of every size from 1 to 64: cut, NUL-terminated and zero-padded as the kernel does', async () => {
    using _link = attachCgroupLink({ cgroup: t.lab.cgroup, program: t.kern.program('probe'), attachType: 'sysctl' });
    const probes = (c: { map(n: string): { get(k: number): unknown } }) => (c.map('.bss').get(0) as Buffer).subarray(BSS.probes, BSS.probes + BSS.probesSize);
    const cases: [string, string | undefined][] = [
      ['net/ipv4/conf/all/accept_source_route', undefined],
      ['net/ipv4/ip_default_ttl', '64\n'],
      ['net/ipv4/tcp_congestion_control', 'reno\n'],
    ];
    let cut = 0;
    for (const [name, write] of cases)
      for (let size = 1; size <= 64; size++)
        for (const flags of [0, 1]) {
          const bss = Buffer.alloc(BSS.size, 0xee);
          bss.writeUInt32LE(size, BSS.probes);
          bss.writeUInt32LE(flags, BSS.probes + 4);
          for (const c of [t.kern, t.emu]) c.map('.bss').set(0, bss);
          const before = await current(name);
          // The caller's node reads a sysctl of its own now and then (V8: vm/overcommit_memory), which the
          // probe records too: the call again when the kernel's record names another sysctl.
          const shown = (flags ? name.slice(name.lastIndexOf('/') + 1) : name).slice(0, size - 1);
          for (let attempt = 0; ; attempt++) {
            const inside = await call(t.lab.caller, name, { write: write === undefined ? undefined : Buffer.from(write), pos: 0 });
            expect(inside.error, `${name} size ${size} flags ${flags}`).toBeUndefined();
            const got = probes(t.kern)
              .subarray(24, 24 + shown.length)
              .toString('latin1');
            if (got === shown || attempt === 2) break;
          }
          t.emu.program('probe').testRun(new Uint8Array(0), { sysctl: { name, value: before, write } });
          const what = `${name} size ${size} flags ${flags}`;
          expect(probes(t.emu).toString('hex'), what).toBe(probes(t.kern).toString('hex'));
          if (probes(t.kern).readInt32LE(8) === -7) cut++;
        }
    expect(cut).toBeGreaterThan(60);
  }, 120_000);
});

describeRoot('bpf_strtol and bpf_strtoul: the emulator against the kernel on random strings', () => {
  // An XDP program parses the frame: byte 0 the length (1 to 64), byte 1 the
  // flags, the string from byte 8; it writes the result and *res back at 0 and 8.
  const text = (helper: number) =>
    [
      'r6 = r1',
      'r1 = r6',
      'r2 = 0',
      'r3 = r10',
      'r3 += -80',
      'r4 = 72',
      'call bpf_xdp_load_bytes#189',
      'r2 = *(u8 *)(r10 - 80)',
      'r2 &= 63',
      'r2 += 1',
      'r3 = *(u8 *)(r10 - 79)',
      'r1 = r10',
      'r1 += -72',
      'r4 = r10',
      'r4 += -88',
      `call ${helper}`,
      '*(u64 *)(r10 - 96) = r0',
      'r1 = r6',
      'r2 = 0',
      'r3 = r10',
      'r3 += -96',
      'r4 = 16',
      'call bpf_xdp_store_bytes#190',
      'r0 = 2',
      'exit',
    ].join('\n');
  const PIECES = [
    '0',
    '1',
    '7',
    '9',
    'a',
    'f',
    'F',
    'g',
    'x',
    'X',
    '0x',
    '0X',
    '-',
    '+',
    ' ',
    '\t',
    '\n',
    '\xa0',
    '\0',
    '18446744073709551615',
    '9223372036854775807',
    '9223372036854775808',
    'ffffffffffffffff',
    '777777777777777777777',
  ];

  for (const [name, helper] of [
    ['bpf_strtol', 105],
    ['bpf_strtoul', 106],
  ] as const)
    it(`${name}: 3000 strings, lengths and flags (bases 0, 8, 10, 16, and bad ones) give the same result and value`, () => {
      const spec = BpfObjectSpec.fromInstructions(assemble(text(helper)).bytes, { type: 'xdp', name: 'p' });
      using kern = spec.load();
      const emu = spec.emulate();
      const rng = new Rng(helper * 7919);
      const results = new Set<string>();
      for (let i = 0; i < 3000; i++) {
        const frame = Buffer.alloc(72);
        let s = '';
        while (s.length < 64 && !rng.chance(0.2)) s += rng.pick(PIECES);
        frame.write(s.slice(0, 64), 8, 'latin1');
        frame[0] = rng.int(64);
        frame[1] = rng.pick([0, 0, 8, 10, 16, 16, 2, 32, 0x21, 0x1f]);
        const k = kern.program('p').testRun(frame);
        const m = emu.program('p').testRun(frame);
        const what = `${JSON.stringify(s.slice(0, frame[0]! + 1))} flags ${frame[1]}`;
        expect(m.dataOut.subarray(0, 16).toString('hex'), what).toBe(k.dataOut.subarray(0, 16).toString('hex'));
        results.add(String(k.dataOut.readInt32LE(0)));
      }
      // -EINVAL, -ERANGE and many lengths.
      expect(results.has('-22') && results.has('-34') && results.size > 20, [...results].join(' ')).toBe(true);
    });
});

describeRoot('struct bpf_sysctl: the loads and stores the verifier takes', () => {
  it('every load and store at every offset and width, taken or refused as by the verifier', () => {
    const { diffs, taken } = accessDiffs(
      'cgroup_sysctl',
      BPF_ATTACH_TYPE.CGROUP_SYSCTL,
      8,
      (e) => e.program('p').testRun(new Uint8Array(0), { sysctl: { name: 'net/ipv4/ip_forward', value: '0\n', write: '1\n', filePos: 0x1_0000_0003 } }),
      /bpf_sysctl/,
    );
    expect(diffs).toEqual([]);
    // Loads of 1, 2 and 4 bytes of each u32 field (7 each); one store, file_pos whole.
    expect(taken).toEqual({ load: 14, store: 1 });
  });
});
