// Two processes load the ingress and the egress program of one iproute2
// object into a fresh bpffs at the same moment, as two `tc filter add …`
// commands do. Both try to create and pin the PIN_GLOBAL_NS map; the one
// that loses (EEXIST) must reuse the winner's map after the compatibility
// check, as libbpf does, instead of failing with PIN_EXISTS.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDist, fixture, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { mountSharedBpffs } from '../security/helpers.js';

const TC_SHARED = fixture('tc_shared_map.o');
const ROUNDS = 10;

// The child parses the object, says "ready", and loads when told "go".
const CHILD = `
const { openObject } = await import(process.argv[1]);
const spec = openObject(process.argv[2]);
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  try {
    const c = spec.load({ programs: [process.argv[3]], programType: 'sched_cls', bpffs: process.argv[4] });
    process.stdout.write(JSON.stringify({ ok: true, mapId: c.map('acc_map').id, reused: c.reusedPins.has('acc_map') }) + '\\n');
    c.close();
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: e.message }) + '\\n');
  }
  process.exit(0);
});
`;

interface Outcome {
  ok: boolean;
  mapId?: number;
  reused?: boolean;
  code?: string;
  message?: string;
}

function startChild(program: string, bpffs: string): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; result: Promise<Outcome> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, join(ROOT, 'dist', 'collection.js'), TC_SHARED, program, bpffs], { stdio: 'pipe' });
  let out = '';
  let err = '';
  let onReady: () => void;
  let notReady: (e: Error) => void;
  const ready = new Promise<void>((r, j) => {
    onReady = r;
    notReady = j;
  });
  child.stdout.on('data', (d) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
  });
  child.stderr.on('data', (d) => (err += d));
  const result = new Promise<Outcome>((resolve, reject) => {
    child.on('close', (code) => {
      notReady(new Error(`child (${program}) exited ${code} before it was ready\n${out}\n${err}`));
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) reject(new Error(`child (${program}) exited ${code} without a result\n${out}\n${err}`));
      else resolve(JSON.parse(line) as Outcome);
    });
  });
  return { child, ready, result };
}

describeRoot('iproute2 PIN_GLOBAL_NS map: two concurrent loaders share it', () => {
  let fs: { path: string; unmount(): void };
  beforeAll(() => {
    ensureDist();
    fs = mountSharedBpffs();
  }, 180_000);
  afterAll(() => fs?.unmount());

  it(`${ROUNDS} rounds of ingress + egress loading at once into a fresh bpffs: both succeed, one map`, async () => {
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of readdirSync(fs.path).filter((x) => !x.endsWith('.debug'))) rmSync(join(fs.path, n), { recursive: true, force: true });
      const a = startChild('tc_ingress', fs.path);
      const b = startChild('tc_egress', fs.path);
      try {
        await Promise.all([a.ready, b.ready]);
        a.child.stdin.write('go\n');
        b.child.stdin.write('go\n');
        const [ra, rb] = await Promise.all([a.result, b.result]);
        if (!ra.ok || !rb.ok) {
          failures.push(
            `round ${round}: ${[ra, rb]
              .filter((r) => !r.ok)
              .map((r) => `${r.code}: ${r.message}`)
              .join('; ')}`,
          );
          continue;
        }
        expect(ra.mapId).toBe(rb.mapId);
        // Exactly one created the map; the other reused it (from the pin, or after losing the race).
        expect([ra.reused, rb.reused].filter(Boolean)).toHaveLength(1);
      } finally {
        a.child.kill('SIGKILL');
        b.child.kill('SIGKILL');
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
