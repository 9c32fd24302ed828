// Pinning on a private bpffs mounted for this file only.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap } from '../../src/maps/map.js';
import { loadObject } from '../../src/collection.js';
import { ensureBpffs, iproute2GlobalPinPath, libbpfDataMapName, mapPinName, openOrCreatePinnedMap, pinMismatches, reusePinnedMap, unpin } from '../../src/maps/pin.js';
import { readU32 } from '../../src/maps/codec.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { thrown } from '../helpers/thrown.js';

describeRoot('map pinning', () => {
  let bpffs = '';
  let plainDir = '';
  const open: BpfMap[] = [];
  const spec = { name: 'pinned_counts', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 64 };

  beforeAll(() => {
    bpffs = mkdtempSync(join(tmpdir(), 'bpf-ts-pin-'));
    execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs]);
    plainDir = mkdtempSync(join(tmpdir(), 'bpf-ts-notbpffs-'));
  });
  afterAll(() => {
    open.forEach((m) => m.close());
    if (bpffs) {
      execFileSync('umount', [bpffs]);
      rmSync(bpffs, { recursive: true, force: true });
    }
    if (plainDir) rmSync(plainDir, { recursive: true, force: true });
  });

  test('pin, reopen with fromPin: same id, same contents', () => {
    const m = BpfMap.create(spec);
    open.push(m);
    m.set(1, 11);
    const path = join(bpffs, 'counts');
    m.pin(path);
    expect(existsSync(path)).toBe(true);
    const again = BpfMap.fromPin(path);
    open.push(again);
    expect(again.id).toBe(m.id);
    expect(readU32(again.get(1)!)).toBe(11);
    // The pin keeps the map alive after every fd is gone.
    const id = m.id;
    m.close();
    again.close();
    const third = BpfMap.fromPin(path);
    open.push(third);
    expect(third.id).toBe(id);
    expect(unpin(path)).toBe(true);
    expect(unpin(path)).toBe(false);
  });

  test('pinning over an existing path is PIN_EXISTS', () => {
    const m = BpfMap.create(spec);
    open.push(m);
    const path = join(bpffs, 'twice');
    m.pin(path);
    const e = thrown(() => m.pin(path));
    expect(e.code).toBe('PIN_EXISTS');
    expect(e.message).toContain(path);
  });

  test('pinning outside bpffs is NOT_BPFFS naming the path', () => {
    const m = BpfMap.create(spec);
    open.push(m);
    const e = thrown(() => m.pin(join(plainDir, 'nope')));
    expect(e.code).toBe('NOT_BPFFS');
    expect(e.message).toContain(plainDir);
    expect(thrown(() => ensureBpffs(plainDir)).code).toBe('NOT_BPFFS');
    expect(thrown(() => BpfMap.fromPin(join(plainDir, 'x'))).code).toBe('NOT_BPFFS');
  });

  test('fromPin says what a path is when it is not a pinned map', () => {
    expect(thrown(() => BpfMap.fromPin(join(bpffs, 'missing')))).toMatchObject({ code: 'IO', message: `no pinned map at ${join(bpffs, 'missing')}: the path does not exist` });
    const f = join(plainDir, 'file');
    writeFileSync(f, 'x');
    expect(thrown(() => BpfMap.fromPin(f))).toMatchObject({ code: 'NOT_BPFFS', message: expect.stringContaining(`${f} is not a pinned map: it is not on a bpf filesystem`) });
    const dir = join(bpffs, 'a-dir');
    mkdirSync(dir);
    expect(thrown(() => BpfMap.fromPin(dir))).toMatchObject({ code: 'USAGE', message: `${dir} is a directory on bpffs, not a pinned map` });
    const link = join(bpffs, 'a-symlink');
    symlinkSync(join(bpffs, 'missing'), link);
    expect(thrown(() => BpfMap.fromPin(link))).toMatchObject({ code: 'PIN_UNSAFE', message: expect.stringContaining('is a symlink inside bpffs') });
  });

  test('reusePinnedMap accepts a matching pin and names every mismatched field', () => {
    const path = iproute2GlobalPinPath('shared', bpffs);
    const m = BpfMap.create(spec);
    open.push(m);
    m.pin(path, { mkdir: true }); // creates tc/globals on the bpffs
    const same = reusePinnedMap(path, spec);
    open.push(same);
    expect(same.id).toBe(m.id);

    const e = thrown(() => reusePinnedMap(path, { ...spec, maxEntries: 128 }));
    expect(e.code).toBe('PIN_MISMATCH');
    expect(e.message).toContain('max_entries is 64 (pinned) but 128 (definition)');
    const e2 = thrown(() => reusePinnedMap(path, { ...spec, type: T.LRU_HASH, valueSize: 8 }));
    expect(e2.message).toContain('type is hash (pinned) but lru_hash (definition)');
    expect(e2.message).toContain('value_size is 4 (pinned) but 8 (definition)');
    expect(pinMismatches(same, { ...spec, flags: 1 })).toEqual(['map_flags is 0x0 (pinned) but 0x1 (definition)']);
  });

  test('openOrCreatePinnedMap creates once, then reuses', () => {
    const path = join(bpffs, 'by_name', 'events');
    const first = openOrCreatePinnedMap(path, spec, { mkdir: true });
    open.push(first.map);
    expect(first.created).toBe(true);
    const second = openOrCreatePinnedMap(path, spec);
    open.push(second.map);
    expect(second.created).toBe(false);
    expect(second.map.id).toBe(first.map.id);
  });

  test('a load that fails after pinning a declared map removes the pin and the tc/globals directories it made', () => {
    const fresh = join(bpffs, 'fail-fresh');
    ensureBpffs(fresh, { mkdir: true });
    // acc_map is created and pinned under tc/globals before the programs are looked up.
    const e = thrown(() => loadObject('fixtures/tc_shared_map.o', { bpffs: fresh, programType: 'sched_cls', programs: ['no_such_program'] }));
    expect(e.code).toBe('PROGRAM_NOT_FOUND');
    expect(readdirSync(fresh)).toEqual([]);
    // A tc/ that existed before stays.
    ensureBpffs(join(fresh, 'tc'), { mkdir: true });
    thrown(() => loadObject('fixtures/tc_shared_map.o', { bpffs: fresh, programType: 'sched_cls', programs: ['no_such_program'] }));
    expect(readdirSync(fresh)).toEqual(['tc']);
    expect(readdirSync(join(fresh, 'tc'))).toEqual([]);
  });

  test("--pin-maps names: libbpf's internal map names, dots made underscores (bpffs refuses dots)", () => {
    // What bpftool 7.1 / libbpf named the maps of these objects (map names from `bpftool map show`).
    expect(libbpfDataMapName('fixtures/globals.o', '.bss')).toBe('globals.bss');
    expect(libbpfDataMapName('/tmp/verylongobjectname.o', '.rodata')).toBe('verylong.rodata');
    expect(libbpfDataMapName('/tmp/verylongobjectname.o', '.bss')).toBe('verylong.bss');
    // Custom sections keep their own name, without the object prefix.
    expect(libbpfDataMapName('globals.o', '.data.counters')).toBe('.data.counters');
    expect(mapPinName('fixtures/globals.o', { name: '.bss', style: 'data', section: '.bss' })).toBe('globals_bss');
    expect(mapPinName('x.o', { name: 'acc_map', style: 'legacy' })).toBe('acc_map');
  });

  test('library pinMaps with global data: every map pinned, none refused for its dot', () => {
    const dir = join(bpffs, 'globals-maps');
    using c = loadObject('fixtures/globals.o', { pinMaps: dir });
    expect(readdirSync(dir).sort()).toEqual(['globals_bss', 'globals_data', 'globals_rodata']);
    expect(c.createdPins.length).toBe(3);
    using bss = BpfMap.fromPin(join(dir, 'globals_bss'));
    expect(bss.id).toBe(c.map('.bss').id);
  });
});
