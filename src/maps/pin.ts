// Pinning maps on bpffs, and reusing maps other loaders pinned: iproute2's
// PIN_GLOBAL_NS (<bpffs>/tc/globals/<name>) and libbpf's LIBBPF_PIN_BY_NAME
// (<pin root>/<name>). A reused pin must match the object's definition, or
// programs would run against a map of another shape.

import { existsSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BpfError } from '../errors.js';
import { ensureBpffs, isBpffs, pinFd } from '../sys/bpffs.js';
import { mapTypeName } from '../sys/map-type.js';
import { BpfMap, expectedMapFlags, normalizeMapSpec, type MapCreateOptions, type MapCreateSpec } from './map.js';

export { BPF_FS_MAGIC, ensureBpffs, isBpffs, pinFd } from '../sys/bpffs.js';

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

/** Pin `map` at `path` (see pinFd: bpffs only, never replaces). */
export function pinMap(map: BpfMap, path: string, opts: { mkdir?: boolean } = {}): void {
  map.pin(path, opts);
}

/**
 * Remove a pin. The kernel object lives on while fds or programs still hold
 * it. Returns false when nothing was pinned there.
 */
export function unpin(path: string): boolean {
  const abs = resolve(path);
  if (!existsSync(abs)) return false;
  if (!isBpffs(dirname(abs))) throw new BpfError('NOT_BPFFS', `${abs} is not on a bpf filesystem; refusing to unlink it`);
  unlinkSync(abs);
  return true;
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
 * (checked against `spec`), otherwise create it and pin it there.
 */
export function openOrCreatePinnedMap(
  path: string,
  spec: MapCreateSpec,
  opts: MapCreateOptions & { mkdir?: boolean } = {},
): { map: BpfMap; created: boolean } {
  if (existsSync(path)) return { map: reusePinnedMap(path, spec), created: false };
  const map = BpfMap.create(spec, opts);
  try {
    map.pin(path, { mkdir: opts.mkdir });
  } catch (e) {
    map.close();
    throw e;
  }
  return { map, created: true };
}
