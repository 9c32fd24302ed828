// vitest: long (~180 CLI children under setpriv: ~25 s)
// Least privilege, measured: every command runs as uid 65534 under setpriv
// with exactly the capabilities it is documented to need, and must succeed
// (with a real effect checked as root); then once per needed capability with
// that one dropped, and must fail with a message that names the dropped
// capability and never asks for one the process already holds.
// docs/capabilities.md is generated from these results (BPF_TS_WRITE_CAPS_DOC=1
// rewrites it); the last test checks the committed file matches.
import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/index.js';
import { tracefsRoot } from '../../src/link/tracefs.js';
import { cgroup2Mount, detachCgroup, queryCgroup } from '../../src/attach/cgroup.js';
import { detachTc, queryTc } from '../../src/attach/tc.js';
import { detachTcx, queryTcx } from '../../src/attach/tcx.js';
import { progAttach } from '../../src/sys/prog-attach-attr.js';
import { withNetns } from '../../src/netns.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { attachXdp, attachXdpLink, detachXdp, queryXdp, type XdpLink } from '../../src/attach/xdp.js';
import { openObject, type BpfCollection } from '../../src/collection.js';
import { BpfLink } from '../../src/link/link.js';
import { BpfMap } from '../../src/maps/map.js';
import { netnsExists } from '../../src/netns.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { setupTestEnv, statusTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { defaultXdpLinkPin } from '../../src/cli/default-pins.js';
import { objPin } from '../../src/sys/obj-attr.js';
import { cli, fixture, ROOT, uniqueName, type CliResult } from '../helpers/cli.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { describeRoot } from '../helpers/root.js';
import { capTitle, hasSetpriv, NOBODY, runUnprivileged, unprivFixture, unprivilegedCopy, type CapWord } from '../helpers/unpriv.js';

const DOC = join(ROOT, 'docs', 'capabilities.md');
const FRAME = '00'.repeat(64);

interface Case {
  /** The command line as the doc shows it. */
  command: string;
  needs: CapWord[];
  args: () => string[];
  /** Run inside this namespace (entered as root before dropping privileges). */
  netns?: () => string;
  before?: () => void | Promise<void>;
  /** Root-side cleanup after every run, successful or not. */
  after?: () => void;
  /** The effect a successful run must have had (checked as root). */
  check?: (r: CliResult) => void;
  /** What the message must say when this capability is missing (default: its CAP_ name). */
  missing?: Partial<Record<CapWord, RegExp>>;
  /** Listed capabilities another listed one stands in for (CAP_SYS_ADMIN for CAP_BPF): dropping them alone must still work. */
  coveredBy?: Partial<Record<CapWord, CapWord>>;
  note?: string;
}

interface Row {
  command: string;
  needs: CapWord[];
  without: { cap: CapWord; says: string }[];
  note?: string;
}

/** The stable part of an error: the failing call and errno, or the kind of refusal. */
function refusal(stderr: string): string {
  const first = stderr.split('\n')[0] ?? '';
  if (/rejected by the verifier/.test(first)) return 'verifier: "… prohibited for !root"';
  const sys = /(BPF_[A-Z_]+)\b.*?: (E[A-Z]+):/.exec(first);
  if (sys) return `${sys[1]}: ${sys[2]}`;
  if (/setns/.test(first)) return 'setns: EPERM';
  if (/demo needs root/.test(first)) return 'refused before starting';
  // A file in a directory the caller may not write: the directory (the file's name is per run).
  const file = /cannot (create|remove) (\S+)\/[^/\s]+: (EACCES|EPERM)/.exec(first);
  if (file) return `${file[1]} in ${file[2]}: ${file[3]}`;
  const mnt = /^bpf-ts: (mount|umount)\b[^:]*: (E[A-Z]+)/.exec(first);
  if (mnt) return `${mnt[1]}: ${mnt[2]}`;
  const sysctl = /\((\/proc\/sys\/[^)]*)\): (E[A-Z]+)/.exec(first);
  if (sysctl) return `write ${sysctl[1]}: ${sysctl[2]}`;
  if (/probes were refused for want of/.test(first)) return 'every probe: EPERM';
  if (/reading its instructions needs CAP_BPF/.test(first)) return 'BPF_OBJ_GET_INFO_BY_FD: no instructions reported';
  if (/tracefs at .* not searchable/.test(first)) return "tracefs (root's, mode 0700): EACCES";
  const sock = /(socket\([A-Z_]+\)) failed \((E[A-Z]+)\)/.exec(first);
  if (sock) return `${sock[1]}: ${sock[2]}`;
  if (/^nsenter: .*Operation not permitted/.test(first)) return 'nsenter: EPERM';
  const nl = /: (EPERM|EACCES)/.exec(first);
  if (nl) return `netlink: ${nl[1]}`;
  return first.replace(/^bpf-ts: /, '').slice(0, 60);
}

/** A capability the process holds must never appear as one it "needs" or "lacks". */
function assertNoHeldCapAsked(stderr: string, held: CapWord[]): void {
  const asked = stderr.replace(/has (no )?CAP_[A-Z_]+/g, '');
  for (const h of held) expect(asked, `asks for ${capTitle(h)}, which it holds`).not.toContain(capTitle(h));
}

