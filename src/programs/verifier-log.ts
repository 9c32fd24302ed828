// Turning a verifier log into something a person can act on: the last
// instruction the verifier looked at, the source line it came from (via
// line_info), and the tail of the log.

import type { LineInfo } from '../object/btf/ext.js';

const TAIL_LINES = 30;

/** Index of the last instruction the log mentions ("12: (61) r2 = …"), or -1. */
export function lastInstruction(log: string): number {
  const re = /^(\d+): \([0-9a-f]{2}\)/gm;
  let last = -1;
  for (let m = re.exec(log); m; m = re.exec(log)) last = Number(m[1]);
  return last;
}

/** The line_info entry covering instruction `insn`: the last one at or before it. */
export function sourceLineFor(lineInfo: LineInfo[], insn: number): LineInfo | undefined {
  let best: LineInfo | undefined;
  for (const li of lineInfo) if (li.insnOff <= insn && (!best || li.insnOff >= best.insnOff)) best = li;
  return best;
}

/** The verifier's own verdict: the last non-empty line that is not a statistics line. */
export function verdictLine(log: string): string {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (/^(processed \d+ insns|verification time|stack depth|mark_precise)/.test(l)) continue;
    return l;
  }
  return '';
}

export function logTail(log: string): string {
  const lines = log.trimEnd().split('\n');
  return lines.slice(-TAIL_LINES).join('\n');
}
