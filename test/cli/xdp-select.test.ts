// Which XDP program `load`/`run --xdp` take from an object, and which they load
// with it: a SEC("?xdp") program (autoload off) only when --program names it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { selectXdpProgram, xdpProgramNames } from '../../src/cli/xdp-select.js';
import { selectTcProgram, tcProgramNames } from '../../src/cli/tc-select.js';
import { FIXTURES } from '../helpers/oracle.js';

describe('XDP program selection with SEC("?xdp") programs', () => {
  const spec = openObject(join(FIXTURES, 'libbpf_conventions.o'));

  it('without --program: the choice leaves the optional program out', () => {
    expect(() => selectXdpProgram(spec, undefined)).toThrow(/has 4 XDP programs \(flavored_kfunc, flavor_mismatch, hidden_fill, ring_len\): choose one with --program/);
    expect(() => selectXdpProgram(spec, undefined)).not.toThrow(/opt_in/);
  });

  it('--program opt_in takes it, and loads it beside the others; another choice loads it not', () => {
    expect(selectXdpProgram(spec, 'opt_in').name).toBe('opt_in');
    expect(xdpProgramNames(spec, 'opt_in')).toContain('opt_in');
    expect(xdpProgramNames(spec, 'hidden_fill')).not.toContain('opt_in');
    expect(xdpProgramNames(spec, 'hidden_fill')).toEqual(['flavored_kfunc', 'flavor_mismatch', 'hidden_fill', 'ring_len']);
  });

  it('TC the same way: an optional tc program is left out of the default choice and of what loads with another', () => {
    const local = openObject(join(FIXTURES, 'libbpf_conventions.o'));
    // What parseObject makes of SEC("?tc"): autoload off.
    local.program('locked_inner').autoload = false;
    expect(() => selectTcProgram(local, undefined)).toThrow(/has 2 TC programs \(call_order in "tc", throws in "tc"\)/);
    expect(tcProgramNames(local, local.program('throws'))).toEqual(['call_order', 'throws']);
    expect(tcProgramNames(local, local.program('locked_inner'))).toContain('locked_inner');
  });
});
