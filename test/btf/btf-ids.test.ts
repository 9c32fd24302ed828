// The kernel's BTF objects by id: `bpf-ts btf list` against `bpftool btf
// list`, and `btf dump id:N` printing the same C as the file or object the
// BTF came from (vmlinux's, and a loaded program's).
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { loadObject } from '../../src/collection.js';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('BTF objects in the kernel by id', () => {
  it('btf list: what bpftool lists for vmlinux and for a loaded program’s BTF (id, name, size, kernel)', async () => {
    using coll = loadObject(fixture('ringbuf.o'));
    const btfId = coll.program('xdp_ringbuf').info().btfId;
    const ours = (await cliOk('btf', 'list', '--json')).json() as { id: number; name: string; kernelBtf: boolean; size: number }[];
    const theirs = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'list'], { encoding: 'utf8' })) as { id: number; size: number; kernel: boolean; name?: string }[];
    for (const id of [1, btfId]) {
      const t = theirs.find((b) => b.id === id)!;
      expect(
        ours.find((b) => b.id === id),
        `BTF id ${id}`,
      ).toEqual({ id, name: t.name ?? '', kernelBtf: t.kernel, size: t.size });
    }
    expect(ours.find((b) => b.id === 1)!.name).toBe('vmlinux');
    // Where the ids come from: prog list and map list name each object's BTF, as bpftool does.
    const progId = coll.program('xdp_ringbuf').info().id;
    const prog = (await cliOk('prog', 'list', '--json')).json().find((p: { id: number }) => p.id === progId);
    expect(prog.btfId).toBe(JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(progId)], { encoding: 'utf8' })).btf_id);
    const mapId = coll.map('.bss').id;
    const map = (await cliOk('map', 'list', '--json')).json().find((m: { id: number }) => m.id === mapId);
    expect(map.btfId).toBe(JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(mapId)], { encoding: 'utf8' })).btf_id);
  });

  it('btf dump id:N prints what the source prints: vmlinux by id and /sys/kernel/btf/vmlinux; a program’s BTF and its object', async () => {
    const byId = (await cliOk('btf', 'dump', 'id:1', '--type', 'struct bpf_nf_ctx')).stdout;
    expect(byId).toBe((await cliOk('btf', 'dump', '/sys/kernel/btf/vmlinux', '--type', 'struct bpf_nf_ctx')).stdout);
    expect(byId).toContain('struct sk_buff *skb;');
    using coll = loadObject(fixture('ringbuf.o'));
    const btfId = coll.program('xdp_ringbuf').info().btfId;
    const loaded = (await cliOk('btf', 'dump', `id:${btfId}`, '--type', 'struct xdp_md', '--json')).json();
    const object = (await cliOk('btf', 'dump', fixture('ringbuf.o'), '--type', 'struct xdp_md', '--json')).json();
    expect(loaded.types.map((t: { c: string }) => t.c)).toEqual(object.types.map((t: { c: string }) => t.c));
  });

  it('ids that are not: a word, and one no BTF object has', async () => {
    expect((await cli('btf', 'dump', 'id:x')).stderr).toBe('bpf-ts: id:x is not a BTF id: write id:N (bpf-ts btf list shows them)\n');
    const none = await cli('btf', 'dump', 'id:4294967295');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^bpf-ts: BPF_BTF_GET_FD_BY_ID \(BTF id 4294967295\): ENOENT/);
  });
});
