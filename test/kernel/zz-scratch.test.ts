import { test, expect } from 'vitest';
import { BpfMap } from '../../src/maps/map.js';
import { mapIds, listMaps } from '../../src/sys/ids.js';
test('smoke', () => {
  const m = BpfMap.create({ name: 'smoke-test!', type: 1, keySize: 4, valueSize: 8, maxEntries: 16 });
  console.log(m.toString(), m.name, m.info());
  m.set(1, 42n);
  console.log(m.get(1), m.has(1), m.has(2), [...m.keys()]);
  console.log(mapIds(), listMaps().map((i) => i.name));
  console.log(m.getBatch());
  m.close();
});
