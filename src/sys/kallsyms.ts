// /proc/kallsyms, for typeless __ksym externs (`extern const void sym
// __ksym`): their address. Only root sees real addresses (kptr_restrict);
// others read zeroes, which is reported rather than used.

import { BpfError } from '../errors.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

export const KALLSYMS = '/proc/kallsyms';

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
    // "ffffffff81000000 T _stext [module]"
    const sp1 = line.indexOf(' ');
    const sp2 = line.indexOf(' ', sp1 + 1);
    if (sp1 < 0 || sp2 < 0) continue;
    const end = line.indexOf('\t', sp2 + 1);
    const name = line.slice(sp2 + 1, end < 0 ? undefined : end);
    if (!wanted.has(name) || out.has(name)) continue;
    out.set(name, BigInt('0x' + line.slice(0, sp1)));
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
    const a = wanted.get(line.slice(0, line.indexOf(' ')));
    if (a === undefined || out.has(a)) continue;
    const sp2 = line.indexOf(' ', line.indexOf(' ') + 1);
    const end = line.indexOf('\t', sp2 + 1);
    out.set(a, line.slice(sp2 + 1, end < 0 ? undefined : end));
  }
  return out;
}
