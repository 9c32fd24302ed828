// Facts about map types the map layer needs: which are per-CPU, which hold
// fds, which are map-in-map. The numbers and names themselves live in
// src/uapi/bpf.ts (shared with the object layer).

import { BPF_MAP_TYPE as T } from '../uapi/bpf.js';

export { BPF_MAP_TYPE, mapTypeName } from '../uapi/bpf.js';

/**
 * Per-CPU maps: user space reads and writes one value per possible CPU, each
 * slot padded to a multiple of 8 bytes.
 */
export function isPerCpuMapType(type: number): boolean {
  return type === T.PERCPU_HASH || type === T.PERCPU_ARRAY || type === T.LRU_PERCPU_HASH || type === T.PERCPU_CGROUP_STORAGE;
}

/** Maps whose values are written as fds (and read back as ids, where readable at all). */
export function isFdMapType(type: number): boolean {
  return (
    type === T.PROG_ARRAY ||
    type === T.PERF_EVENT_ARRAY ||
    type === T.CGROUP_ARRAY ||
    type === T.ARRAY_OF_MAPS ||
    type === T.HASH_OF_MAPS ||
    type === T.SOCKMAP ||
    type === T.SOCKHASH ||
    type === T.REUSEPORT_SOCKARRAY ||
    type === T.XSKMAP
  );
}

/** Map-in-map outer types: creation needs an inner map template fd. */
export function isMapOfMapsType(type: number): boolean {
  return type === T.ARRAY_OF_MAPS || type === T.HASH_OF_MAPS;
}
