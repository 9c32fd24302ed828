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