describeRoot('capabilities per command (setpriv, uid 65534)', () => {
  if (!hasSetpriv()) {
    it('setpriv is installed (util-linux)', () => {
      throw new Error('setpriv (util-linux) is missing: the capability matrix cannot be measured');
    });
    return;
  }
  let env: TestEnv;
  let fs: { path: string; unmount(): void };
  let coll: BpfCollection;
  /** Two sched_cls programs root attaches to tcx without a link. */
  const tcPlain: BpfCollection[] = [];
  let map: BpfMap;
  let mapPin: string;
  let progPin: string;
  const rows: Row[] = [];
  let failures = 0;

  const xdpNone = () => queryXdp(env.vethB, { netns: env.nsB }).attached === 'none';
  const clearXdp = () => {
    if (netnsExists(env.nsB) && !xdpNone()) detachXdp(env.vethB, { netns: env.nsB, linkPins: [linkPin()] });
    if (existsSync(linkPin())) rmSync(linkPin());
  };
  const linkPin = () => defaultXdpLinkPin(fs.path, env.vethB);
  let userLinkId = 0;
  /** An XDP link on vethB as the user's own load --link would leave it: a pin of theirs in their directory. */
  const pinUserXdpLink = () => {
    using link = attachXdpLink({ iface: env.vethB, progFd: coll.program('xdp_drop').fd.value, mode: 'skb', netns: env.nsB });
    // (bpf-ts itself, as root, refuses to pin into a directory another user owns.)
    objPin(link.fd.value, linkPin());
    chownSync(linkPin(), NOBODY, NOBODY);
    chmodSync(linkPin(), 0o600);
    userLinkId = link.id;
  };
  let testenvName = '';
  const clearTc = () => {
    if (netnsExists(env.nsB) && queryTc(env.vethB, { netns: env.nsB }).length) detachTc(env.vethB, { netns: env.nsB });
    if (netnsExists(env.nsB)) detachTcx(env.vethB, { netns: env.nsB });
    rmSync(join(userDir(), 'tc'), { recursive: true, force: true });
    rmSync(join(rootDir(), 'tc'), { recursive: true, force: true });
    rmSync(join(userDir(), 'bpf-ts'), { recursive: true, force: true });
  };
  let cg = '';
  const clearCgroup = () => {
    if (queryCgroup(cg).length) detachCgroup(cg);
    rmSync(join(userDir(), 'bpf-ts'), { recursive: true, force: true });
  };
  let skMsgPin = '';
  /** load --sk-msg as the user itself, as the rows that detach it assume. */
  const loadSkMsgAsUser = async () => {
    const r = await runUnprivileged(['load', unprivFixture('sockops_redir.o'), '--cgroup', cg, '--sk-msg', 'sock_map', '--bpffs', userDir(), '--json'], ['bpf', 'net_admin']);
    expect(r.code, r.stderr).toBe(0);
    skMsgPin = r.json().skMsg.mapPin;
  };
  const tcxCount = () => queryTcx(env.vethB, { netns: env.nsB }).length;
  const userDir = () => join(fs.path, 'bpf-ts');
  const rootDir = () => join(fs.path, 'root-pins');
  const linksDir = () => join(userDir(), 'links');
  const clearLinks = () => rmSync(linksDir(), { recursive: true, force: true });
  let asmFile = '';
  let xdpLink: XdpLink | undefined;
  const clearXdpLink = () => {
    xdpLink?.close();
    xdpLink = undefined;
    clearXdp();
  };
  let sideEnv = '';
  const clearSideEnv = () => {
    if (sideEnv && statusTestEnv(sideEnv).exists) teardownTestEnv(sideEnv);
    for (const side of ['a', 'b']) rmSync(`/var/run/netns/${sideEnv}-${side}`, { force: true });
  };
  const makeSideEnv = () => void setupTestEnv({ name: (sideEnv = uniqueName('cse')) });

  beforeAll(() => {
    env = setupTestEnv({ name: uniqueName('cap') });
    fs = mountBpffs();
    cg = join(cgroup2Mount(), `bpf-ts-${uniqueName('ccg')}`);
    mkdirSync(cg);
    chmodSync(fs.path, 0o755);
    // The unprivileged user's own pin directory, as a deployment would give it.
    mkdirSync(userDir(), { mode: 0o700 });
    chownSync(userDir(), NOBODY, NOBODY);
    mkdirSync(rootDir(), { mode: 0o700 });
    // A map root pinned with mode 0644: readable by everyone, writable by root only.
    map = BpfMap.create({ name: 'caps_matrix', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 16 });
    map.set(1, 42n);
    mapPin = join(fs.path, 'caps_matrix');
    map.pin(mapPin);
    chmodSync(mapPin, 0o644);
    coll = openObject(fixture('drop_all.o')).load({ programs: ['xdp_drop'], programType: 'xdp', ignorePinning: true });
    // The program pinned and handed to the user, as a deployment would.
    progPin = join(fs.path, 'caps_prog');
    coll.program('xdp_drop').pin(progPin);
    chownSync(progPin, NOBODY, NOBODY);
    for (let i = 0; i < 2; i++) tcPlain.push(openObject(fixture('tc_shared_map.o')).load({ programs: ['tc_ingress'], ignorePinning: true }));
    // Tracepoint ids live in tracefs: mounted (as root, as bpftool would) before the unprivileged runs.
    tracefsRoot();
    asmFile = join(unprivilegedCopy(), 'caps-matrix.s');
    writeFileSync(asmFile, 'r0 = 7\nr0 += 35\nexit\n', { mode: 0o644 });
  }, 120_000);

  afterAll(() => {
    try {
      if (env) clearXdpLink();
      if (sideEnv) clearSideEnv();
    } finally {
      coll?.close();
      for (const c of tcPlain) c.close();
      map?.close();
      fs?.unmount();
      if (cg && existsSync(cg)) rmdirSync(cg);
      if (env) teardownTestEnv(env);
    }
  });

  const cases: Case[] = [
    { command: 'inspect OBJ', needs: [], args: () => ['inspect', unprivFixture('icmp_even_drop.o'), '--json'], check: (r) => expect(r.json().programs[0].name).toBe('xdp_even_drop') },
    { command: 'btf dump OBJ', needs: [], args: () => ['btf', 'dump', unprivFixture('icmp_even_drop.o'), '--json'], check: (r) => expect(r.stdout).toContain('xdp_md') },
    {
      command: 'btf core OBJ',
      needs: [],
      args: () => ['btf', 'core', unprivFixture('core_reads.o'), '--json'],
      check: (r) => expect(r.stdout).toContain('enumval_exists'),
    },
    { command: 'disasm OBJ', needs: [], args: () => ['disasm', unprivFixture('drop_all.o')], check: (r) => expect(r.stdout).toMatch(/0: r0 = 1\n\s+1: exit/) },
    {
      command: 'gen OBJ',
      needs: [],
      args: () => ['gen', unprivFixture('syn_reporter.o')],
      check: (r) => expect(r.stdout).toContain('openTyped'),
    },
    {
      command: 'test-run OBJ --emulate',
      needs: [],
      args: () => ['test-run', unprivFixture('drop_all.o'), '--emulate', '--data-hex', FRAME, '--json'],
      check: (r) => expect(r.json()).toMatchObject({ verdict: 'XDP_DROP' }),
      note: 'the emulator makes no bpf() call',
    },
    {
      command: 'test-run --asm FILE --emulate',
      needs: [],
      args: () => ['test-run', '--asm', asmFile, '--emulate', '--json'],
      check: (r) => expect(r.json()).toEqual({ retval: 42, instructions: 3 }),
    },
    {
      command: 'test-run OBJ (XDP, no pointer arithmetic)',
      needs: ['bpf', 'net_admin'],
      args: () => ['test-run', unprivFixture('drop_all.o'), '--data-hex', FRAME, '--json'],
      check: (r) => expect(r.json()).toMatchObject({ verdict: 'XDP_DROP' }),
    },
    {
      command: 'test-run OBJ (XDP, variable packet offsets: icmp_even_drop)',
      needs: ['bpf', 'net_admin', 'perfmon'],
      args: () => ['test-run', unprivFixture('icmp_even_drop.o'), '--data-hex', FRAME, '--json'],
      check: (r) => expect(r.json()).toMatchObject({ verdict: 'XDP_PASS' }),
      missing: { perfmon: /prohibited for !root.*CAP_PERFMON/ },
      note: 'pointer arithmetic the verifier allows only with CAP_PERFMON',
    },
    {
      command: 'load OBJ --xdp IFACE (inside the namespace)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['load', unprivFixture('drop_all.o'), '--xdp', env.vethB, '--mode', 'skb', '--bpffs', fs.path],
      check: () => expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('skb'),
      after: clearXdp,
    },
    {
      command: 'load OBJ --xdp IFACE --link (pin in a directory the user owns)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['load', unprivFixture('drop_all.o'), '--xdp', env.vethB, '--mode', 'skb', '--link', '--bpffs', fs.path],
      check: () => {
        expect(queryXdp(env.vethB, { netns: env.nsB }).programs[0]?.viaLink).toBe(true);
        expect(existsSync(linkPin())).toBe(true);
      },
      after: clearXdp,
    },
    {
      command: 'load OBJ --xdp IFACE --netns NAME',
      needs: ['bpf', 'net_admin', 'sys_admin'],
      coveredBy: { bpf: 'sys_admin' },
      args: () => ['load', unprivFixture('drop_all.o'), '--xdp', env.vethB, '--netns', env.nsB, '--mode', 'skb', '--bpffs', fs.path],
      check: () => expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('skb'),
      missing: { sys_admin: /setns.*CAP_SYS_ADMIN/ },
      after: clearXdp,
    },
    {
      command: 'detach --xdp IFACE (attached through netlink)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: () => void attachXdp({ iface: env.vethB, progFd: coll.program('xdp_drop').fd.value, mode: 'skb', netns: env.nsB }),
      args: () => ['detach', '--xdp', env.vethB, '--bpffs', fs.path],
      check: () => expect(xdpNone()).toBe(true),
      after: clearXdp,
    },
    {
      command: 'detach --xdp IFACE (bpf_link pinned by load --link)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: pinUserXdpLink,
      args: () => ['detach', '--xdp', env.vethB, '--bpffs', fs.path],
      check: () => {
        expect(xdpNone()).toBe(true);
        expect(existsSync(linkPin())).toBe(false);
      },
      after: clearXdp,
      note: 'the link is found through its pin, not by walking link ids, which needs CAP_SYS_ADMIN',
    },
    {
      command: 'link show PIN (a link pin the user owns)',
      needs: [],
      before: pinUserXdpLink,
      args: () => ['link', 'show', linkPin(), '--json'],
      check: (r) => expect(r.json()).toMatchObject({ type: 'xdp', progId: coll.program('xdp_drop').id, defunct: false, pinnedAt: linkPin() }),
      after: clearXdp,
      note: "the program's name and type also need CAP_SYS_ADMIN, as programs open by id, other users' processes holding it CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; without them a warning names each",
    },
    {
      command: 'link detach PIN (a link pin the user owns)',
      needs: [],
      before: pinUserXdpLink,
      args: () => ['link', 'detach', linkPin(), '--json'],
      check: () => {
        expect(xdpNone()).toBe(true);
        expect(existsSync(linkPin())).toBe(false);
      },
      after: clearXdp,
      note: 'the kernel lets whoever holds a link detach it',
    },
    {
      command: 'pins DIR (their directory)',
      needs: [],
      before: pinUserXdpLink,
      args: () => ['pins', userDir(), '--json'],
      check: (r) => expect(r.json().pins).toEqual([expect.objectContaining({ path: linkPin(), kind: 'link', id: userLinkId, type: 'xdp', defunct: false, owner: NOBODY })]),
      after: clearXdp,
    },
    {
      command: 'pins DIR --prune (their directory, a link pin of theirs whose link holds nothing)',
      needs: [],
      before: () => {
        pinUserXdpLink();
        using l = BpfLink.fromId(userLinkId);
        l.detach(); // defunct now: the pin holds nothing
      },
      args: () => ['pins', userDir(), '--prune', '--json'],
      check: (r) => {
        expect(r.json().removed).toEqual([linkPin()]);
        expect(existsSync(linkPin())).toBe(false);
      },
      after: clearXdp,
    },
    {
      command: 'link detach id:N',
      needs: ['sys_admin'],
      before: pinUserXdpLink,
      args: () => ['link', 'detach', `id:${userLinkId}`, '--bpffs', fs.path, '--json'],
      check: () => {
        expect(xdpNone()).toBe(true);
        expect(existsSync(linkPin())).toBe(false);
      },
      after: clearXdp,
      note: 'links open by id; its pins are looked for on --bpffs',
    },
    {
      command: 'load OBJ --tc IFACE (inside the namespace, iproute2 pins under a directory the user owns)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['load', unprivFixture('tc_shared_map.o'), '--tc', env.vethB, '--program', 'tc_ingress', '--bpffs', userDir()],
      check: () => expect(queryTc(env.vethB, { netns: env.nsB }).length).toBe(1),
      after: clearTc,
    },
    {
      command: 'detach --tc IFACE (inside the namespace)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: async () => {
        // Root's own pins go in root's directory: bpf-ts refuses to pin into one another user owns.
        const r = await cli('load', fixture('tc_shared_map.o'), '--tc', env.vethB, '--program', 'tc_ingress', '--netns', env.nsB, '--bpffs', rootDir());
        expect(r.code, r.stderr).toBe(0);
      },
      args: () => ['detach', '--tc', env.vethB],
      check: () => expect(queryTc(env.vethB, { netns: env.nsB })).toEqual([]),
      after: clearTc,
    },
    {
      command: 'load OBJ --tc IFACE --link (tcx, inside the namespace)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['load', unprivFixture('tc_shared_map.o'), '--tc', env.vethB, '--program', 'tc_ingress', '--link', '--bpffs', userDir()],
      check: () => expect(tcxCount()).toBe(1),
      after: clearTc,
    },
    {
      command: 'detach --tc IFACE (tcx link pinned by load --tc --link)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: async () => {
        // Loaded by the same user from inside the namespace (the case above), so the pin is its own.
        const r = await runUnprivileged(['load', unprivFixture('tc_shared_map.o'), '--tc', env.vethB, '--program', 'tc_ingress', '--link', '--bpffs', userDir()], ['bpf', 'net_admin'], {
          netns: env.nsB,
        });
        expect(r.code, r.stderr).toBe(0);
      },
      args: () => ['detach', '--tc', env.vethB, '--bpffs', userDir()],
      check: () => expect(tcxCount()).toBe(0),
      after: clearTc,
      note: 'the link is opened through its pin, not by id, which needs CAP_SYS_ADMIN',
    },
    {
      command: 'detach --tc IFACE (tcx programs attached with BPF_PROG_ATTACH, no link)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: () =>
        withNetns(env.nsB, () => {
          for (const c of tcPlain) progAttach({ target: env.ifindexB, progFd: c.program('tc_ingress').fd.value, attachType: BPF_ATTACH_TYPE.TCX_INGRESS }, 'tcx attach');
        }),
      args: () => ['detach', '--tc', env.vethB, '--json'],
      check: (r) => {
        expect(tcxCount()).toBe(0);
        expect(JSON.stringify(r.json())).toContain(`${tcPlain[1]!.program('tc_ingress').id}`);
      },
      after: clearTc,
      note: 'found by place on the hook (BPF_F_BEFORE / BPF_F_AFTER with BPF_F_ID), not opened by id, which needs CAP_SYS_ADMIN',
    },
    {
      command: 'load OBJ --cgroup PATH --link (cgroup_skb, pin in a directory the user owns)',
      needs: ['bpf', 'net_admin'],
      args: () => ['load', unprivFixture('sections.o'), '--cgroup', cg, '--program', 'prog_cgroup_skb_egress', '--link', '--bpffs', userDir()],
      check: () => expect(queryCgroup(cg).map((p) => p.attachTypeName)).toEqual(['egress']),
      after: clearCgroup,
    },
    {
      command: 'detach --cgroup PATH (bpf_link pinned by load --cgroup --link)',
      needs: ['net_admin'],
      before: async () => {
        const r = await runUnprivileged(['load', unprivFixture('sections.o'), '--cgroup', cg, '--program', 'prog_cgroup_skb_egress', '--link', '--bpffs', userDir()], ['bpf', 'net_admin']);
        expect(r.code, r.stderr).toBe(0);
      },
      args: () => ['detach', '--cgroup', cg, '--bpffs', userDir()],
      check: () => expect(queryCgroup(cg)).toEqual([]),
      after: clearCgroup,
      note: 'the link is found through its pin, not by walking link ids, which needs CAP_SYS_ADMIN',
    },
    {
      command: 'load OBJ --cgroup PATH --sk-msg MAP (sockops + sk_msg, map pinned in a directory the user owns)',
      needs: ['bpf', 'net_admin'],
      args: () => ['load', unprivFixture('sockops_redir.o'), '--cgroup', cg, '--sk-msg', 'sock_map', '--bpffs', userDir(), '--json'],
      check: (r) => {
        expect(queryCgroup(cg).map((p) => p.attachTypeName)).toEqual(['sock_ops']);
        expect(existsSync(r.json().skMsg.mapPin)).toBe(true);
      },
      after: clearCgroup,
    },
    {
      command: 'detach --sk-msg PIN (the map pin load --sk-msg made)',
      needs: ['net_admin', 'sys_admin'],
      coveredBy: { net_admin: 'sys_admin' },
      before: loadSkMsgAsUser,
      args: () => ['detach', '--sk-msg', skMsgPin, '--bpffs', userDir(), '--json'],
      check: (r) => {
        expect(r.json()).toMatchObject({ map: 'sock_map', detached: [{ attachType: 'msg_verdict' }], removedPins: [skMsgPin] });
        expect(existsSync(skMsgPin)).toBe(false);
      },
      after: clearCgroup,
      note: "the kernel detaches from a sockmap only with the program's fd, and a program only the map holds can be opened only by id (see below)",
    },
    {
      command: 'detach --cgroup PATH (attached without a link, by load --sk-msg)',
      needs: ['net_admin', 'sys_admin'],
      coveredBy: { net_admin: 'sys_admin' },
      before: loadSkMsgAsUser,
      args: () => ['detach', '--cgroup', cg, '--bpffs', userDir(), '--json'],
      check: () => expect(queryCgroup(cg)).toEqual([]),
      after: clearCgroup,
      note: "a multi-program cgroup hook detaches only with the program's fd: opened by id (see below)",
    },
    {
      command: 'run OBJ --program NAME --duration S (uprobe.multi on libc, auto-attached)',
      needs: ['bpf', 'perfmon'],
      args: () => ['run', unprivFixture('uprobe_multi.o'), '--program', 'umulti_auto', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        expect(lines[0].attached).toMatchObject({ program: 'umulti_auto', target: 'uprobe.multi/libc.so.6:getpp*' });
        expect(lines.at(-1)).toEqual({ detached: true, reason: 'duration' });
      },
    },
    {
      command: 'run OBJ --program NAME --duration S (tracepoint, auto-attached)',
      needs: ['bpf', 'perfmon', 'dac_read_search'],
      args: () => ['run', unprivFixture('tracing.o'), '--program', 'tp_getppid', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        expect(lines[0].attached).toMatchObject({ program: 'tp_getppid', target: 'tracepoint syscalls/sys_enter_getppid' });
        expect(lines.at(-1)).toEqual({ detached: true, reason: 'duration' });
      },
      missing: { dac_read_search: /tracefs at \S+ is not searchable.*CAP_DAC_READ_SEARCH/ },
      note: "CAP_DAC_READ_SEARCH to read tracepoint ids in tracefs (mode 0700, root's); mounting tracefs would need CAP_SYS_ADMIN",
    },
    {
      command: 'load OBJ --pin-links DIR (tracepoint, DIR in a directory the user owns)',
      needs: ['bpf', 'perfmon', 'dac_read_search'],
      args: () => ['load', unprivFixture('tracing.o'), '--program', 'tp_getppid', '--pin-links', linksDir(), '--json'],
      check: (r) => {
        expect(r.json().pinned.map((p: { path: string }) => p.path)).toEqual([join(linksDir(), 'tp_getppid')]);
        expect(existsSync(join(linksDir(), 'tp_getppid'))).toBe(true);
      },
      after: clearLinks,
      missing: { dac_read_search: /CAP_DAC_READ_SEARCH/ },
    },
    {
      command: 'detach --links DIR (links the user pinned with load --pin-links)',
      needs: [],
      before: async () => {
        const r = await runUnprivileged(['load', unprivFixture('tracing.o'), '--program', 'tp_getppid', '--pin-links', linksDir()], ['bpf', 'perfmon', 'dac_read_search']);
        expect(r.code, r.stderr).toBe(0);
      },
      args: () => ['detach', '--links', linksDir(), '--json'],
      check: (r) => {
        expect(r.json().detached.map((d: { path: string }) => d.path)).toEqual([join(linksDir(), 'tp_getppid')]);
        expect(existsSync(join(linksDir(), 'tp_getppid'))).toBe(false);
      },
      after: clearLinks,
      note: "removing the user's own pins: the last reference goes and the kernel detaches",
    },
    {
      command: 'iter OBJ --program NAME (task iterator)',
      needs: ['bpf', 'perfmon'],
      args: () => ['iter', unprivFixture('tracing.o'), '--program', 'iter_tasks'],
      check: (r) => expect(r.stdout.split('\n')).toContain(`${process.pid} ${process.pid}`),
    },
    {
      command: 'testenv setup --name NAME',
      needs: ['sys_admin', 'net_admin', 'dac_override'],
      args: () => ['testenv', 'setup', '--name', (testenvName = uniqueName('cte'))],
      check: () => expect(netnsExists(`${testenvName}-a`) && netnsExists(`${testenvName}-b`)).toBe(true),
      after: () => {
        if (testenvName) teardownTestEnv(testenvName);
      },
      note: 'CAP_DAC_OVERRIDE because /var/run/netns belongs to root',
    },
    {
      command: 'testenv status --name NAME',
      needs: ['sys_admin'],
      before: makeSideEnv,
      args: () => ['testenv', 'status', '--name', sideEnv, '--json'],
      check: (r) => expect(r.json()).toMatchObject({ name: sideEnv, exists: true, a: { exists: true }, b: { exists: true } }),
      after: clearSideEnv,
      note: 'setns into each namespace',
    },
    {
      command: 'testenv exec --name NAME -- CMD',
      needs: ['sys_admin'],
      before: makeSideEnv,
      args: () => ['testenv', 'exec', '--name', sideEnv, '--', 'ip', '-o', 'link', 'show', 'dev', sideEnv + '-a'],
      check: (r) => expect(r.stdout).toContain(`${sideEnv}-a@`),
      missing: { sys_admin: /Operation not permitted/ },
      after: clearSideEnv,
      note: 'nsenter(1) runs CMD; it reports the refusal',
    },
    {
      command: 'testenv teardown --name NAME',
      needs: ['sys_admin', 'dac_override'],
      before: makeSideEnv,
      args: () => ['testenv', 'teardown', '--name', sideEnv, '--json'],
      check: () => {
        expect(existsSync(`/var/run/netns/${sideEnv}-a`)).toBe(false);
        expect(existsSync(`/var/run/netns/${sideEnv}-b`)).toBe(false);
      },
      after: clearSideEnv,
      note: 'CAP_DAC_OVERRIDE because /var/run/netns belongs to root',
    },
    {
      command: 'show --all (inside the namespace)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      args: () => ['show', '--all', '--json'],
      check: (r) => expect(JSON.stringify(r.json())).toContain(`"interface":"${env.vethB}"`),
    },
    {
      command: 'link list',
      needs: ['sys_admin'],
      before: () => void (xdpLink = attachXdpLink({ iface: env.vethB, progFd: coll.program('xdp_drop').fd.value, mode: 'skb', netns: env.nsB })),
      args: () => ['link', 'list', '--json'],
      check: (r) => expect(r.json().find((l: { id: number }) => l.id === xdpLink!.id)).toMatchObject({ type: 'xdp', progId: coll.program('xdp_drop').id }),
      after: clearXdpLink,
      note: 'walks link ids',
    },
    {
      command: 'top --count 1 --json',
      needs: ['sys_admin'],
      args: () => ['top', '--count', '1', '--interval', '0.2', '--json'],
      check: (r) => expect(r.json().programs.map((p: { id: number }) => p.id)).toContain(coll.program('xdp_drop').id),
      note: 'BPF_ENABLE_STATS and walking program ids',
    },
    {
      command: 'show (inside the namespace)',
      needs: ['net_admin'],
      netns: () => env.nsB,
      before: () => void attachXdp({ iface: env.vethB, progFd: coll.program('xdp_drop').fd.value, mode: 'skb', netns: env.nsB }),
      args: () => ['show', '--json'],
      check: (r) => expect(JSON.stringify(r.json())).toContain(env.vethB),
      after: clearXdp,
    },
    {
      command: 'run OBJ --xdp IFACE --duration S (inside the namespace)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['run', unprivFixture('drop_all.o'), '--xdp', env.vethB, '--mode', 'skb', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        expect(r.stdout).toContain('"attached"');
        expect(xdpNone()).toBe(true);
      },
      after: clearXdp,
    },
    {
      command: 'run OBJ --socket IFACE --duration S (socket filter on a packet socket, inside the namespace)',
      needs: ['bpf', 'net_raw'],
      netns: () => env.nsB,
      args: () => ['run', unprivFixture('socket_filter.o'), '--socket', env.vethB, '--program', 'count_protocols', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        expect(r.stdout).toContain('"via":"packet socket"');
        expect(r.stdout).toContain('{"detached":true,"reason":"duration"}');
      },
      note: 'CAP_NET_RAW for the packet socket',
      missing: { net_raw: /CAP_NET_RAW/ },
    },
    {
      command: 'run OBJ --netfilter ipv4:prerouting --duration S (inside the namespace)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['run', unprivFixture('netfilter_drop.o'), '--netfilter', 'ipv4:prerouting', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        expect(r.stdout).toContain('"netfilter":{"family":"ipv4","hook":"prerouting","priority":0}');
        expect(r.stdout).toContain('{"detached":true,"reason":"duration"}');
      },
    },
    {
      command: 'load OBJ --netfilter ipv4:input (inside the namespace, link pinned in a directory the user owns)',
      needs: ['bpf', 'net_admin'],
      netns: () => env.nsB,
      args: () => ['load', unprivFixture('netfilter_drop.o'), '--netfilter', 'ipv4:input', '--pin-link', join(userDir(), 'nf_link'), '--json'],
      check: (r) => {
        expect(r.json()).toMatchObject({ netfilter: { family: 'ipv4', hook: 'input', priority: 0 }, linkPin: join(userDir(), 'nf_link') });
        expect(existsSync(join(userDir(), 'nf_link'))).toBe(true);
      },
      // The pin is the link's last reference: removing it unhooks the program.
      after: () => rmSync(join(userDir(), 'nf_link'), { force: true }),
    },
    {
      command: 'run OBJ --xdp IFACE --duration S (perf event array: syn_reporter, inside the namespace)',
      needs: ['bpf', 'net_admin', 'perfmon'],
      netns: () => env.nsB,
      args: () => ['run', unprivFixture('syn_reporter.o'), '--xdp', env.vethB, '--mode', 'skb', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        expect(r.stdout).toContain('"attached"');
        expect(xdpNone()).toBe(true);
      },
      after: clearXdp,
      missing: { perfmon: /CAP_PERFMON/ },
    },
    {
      command: 'run OBJ --xdp IFACE --duration S (AF_XDP: xsk_redirect, a socket per queue, inside the namespace)',
      needs: ['bpf', 'net_admin', 'net_raw'],
      netns: () => env.nsB,
      args: () => ['run', unprivFixture('xsk_redirect.o'), '--xdp', env.vethB, '--mode', 'skb', '--duration', '0.3', '--interval', '0.1', '--json'],
      check: (r) => {
        expect(r.stdout).toContain(`{"xsk":{"interface":"${env.vethB}","queues":[0],"maps":["xsks"]}}`);
        expect(xdpNone()).toBe(true);
      },
      after: clearXdp,
      note: 'CAP_NET_RAW for the AF_XDP sockets',
      missing: { net_raw: /CAP_NET_RAW/ },
    },
    {
      command: 'map dump PIN (pin mode 0644, owned by root)',
      needs: [],
      args: () => ['map', 'dump', mapPin, '--json'],
      check: (r) => expect(r.json()).toEqual([{ key: ['0x01', '0x00', '0x00', '0x00'], value: ['0x2a', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00'] }]),
      note: 'opened read-only: BPF_F_RDONLY',
    },
    {
      command: 'map lookup PIN --key HEX (pin mode 0644, owned by root)',
      needs: [],
      args: () => ['map', 'lookup', mapPin, '--key', '01000000', '--json'],
      check: (r) => expect(r.json().value[0]).toBe('0x2a'),
    },
    {
      command: 'map update PIN --key HEX --value HEX (pin mode 0644, owned by root)',
      needs: ['dac_override'],
      args: () => ['map', 'update', mapPin, '--key', '02000000', '--value', '0700000000000000'],
      check: () => expect(map.get(2)).toEqual(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0])),
      after: () => void map.delete(2),
      missing: { dac_override: /owned by uid 0 \(root\), gid 0 \(root\), mode 0644; this process runs as uid 65534.*has no CAP_DAC_OVERRIDE/ },
      note: 'pins are files: their mode decides, not CAP_BPF',
    },
    {
      command: 'map delete PIN --key HEX (pin mode 0644, owned by root)',
      needs: ['dac_override'],
      before: () => void map.set(3, 9n),
      args: () => ['map', 'delete', mapPin, '--key', '03000000'],
      check: () => expect(map.get(3)).toBeUndefined(),
      after: () => void map.delete(3),
      missing: { dac_override: /owned by uid 0 \(root\), gid 0 \(root\), mode 0644; this process runs as uid 65534.*has no CAP_DAC_OVERRIDE/ },
    },
    {
      command: 'map dump id:N',
      needs: ['sys_admin'],
      args: () => ['map', 'dump', `id:${map.id}`, '--json'],
      check: (r) => expect(r.json()).toHaveLength(1),
    },
    { command: 'map list', needs: ['sys_admin'], args: () => ['map', 'list', '--json'], check: (r) => expect(r.json().some((m: { id: number }) => m.id === map.id)).toBe(true) },
    {
      command: 'btf list',
      needs: ['sys_admin'],
      args: () => ['btf', 'list', '--json'],
      check: (r) => expect(r.json().find((b: { id: number }) => b.id === 1)).toMatchObject({ name: 'vmlinux', kernelBtf: true }),
    },
    {
      command: 'prog list',
      needs: ['sys_admin'],
      args: () => ['prog', 'list', '--json'],
      check: (r) => expect(JSON.stringify(r.json())).toContain(`${coll.program('xdp_drop').id}`),
    },
    {
      command: 'prog dump PIN (a pin the user owns)',
      needs: ['bpf'],
      args: () => ['prog', 'dump', progPin, '--json'],
      check: (r) =>
        expect(r.json().instructions).toEqual([
          { insn: 0, text: 'r0 = 1' },
          { insn: 1, text: 'exit' },
        ]),
      note: 'helper names also need CAP_SYSLOG, source lines and map names CAP_SYS_ADMIN; without them a warning says so',
      missing: { bpf: /needs CAP_BPF/ },
    },
    {
      command: 'prog show PIN (a pin the user owns)',
      needs: [],
      args: () => ['prog', 'show', progPin, '--json'],
      check: (r) => {
        expect(r.json()).toMatchObject({ id: coll.program('xdp_drop').id, name: 'xdp_drop', type: 'xdp', xlatedBytes: null, maps: [], links: null });
        expect(r.stderr).toMatch(/sizes are not shown: .*CAP_BPF/);
      },
      note: "its sizes also need CAP_BPF, the links holding it and map names CAP_SYS_ADMIN, other users' processes holding it CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; without them a warning names each",
    },
    {
      command: 'prog pin PIN PATH (a pin the user owns, into their directory)',
      needs: [],
      args: () => ['prog', 'pin', progPin, join(userDir(), 'again', 'prog'), '--json'],
      check: (r) => {
        expect(r.json()).toEqual({ id: coll.program('xdp_drop').id, pinnedAt: join(userDir(), 'again', 'prog'), createdDirs: [join(userDir(), 'again')] });
        expect(statSync(join(userDir(), 'again', 'prog'))).toMatchObject({ uid: NOBODY, mode: 0o100600 });
      },
      after: () => rmSync(join(userDir(), 'again'), { recursive: true, force: true }),
    },
    {
      command: 'map pin id:N PATH (into their directory)',
      needs: ['sys_admin'],
      args: () => ['map', 'pin', `id:${map.id}`, join(userDir(), 'map_again')],
      // bpftool reads it (bpf-ts, as root, will not open a pin in a directory another user owns).
      check: () => expect(JSON.parse(execFileSync('bpftool', ['map', 'show', 'pinned', join(userDir(), 'map_again'), '-j'], { encoding: 'utf8' })).id).toBe(map.id),
      after: () => rmSync(join(userDir(), 'map_again'), { force: true }),
      note: 'maps open by id',
    },
    {
      command: 'map show PIN (pin mode 0644, owned by root)',
      needs: [],
      args: () => ['map', 'show', mapPin, '--json'],
      check: (r) => expect(r.json()).toMatchObject({ id: map.id, name: 'caps_matrix', keySize: 4, valueSize: 8, maxEntries: 16 }),
      note: "the programs using it also need CAP_SYS_ADMIN, to walk program ids, other users' processes holding it CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; without them a warning names each",
    },
    {
      command: 'feature probe',
      needs: ['bpf'],
      args: () => ['feature', 'probe', '--json'],
      check: (r) => expect(r.json()).toMatchObject({ programTypes: { socket_filter: true }, mapTypes: { hash: true } }),
      note: 'CAP_NET_ADMIN and CAP_PERFMON as well to tell the network and tracing program types; without them those read unknown and a warning names them',
      missing: { bpf: /CAP_BPF/ },
    },
    {
      command: 'demo',
      needs: ['bpf', 'sys_admin', 'net_admin', 'net_raw', 'dac_override'],
      coveredBy: { bpf: 'sys_admin' },
      args: () => ['demo', '--count', '4', '--mode', 'skb', '--json'],
      check: (r) => expect(r.json()).toMatchObject({ sent: 4, received: 2, ok: true }),
      missing: { dac_override: /CAP_DAC_OVERRIDE/ },
      note: 'CAP_DAC_OVERRIDE because /var/run/netns belongs to root',
    },
  ];

  for (const c of cases) {
    it(`${c.command}: ${c.needs.length ? c.needs.map(capTitle).join(' + ') : 'no capabilities'}`, async () => {
      const row: Row = { command: c.command, needs: c.needs, without: [], ...(c.note ? { note: c.note } : {}) };
      const runWith = async (caps: CapWord[]) => {
        await c.before?.();
        try {
          return await runUnprivileged(c.args(), caps, { netns: c.netns?.() });
        } finally {
          c.after?.();
        }
      };
      try {
        // Exactly the documented set: success, with its effect.
        await c.before?.();
        let ok: CliResult;
        try {
          ok = await runUnprivileged(c.args(), c.needs, { netns: c.netns?.() });
          expect(ok.code, `with ${c.needs.join(',') || 'nothing'}:\n${ok.stdout}\n${ok.stderr}`).toBe(0);
          c.check?.(ok);
        } finally {
          c.after?.();
        }
        // Each one dropped: failure naming it, never asking for a held one.
        for (const drop of c.needs) {
          const held = c.needs.filter((x) => x !== drop);
          const r = await runWith(held);
          const cover = c.coveredBy?.[drop];
          if (cover) {
            expect(r.code, `without ${drop} (${cover} stands in):\n${r.stdout}\n${r.stderr}`).toBe(0);
            row.without.push({ cap: drop, says: `still works: \`${capTitle(cover)}\` stands in` });
            continue;
          }
          expect(r.code, `without ${drop}:\n${r.stdout}\n${r.stderr}`).not.toBe(0);
          expect(r.stderr, `without ${drop}`).toMatch(c.missing?.[drop] ?? new RegExp(capTitle(drop)));
          assertNoHeldCapAsked(r.stderr, held);
          row.without.push({ cap: drop, says: refusal(r.stderr) });
        }
        rows.push(row);
      } catch (e) {
        failures++;
        throw e;
      }
    }, 180_000);
  }

  it('the matrix has a row for every CLI command', () => {
    const names = new Map(commands.flatMap((c) => [c.name, ...(c.aliases ?? [])].map((n) => [n, c.name] as const)));
    const covered = new Set(cases.map((c) => names.get(c.command.split(' ')[0]!) ?? `unknown command ${c.command}`));
    expect([...covered].sort()).toEqual(commands.map((c) => c.name).sort());
  });

  it('docs/capabilities.md is the matrix these tests measured', () => {
    expect(failures, 'a capability case failed: the doc cannot be checked against partial results').toBe(0);
    expect(rows).toHaveLength(cases.length);
    const text = renderDoc(rows);
    if (process.env.BPF_TS_WRITE_CAPS_DOC) writeFileSync(DOC, text);
    expect(readFileSync(DOC, 'utf8')).toBe(text);
  });
});

