// Small CLI errors from a new user's trial: each says what is wrong in one
// line, in the tool's words.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachXdpLink } from '../../src/attach/xdp.js';
import { openObject } from '../../src/collection.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testing.js';
import { selectTcProgram } from '../../src/cli/tc-select.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliProcess, ensureDist, fixture, unprivilegedWrapper } from '../helpers/cli.js';
import { describeRoot, isRoot } from '../helpers/root.js';

const oneLine = (stderr: string) => {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines, stderr).toHaveLength(1);
  return lines[0];
};

describe('without the kernel', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfts-cli-err-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('id:abc is not a map id', async () => {
    for (const bad of ['id:abc', 'id:', 'id:0', 'id:-3', 'id:99999999999']) {
      const r = await cli('map', 'dump', bad);
      expect(r.code, bad).toBe(1);
      expect(oneLine(r.stderr)).toBe(`bpf-ts: ${bad} is not a map id: write id:N with N a kernel map id (bpf-ts map list shows them)`);
    }
  });

  it('map dump of a file that is not a pin says so', async () => {
    const f = join(dir, 'not-a-pin');
    writeFileSync(f, 'x');
    const r = await cli('map', 'dump', f, '--json');
    expect(r.json()).toEqual({ error: { code: 'NOT_BPFFS', message: expect.stringContaining(`${f} is not a pinned map: it is not on a bpf filesystem`) } });
    const missing = await cli('map', 'dump', join(dir, 'nothing-here'));
    expect(oneLine(missing.stderr)).toBe(`bpf-ts: no pinned map at ${join(dir, 'nothing-here')}: ${dir} is not on a bpf filesystem (pins live on bpffs, e.g. under /sys/fs/bpf)`);
  });

  it('test-run with a packet shorter than an Ethernet header', async () => {
    const r = await cli('test-run', fixture('globals.o'), '--data-hex', '0011223344');
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('bpf-ts: --data-hex is 5 bytes: XDP and TC programs see a packet from its Ethernet header on, so it needs at least 14 bytes (dst MAC, src MAC, ethertype)');
  });

  it('load --tc --direction picks the program whose section names the direction (README example)', () => {
    const spec = openObject(fixture('tc_shared_map.o'));
    expect(selectTcProgram(spec, undefined, 'ingress')).toMatchObject({ name: 'tc_ingress', section: 'ingress' });
    expect(selectTcProgram(spec, undefined, 'egress')).toMatchObject({ name: 'tc_egress', section: 'egress' });
    expect(() => selectTcProgram(spec, undefined, undefined)).toThrowError(/has 2 TC programs \(tc_ingress in "ingress", tc_egress in "egress"\): choose one with --program/);
  });

  const wrap = isRoot ? unprivilegedWrapper() : undefined;
  it.skipIf(!wrap)('testenv setup as a non-root user is NOT_ROOT, as demo is', async () => {
    ensureDist();
    const r = await cliProcess(['testenv', 'setup', '--json'], { wrap });
    expect(r.code).toBe(1);
    expect(r.json()).toEqual({ error: { code: 'NOT_ROOT', message: expect.stringMatching(/^testenv setup needs root or CAP_\w+.*which this process lacks .*: sudo npx bpf-ts testenv setup$/) } });
    expect(oneLine(r.stderr)).toMatch(/^bpf-ts: testenv setup needs root/);
  });
});

describeRoot('with the kernel', () => {
  let env: TestEnv;
  let fs: { path: string; unmount(): void };
  beforeAll(() => {
    env = setupTestEnv();
    fs = mountBpffs();
  });
  afterAll(() => {
    try {
      fs?.unmount();
    } finally {
      if (env) teardownTestEnv(env);
    }
  });

  it('a link pin given to map names what it is', async () => {
    using coll = openObject(fixture('drop_all.o')).load({ programType: 'xdp', ignorePinning: true });
    using link = attachXdpLink({ iface: env.vethB, netns: env.nsB, program: coll.program('xdp_drop'), mode: 'skb' });
    const pin = join(fs.path, 'a_link');
    link.pin(pin);
    const r = await cli('map', 'dump', pin);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`bpf-ts: ${pin} is a BPF link, not a map (see bpf-ts link, or BpfLink.fromPin)`);
    link.unpin();
  });

  it('demo --mode hw is refused before anything is set up', async () => {
    const r = await cli('demo', '--mode', 'hw', '--json');
    expect(r.json()).toEqual({ error: { code: 'USAGE', message: 'demo --mode takes native or skb: veth interfaces have no hardware offload (hw)' } });
  });

  it('show in a namespace with nothing attached prints one statement', async () => {
    const r = await cli('show', '--netns', env.nsA);
    expect(r).toMatchObject({ code: 0, stdout: `no XDP or TC programs are attached to any interface of network namespace ${env.nsA}\n` });
  });
});
