// bpf-ts testenv: a throw-away two-namespace network, as the XDP tutorials'
// testenv script makes: namespace <name>-a holds veth <name>-a, namespace
// <name>-b holds its peer, IPv4 on both, IPv6 off, static neighbours.

import { spawnSync } from 'node:child_process';
import { BpfError } from '../../errors.js';
import { netnsPath } from '../../netns.js';
import { setupTestEnv, statusTestEnv, teardownTestEnv, testEnvNames } from '../../testenv.js';
import { defineCommand } from '../command.js';
import { CAP, effectiveCaps, joinCaps, missingCaps, NEED_NETLINK_ADMIN, NEED_SYS_ADMIN, type CapNeed } from '../../sys/caps.js';
import { canWriteNetnsDir } from './demo.js';

function needName(values: { name?: string }, sub: string): string {
  if (typeof values.name !== 'string') throw new BpfError('USAGE', `testenv ${sub} needs --name NAME (setup prints it)`);
  return values.name;
}

/**
 * What setup needs, by capability as demo does: namespaces (CAP_SYS_ADMIN),
 * veths and addresses (CAP_NET_ADMIN), a writable /var/run/netns (root's, or
 * CAP_DAC_OVERRIDE). Checked before anything is made: one NOT_ROOT line.
 */
export function testenvPreflight(caps = effectiveCaps()): void {
  const needs: CapNeed[] = [NEED_SYS_ADMIN, NEED_NETLINK_ADMIN];
  if (!canWriteNetnsDir()) needs.push([CAP.DAC_OVERRIDE]);
  const missing = missingCaps(needs, caps);
  if (missing.length === 0) return;
  throw new BpfError('NOT_ROOT', `testenv setup needs root or ${joinCaps(missing)}, which this process lacks (it creates network namespaces and veth interfaces): sudo npx bpf-ts testenv setup`);
}

export const testenv = defineCommand({
  name: 'testenv',
  summary: 'set up, inspect, enter or tear down a two-namespace veth test network',
  usage: 'bpf-ts testenv setup|teardown|status|exec [--name NAME] [--side a|b] [-- CMD ARGS…] [--json]',
  options: { name: { type: 'string' }, side: { type: 'string' } },
  run(positionals, values, ctx) {
    const [sub, ...rest] = positionals;
    switch (sub) {
      case 'setup': {
        testenvPreflight();
        const env = setupTestEnv({ name: values.name });
        if (ctx.json) ctx.printJson(env);
        else {
          ctx.print(`test environment "${env.name}" is up:`);
          ctx.print(`  namespace ${env.nsA}: ${env.vethA} ${env.ipA}/${env.prefixLen} (${env.macA})`);
          ctx.print(`  namespace ${env.nsB}: ${env.vethB} ${env.ipB}/${env.prefixLen} (${env.macB})`);
          ctx.print(`attach to the B side:  bpf-ts load OBJ --xdp ${env.vethB} --netns ${env.nsB}`);
          ctx.print(`send from the A side:  bpf-ts testenv exec --name ${env.name} -- ping -c 3 ${env.ipB}`);
          ctx.print(`remove it:             bpf-ts testenv teardown --name ${env.name}`);
        }
        return 0;
      }
      case 'teardown': {
        const name = needName(values, sub);
        const before = statusTestEnv(name);
        if (!before.exists) throw new BpfError('USAGE', `testenv "${name}" does not exist`);
        teardownTestEnv(name);
        if (ctx.json) ctx.printJson({ name, removed: true });
        else ctx.print(`removed test environment "${name}"`);
        return 0;
      }
      case 'status': {
        const s = statusTestEnv(needName(values, sub));
        if (ctx.json) ctx.printJson(s);
        else if (!s.exists) ctx.print(`testenv "${s.name}" does not exist`);
        else for (const side of [s.a, s.b]) ctx.print(`${side.netns}: ${side.exists ? (side.link ? `${side.link.ifname} ifindex ${side.link.ifindex} mtu ${side.link.mtu}` : 'no veth') : 'missing'}`);
        return s.exists ? 0 : 1;
      }
      case 'exec': {
        const name = needName(values, sub);
        if (rest.length === 0) throw new BpfError('USAGE', 'testenv exec needs a command after --');
        const side = values.side ?? 'a';
        if (side !== 'a' && side !== 'b') throw new BpfError('USAGE', `--side must be a or b, got ${side}`);
        const n = testEnvNames(name);
        // nsenter, not `ip netns exec`: no /sys remount, so bpffs pins made by the command survive it.
        const r = spawnSync('nsenter', [`--net=${netnsPath(side === 'a' ? n.nsA : n.nsB)}`, '--', ...rest], { stdio: 'inherit' });
        if (r.error) throw new BpfError('IO', `testenv exec: ${r.error.message}`);
        return r.status ?? 1;
      }
      default:
        throw new BpfError('USAGE', `testenv needs a sub-command: setup, teardown, status or exec (usage: ${this.usage})`);
    }
  },
});
