// Read an object file from disk. The one place the object layer touches the
// filesystem; parseObject itself stays pure.
//
// Only regular files, and only up to a size cap: a FIFO would block the
// read forever and /dev/zero would never end. The open is non-blocking so a
// FIFO without a writer cannot hang it either; the type is checked on the
// open fd (fstat), not on the path, so nothing can be swapped in between.

import { BpfError } from '../errors.js';
import { parseObject } from './object.js';
import type { BpfObjectFile } from './types.js';

// Not an ESM import: that would load node:fs's streams and promises API
// too, a few ms of CLI start-up (inspect) for nothing.
const { closeSync, constants, fstatSync, openSync, readSync } = process.getBuiltinModule('node:fs');

/** Largest object read unless the caller raises it: far above any BPF object clang writes. */
export const DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024;

export interface ReadObjectOptions {
  /** Refuse files larger than this many bytes (default DEFAULT_MAX_OBJECT_BYTES). */
  maxBytes?: number;
}

function fileKind(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFIFO:
      return 'a FIFO';
    case constants.S_IFCHR:
      return 'a character device';
    case constants.S_IFBLK:
      return 'a block device';
    case constants.S_IFDIR:
      return 'a directory';
    case constants.S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file';
  }
}

export function readObjectBytes(path: string, opts: ReadObjectOptions = {}): Uint8Array {
  const max = opts.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  if (!Number.isSafeInteger(max) || max <= 0) throw new BpfError('INVALID_ARGUMENT', `maxBytes must be a positive integer, got ${max}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BpfError('IO', `${path}: cannot read: ${err.code ?? err.message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BpfError('IO', `${path}: ${fileKind(st.mode)}, not an object file: only regular files are read`);
    if (st.size > max) {
      throw new BpfError('IO', `${path}: ${st.size} bytes, more than the ${max}-byte limit for an object file (raise it with maxBytes / --max-size)`);
    }
    // One byte more than fstat promised: a file that grows meanwhile is caught, not read without end.
    const buf = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === buf.length) break;
    }
    if (n === buf.length) throw new BpfError('IO', `${path}: grew while being read (past ${n - 1} bytes)`);
    return new Uint8Array(buf.buffer, buf.byteOffset, n);
  } catch (e) {
    if (e instanceof BpfError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new BpfError('IO', `${path}: cannot read: ${err.code ?? err.message}`);
  } finally {
    closeSync(fd);
  }
}

export function readObjectFile(path: string, opts: ReadObjectOptions = {}): BpfObjectFile {
  return parseObject(readObjectBytes(path, opts), path);
}
