// bpf-ts feature probe: what the running kernel supports, asked the kernel
// itself (src/features/), like `bpftool feature probe kernel`: the BPF
// sysctls and kernel config, every program and map type, the verifier's
// limits and ISA versions, and with --helpers the helpers each program type
// may call.

import { BpfError } from '../../errors.js';
import { probeKernel } from '../../features/probe.js';
import { bpfKernelConfig, bpfSysctls, type BpfSysctls } from '../../features/system.js';
import { type CommandContext, defineCommand } from '../command.js';
import { table } from '../format.js';

const USAGE = 'bpf-ts feature probe [--helpers] [--json]';

const SYSCTL_TEXT: Record<keyof BpfSysctls, [string, (v: number) => string]> = {
  unprivilegedBpfDisabled: [
    'kernel.unprivileged_bpf_disabled',
    (v) => (v === 0 ? 'anyone may load programs and make maps' : v === 1 ? 'privileged users only, until reboot' : 'privileged users only (an admin may set 0)'),
  ],
  jitEnable: ['net.core.bpf_jit_enable', (v) => (v === 0 ? 'JIT off (interpreter)' : v === 2 ? 'JIT on, images dumped to the kernel log' : 'JIT on')],
  jitHarden: ['net.core.bpf_jit_harden', (v) => (v === 0 ? 'no constant blinding' : v === 1 ? 'constants blinded in unprivileged programs' : 'constants blinded in every program')],
  jitKallsyms: ['net.core.bpf_jit_kallsyms', (v) => (v === 0 ? 'JITed programs not in /proc/kallsyms' : 'JITed programs in /proc/kallsyms for root')],
  jitLimit: ['net.core.bpf_jit_limit', (v) => `${v} bytes of JIT memory for unprivileged programs`],
};

const MISC_TEXT = {
  largeInsnLimit: 'programs over 4096 instructions',
  boundedLoops: 'bounded loops',
  isaV2: 'ISA v2 (jlt, jle, jslt, jsle)',
  isaV3: 'ISA v3 (32-bit jumps)',
  isaV4: 'ISA v4 (sign extension, signed division, bswap, gotol)',
} as const;

const yesNo = (v: boolean | null): string => (v === null ? 'unknown' : v ? 'yes' : 'no');

function probe(helpers: boolean, ctx: CommandContext): number {
  const sysctls = bpfSysctls();
  const config = bpfKernelConfig();
  const k = probeKernel({ helpers });
  const told = [...Object.values(k.programTypes), ...Object.values(k.mapTypes)].filter((v) => v !== null).length;
  if (k.unknown.length > 0) {
    const needs = [...new Set(k.unknown.flatMap((u) => u.needs))].sort();
    const what = `${k.unknown.length} probes were refused for want of ${needs.join(', ')} (${k.unknown
      .slice(0, 3)
      .map((u) => u.feature)
      .join(', ')}${k.unknown.length > 3 ? ', …' : ''})`;
    // Nothing told at all is no answer: an error, not a table of "unknown".
    if (told === 0) throw new BpfError('NOT_ROOT', `feature probe: ${what}: run as root or grant ${needs.length === 1 ? 'it' : 'them'}`);
    ctx.warn?.(`${what}: they show as unknown`);
  }
  if (ctx.json) {
    ctx.printJson({ sysctls, config, programTypes: k.programTypes, mapTypes: k.mapTypes, misc: k.misc, ...(k.helpers ? { helpers: k.helpers } : {}), unknown: k.unknown });
    return 0;
  }
  ctx.print('system:');
  ctx.print(
    table(
      ['SYSCTL', 'VALUE', 'MEANING'],
      (Object.keys(SYSCTL_TEXT) as (keyof BpfSysctls)[]).map((key) => {
        const [name, say] = SYSCTL_TEXT[key];
        const v = sysctls[key];
        return [name, v === null ? '-' : v, v === null ? 'cannot be read' : say(v)];
      }),
    ),
  );
  ctx.print('');
  if (config.path === null) ctx.print('kernel config: not found (/proc/config.gz, /boot/config-*)');
  else {
    ctx.print(`kernel config (${config.path}):`);
    ctx.print(
      table(
        ['OPTION', 'VALUE'],
        Object.entries(config.options).map(([o, v]) => [o, v ?? 'not set']),
      ),
    );
  }
  const section = (title: string, rows: Record<string, boolean | null>) => {
    const n = Object.values(rows).filter((v) => v === true).length;
    ctx.print('');
    ctx.print(`${title}: ${n} of ${Object.keys(rows).length} available`);
    ctx.print(
      table(
        ['TYPE', 'AVAILABLE'],
        Object.entries(rows).map(([name, v]) => [name, yesNo(v)]),
      ),
    );
  };
  section('program types', k.programTypes);
  section('map types', k.mapTypes);
  ctx.print('');
  ctx.print('verifier and ISA:');
  ctx.print(
    table(
      ['FEATURE', 'AVAILABLE'],
      (Object.keys(MISC_TEXT) as (keyof typeof MISC_TEXT)[]).map((f) => [MISC_TEXT[f], yesNo(k.misc ? k.misc[f] : null)]),
    ),
  );
  if (k.helpers) {
    for (const [type, list] of Object.entries(k.helpers)) {
      ctx.print('');
      ctx.print(`helpers for ${type} programs (${list.length}):`);
      for (const h of list) ctx.print(`  ${h}`);
    }
  }
  return 0;
}

export const feature = defineCommand({
  name: 'feature',
  summary: 'probe what the running kernel supports: program and map types, helpers, verifier features, BPF sysctls and config (like bpftool feature probe)',
  usage: USAGE,
  options: {
    helpers: { type: 'boolean' },
  },
  run(positionals, values, ctx) {
    const [sub, ...more] = positionals;
    if (sub !== 'probe' || more.length > 0) throw new BpfError('USAGE', `feature needs the sub-command probe (usage: ${USAGE})`);
    return probe(values.helpers === true, ctx);
  },
});
