// Programs on a network namespace (src/link/netns.ts attachNetns), in a
// namespace pair this file creates. Socket lookup (fixtures/sk_lookup.o):
// steer_ports hands datagrams for
// ports 8000-8009 to the socket in its SOCKMAP, bound to port 7000. What
// arrives is read from that socket; what does not is counted by the
// kernel itself (B's /proc/net/snmp Udp NoPorts); the link as bpftool lists
// it names B's namespace by inode. A flow dissector (fixtures/flow_dissector.o)
// is what `bpftool net show` inside B lists, one per namespace.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadObject } from '../../src/collection.js';
import { attachNetns } from '../../src/link/netns.js';
import { withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { bpftoolList } from '../helpers/bpftool.js';
import { fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { snmpCounters } from '../helpers/topology.js';
import { sendUdp } from '../helpers/udp.js';
import { linkReleased, until } from '../helpers/wait.js';

describeRoot('sk_lookup programs on a network namespace', () => {
  let env: TestEnv;
  let sock = -1;
  beforeAll(() => {
    env = setupTestEnv();
    // A UDP socket in B on port 7000: the one steer_ports hands datagrams to.
    sock = withNetns(env.nsB, () => ffi.socket(2, 2 | ffi.SOCK_CLOEXEC, 0));
    const addr = Buffer.alloc(16);
    addr.writeUInt16LE(2, 0);
    addr.writeUInt16BE(7000, 2);
    Buffer.from(env.ipB.split('.').map(Number)).copy(addr, 4);
    expect(ffi.bind(sock, addr)).toBe(0);
  });
  afterAll(() => {
    try {
      if (sock >= 0) ffi.close(sock);
    } finally {
      if (env) teardownTestEnv(env);
    }
  });

  const received: string[] = [];
  const drain = () => {
    const buf = Buffer.alloc(64);
    for (let n = ffi.recv(sock, buf, ffi.MSG_DONTWAIT); n >= 0; n = ffi.recv(sock, buf, ffi.MSG_DONTWAIT)) received.push(buf.subarray(0, n).toString());
    return received;
  };

  it('datagrams to 8000-8009 reach the socket on 7000; 8010 finds no socket; closed, the steering stops', async () => {
    using coll = loadObject(fixture('sk_lookup.o'));
    coll.map('target').set(0, sock);
    const before = snmpCounters(env.nsB, 'Udp');
    const link = attachNetns(coll.program('steer_ports'), { netns: env.nsB });
    let linkId = 0;
    try {
      // The kernel's account of the link: a netns link of B's namespace (by inode), sk_lookup.
      const listed = bpftoolList<{ id: number; type: string; netns_ino?: number; attach_type?: string }>('link').find((l) => l.id === link.id);
      expect(listed).toMatchObject({ type: 'netns', netns_ino: statSync(`/var/run/netns/${env.nsB}`).ino, attach_type: 'sk_lookup' });
      sendUdp(env.nsA, env.ipB, 8003, ['to 8003']);
      sendUdp(env.nsA, env.ipB, 8009, ['to 8009']);
      sendUdp(env.nsA, env.ipB, 8010, ['to 8010']);
      sendUdp(env.nsA, env.ipB, 7000, ['to 7000']);
      expect(await until(() => drain().length >= 3)).toBe(true);
      expect(await until(() => snmpCounters(env.nsB, 'Udp').NoPorts! > before.NoPorts!)).toBe(true);
      expect(received).toEqual(['to 8003', 'to 8009', 'to 7000']);
      expect(snmpCounters(env.nsB, 'Udp').NoPorts! - before.NoPorts!).toBe(1);
      expect(coll.map('steered').get(0)!.readBigUInt64LE(0)).toBe(2n);
    } finally {
      linkId = link.id;
      link.close();
    }
    // Sent before the link is gone (another process may hold it a moment), the datagram would still be steered.
    expect(await linkReleased(linkId)).toBe(true);
    sendUdp(env.nsA, env.ipB, 8004, ['to 8004 unsteered']);
    expect(await until(() => snmpCounters(env.nsB, 'Udp').NoPorts! - before.NoPorts! === 2)).toBe(true);
    expect(drain()).toEqual(['to 8003', 'to 8009', 'to 7000']);
  });

  it('a flow dissector: the one bpftool net show lists in B while the link lives; a second is refused in words', async () => {
    // bpftool's text (its -j output for flow_dissector is not valid JSON in this version): "flow_dissector:\nid N\n".
    const dissectors = () => {
      const out = execFileSync('nsenter', [`--net=/var/run/netns/${env.nsB}`, 'bpftool', 'net', 'show'], { encoding: 'utf8' });
      const section = /^flow_dissector:\n((?:id \d+\n)*)/m.exec(out);
      expect(section, out).not.toBeNull();
      return [...section![1]!.matchAll(/id (\d+)/g)].map((m) => ({ id: Number(m[1]) }));
    };
    using coll = loadObject(fixture('flow_dissector.o'));
    const prog = coll.program('count_dissect');
    const link = attachNetns(prog, { netns: env.nsB });
    try {
      expect(dissectors()).toEqual([{ id: prog.info().id }]);
      const again = thrown(() => attachNetns(prog, { netns: env.nsB }));
      expect(again.code).toBe('ALREADY_ATTACHED');
      expect(again.message).toBe(`attach flow_dissector count_dissect on netns ${env.nsB}: the namespace has a flow dissector already (one per namespace): close or detach its link first`);
    } finally {
      link.close();
    }
    expect(await linkReleased(link.id)).toBe(true);
    expect(dissectors()).toEqual([]);
  });

  it('a program of another type, or a namespace that is not there, is refused in words', () => {
    using sf = loadObject(fixture('socket_filter.o'));
    expect(thrown(() => attachNetns(sf.program('drop_marked'), { netns: env.nsB })).message).toBe(
      `attach drop_marked to netns ${env.nsB}: it is a socket_filter program; a namespace takes sk_lookup and flow_dissector programs`,
    );
    using coll = loadObject(fixture('sk_lookup.o'));
    expect(thrown(() => attachNetns(coll.program('steer_ports'), { netns: 'bpf-ts-no-such-ns' })).code).toBe('NO_SUCH_NETNS');
  });
});
