// BPF netfilter hooks (src/link/netfilter.ts, `bpf-ts run --netfilter`)
// between two namespaces this file creates (IPv6 off, static neighbours):
// fixtures/netfilter_drop.o drops ICMP and accepts the rest. Checked by
// what the kernel itself counts: B's /proc/net/snmp sees none of the
// dropped echo requests (dropped before ICMP), the link as bpftool lists it,
// and pings answered again once the link is closed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BpfCollection, loadObject } from '../../src/collection.js';
import { attachNetfilter } from '../../src/link/netfilter.js';
import { ping } from '../../src/net/icmp.js';
import { linkInfo } from '../../src/sys/info.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { bpftoolList } from '../helpers/bpftool.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { CliChild, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { snmpCounters } from '../helpers/topology.js';
import { sendUdp } from '../helpers/udp.js';
import { linkReleased, until } from '../helpers/wait.js';

describeRoot('netfilter programs hooked with bpf_link', () => {
  let env: TestEnv;
  beforeAll(() => {
    env = setupTestEnv();
  });
  afterAll(() => {
    if (env) teardownTestEnv(env);
  });
  const count = (c: BpfCollection, k: number) => c.map('verdicts').get(k)!.readBigUInt64LE(0);

  it.each([
    ['prerouting', 0, -128],
    ['input', 1, 7],
  ] as const)('at ipv4 %s: ICMP dropped before B sees it, UDP accepted; closed, pings pass again', async (hook, hooknum, priority) => {
    using coll = loadObject(fixture('netfilter_drop.o'));
    const link = attachNetfilter(coll.program('nf_drop_icmp'), { family: 'ipv4', hook, priority, netns: env.nsB });
    try {
      // The kernel's account of the link: bpftool lists it on this program; its netfilter fields as asked.
      const listed = bpftoolList<{ id: number; prog_id: number }>('link').find((l) => l.id === link.id);
      expect(listed?.prog_id).toBe(coll.program('nf_drop_icmp').info().id);
      expect(linkInfo(link.fd.value).details).toEqual({ kind: 'netfilter', pf: 2, hooknum, priority, flags: 0 });
      const before = snmpCounters(env.nsB, 'Icmp');
      expect(await ping({ netns: env.nsA, to: env.ipB, count: 3, timeoutMs: 300 })).toMatchObject({ sent: 3, received: 0 });
      expect(snmpCounters(env.nsB, 'Icmp').InEchos).toBe(before.InEchos);
      expect(count(coll, 0)).toBe(3n);
      sendUdp(env.nsA, env.ipB, 9, ['hello']);
      // Delivery to B happens in softirq after the send.
      await until(() => count(coll, 1) > 0n);
      expect(count(coll, 1)).toBe(1n);
    } finally {
      link.close();
    }
    expect(await linkReleased(link.id)).toBe(true);
    expect(await ping({ netns: env.nsA, to: env.ipB, count: 2 })).toMatchObject({ received: 2 });
    expect(count(coll, 0)).toBe(3n);
  });

  it('refusals say what is wrong before or after the kernel', () => {
    using coll = loadObject(fixture('netfilter_drop.o'));
    using sock = loadObject(fixture('socket_filter.o'));
    const prog = coll.program('nf_drop_icmp');
    expect(thrown(() => attachNetfilter(prog, { family: 'ipv4', hook: 'prerouting', priority: -(2 ** 31), netns: env.nsB })).message).toBe(
      `netfilter ipv4 prerouting priority -2147483648 (netns ${env.nsB}): the priority must be an integer between -2147483648 and 2147483647, both excluded (netfilter keeps them)`,
    );
    expect(thrown(() => attachNetfilter(prog, { family: 'arp' as 'ipv4', hook: 'input', priority: 1 })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => attachNetfilter(prog, { family: 'ipv4', hook: 'prerouting', priority: -500, defrag: true, netns: env.nsB })).message).toBe(
      `netfilter ipv4 prerouting priority -500 (netns ${env.nsB}): with defrag the priority must come after IP defragmentation's (greater than -400)`,
    );
    const wrong = thrown(() => attachNetfilter(sock.program('drop_marked'), { family: 'ipv4', hook: 'input', priority: 1, netns: env.nsB }));
    expect(wrong.message).toMatch(/^BPF_LINK_CREATE \(netfilter ipv4 input priority 1 \(netns [\w-]+\)\): EINVAL.* \(the program must be a netfilter program, from a "netfilter" section\)$/);
  });

  it('bpf-ts load OBJ --netfilter ipv4:input: stays hooked after the command, through its pinned link; detach --pin-link unhooks it', async () => {
    const fs = mountBpffs();
    try {
      const out = (await cliOk('load', fixture('netfilter_drop.o'), '--netfilter', 'ipv4:input', '--priority', '-10', '--netns', env.nsB, '--bpffs', fs.path, '--json')).json();
      expect(out).toMatchObject({ program: 'nf_drop_icmp', netfilter: { family: 'ipv4', hook: 'input', priority: -10 }, netns: env.nsB });
      expect(out.linkPin).toBe(join(fs.path, 'bpf-ts', `netfilter_${env.nsB}_ipv4_input_${out.linkId}`));
      expect(bpftoolList<{ id: number; prog_id: number }>('link').find((l) => l.id === out.linkId)?.prog_id).toBe(out.progId);
      expect(await ping({ netns: env.nsA, to: env.ipB, count: 2, timeoutMs: 300 })).toMatchObject({ received: 0 });
      const d = await cliOk('detach', '--pin-link', out.linkPin);
      expect(d.stdout).toContain(`detached bpf_link ${out.linkId}`);
      expect(existsSync(out.linkPin)).toBe(false);
      expect(existsSync(join(fs.path, 'bpf-ts'))).toBe(false);
      expect(await ping({ netns: env.nsA, to: env.ipB, count: 2 })).toMatchObject({ received: 2 });
    } finally {
      fs.unmount();
    }
  });

  it('bpf-ts run OBJ --netfilter ipv4:prerouting --priority -128: counters while it runs, unhooked on Ctrl-C', async () => {
    const run = new CliChild(['run', fixture('netfilter_drop.o'), '--netfilter', 'ipv4:prerouting', '--priority', '-128', '--netns', env.nsB, '--interval', '0.2', '--json']);
    try {
      const { line } = await run.waitForLine((l) => l.startsWith('{"attached"'));
      const attached = JSON.parse(line).attached;
      expect(attached).toMatchObject({ program: 'nf_drop_icmp', netfilter: { family: 'ipv4', hook: 'prerouting', priority: -128 }, netns: env.nsB });
      expect(await ping({ netns: env.nsA, to: env.ipB, count: 2, timeoutMs: 300 })).toMatchObject({ received: 0 });
      await run.waitForLine((l) => (JSON.parse(l).counters ?? []).some((r: { map: string; key: string; value: string }) => r.map === 'verdicts' && r.key === '0' && r.value === '2'));
      run.child.kill('SIGINT');
      expect((await run.exited).code).toBe(130);
      expect(run.lines.at(-1)).toBe('{"detached":true,"reason":"SIGINT"}');
      // The kernel frees a link in deferred work after its last reference goes.
      expect(await until(() => !bpftoolList('link').some((l) => l.id === attached.linkId), 10_000, 50)).toBe(true);
    } finally {
      await run.kill();
    }
    expect(await ping({ netns: env.nsA, to: env.ipB, count: 2 })).toMatchObject({ received: 2 });
  });
});
