// --set NAME=VALUE, as load, run (globals before load) and map update
// (members of a value its BTF describes) take it.

import { BpfError } from '../errors.js';

/** One --set NAME=VALUE: VALUE decimal, 0x hex, or true/false. */
export function parseSet(s: string): { name: string; value: bigint | boolean } {
  const m = /^([A-Za-z_]\w*)=(.+)$/.exec(s);
  if (!m) throw new BpfError('USAGE', `--set wants NAME=VALUE, got ${JSON.stringify(s)}`);
  const [, name, text] = m as unknown as [string, string, string];
  if (text === 'true' || text === 'false') return { name, value: text === 'true' };
  try {
    return { name, value: BigInt(text) };
  } catch {
    throw new BpfError('USAGE', `--set ${name}: ${JSON.stringify(text)} is not a number (decimal or 0x hex) or true/false`);
  }
}
