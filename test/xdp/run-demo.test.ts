// The foreground commands as a user runs them, in a child process through
// bin/bpf-ts.js (dist/ is built first when stale): `bpf-ts run` attaches,
// streams counters, and detaches on SIGINT; `bpf-ts demo` builds its own
// test network, checks itself, and leaves no namespace behind; as non-root
// it refuses with NOT_ROOT. Traffic only between this file's namespaces.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { detachXdp, queryXdp } from '../../src/attach/xdp.js';
import { ping } from '../../src/net/icmp.js';
import { listNetns, netnsExists } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { CliChild, cliProcess, ensureDist, fixture, uniqueName, unprivilegedWrapper } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

interface CounterLine {
  elapsed: number;
  counters: { map: string; key: string; value: string; perSecond: number }[];
}

const counter = (line: CounterLine, key: string) => line.counters.find((c) => c.map === 'counters' && c.key === key)?.value;
const parse = (l: string): any => {
  try {
    return JSON.parse(l);
  } catch {
    return undefined;
  }
};

describeRoot('bpf-ts run / demo (child process)', () => {
  let env: TestEnv;
  const children: CliChild[] = [];

  beforeAll(() => {
    ensureDist();
    env = setupTestEnv({ name: uniqueName('xd') });
  }, 120_000);

  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    if (env && netnsExists(env.nsB) && queryXdp(env.vethB, { netns: env.nsB }).attached !== 'none') detachXdp(env.vethB, { netns: env.nsB });
  });

  afterAll(() => {
    if (env) teardownTestEnv(env);
    if (env) expect(netnsExists(env.nsA) || netnsExists(env.nsB)).toBe(false);
  });

  it('run --json: attached line, counters stream (2 of 4 dropped), SIGINT detaches and exits 130', async () => {
    const child = new CliChild(['run', fixture('icmp_even_drop.o'), '--xdp', env.vethB, '--netns', env.nsB, '--mode', 'skb', '--interval', '0.2', '--json']);
    children.push(child);

    const { line, index } = await child.waitForLine((l) => parse(l)?.attached !== undefined);
    const { attached } = JSON.parse(line);
    expect(attached).toMatchObject({ interface: env.vethB, ifindex: env.ifindexB, program: 'xdp_even_drop', mode: 'skb' });
    expect(attached.progId).toBeGreaterThan(0);
    const q = queryXdp(env.vethB, { netns: env.nsB });
    expect(q).toMatchObject({ attached: 'skb', progId: attached.progId, skbProgId: attached.progId });

    const r = await ping({ netns: env.nsA, to: env.ipB, count: 4, timeoutMs: 1000 });
    expect(r.receivedSeqs).toEqual([1, 3]);

    const seen = await child.waitForLine(
      (l) => {
        const j = parse(l) as CounterLine | undefined;
        return j?.counters !== undefined && counter(j, '1') === '2';
      },
      30_000,
      index + 1,
    );
    const counters = JSON.parse(seen.line) as CounterLine;
    expect(counter(counters, '0')).toBe('2');
    expect(counter(counters, '1')).toBe('2');
    expect(counters.elapsed).toBeGreaterThan(0);
    // Every line before it is JSON too: one document per line.
    for (const l of child.lines.slice(0, seen.index + 1)) expect(parse(l)).toBeDefined();

    child.child.kill('SIGINT');
    const exit = await child.exited;
    expect(child.stderr).toBe('');
    // 128 + SIGINT, as a shell reports a command Ctrl-C ended (docs/cli.md, "Exit paths").
    expect(exit).toEqual({ code: 130, signal: null });
    const last = JSON.parse(child.lines.at(-1)!);
    expect(last).toEqual({ detached: true, reason: 'SIGINT' });
    // The final report before it still has the counts.
    const final = JSON.parse(child.lines.at(-2)!) as CounterLine;
    expect(counter(final, '1')).toBe('2');
    expect(queryXdp(env.vethB, { netns: env.nsB })).toMatchObject({ attached: 'none', progId: 0, programs: [] });
    expect((await ping({ netns: env.nsA, to: env.ipB, count: 4, timeoutMs: 1000 })).received).toBe(4);
  });

  it('demo --json: 10 sent, 5 answered, counters 5/5, ok, and no namespace left behind', async () => {
    const before = new Set(listNetns());
    const r = await cliProcess(['demo', '--json'], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({
      sent: 10,
      received: 5,
      answeredSeqs: [1, 3, 5, 7, 9],
      droppedSeqs: [2, 4, 6, 8, 10],
      counters: { passed: '5', dropped: '5' },
      mode: 'native',
      ok: true,
    });
    expect(j.progId).toBeGreaterThan(0);
    expect(typeof j.testenv).toBe('string');
    // The demo's own namespaces are gone; nothing new of its name remains
    // (other test runs may come and go meanwhile, so only its names are checked).
    expect(netnsExists(`${j.testenv}-a`) || netnsExists(`${j.testenv}-b`)).toBe(false);
    expect(listNetns().filter((n) => !before.has(n) && n.startsWith(`${j.testenv}-`))).toEqual([]);
    expect(before.has(`${j.testenv}-a`)).toBe(false);
  });

  const wrap = unprivilegedWrapper();
  if (!wrap) console.warn('skipping "demo as non-root": neither setpriv nor runuser is installed');
  it.skipIf(!wrap)('demo as a non-root user exits 1 with NOT_ROOT', async () => {
    const r = await cliProcess(['demo', '--json'], { wrap, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.json()).toEqual({ error: { code: 'NOT_ROOT', message: expect.stringMatching(/demo needs root/) } });
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^bpf-ts: demo needs root/);
    expect(r.stderr).not.toContain('    at ');
  });
});
