// `bpf-ts load OBJ --cgroup CG --sk-msg MAP` end to end with sockops_redir.o:
// one CLI process (a real child, which exits) attaches bpf_sockmap to a test
// cgroup and bpf_redir to the object's SOCKHASH. A node process placed in
// that cgroup, inside a test network namespace, runs a TCP echo pair over
// 127.0.0.1 (loopback only): both established sockets land in the map with
// exact keys, data comes back intact, and it never touches TCP (no segment
// is sent: sk_msg hands it to the peer socket directly). Then detach leaves
// nothing attached. Also: why the map must be pinned (without a pin the
// kernel drops the sk_msg program when the last fd closes), --link, errors.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachCgroup, BPF_F_ALLOW_MULTI, cgroup2Mount, cgroupId, detachCgroup, queryCgroup } from '../../src/attach/cgroup.js';
import { progQuery } from '../../src/sys/prog-attach-attr.js';
import { attachSkMsg, querySockmap, querySockmapById } from '../../src/attach/sk-msg.js';
import { openObject } from '../../src/collection.js';
import { BpfMap } from '../../src/maps/map.js';
import { setLinkUp } from '../../src/netlink/link.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { createNetns, deleteNetns, netnsPath, withNetns } from '../../src/netns.js';
import { BPF_ENABLE_STATS } from '../../src/sys/bpf-cmd.js';
import * as ffi from '../../src/sys/ffi.js';
import { withIdFd } from '../../src/sys/ids.js';
import { progInfo } from '../../src/sys/info.js';
import { bpfSyscall } from '../../src/sys/wrapper.js';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk, cliProcess, ensureDist, fixture, ROOT, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const SOCKOPS = fixture('sockops_redir.o');
const ECHO_PAIR = join(ROOT, 'test', 'cgroup', 'echo-pair.cjs');

/** The echo pair child, spoken to line by line. */
class EchoPair {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  stderr = '';

  constructor(netns: string, cgroup: string) {
    // The shell moves itself into the cgroup, then becomes node: every socket is made inside it.
    this.child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', 'sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "${process.execPath}" "${ECHO_PAIR}"`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.#lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async next(): Promise<any> {
    const r = await Promise.race([this.#lines.next(), sleep(10_000).then(() => ({ done: true, value: 'timeout' }))]);
    if (r.done) throw new Error(`echo pair: no answer (${r.value ?? 'exited'}); stderr: ${this.stderr}`);
    return JSON.parse(r.value as string);
  }

  send(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** TCP segments sent in the namespace so far (/proc/net/snmp, read from inside it). */
function tcpOutSegs(netns: string): number {
  return withNetns(netns, () => {
    const [head, values] = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'));
    return Number(values!.split(' ')[head!.split(' ').indexOf('OutSegs')]);
  });
}

const runCount = (progId: number): bigint => withIdFd('prog', progId, (fd) => progInfo(fd).runCnt) ?? -1n;

/** struct sock_key of sockops_redir.c: sip, dip (network order), sport, dport as bpf_htonl(port). */
function sockKey(localPort: number, remotePort: number): string {
  const b = Buffer.alloc(16);
  b.set([127, 0, 0, 1], 0);
  b.set([127, 0, 0, 1], 4);
  b.writeUInt32BE(localPort, 8);
  b.writeUInt32BE(remotePort, 12);
  return b.toString('hex');
}

async function waitFor<T>(what: string, fn: () => T, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(v)})`);
    await sleep(20);
  }
}

function expectOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^bpf-ts: /);
  expect(stderr).not.toContain('    at ');
  return lines[0]!;
}

