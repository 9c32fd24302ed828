// Turning a verifier log into something a person can act on: the last
// instruction the verifier looked at, the source line it came from (via
// line_info), and the tail of the log.
//
// Logs can be tens of megabytes. Everything here reads the log's bytes from
// the end and decodes only the lines it returns: no split of the whole log,
// no second copy, so memory stays near the size of the log buffer itself.

import type { LineInfo } from '../btf/ext.js';

const TAIL_LINES = 30;

/** A log as the kernel wrote it (bytes) or already decoded. */
export type VerifierLogText = string | Uint8Array;

const asBuffer = (log: Uint8Array): Buffer => (Buffer.isBuffer(log) ? log : Buffer.from(log.buffer, log.byteOffset, log.byteLength));

/** Lines from the last to the first, decoded one at a time. */
function* linesFromEnd(log: VerifierLogText): Generator<string> {
  if (typeof log === 'string') {
    let end = log.length;
    while (end > 0) {
      const nl = log.lastIndexOf('\n', end - 1);
      yield log.slice(nl + 1, end);
      end = nl < 0 ? 0 : nl;
    }
    return;
  }
  const b = asBuffer(log);
  let end = b.length;
  while (end > 0) {
    const nl = end > 0 ? b.lastIndexOf(0x0a, end - 1) : -1;
    yield b.toString('utf8', nl + 1, end);
    end = nl < 0 ? 0 : nl;
  }
}

const INSN_LINE = /^(\d+): \([0-9a-f]{2}\)/;

/** Index of the last instruction the log mentions ("12: (61) r2 = …"), or -1. */
export function lastInstruction(log: VerifierLogText): number {
  for (const line of linesFromEnd(log)) {
    const m = INSN_LINE.exec(line);
    if (m) return Number(m[1]);
  }
  return -1;
}

/** The line_info entry covering instruction `insn`: the last one at or before it. */
export function sourceLineFor(lineInfo: LineInfo[], insn: number): LineInfo | undefined {
  let best: LineInfo | undefined;
  for (const li of lineInfo) if (li.insnOff <= insn && (!best || li.insnOff >= best.insnOff)) best = li;
  return best;
}

/** The verifier's own verdict: the last non-empty line that is not a statistics line. */
export function verdictLine(log: VerifierLogText): string {
  for (const raw of linesFromEnd(log)) {
    const l = raw.trim();
    if (!l || /^(processed \d+ insns|verification time|stack depth|mark_precise)/.test(l)) continue;
    return l;
  }
  return '';
}

/** The last `lines` lines (trailing blank lines dropped). */
export function logTail(log: VerifierLogText, lines = TAIL_LINES): string {
  const out: string[] = [];
  for (const line of linesFromEnd(log)) {
    if (out.length === 0 && line.trim() === '') continue;
    out.push(line);
    if (out.length >= lines) break;
  }
  return out.reverse().join('\n');
}

/** Whether the log contains `text` (searched in place, without decoding). */
export function logIncludes(log: VerifierLogText, text: string): boolean {
  return typeof log === 'string' ? log.includes(text) : asBuffer(log).includes(text);
}

/**
 * The verifier refused something only privileged callers may do (pointer
 * arithmetic, leaking pointers, speculative paths): with CAP_PERFMON
 * (bpf_allow_ptr_leaks / bypass_spec_v1) the same program loads.
 */
export function needsPerfmon(log: VerifierLogText): boolean {
  const verdict = verdictLine(log);
  return /prohibited for !root|pointer comparison prohibited|leaks addr|leaking pointer/.test(verdict);
}
