// The members of a struct or union as a JS object sees them: anonymous
// struct/union members are flattened into their parent (as C lets you write
// iph->saddr through iphdr's anonymous union), offsets made absolute.

import { BpfError } from '../../errors.js';
import type { Btf } from '../btf.js';
import type { BtfComposite } from '../kinds.js';

export interface ValueField {
  name: string;
  type: number;
  /** From the start of the outermost struct. */
  bitOffset: number;
  /** 0 unless a bitfield. */
  bitfieldSize: number;
}

// Anonymous members nest this deep only in crafted BTF.
const MAX_NESTING = 64;

/** Named fields of `t`, anonymous members flattened; on a name clash the first wins. */
export function valueFields(btf: Btf, t: BtfComposite): ValueField[] {
  const out: ValueField[] = [];
  const seen = new Set<string>();
  const walk = (c: BtfComposite, base: number, depth: number): void => {
    if (depth > MAX_NESTING) throw new BpfError('BTF_INVALID', `type [${t.id}]: anonymous members nest too deeply`);
    for (const m of c.members) {
      if (m.name === '') {
        const inner = btf.typeById(btf.skipQualifiers(m.type));
        if ((inner.kind === 'struct' || inner.kind === 'union') && m.bitfieldSize === 0) walk(inner, base + m.bitOffset, depth + 1);
        // Other unnamed members are padding (`int :3`): nothing to show.
        continue;
      }
      if (seen.has(m.name)) continue;
      seen.add(m.name);
      out.push({ name: m.name, type: m.type, bitOffset: base + m.bitOffset, bitfieldSize: m.bitfieldSize });
    }
  };
  walk(t, 0, 0);
  return out;
}