describeRoot('bpf-ts load --cgroup --sk-msg: sockops + sk_msg redirect (test cgroup, loopback in a test netns)', () => {
  let cg: string;
  let ns: string;
  let fs: { path: string; unmount(): void } | undefined;
  let statsFd = -1;
  const children: EchoPair[] = [];

  beforeAll(() => {
    ensureDist();
    fs = mountBpffs();
    cg = join(cgroup2Mount(), `bpf-ts-${uniqueName('cg')}`);
    mkdirSync(cg);
    ns = uniqueName('cgns');
    createNetns(ns);
    withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      setLinkUp(sock, 1); // lo is ifindex 1 in a new namespace
    });
    // Run counts are kept only while someone holds a BPF_ENABLE_STATS fd (type 0: BPF_STATS_RUN_TIME).
    statsFd = bpfSyscall(BPF_ENABLE_STATS, Buffer.alloc(4), 4, 'enable run-time stats');
  }, 120_000);

  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
    if (cg && existsSync(cg) && queryCgroup(cg).length) detachCgroup(cg);
  });

  afterAll(async () => {
    try {
      for (const c of children.splice(0)) c.kill();
      if (cg && existsSync(cg)) {
        let cleanupError: unknown;
        try {
          if (queryCgroup(cg).length) detachCgroup(cg);
        } finally {
          // The echo child may still be exiting; a cgroup with a process in it cannot go.
          for (let i = 0; ; i++) {
            try {
              rmdirSync(cg);
              break;
            } catch (e) {
              // Thrown below, not here: a throw in finally would hide a detach failure.
              if (i >= 600) {
                cleanupError = e;
                break;
              }
              await sleep(50);
            }
          }
        }
        if (cleanupError !== undefined) throw cleanupError;
      }
    } finally {
      if (ns) deleteNetns(ns, { force: true });
      fs?.unmount();
      if (statsFd >= 0) ffi.close(statsFd);
    }
  });

  it('one CLI process attaches both; after it exits the SOCKHASH holds both sockets, data is echoed intact without TCP, detach leaves nothing', async () => {
    const loaded = await cliProcess(['load', SOCKOPS, '--cgroup', cg, '--sk-msg', 'sock_map', '--bpffs', fs!.path, '--json']);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    const out = loaded.json();
    const mapPin = `${fs!.path}/bpf-ts/sk_msg_sock_map_${out.skMsg.mapId}`;
    expect(out).toEqual({
      skMsg: { map: 'sock_map', mapId: out.skMsg.mapId, mapPin, program: 'bpf_redir', progId: out.skMsg.progId, attachType: 'msg_verdict' },
      cgroup: { path: cg, cgroupId: Number(cgroupId(cg)), program: 'bpf_sockmap', progId: out.cgroup.progId, attachType: 'sock_ops', flags: 'multi', link: false },
      pinnedMaps: [],
      reusedMaps: [],
    });
    const { mapId, progId: msgProgId } = out.skMsg;
    const opsProgId: number = out.cgroup.progId;

    // The process is gone: the cgroup holds bpf_sockmap, the pinned map holds bpf_redir.
    expect(queryCgroup(cg)).toEqual([{ attachType: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS, attachTypeName: 'sock_ops', progId: opsProgId, progName: 'bpf_sockmap', attachFlags: BPF_F_ALLOW_MULTI }]);
    expect(querySockmapById(mapId)).toEqual([msgProgId]);
    expect((await cliOk('show', '--cgroup', cg, '--json')).json()).toEqual({
      cgroup: cg,
      programs: [{ attachType: 'sock_ops', progId: opsProgId, name: 'bpf_sockmap', flags: 'multi', link: false }],
    });

    const pair = new EchoPair(ns, cg);
    children.push(pair);
    pair.send('start');
    const conn = await pair.next();
    expect(conn.event).toBe('connected');

    // Both established sockets, each under its own (local, remote) key.
    using map = BpfMap.fromPin(mapPin);
    expect(map.id).toBe(mapId);
    const keys = await waitFor(
      '2 sockhash entries',
      () => [...map.keys()].map((k) => k.toString('hex')).sort(),
      (k) => k.length >= 2,
    );
    expect(keys).toEqual([sockKey(conn.clientPort, conn.serverPort), sockKey(conn.serverPort, conn.clientPort)].sort());

    const segs0 = tcpOutSegs(ns);
    const runs0 = runCount(msgProgId);
    for (let i = 0; i < 3; i++) {
      const data = Buffer.from(Array.from({ length: 1000 + i * 500 }, (_, j) => (j * 31 + i) & 0xff));
      pair.send(`send ${data.toString('base64')}`);
      const echo = await pair.next();
      expect(echo.event).toBe('echo');
      expect(Buffer.from(echo.data, 'base64').equals(data)).toBe(true);
    }
    // Redirected socket to socket: not one TCP segment for 3 round trips, and
    // bpf_redir ran for each sendmsg (client's and the echo's) — 2 per round.
    expect(tcpOutSegs(ns) - segs0).toBe(0);
    expect(runCount(msgProgId) - runs0).toBe(6n);

    pair.send('close');
    expect(await pair.next()).toEqual({ event: 'closed' });
    // Closed sockets leave the map.
    expect(
      await waitFor(
        'an empty sockhash',
        () => [...map.keys()].length,
        (n) => n === 0,
      ),
    ).toBe(0);

    // detach --cgroup: BPF_PROG_QUERY on the cgroup finds no program left.
    const dc = (await cliOk('detach', '--cgroup', cg, '--bpffs', fs!.path, '--json')).json();
    expect(dc).toEqual({ cgroup: cg, detached: [{ attachType: 'sock_ops', progId: opsProgId }], removedPins: [] });
    expect(queryCgroup(cg)).toEqual([]);
    expect((await cliOk('show', '--cgroup', cg)).stdout).toBe(`no programs attached to cgroup ${cg}\n`);
    const cgFd = openSync(cg, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      expect(progQuery(cgFd, BPF_ATTACH_TYPE.CGROUP_SOCK_OPS).progIds).toEqual([]);
    } finally {
      closeSync(cgFd);
    }

    // detach --sk-msg by pin: the map keeps no sk_msg program, and the pin load made is gone.
    const ds = (await cliOk('detach', '--sk-msg', mapPin, '--bpffs', fs!.path, '--json')).json();
    expect(ds).toEqual({ map: 'sock_map', mapId, detached: [{ progId: msgProgId, attachType: 'msg_verdict' }], removedPins: [mapPin] });
    expect(existsSync(mapPin)).toBe(false);
    expect(querySockmap(map.fd.value)).toEqual([]);
    map.close();
    // Nothing holds the programs or the map any more: the kernel frees them.
    await waitFor(
      'bpf_redir to be freed',
      () => withIdFd('prog', msgProgId, () => true),
      (v) => v === null,
    );
    await waitFor(
      'bpf_sockmap to be freed',
      () => withIdFd('prog', opsProgId, () => true),
      (v) => v === null,
    );
    await waitFor(
      'sock_map to be freed',
      () => withIdFd('map', mapId, () => true),
      (v) => v === null,
    );
  });

  it('why the CLI pins the map: without a pin, the SOCKHASH drops its sk_msg program when its last fd closes', () => {
    const coll = openObject(SOCKOPS).load();
    let mapId = 0;
    try {
      // The cgroup attachment keeps the sockops program, and through it the map, alive.
      attachCgroup({ cgroup: cg, progFd: coll.program('bpf_sockmap').fd.value, attachType: 'sock_ops' });
      const map = coll.map('sock_map');
      mapId = map.id;
      const att = attachSkMsg({ mapFd: map.fd.value, progFd: coll.program('bpf_redir').fd.value });
      expect(querySockmap(map.fd.value)).toEqual([att.progId]);
    } finally {
      coll.close();
    }
    // The map lives on (the sockops program uses it), without its sk_msg program.
    expect(querySockmapById(mapId)).toEqual([]);
  });

  it('--link: the cgroup attachment is a pinned bpf_link; query names it; detach cuts it and removes the pin', async () => {
    const out = (await cliOk('load', SOCKOPS, '--cgroup', cg, '--link', '--bpffs', fs!.path, '--json')).json();
    const id = cgroupId(cg);
    const linkPin = `${fs!.path}/bpf-ts/cgroup_${id}_sock_ops_${out.cgroup.linkId}`;
    expect(out).toEqual({
      cgroup: { path: cg, cgroupId: Number(id), program: 'bpf_sockmap', progId: out.cgroup.progId, attachType: 'sock_ops', link: true, linkId: out.cgroup.linkId, linkPin },
      pinnedMaps: [],
      reusedMaps: [],
    });
    expect(existsSync(linkPin)).toBe(true);
    expect(queryCgroup(cg, { attachType: 'sock_ops' })).toEqual([
      { attachType: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS, attachTypeName: 'sock_ops', progId: out.cgroup.progId, progName: 'bpf_sockmap', attachFlags: BPF_F_ALLOW_MULTI, linkId: out.cgroup.linkId },
    ]);

    const text = await cliOk('detach', '--cgroup', cg, '--bpffs', fs!.path);
    expect(text.stdout).toBe(`detached program id ${out.cgroup.progId} (sock_ops, bpf_link ${out.cgroup.linkId}) from cgroup ${cg}\nremoved link pin ${linkPin}\n`);
    expect(existsSync(linkPin)).toBe(false);
    expect(queryCgroup(cg)).toEqual([]);
  });

  describe('errors: exit 1, one line on stderr, nothing attached', () => {
    it('a directory that is not on cgroup2 is NO_CGROUP2', async () => {
      const r = await cli('load', SOCKOPS, '--cgroup', fs!.path, '--bpffs', fs!.path, '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('NO_CGROUP2');
      expect(expectOneErrorLine(r.stderr)).toContain(`${fs!.path} is not on a cgroup2 filesystem`);
    });

    it('a cgroup that does not exist is named', async () => {
      const r = await cli('load', SOCKOPS, '--cgroup', 'bpf-ts-no-such-cgroup', '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toBe(`bpf-ts: no such cgroup: ${join(cgroup2Mount(), 'bpf-ts-no-such-cgroup')} does not exist`);
    });

    it('an unknown sockmap name attaches nothing, not even the cgroup program', async () => {
      const r = await cli('load', SOCKOPS, '--cgroup', cg, '--sk-msg', 'no_such_map', '--bpffs', fs!.path);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toContain('no map named no_such_map');
      expect(queryCgroup(cg)).toEqual([]);
    });

    it('detach with nothing attached says so', async () => {
      const r = await cli('detach', '--cgroup', cg);
      expect(r.code).toBe(1);
      expect(expectOneErrorLine(r.stderr)).toBe(`bpf-ts: detach from cgroup ${cg}: no program is attached`);
    });
  });
});
