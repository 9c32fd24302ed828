// Pinning maps on bpffs, and reusing maps other loaders pinned: iproute2's
// PIN_GLOBAL_NS (<bpffs>/tc/globals/<name>) and libbpf's LIBBPF_PIN_BY_NAME
// (<pin root>/<name>). A reused pin must match the object's definition, or
// programs would run against a map of another shape.

import { BpfError } from '../errors.js';
import { checkExistingPin, checkPinPathString, walkBpffsDir } from '../sys/bpffs.js';
import { mapTypeName } from '../sys/map-type.js';
import { BpfMap, expectedMapFlags, normalizeMapSpec, type MapCreateOptions, type MapCreateSpec } from './map.js';
const { lstatSync, unlinkSync } = process.getBuiltinModule('node:fs');
const { dirname, join, resolve } = process.getBuiltinModule('node:path');

export { BPF_FS_MAGIC, ensureBpffs, isBpffs, pinFd, removeEmptyDirs } from '../sys/bpffs.js';

/** Default bpffs mount point. */
export const DEFAULT_BPFFS = '/sys/fs/bpf';

/** Where iproute2 pins PIN_GLOBAL_NS maps: <bpffs>/tc/globals/<name>. */
export function iproute2GlobalPinPath(name: string, bpffs = DEFAULT_BPFFS): string {
  return join(bpffs, 'tc', 'globals', name);
}

/** Where libbpf pins LIBBPF_PIN_BY_NAME maps: <pinRoot>/<name>. */
export function byNamePinPath(name: string, pinRoot = DEFAULT_BPFFS): string {
  return join(pinRoot, name);
}

/** Pin `map` at `path` (see pinFd: bpffs only, never replaces). Returns the directories created. */
export function pinMap(map: BpfMap, path: string, opts: { mkdir?: boolean } = {}): string[] {
  return map.pin(path, opts);
}

/**
 * Remove a pin. The kernel object lives on while fds or programs still hold
 * it. Returns false when nothing was pinned there. Like every pin bpf-ts
 * touches, the path must lie on bpffs with no symlink in it (NOT_BPFFS,
 * PIN_UNSAFE): unpin never deletes an ordinary file.
 */
export function unpin(path: string): boolean {
  checkPinPathString(path);
  const abs = resolve(path);
  try {
    lstatSync(abs);
  } catch {
    return false; // nothing there
  }
  walkBpffsDir(dirname(abs), { purpose: `unpin ${abs}` });
  const st = lstatSync(abs);
  if (st.isDirectory()) throw new BpfError('NOT_BPFFS', `${abs} is a directory, not a pin; refusing to remove it`);
  unlinkSync(abs);
  return true;
}

/**
 * Internal callers' name for BpfMap.fromPin, which checks the path (on bpffs,
 * no symlink, a pin root or we own). The public API has one way: BpfMap.fromPin.
 */
export function openPinnedMap(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
  return BpfMap.fromPin(path, opts);
}

/** Fields of a pinned map that differ from `spec`, as "field pinned≠spec" strings. */
export function pinMismatches(map: BpfMap, spec: MapCreateSpec): string[] {
  const s = normalizeMapSpec(spec);
  const out: string[] = [];
  const check = (field: string, pinned: number, want: number, show: (n: number) => string = String) => {
    if (pinned !== want) out.push(`${field} is ${show(pinned)} (pinned) but ${show(want)} (definition)`);
  };
  check('type', map.type, s.type, mapTypeName);
  check('key_size', map.keySize, s.keySize);
  check('value_size', map.valueSize, s.valueSize);
  check('max_entries', map.maxEntries, s.maxEntries);
  check('map_flags', map.flags, expectedMapFlags(s), (n) => `0x${n.toString(16)}`);
  return out;
}

/**
 * Open the map pinned at `path` and check it matches `spec`; throws
 * BpfError('PIN_MISMATCH') naming every field that differs.
 */
export function reusePinnedMap(path: string, spec: MapCreateSpec): BpfMap {
  const map = BpfMap.fromPin(path);
  const diff = pinMismatches(map, spec);
  if (diff.length > 0) {
    map.close();
    throw new BpfError('PIN_MISMATCH', `map "${spec.name}" pinned at ${path} does not match its definition: ${diff.join('; ')}`);
  }
  return map;
}

/**
 * The pinning loaders do: reuse the map pinned at `path` when there is one
 * (checked against `spec`), otherwise create it and pin it there. When
 * another process pins the same path first (EEXIST), its map is reused, as
 * libbpf does.
 */
export function openOrCreatePinnedMap(path: string, spec: MapCreateSpec, opts: MapCreateOptions & { mkdir?: boolean } = {}): { map: BpfMap; created: boolean; createdDirs: string[] } {
  if (checkExistingPin(path)) return { map: reusePinnedMap(path, spec), created: false, createdDirs: [] };
  const map = BpfMap.create(spec, opts);
  try {
    return { map, created: true, createdDirs: map.pin(path, { mkdir: opts.mkdir }) };
  } catch (e) {
    map.close();
    if (e instanceof BpfError && e.code === 'PIN_EXISTS') return { map: reusePinnedMap(path, spec), created: false, createdDirs: [] };
    throw e;
  }
}

/**
 * The name libbpf gives a global-data map of object `objectPath` (the map
 * of section `.bss`, `.data`, `.rodata`, `.data.*`, …): the object's name up
 * to its first dot, cut so that the section name fits in the kernel's 15
 * characters with at least 7 reserved for it, then the section name —
 * "globals.bss" for globals.o. Custom sections (`.data.foo`) keep their own
 * name without the prefix.
 */
export function libbpfDataMapName(objectPath: string, section: string): string {
  const base = objectPath.split('/').pop() ?? '';
  const objName = base.split('.')[0] ?? '';
  const sfxLen = Math.min(Math.max(7, section.length), 15);
  const pfxLen = section.indexOf('.', 1) >= 0 ? 0 : Math.max(0, Math.min(15 - sfxLen, objName.length));
  return (objName.slice(0, pfxLen) + section.slice(0, sfxLen)).slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_');
}

/**
 * The file name `--pin-maps DIR` (libbpf's bpf_object__pin_maps, bpftool
 * `pinmaps`) gives a map: its name, with dots turned into underscores,
 * because bpffs refuses names with dots. Global-data maps use libbpf's name
 * for them, so `globals.o`'s .bss is pinned as `globals_bss`.
 */
export function mapPinName(objectPath: string, map: { name: string; style?: string; section?: string }): string {
  const name = map.style === 'data' ? libbpfDataMapName(objectPath, map.section ?? map.name) : map.name;
  return name.replace(/\./g, '_');
}
