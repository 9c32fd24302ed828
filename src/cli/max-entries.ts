// --max-entries NAME=N (repeatable) on load, run and test-run: size maps
// before they are created, through the same validation as the library API.

import type { BpfObjectSpec } from '../collection.js';
import { parseMaxEntries } from '../object/map-sizing.js';

export const MAX_ENTRIES_OPTION = { 'max-entries': { type: 'string', multiple: true } } as const;
export const MAX_ENTRIES_USAGE = '[--max-entries MAP=N]…';

export function applyMaxEntries(spec: BpfObjectSpec, value: unknown): void {
  if (value === undefined) return;
  const list = Array.isArray(value) ? value.map(String) : [String(value)];
  for (const { name, value: n } of parseMaxEntries(list)) spec.map(name).maxEntries = n;
}
