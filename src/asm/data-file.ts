// The conformance suite's test file format (bpf_conformance `.data`):
// sections `-- asm`, `-- raw`, `-- mem`, `-- result`, `-- error`, plus the
// informational `-- c` and `-- no register offset`. A file with no section
// header at all is plain assembler text.

import { BpfError } from '../errors.js';
import { assemble } from './assembler.js';
import { INSN_SIZE, decode } from './insn.js';

export interface DataFile {
  /** Instructions from `-- asm` (preferred) or `-- raw`. */
  bytes: Uint8Array;
  /** The initial memory (`-- mem`), empty when absent. */
  mem: Uint8Array;
  /** Expected r0 (`-- result`), as a u64. */
  result?: bigint;
  /** `-- error` text: the run must fail. */
  error?: string;
  /** Where the instructions came from. */
  source: 'asm' | 'raw';
}

const KNOWN = new Set(['asm', 'raw', 'mem', 'result', 'error', 'c', 'no register offset']);

/** Hex bytes separated by white space ("aa bb 11"), over any number of lines. */
export function parseHexBytes(text: string, label: string): Uint8Array {
  const out: number[] = [];
  for (const tok of text.split(/\s+/).filter(Boolean)) {
    if (!/^[0-9a-f]{2}$/i.test(tok)) throw new BpfError('ASM_SYNTAX', `${label}: "${tok}" is not a hex byte`);
    out.push(parseInt(tok, 16));
  }
  return Uint8Array.from(out);
}

/** `-- raw`: one instruction per line, either 8 hex bytes or one 0x-prefixed u64 (little endian). */
function parseRaw(text: string, label: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const line of text.split('\n')) {
    const t = line.replace(/#.*/, '').trim();
    if (!t) continue;
    if (/^0x[0-9a-f]{1,16}$/i.test(t)) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(t), true);
      chunks.push(b);
    } else {
      const b = parseHexBytes(t, label);
      if (b.length !== INSN_SIZE) throw new BpfError('ASM_SYNTAX', `${label}: raw instruction "${t}" is ${b.length} bytes, not 8`);
      chunks.push(b);
    }
  }
  const out = new Uint8Array(chunks.length * INSN_SIZE);
  chunks.forEach((c, i) => out.set(c, i * INSN_SIZE));
  return out;
}

export function parseDataFile(text: string, label = 'data'): DataFile {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  const preamble: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const h = /^--\s*(.*?)\s*$/.exec(line);
    if (h) {
      const [, given = ''] = h;
      const name = given.toLowerCase();
      if (!KNOWN.has(name)) throw new BpfError('ASM_SYNTAX', `${label}: unknown section "-- ${given}" (known: ${[...KNOWN].map((k) => `-- ${k}`).join(', ')})`);
      current = [];
      sections.set(name, current);
      continue;
    }
    (current ?? preamble).push(line);
  }
  let asmText = sections.get('asm')?.join('\n');
  // No sections at all: the whole file is assembler.
  if (sections.size === 0) asmText = preamble.join('\n');
  let bytes: Uint8Array;
  let source: 'asm' | 'raw';
  if (asmText !== undefined) {
    bytes = assemble(asmText, { label }).bytes;
    source = 'asm';
  } else if (sections.has('raw')) {
    bytes = parseRaw(sections.get('raw')!.join('\n'), `${label} (-- raw)`);
    if (bytes.length === 0) throw new BpfError('ASM_SYNTAX', `${label}: the -- raw section has no instructions`);
    decode(bytes, true, label); // structural check (ld_imm64 halves)
    source = 'raw';
  } else {
    throw new BpfError('ASM_SYNTAX', `${label}: no program (neither an "-- asm" nor a "-- raw" section)`);
  }
  const memText = sections.get('mem')?.join('\n') ?? '';
  const mem = parseHexBytes(memText.replace(/#.*/g, ''), `${label} (-- mem)`);
  const resultText = sections.get('result')?.join('\n').replace(/#.*/g, '').trim();
  let result: bigint | undefined;
  if (resultText) {
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(resultText)) throw new BpfError('ASM_SYNTAX', `${label}: -- result "${resultText}" is not a number`);
    result = BigInt.asUintN(64, BigInt(resultText));
  }
  const error = sections.has('error') ? sections.get('error')!.join('\n').trim() : undefined;
  return { bytes, mem, result, error, source };
}

/** Re-encode helper for tools: the `-- raw` text of a program (8 hex bytes per line). */
export function rawText(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += INSN_SIZE) lines.push(Array.from(bytes.subarray(i, i + INSN_SIZE), (b) => b.toString(16).padStart(2, '0')).join(' '));
  return lines.join('\n');
}
