// Creating and closing maps must not leak fds in this process or maps in the
// kernel. Map freeing is RCU-deferred, so the kernel side is polled.
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { mapIds } from '../../src/sys/ids.js';

const fdCount = () => readdirSync('/proc/self/fd').length;

// Separate function so no stack slot of the test keeps the last map reachable.
function createAndDrop(n: number): void {
  for (let i = 0; i < n; i++) {
    const m = BpfMap.create({ name: 'dropped', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    m.set(0, i);
  }
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
    expect(fdCount()).toBe(fdsBefore);

    // Other processes may create or free maps meanwhile: compare on ours only.
    // The kernel frees maps after an RCU grace period; the bound only stops a real leak from hanging the run.
    const deadline = Date.now() + 30_000;
    let alive: number[] = [];
    do {
      const now = new Set(mapIds());
      alive = ours.filter((id) => now.has(id));
      if (alive.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    expect(alive).toEqual([]);
    const idsAfter = new Set(mapIds());
    expect([...idsAfter].filter((id) => !idsBefore.has(id) && ours.includes(id))).toEqual([]);
  });

  test('dropped (unclosed) maps are closed by the finalizer safety net', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const fdsBefore = fdCount();
    createAndDrop(50);
    expect(fdCount()).toBe(fdsBefore + 50);
    await new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 20 && fdCount() > fdsBefore; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fdCount()).toBe(fdsBefore);
  });
});
