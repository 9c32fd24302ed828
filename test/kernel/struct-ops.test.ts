// struct_ops: bpf/tcp_cc.c's TCP congestion control, registered by loading
// the object, made the default of a test namespace and used by a TCP
// connection there; unregistered when the collection closes. Evidence from
// outside bpf-ts: /proc/sys/net/ipv4/tcp_available_congestion_control,
// `bpftool struct_ops show -j`, the namespace's own sysctl, and counters the
// kernel's calls into the BPF programs leave in .bss.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { createNetns, deleteNetns, withNetns } from '../../src/netns.js';
import { inNetns } from '../helpers/topology.js';
import { linkInfo } from '../../src/sys/info.js';
import { describeRoot } from '../helpers/root.js';
import { uniqueName } from '../helpers/cli.js';

const AVAILABLE = '/proc/sys/net/ipv4/tcp_available_congestion_control';
const available = () => readFileSync(AVAILABLE, 'utf8').trim().split(/\s+/);
const bpftoolStructOps = (): { id: number; name: string; kernel_struct_ops: string }[] => {
  const out = execFileSync('bpftool', ['struct_ops', 'show', '-j'], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
};

/** Byte offset of a member of struct tcp_congestion_ops, from bpftool's dump of the object's BTF. */
function memberOffset(dump: string, member: string): number {
  const start = dump.indexOf("STRUCT 'tcp_congestion_ops'");
  const m = new RegExp(`'${member}' type_id=\\d+ bits_offset=(\\d+)`).exec(dump.slice(start))!;
  return Number(m[1]) / 8;
}

// One TCP connection on 127.0.0.1 inside the namespace, 1 MiB from client to server.
const TRANSFER = `
const net = require('net');
const srv = net.createServer((s) => { let n = 0; s.on('data', (d) => { n += d.length; }); s.on('end', () => { process.stdout.write(String(n)); s.end(); srv.close(); }); });
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => { c.end(Buffer.alloc(1 << 20, 7)); });
});`;

describeRoot('struct_ops: a TCP congestion control in BPF', () => {
  for (const [base, v] of ['tcp_cc', 'tcp_cc_link'].flatMap((b) => ['', '.clang14', '.clang19'].map((x) => [b, x] as const))) {
    const file = `fixtures/${base}${v}.o`;
    const link = base === 'tcp_cc_link';
    it(`${file}: registered on load, used by a socket in a test namespace, gone after close`, () => {
      const spec = openObject(file);
      const m = spec.maps.find((x) => x.name === 'bpfts_cc')!;
      expect(m.structOps!.typeName).toBe('tcp_congestion_ops');
      expect(m.structOps!.link).toBe(link);
      expect(m.structOps!.funcs.map((f) => f.member).sort()).toEqual(['cong_avoid', 'init', 'ssthresh', 'undo_cwnd']);
      // A name of our own (other runs may have theirs registered at the same time).
      const name = `bt${process.pid % 100000}_${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
      const at = memberOffset(readFileSync(file.replace(/\.o$/, '.btf.txt'), 'utf8'), 'name');
      m.structOps!.data.fill(0, at, at + 16);
      m.structOps!.data.set(Buffer.from(name), at);
      const ns = uniqueName('cc');
      let mapId = -1;
      createNetns(ns);
      try {
        using coll = spec.load();
        expect(available()).toContain(name);
        // bpftool lists registered struct_ops by map id and map name.
        mapId = coll.map('bpfts_cc').info().id;
        expect(bpftoolStructOps()).toContainEqual({ id: mapId, name: 'bpfts_cc', kernel_struct_ops: 'tcp_congestion_ops' });
        // .struct_ops.link: created with BPF_F_LINK (0x2000) and registered by a bpf_link of type struct_ops.
        const flags = JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(mapId), '-j'], { encoding: 'utf8' })).flags;
        expect(flags & 0x2000).toBe(link ? 0x2000 : 0);
        expect(coll.structOpsLinks.has('bpfts_cc')).toBe(link);
        if (link) {
          // bpftool shows the link (by the id the kernel gives our fd) as a struct_ops link. Asked
          // by id: a full `link show` fails when another test's link goes away during its walk.
          const linkId = linkInfo(coll.structOpsLinks.get('bpfts_cc')!.value).id;
          const shown = JSON.parse(execFileSync('bpftool', ['link', 'show', 'id', String(linkId), '-j'], { encoding: 'utf8' })) as { id: number; type: string };
          expect(shown).toEqual(expect.objectContaining({ id: linkId, type: 'struct_ops' }));
        }

        inNetns(ns, ['ip', 'link', 'set', 'lo', 'up']);
        withNetns(ns, () => writeFileSync('/proc/sys/net/ipv4/tcp_congestion_control', name));
        expect(inNetns(ns, ['cat', '/proc/sys/net/ipv4/tcp_congestion_control']).trim()).toBe(name);
        expect(inNetns(ns, [process.execPath, '-e', TRANSFER])).toBe(String(1 << 20));

        const bss = coll.map('.bss').get(0)!;
        const at2 = (n: string) => spec.variable(n).variable.offset;
        // One init per established socket: the client's and the server's.
        expect(bss.readBigUInt64LE(at2('init_calls'))).toBe(2n);
        expect(bss.readBigUInt64LE(at2('cong_avoid_calls'))).toBeGreaterThan(0n);
        // Switch the namespace back before unregistering.
        withNetns(ns, () => writeFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'reno'));
      } finally {
        deleteNetns(ns);
      }
      expect(available()).not.toContain(name);
      expect(bpftoolStructOps().map((x) => x.id)).not.toContain(mapId);
    });
  }

  it('a struct_ops program no .struct_ops map uses cannot be loaded alone, and says why', () => {
    let err: unknown;
    try {
      openObject('fixtures/section_table.o').load({ programs: ['s_struct_ops_init'] });
    } catch (e) {
      err = e;
    }
    expect((err as BpfError).code).toBe('ATTACH_TARGET');
    expect((err as BpfError).message).toMatch(/not used by any .struct_ops map/);
  });

  it('a SEC("?struct_ops") program its .struct_ops map uses is loaded with the map, as libbpf switches it on', () => {
    const spec = openObject('fixtures/tcp_cc.o');
    const member = spec.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.funcs[0]!;
    // What parseObject makes of SEC("?struct_ops/…"): autoload off.
    spec.program(member.program).autoload = false;
    using coll = spec.load();
    expect(coll.skipped.map((s) => s.name)).not.toContain(member.program);
    expect(coll.programs.has(member.program)).toBe(true);
    expect(available()).toContain('bpfts_cc');
  });
});
