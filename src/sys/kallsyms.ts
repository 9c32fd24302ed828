// /proc/kallsyms, for typeless __ksym externs (`extern const void sym
// __ksym`): their address. Only root sees real addresses (kptr_restrict);
// others read zeroes, which is reported rather than used.

import { BpfError } from '../errors.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

export const KALLSYMS = '/proc/kallsyms';

/** A line's address (16 hex digits) and symbol: "ffffffff81000000 T _stext\t[module]". */
function fields(line: string): [address: string, name: string] | null {
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0) return null;
  const end = line.indexOf('\t', sp2 + 1);
  return [line.slice(0, sp1), line.slice(sp2 + 1, end < 0 ? undefined : end)];
}

/** Address of each wanted symbol found (first occurrence, vmlinux before modules as the file lists them). */
export function kallsymsAddresses(names: Iterable<string>, text?: string): Map<string, bigint> {
  const wanted = new Set(names);
  const out = new Map<string, bigint>();
  if (wanted.size === 0) return out;
  let body = text;
  if (body === undefined) {
    try {
      body = readFileSync(KALLSYMS, 'latin1');
    } catch (e) {
      throw new BpfError('IO', `${KALLSYMS}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)} (needed for typeless __ksym externs)`);
    }
  }
  for (const line of body.split('\n')) {
    const f = fields(line);
    if (!f || !wanted.has(f[1]) || out.has(f[1])) continue;
    out.set(f[1], BigInt('0x' + f[0]));
  }
  return out;
}

/** /proc/kallsyms as text, or null when it cannot be read. */
export function readKallsyms(): string | null {
  try {
    return readFileSync(KALLSYMS, 'latin1');
  } catch {
    return null;
  }
}

/**
 * The first symbol at each wanted address. Addresses that show as zero (the
 * caller may not see kernel addresses) name nothing.
 */
export function kallsymsNamesAt(addresses: Iterable<bigint>, text: string): Map<bigint, string> {
  const wanted = new Map<string, bigint>();
  for (const a of addresses) if (a !== 0n) wanted.set(a.toString(16).padStart(16, '0'), a);
  const out = new Map<bigint, string>();
  if (wanted.size === 0) return out;
  for (const line of text.split('\n')) {
    const f = fields(line);
    const a = f ? wanted.get(f[0]) : undefined;
    if (a !== undefined && !out.has(a)) out.set(a, f![1]);
  }
  return out;
}
