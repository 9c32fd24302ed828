// Hex on the command line: "0a000000", "0a 00 00 00", "0x0a,0x00,…" all work.

import { BpfError } from '../errors.js';

export function parseHex(text: string, what: string): Buffer {
  const clean = text.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new BpfError('USAGE', `${what}: "${text}" is not hex bytes (e.g. 0a000000 or "0a 00 00 00")`);
  }
  return Buffer.from(clean, 'hex');
}
