// Walking the kernel's id spaces and decoding bpf_prog_info / bpf_map_info.
import { afterAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { linkIds, listLinks, listMaps, listPrograms, mapIds, progIds, withIdFd } from '../../src/sys/ids.js';
import { linkInfo, progInfo, mapInfo } from '../../src/sys/info.js';
import * as ffi from '../../src/sys/ffi.js';
import { bpfSyscall } from '../../src/sys/wrapper.js';
import { BPF_RAW_TRACEPOINT_OPEN } from '../../src/sys/bpf-cmd.js';
import { BPF_LINK_TYPE } from '../../src/sys/link-type.js';
import { progLoad } from '../../src/sys/prog-attr.js';
import { Fd, fdKind } from '../../src/sys/fd.js';
import { BPF_PROG_TYPE } from '../../src/uapi/bpf.js';

// r1 = map (ld_imm64, BPF_PSEUDO_MAP_FD); r0 = 0; exit
function insns(mapFd: number): Buffer {
  const b = Buffer.alloc(8 * 4);
  b[0] = 0x18;
  b[1] = 0x11; // dst r1, src BPF_PSEUDO_MAP_FD (1)
  b.writeInt32LE(mapFd, 4);
  b[16] = 0xb7; // mov r0, 0
  b[24] = 0x95; // exit
  return b;
}

describeRoot('kernel ids and info', () => {
  const cleanup: { close(): void }[] = [];
  afterAll(() => cleanup.forEach((c) => c.close()));

  test('a loaded program lists with its name, tag and the ids of the maps it uses', () => {
    const map = BpfMap.create({ name: 'ids_map', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    cleanup.push(map);
    const r = progLoad({ type: BPF_PROG_TYPE.SOCKET_FILTER, insns: insns(map.fd.value), license: 'GPL', name: 'ids_prog' });
    expect(r.result).toBeGreaterThan(0);
    const prog = new Fd(r.result, 'prog ids_prog');
    cleanup.push(prog);
    expect(fdKind(prog.value)).toBe('prog');
    expect(fdKind(map.fd.value)).toBe('map');

    const info = progInfo(prog.value, { mapIds: true });
    expect(info.type).toBe(BPF_PROG_TYPE.SOCKET_FILTER);
    expect(info.name).toBe('ids_prog');
    expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(info.tag).not.toBe('0000000000000000');
    expect(info.nrMapIds).toBe(1);
    expect(info.mapIds).toEqual([map.id]);
    expect(info.xlatedProgLen).toBe(4 * 8);
    expect(info.gplCompatible).toBe(true);
    expect(info.createdByUid).toBe(0);
    expect(info.loadTime).toBeGreaterThan(0n);
    expect(progIds()).toContain(info.id);

    const listed = listPrograms({ mapIds: true }).find((p) => p.id === info.id);
    expect(listed).toMatchObject({ name: 'ids_prog', tag: info.tag, mapIds: [map.id] });
    expect(withIdFd('prog', info.id, (fd) => progInfo(fd).name)).toBe('ids_prog');
  });

  test('map ids ascend and every listed map decodes', () => {
    const a = BpfMap.create({ name: 'ids_a', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
    const b = BpfMap.create({ name: 'ids_b', type: T.LRU_HASH, keySize: 8, valueSize: 2, maxEntries: 3 });
    cleanup.push(a, b);
    const all = mapIds();
    expect(all).toEqual([...all].sort((x, y) => x - y));
    expect(all).toEqual(expect.arrayContaining([a.id, b.id]));
    const infos = listMaps();
    expect(infos.find((i) => i.id === b.id)).toMatchObject({ name: 'ids_b', type: T.LRU_HASH, keySize: 8, valueSize: 2, maxEntries: 3 });
    expect(mapInfo(a.fd.value).id).toBe(a.id);
    // An id that no longer exists is skipped, not an error.
    expect(withIdFd('map', 0x7ffffff0, () => 1)).toBeNull();
  });

  test('a raw tracepoint link lists and decodes with its tracepoint name', () => {
    const exit0 = Buffer.alloc(16);
    exit0[0] = 0xb7; // mov r0, 0
    exit0[8] = 0x95; // exit
    const r = progLoad({ type: BPF_PROG_TYPE.RAW_TRACEPOINT, insns: exit0, license: 'GPL', name: 'ids_rawtp' });
    expect(r.result).toBeGreaterThan(0);
    const prog = new Fd(r.result, 'prog ids_rawtp');
    cleanup.push(prog);
    // BPF_RAW_TRACEPOINT_OPEN: { u64 name; u32 prog_fd; }
    const name = ffi.allocNative(16);
    name.bytes.write('sys_enter\0');
    const attr = Buffer.alloc(16);
    attr.writeBigUInt64LE(name.address, 0);
    attr.writeUInt32LE(prog.value, 8);
    const linkFd = bpfSyscall(BPF_RAW_TRACEPOINT_OPEN, attr, 16);
    const link = new Fd(linkFd, 'raw_tp link');
    cleanup.push(link);
    expect(fdKind(link.value)).toBe('link');

    const info = linkInfo(link.value);
    const progId = progInfo(prog.value).id;
    expect(info.type).toBe(BPF_LINK_TYPE.RAW_TRACEPOINT);
    expect(info.progId).toBe(progId);
    expect(info.details).toEqual({ kind: 'raw_tracepoint', tpName: 'sys_enter' });
    expect(linkIds()).toContain(info.id);
    expect(listLinks().find((l) => l.id === info.id)).toEqual(info);
  });
});
