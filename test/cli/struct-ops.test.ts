// `load OBJ --pin-links DIR` registers an object's struct_ops maps, as
// `bpftool struct_ops register` does, and they stay registered after the
// command exits; `detach --links DIR` unregisters them. Evidence from outside
// bpf-ts: /proc/sys/net/ipv4/tcp_available_congestion_control, bpftool's
// struct_ops and link listings. The congestion control gets a name of this
// run's own (other runs, and struct-ops.test.ts, register bpfts_cc), written
// into a copy of the object at the file offset llvm-readelf and bpftool give.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { mountBpffs } from '../helpers/bpffs.js';
import { CliChild, cliProcess, fixture } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { FIXTURES, parseReadelf } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';

const available = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
const structOpsIds = (): number[] => {
  const out = execFileSync('bpftool', ['struct_ops', 'show', '-j'], { encoding: 'utf8' }).trim();
  return out ? (JSON.parse(out) as { id: number }[]).map((x) => x.id) : [];
};

const work = mkdtempSync(join(tmpdir(), 'bpfts-so-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of fixture `base` (tcp_cc or tcp_cc_link) whose congestion control is called `name`. */
function renamedCopy(base: string, name: string): string {
  const re = parseReadelf(readFileSync(join(FIXTURES, `${base}.readelf.txt`), 'utf8'));
  const sym = re.symbols.find((s) => s.name === 'bpfts_cc')!;
  const sec = re.sections.find((s) => s.index === sym.ndx)!;
  const bits = /STRUCT 'tcp_congestion_ops'[^[]*?'name' type_id=\d+ bits_offset=(\d+)/.exec(readFileSync(join(FIXTURES, `${base}.btf.txt`), 'utf8'))!;
  const at = sec.offset + sym.value + Number(bits[1]) / 8;
  const bytes = readFileSync(fixture(`${base}.o`));
  expect(bytes.subarray(at, at + 9).toString('latin1')).toBe('bpfts_cc\0');
  bytes.fill(0, at, at + 16);
  bytes.write(name, at, 'latin1');
  const path = join(work, `${name}.o`);
  writeFileSync(path, bytes);
  return path;
}

const uniqueCc = () => `bt${process.pid % 100000}_${Math.floor(Math.random() * 1e6)}`.slice(0, 15);

describeRoot('load --pin-links: struct_ops maps registered beyond the command', () => {
  it('tcp_cc.o (.struct_ops): the map is pinned and stays registered after exit; detach --links unregisters it', async () => {
    const fs = mountBpffs();
    try {
      const name = uniqueCc();
      const obj = renamedCopy('tcp_cc', name);
      const dir = `${fs.path}/cc`;
      const r = await cliProcess(['load', obj, '--pin-links', dir, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const { structOps, pinned } = r.json() as { structOps: { map: string; struct: string; mapId: number; path: string; linkId?: number }[]; pinned: unknown[] };
      expect(pinned).toEqual([]);
      expect(structOps).toEqual([{ map: 'bpfts_cc', struct: 'tcp_congestion_ops', mapId: expect.any(Number), path: `${dir}/bpfts_cc` }]);
      // The command has exited: the kernel still offers it, and bpftool lists the map.
      expect(available()).toContain(name);
      expect(structOpsIds()).toContain(structOps[0]!.mapId);
      expect(execFileSync('ls', [dir], { encoding: 'utf8' }).trim()).toBe('bpfts_cc');

      const d = await cliProcess(['detach', '--links', dir, '--json']);
      expect(d.code, d.stderr).toBe(0);
      expect(d.json()).toEqual({ detached: [], unregistered: [{ path: `${dir}/bpfts_cc`, mapId: structOps[0]!.mapId }], left: [] });
      expect(available()).not.toContain(name);
      expect(structOpsIds()).not.toContain(structOps[0]!.mapId);
      expect(existsSync(dir)).toBe(false);
    } finally {
      fs.unmount();
    }
  });

  it('tcp_cc_link.o (.struct_ops.link): its bpf_link is pinned; the same name again is refused and leaves nothing; detach --links ends it', async () => {
    const fs = mountBpffs();
    try {
      const name = uniqueCc();
      const obj = renamedCopy('tcp_cc_link', name);
      const dir = `${fs.path}/cc`;
      const r = await cliProcess(['load', obj, '--pin-links', dir, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const [so] = (r.json() as { structOps: { mapId: number; path: string; linkId: number }[] }).structOps;
      const link = JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(so!.linkId), '-j'], { encoding: 'utf8' })) as { type: string };
      expect(link.type).toBe('struct_ops');
      expect(available()).toContain(name);

      // A second object with the same congestion-control name: EEXIST, said plainly; its directory is not left behind.
      const again = await cliProcess(['load', obj, '--pin-links', `${fs.path}/again`]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('the kernel would not register struct_ops map bpfts_cc (EEXIST): the kernel already has a struct tcp_congestion_ops of that name registered');
      expect(again.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(`${fs.path}/again`)).toBe(false);
      expect(available().filter((x) => x === name)).toEqual([name]);

      const d = await cliProcess(['detach', '--links', dir, '--json']);
      expect(d.json()).toEqual({ detached: [{ path: `${dir}/bpfts_cc`, linkId: so!.linkId }], unregistered: [], left: [] });
      expect(available()).not.toContain(name);
    } finally {
      fs.unmount();
    }
  });

  it('struct_ops_deferred.o (bpf_dummy_ops): the kernel will not register it; the error says so and nothing is left', async () => {
    const fs = mountBpffs();
    try {
      const r = await cliProcess(['load', fixture('struct_ops_deferred.o'), '--pin-links', `${fs.path}/d`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the kernel would not register struct_ops map dummy (EOPNOTSUPP)');
      expect(r.stderr).toContain('to load its programs without registering it');
      expect(existsSync(`${fs.path}/d`)).toBe(false);
    } finally {
      fs.unmount();
    }
  });

  it('run OBJ: registered while it runs, through a bpf_link, so even SIGKILL unregisters it; SIGINT does, saying so', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const name = uniqueCc();
      const child = new CliChild(['run', renamedCopy('tcp_cc', name), '--json']);
      try {
        const { line } = await child.waitForLine((l) => l.includes('"registered"'));
        const reg = JSON.parse(line).registered as { map: string; struct: string; mapId: number; linkId: number };
        expect(reg).toEqual({ map: 'bpfts_cc', struct: 'tcp_congestion_ops', mapId: expect.any(Number), linkId: expect.any(Number) });
        expect(available()).toContain(name);
        const link = JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(reg.linkId), '-j'], { encoding: 'utf8' })) as { type: string };
        expect(link.type).toBe('struct_ops');
        child.child.kill(signal);
        const exit = await child.exited;
        if (signal === 'SIGINT') {
          expect(exit.code).toBe(130);
          expect(child.lines).toContain(JSON.stringify({ detached: true, reason: 'SIGINT' }));
        } else expect(exit.signal).toBe('SIGKILL');
        // The kernel drops the link with the process's last fd, and the registration with it.
        expect(await until(() => !available().includes(name), 10_000)).toBe(true);
      } finally {
        await child.kill();
      }
    }
  });
});
