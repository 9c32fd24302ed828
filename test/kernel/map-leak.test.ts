// Creating and closing maps must not leak fds in this process or maps in the
// kernel. Map freeing is RCU-deferred, so the kernel side is polled.
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { mapIds } from '../../src/sys/ids.js';
import { until } from '../helpers/wait.js';

const fdCount = () => readdirSync('/proc/self/fd').length;

/**
 * How many of this process's fds hold one of `ids` (map_id in /proc/self/fdinfo).
 * Counting only our maps: other files share this worker, and their objects'
 * fds may be closed by the same GC.
 */
function fdsHolding(ids: Set<number>): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile (readdir's own fd)
    }
    const m = /^map_id:\s*(\d+)$/m.exec(info);
    if (m && ids.has(Number(m[1]))) n++;
  }
  return n;
}

// Separate function so no stack slot of the test keeps the last map reachable.
function createAndDrop(n: number): Set<number> {
  const ids = new Set<number>();
  for (let i = 0; i < n; i++) {
    const m = BpfMap.create({ name: 'dropped', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    m.set(0, i);
    ids.add(m.id);
  }
  return ids;
}

// An mmapable array viewed, then dropped without close(): the mapping holds
// the kernel map until it is unmapped, which happens when the view's buffer
// is collected. Separate function, as above. Returns the map's id.
function viewAndDrop(): number {
  const m = BpfMap.create({ name: 'dropped_view', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 1 << 10 /* BPF_F_MMAPABLE */ });
  m.view().set(1, 7n);
  return m.id;
}

describeRoot('map lifetime', () => {
  test('1,000 create/close cycles leave fds and kernel map ids unchanged', async () => {
    const fdsBefore = fdCount();
    const idsBefore = new Set(mapIds());
    const ours: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const m = BpfMap.create({ name: `leak_${i}`, type: i % 2 ? T.HASH : T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 16 });
      m.set(1, BigInt(i)); // exercise the per-map scratch too
      ours.push(m.id);
      m.close();
    }
    expect(fdsHolding(new Set(ours))).toBe(0);
    // No fd of any other kind either (fewer is possible: another file's dropped object finalized meanwhile).
    expect(fdCount()).toBeLessThanOrEqual(fdsBefore);

    // Other processes may create or free maps meanwhile: compare on ours only.
    // The kernel frees maps after an RCU grace period; the bound only stops a real leak from hanging the run.
    let alive: number[] = [];
    await until(
      () => {
        const now = new Set(mapIds());
        return (alive = ours.filter((id) => now.has(id))).length === 0;
      },
      30_000,
      50,
    );
    expect(alive).toEqual([]);
    const idsAfter = new Set(mapIds());
    expect([...idsAfter].filter((id) => !idsBefore.has(id) && ours.includes(id))).toEqual([]);
  });

  test('dropped (unclosed) maps are closed by the finalizer safety net', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const ids = createAndDrop(50);
    expect(ids.size).toBe(50);
    expect(fdsHolding(ids)).toBe(50);
    await new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 20 && fdsHolding(ids) > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fdsHolding(ids)).toBe(0);
  });

  test('a dropped mmapable map with a view is freed in the kernel once the view is collected (the range is unmapped)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const id = viewAndDrop();
    expect(mapIds()).toContain(id);
    // The bound only stops a real leak from hanging the run (the kernel frees after an RCU grace period).
    await until(
      () => {
        gc();
        return !mapIds().includes(id);
      },
      30_000,
      50,
    );
    expect(mapIds()).not.toContain(id);
  });
});
