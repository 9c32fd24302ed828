// bpf-ts demo: the whole job in one command. Builds a two-namespace test
// network, loads the bundled ICMP even-sequence dropper onto the B side in
// native XDP mode, pings from the A side, prints what was dropped and what
// passed with the map counters, and tears everything down — also on error,
// a signal or a closed pipe.

import { accessSync, constants, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NETNS_RUN_DIR } from '../../netns.js';
import { CAP, effectiveCaps, joinCaps, missingCaps, NEED_BPF, NEED_NETLINK_ADMIN, NEED_NET_RAW, NEED_SYS_ADMIN, type CapNeed } from '../../sys/caps.js';
import { attachXdp } from '../../attach/xdp.js';
import { openObject } from '../../collection.js';
import { BpfError } from '../../errors.js';
import { ping } from '../../net/icmp.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../testenv.js';
import { defineCommand } from '../command.js';
import { sumCounter } from '../counters.js';
import { guard } from '../lifecycle.js';
import { parseMode } from '../xdp-select.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/icmp_even_drop.o', import.meta.url));

/**
 * What demo needs, by capability rather than uid: namespaces (CAP_SYS_ADMIN),
 * veths and XDP (CAP_NET_ADMIN), loading (CAP_BPF), its ping (a raw socket:
 * CAP_NET_RAW), and a writable /var/run/netns (root's, or CAP_DAC_OVERRIDE).
 */
export function demoPreflight(caps = effectiveCaps()): void {
  const needs: CapNeed[] = [NEED_SYS_ADMIN, NEED_NETLINK_ADMIN, NEED_BPF, NEED_NET_RAW];
  if (!canWriteNetnsDir()) needs.push([CAP.DAC_OVERRIDE]);
  const missing = missingCaps(needs, caps);
  if (missing.length === 0) return;
  throw new BpfError(
    'NOT_ROOT',
    `demo needs root or ${joinCaps(missing)}, which this process lacks (it creates network namespaces and veth interfaces, attaches XDP and pings through a raw socket): sudo npx bpf-ts demo`,
  );
}

export function canWriteNetnsDir(): boolean {
  try {
    accessSync(existsSync(NETNS_RUN_DIR) ? NETNS_RUN_DIR : '/var/run', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export const demo = defineCommand({
  name: 'demo',
  summary: 'set up a test network, attach the ICMP even-sequence dropper, ping, report, clean up (needs root, or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)',
  usage: 'bpf-ts demo [--count N] [--mode native|skb] [--name NAME] [--json]',
  options: { count: { type: 'string' }, mode: { type: 'string' }, name: { type: 'string' } },
  async run(positionals, values, ctx) {
    if (positionals.length) throw new BpfError('USAGE', `demo takes no positional arguments (usage: ${this.usage})`);
    demoPreflight();
    const count = values.count === undefined ? 10 : Number(values.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new BpfError('USAGE', `--count must be 1…1000, got ${values.count}`);
    const mode = parseMode(values.mode, 'native');
    if (mode === 'hw') throw new BpfError('USAGE', 'demo --mode takes native or skb: veth interfaces have no hardware offload (hw)');
    const say = (s: string) => {
      if (!ctx.json) ctx.print(s);
    };

    // The test network goes away on every way out: the end of the demo, an
    // error, a signal, a closed pipe (lifecycle.ts). Registered before it
    // exists, so no signal can fall between creating it and guarding it.
    let env: TestEnv | undefined;
    const cleanup = guard('demo: remove test network', (reason) => {
      if (!env) return;
      // Deleting the namespaces removes the veth pair and with it the XDP attachment.
      teardownTestEnv(env);
      const cut = reason !== 'done' && reason !== 'error';
      say(`6. removed test network "${env.name}"${cut ? ` (${reason})` : ''}`);
      if (ctx.json && cut) ctx.print(JSON.stringify({ testenv: env.name, removed: true, reason }));
    });
    try {
      env = setupTestEnv(values.name === undefined ? {} : { name: values.name });
      say(`1. test network "${env.name}": ${env.nsA}/${env.vethA} ${env.ipA} <-> ${env.nsB}/${env.vethB} ${env.ipB} (IPv6 off, static neighbours)`);

      const spec = openObject(FIXTURE);
      using coll = spec.load({ programs: ['xdp_even_drop'] });
      const prog = coll.program('xdp_even_drop');
      const att = attachXdp({ iface: env.vethB, progFd: prog.fd.value, mode, netns: env.nsB });
      say(`2. attached xdp_even_drop (id ${att.progId}) to ${env.vethB} in ${att.mode} mode: it drops ICMP echo requests with an even sequence number`);

      const r = await ping({ netns: env.nsA, to: env.ipB, count, timeoutMs: 1500 });
      const answered = r.receivedSeqs;
      const unanswered = Array.from({ length: count }, (_, i) => i + 1).filter((s) => !answered.includes(s));
      say(`3. sent ${r.sent} echo requests from ${env.nsA}: ${r.received} answered (seq ${answered.join(',') || '-'}), ${unanswered.length} dropped (seq ${unanswered.join(',') || '-'})`);

      const counters = coll.map('counters');
      const passed = sumCounter(counters.getPerCpu(0), counters.valueSize);
      const dropped = sumCounter(counters.getPerCpu(1), counters.valueSize);
      say(`4. map "counters" (per-CPU, summed): passed=${passed} dropped=${dropped}`);
      const expectedAnswers = count - Math.floor(count / 2);
      const ok = r.received === expectedAnswers && dropped === BigInt(Math.floor(count / 2)) && passed === BigInt(expectedAnswers);
      if (ctx.json) {
        ctx.printJson({
          testenv: env.name,
          interface: env.vethB,
          mode: att.mode,
          progId: att.progId,
          sent: r.sent,
          received: r.received,
          answeredSeqs: answered,
          droppedSeqs: unanswered,
          counters: { passed: passed.toString(), dropped: dropped.toString() },
          ok,
        });
      } else {
        say(ok ? '5. as expected: every odd request was answered, every even one dropped by XDP' : '5. unexpected counts: see above');
      }
      return ok ? 0 : 1;
    } finally {
      cleanup.release();
    }
  },
});
