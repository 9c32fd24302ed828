// bpf-ts test-run OBJ --program NAME --data-hex HEX: load the object, run
// one program on a frame with BPF_PROG_TEST_RUN, print the verdict.
// Nothing is pinned or attached; everything is freed on exit.

import { warnLoad } from '../load-warnings.js';
import { openObject, progTypeNumber } from '../../collection.js';
import { applyMaxEntries, MAX_ENTRIES_OPTION } from '../max-entries.js';
import { BpfError } from '../../errors.js';
import type { Command } from '../command.js';
import { hex } from '../format.js';
import { parseHex } from '../hex.js';

export const testRun: Command = {
  name: 'test-run',
  summary: 'run a program once on a packet with BPF_PROG_TEST_RUN and print its verdict',
  usage: 'bpf-ts test-run OBJ [--program NAME] [--type xdp|tc] --data-hex HEX [--repeat N] [--max-entries MAP=N]… [--json]',
  options: {
    program: { type: 'string' },
    type: { type: 'string' },
    'data-hex': { type: 'string' },
    repeat: { type: 'string' },
    ...MAX_ENTRIES_OPTION,
  },
  run(positionals, values, ctx) {
    if (positionals.length !== 1) throw new BpfError('USAGE', 'test-run takes exactly one object file');
    const dataHex = values['data-hex'];
    if (typeof dataHex !== 'string') throw new BpfError('USAGE', 'test-run needs --data-hex HEX (the packet, from the Ethernet header on)');
    const data = parseHex(dataHex, '--data-hex');
    if (data.length < 14) throw new BpfError('USAGE', `--data-hex is ${data.length} bytes: XDP and TC programs see a packet from its Ethernet header on, so it needs at least 14 bytes (dst MAC, src MAC, ethertype)`);
    const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
    if (!Number.isInteger(repeat) || repeat < 1) throw new BpfError('USAGE', `--repeat must be a positive integer, got ${values.repeat}`);
    const spec = openObject(positionals[0]);
    applyMaxEntries(spec, values['max-entries']);
    let name = values.program as string | undefined;
    if (!name) {
      if (spec.programs.length !== 1) {
        throw new BpfError('USAGE', `${spec.path} has ${spec.programs.length} programs (${spec.programs.map((p) => p.name).join(', ')}): choose one with --program`);
      }
      name = spec.programs[0].name;
    }
    const wanted = spec.program(name);
    const type = (values.type as string | undefined) ?? (wanted.type === null ? 'xdp' : undefined);
    // Only this program, its maps and its tail-call targets: another program the kernel refuses
    // (or a map still to be sized) elsewhere in the object does not stop this one.
    using coll = spec.load({ programs: [name], onlyNeeded: true, ...(type !== undefined ? { programType: progTypeNumber(type) } : {}), ignorePinning: true });
    warnLoad(ctx, coll);
    const r = coll.program(name).testRun(data, { repeat });
    if (ctx.json) {
      ctx.printJson({ retval: r.retval, verdict: r.verdict, durationNs: r.durationNs, dataOutHex: hex(r.dataOut) });
    } else {
      ctx.print(`${name}: ${r.verdict ?? 'retval'} (retval ${r.retval}), ${r.durationNs} ns per run${repeat > 1 ? ` over ${repeat} runs` : ''}`);
      if (!r.dataOut.equals(data)) ctx.print(`packet rewritten: ${hex(r.dataOut)}`);
    }
    return 0;
  },
};
