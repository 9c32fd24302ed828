// Figure: CLI start-up. `node bin/bpf-ts.js --help` and
// `node bin/bpf-ts.js inspect <largest fixture>` against a bare `node -e 0`,
// each started the same way (spawnSync, output discarded). Runs are paired:
// every round runs all three back to back (rotating which goes first), the
// ratio is taken within the round, and the median over rounds is reported,
// so machine load hitting one round moves both sides of its ratio.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { check, fmt, largestFixture, nowNs, ROOT } from './util.js';

const ROUNDS = 21;
const TARGET = 1.5;

function wall(args) {
  const t0 = nowNs();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  const ms = (nowNs() - t0) / 1e6;
  check(r.status === 0, `node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function cliStartup() {
  const fixture = largestFixture();
  const bin = join(ROOT, 'bin', 'bpf-ts.js');
  const cases = {
    node: ['-e', '0'],
    help: [bin, '--help'],
    inspect: [bin, 'inspect', fixture],
  };
  const keys = Object.keys(cases);
  for (const k of keys) wall(cases[k]); // warm the page cache
  const times = { node: [], help: [], inspect: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(r + i) % keys.length];
      times[k].push(wall(cases[k]));
    }
  }
  const rel = fixture.split('/fixtures/')[1] ?? fixture;
  return ['help', 'inspect'].map((k) => {
    const ratio = median(times[k].map((t, i) => t / times.node[i]));
    const label = k === 'help' ? 'CLI start-up (--help)' : `CLI start-up (inspect ${rel})`;
    return {
      name: label,
      line: `${label}: median ${fmt.ms(median(times[k]))} ms, node -e 0 ${fmt.ms(median(times.node))} ms; paired ratio ${fmt.ratio(ratio)} (median of ${ROUNDS})`,
      checks: [{ value: `ratio ${fmt.ratio(ratio)}`, target: `ratio <= ${TARGET}`, pass: ratio <= TARGET }],
    };
  });
}
