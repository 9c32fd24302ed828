// Read an object file from disk. The one place the object layer touches the
// filesystem; parseObject itself stays pure.

import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { parseObject } from './object.js';
import type { BpfObjectFile } from './types.js';

export function readObjectBytes(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BpfError('IO', `${path}: cannot read: ${err.code ?? err.message}`);
  }
}

export function readObjectFile(path: string): BpfObjectFile {
  return parseObject(readObjectBytes(path), path);
}