function renderDoc(rows: Row[]): string {
  const caps = (l: CapWord[]) => (l.length ? l.map((c) => `\`${capTitle(c)}\``).join(' + ') : 'none');
  const lines = [
    '# Capabilities per command',
    '',
    '<!-- Generated by test/security/caps-matrix.test.ts (BPF_TS_WRITE_CAPS_DOC=1 npx vitest run test/security/caps-matrix.test.ts); do not edit by hand. -->',
    '',
    'Measured, not guessed: each command ran as uid 65534 (`setpriv --reuid=65534 --regid=65534 --clear-groups',
    '--inh-caps=… --ambient-caps=… --bounding-set=…`) with exactly the capabilities listed and succeeded, with',
    'its effect checked; then once per listed capability with that one dropped, and failed with a message',
    'naming it (and never asking for a capability the process held). Linux 6.18, `kernel.unprivileged_bpf_disabled=2`.',
    '`CAP_SYS_ADMIN` stands in for `CAP_BPF` and `CAP_PERFMON`, and for `CAP_NET_ADMIN` in bpf() calls, but not in',
    'netlink (attaching, `show`), which needs `CAP_NET_ADMIN` itself; root has them all.',
    '',
    '| Command | Needs | Without one of them |',
    '| --- | --- | --- |',
  ];
  for (const r of rows) {
    const without = r.without.length ? r.without.map((w) => `no \`${capTitle(w.cap)}\`: ${w.says}`).join('<br>') : '—';
    const m = /^(.*?)(?: \((.*)\))?$/.exec(r.command)!;
    const cell = `\`bpf-ts ${m[1]}\`${m[2] ? ` (${m[2]})` : ''}`;
    lines.push(`| ${cell} | ${caps(r.needs)}${r.note ? ` (${r.note})` : ''} | ${without} |`);
  }
  lines.push(
    '',
    'Notes:',
    '',
    '- Pins are plain files on bpffs: opening one needs read (and, except for `map dump`/`map lookup`, which open',
    '  read-only), write permission on it, or `CAP_DAC_OVERRIDE`; `CAP_BPF` does not help.',
    '- Anything that walks kernel ids (`prog list`, `map list`, `link list`, `top`) or opens an object by id (`map dump id:N`, `prog show id:N`, `link detach id:N`, …) needs `CAP_SYS_ADMIN`.',
    '- Detaching needs no more than attaching wherever the kernel allows it: XDP, tcx and cgroup links are opened',
    '  through their pins; tcx programs attached without a link are detached by their place on the hook',
    "  (`BPF_PROG_DETACH` with `BPF_F_BEFORE` for the first, `BPF_F_AFTER | BPF_F_ID` after the previous program's id,",
    '  and the revision the query returned), which needs no program fd. Two cases are left where the kernel asks for',
    "  the program's fd: `BPF_PROG_DETACH` from a sockmap (`sock_map_prog_detach()` calls `bpf_prog_get(attach_bpf_fd)`)",
    '  and from a multi-program cgroup hook; tried as root on this kernel, `BPF_PROG_DETACH` without a program fd',
    "  returns `EINVAL` for both (sockops_redir.o: its `msg_verdict` slot and the cgroup's `sock_ops` hook). Once `load` has exited",
    '  nothing but the map or the cgroup holds that program, so the only way to an fd is `BPF_PROG_GET_FD_BY_ID`, which',
    '  needs `CAP_SYS_ADMIN` (measured above: without it, `BPF_PROG_GET_FD_BY_ID: EPERM`). Use `load --cgroup --link`',
    '  to detach a cgroup program with `CAP_NET_ADMIN` alone.',
    '- `--netns NAME` enters the namespace with setns(2), which needs `CAP_SYS_ADMIN`; a process started inside the',
    '  namespace (e.g. a pod) does not need it.',
    "- When the kernel says no, bpf-ts reads the caller's effective capabilities (`CapEff` in `/proc/self/status`) and",
    '  names only the ones missing for that call.',
    '',
  );
  return lines.join('\n');
}
