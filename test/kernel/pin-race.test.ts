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

// The child parses the object, says "ready", loads when told "go", prints
// the outcome and closes what it loaded; then again, once per round, until
// its stdin ends. One pair of processes serves every round: each round is
// still two processes racing, and the rounds cost no process start-ups.
const CHILD = `
const { openObject } = await import(process.argv[1]);
const { createInterface } = await import('node:readline');
let spec = openObject(process.argv[2]);
process.stdout.write('ready\\n');
for await (const _ of createInterface({ input: process.stdin })) {
  try {
    const c = spec.load({ programs: [process.argv[3]], programType: 'sched_cls', bpffs: process.argv[4] });
    process.stdout.write(JSON.stringify({ ok: true, mapId: c.map('acc_map').id, reused: c.reusedPins.has('acc_map') }) + '\\n');
    c.close();
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: e.message }) + '\\n');
  }
  spec = openObject(process.argv[2]);
  process.stdout.write('ready\\n');
}
`;

interface Outcome {
  ok: boolean;
  mapId?: number;
  reused?: boolean;
  code?: string;
  message?: string;
}

/** A loader child; next() is its next stdout line ("ready" or an outcome), rejected if it exits first. */
class Loader {
  readonly child: ChildProcessWithoutNullStreams;
  #lines: string[] = [];
  #partial = '';
  #err = '';
  #exit: number | null | undefined = undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly program: string,
    bpffs: string,
  ) {
    this.child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, join(ROOT, 'dist', 'collection.js'), TC_SHARED, program, bpffs], { stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      const parts = (this.#partial + d).split('\n');
      this.#partial = parts.pop()!;
      this.#lines.push(...parts);
      this.#wake?.();
    });
    this.child.stderr.on('data', (d) => (this.#err += d));
    this.child.on('close', (code) => {
      this.#exit = code;
      this.#wake?.();
    });
  }

  async next(): Promise<string> {
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#exit !== undefined) throw new Error(`child (${this.program}) exited ${this.#exit}\n${this.#partial}\n${this.#err}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  async ready(): Promise<void> {
    const line = await this.next();
    if (line !== 'ready') throw new Error(`child (${this.program}) said ${line}, not ready\n${this.#err}`);
  }

  async result(): Promise<Outcome> {
    const line = await this.next();
    if (!line.startsWith('{')) throw new Error(`child (${this.program}) said ${line}, not a result\n${this.#err}`);
    return JSON.parse(line) as Outcome;
  }
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
    const a = new Loader('tc_ingress', fs.path);
    const b = new Loader('tc_egress', fs.path);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all([a.ready(), b.ready()]);
        for (const n of readdirSync(fs.path).filter((x) => !x.endsWith('.debug'))) rmSync(join(fs.path, n), { recursive: true, force: true });
        a.child.stdin.write('go\n');
        b.child.stdin.write('go\n');
        const [ra, rb] = await Promise.all([a.result(), b.result()]);
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
      }
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
