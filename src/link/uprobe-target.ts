// Where a uprobe goes: the file offset of a symbol in an executable or
// shared library, read from its ELF .symtab (or .dynsym when stripped). The
// kernel wants a file offset, not an address: st_value minus the section's
// address plus its file offset, which is right for PIE, non-PIE and .so.

import { BpfError } from '../errors.js';
const { accessSync, constants, existsSync, readFileSync, realpathSync } = process.getBuiltinModule('node:fs');
const { delimiter, isAbsolute, join } = process.getBuiltinModule('node:path');

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;

interface Shdr {
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/**
 * File offset of function `symbol` in the ELF file `bytes` (a versioned name
 * such as "abs@@GLIBC_2.2.5" matches "abs"). Throws NO_SUCH_TARGET.
 */
export function symbolFileOffset(bytes: Uint8Array, symbol: string, path = 'binary'): number {
  // The first definition: stop there rather than index the whole table.
  for (const [name, offset] of eachFunction(bytes, path)) if (name === symbol) return offset;
  throw noFunction(path, symbol);
}

/** symbolFileOffset for several functions, in their order, reading the symbol tables once. */
export function functionsAt(bytes: Uint8Array, names: readonly string[], path = 'binary'): { name: string; offset: number }[] {
  const all = functionOffsets(bytes, path);
  return names.map((name) => {
    const offset = all.get(name);
    if (offset === undefined) throw noFunction(path, name);
    return { name, offset };
  });
}

const noFunction = (path: string, name: string) => new BpfError('NO_SUCH_TARGET', `${path}: no function ${name} in its symbol tables (.symtab/.dynsym)`);

/**
 * The functions of `bytes` whose names match the glob `pattern` (`*` any
 * run of characters, `?` one; libbpf's uprobe.multi syntax), with their file
 * offsets, in name order. Throws NO_SUCH_TARGET when none does.
 */
export function matchFunctions(bytes: Uint8Array, pattern: string, path = 'binary'): { name: string; offset: number }[] {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  const out = [...functionOffsets(bytes, path)].filter(([name]) => re.test(name)).map(([name, offset]) => ({ name, offset }));
  if (out.length === 0) throw new BpfError('NO_SUCH_TARGET', `${path}: no function matches ${pattern} in its symbol tables (.symtab/.dynsym)`);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Every defined function (FUNC or IFUNC symbol) of the ELF file `bytes` by
 * name (without its version suffix), with its file offset: .symtab first (it
 * has local functions too), then .dynsym; the first definition of a name wins.
 */
export function functionOffsets(bytes: Uint8Array, path = 'binary'): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, offset] of eachFunction(bytes, path)) if (!out.has(name)) out.set(name, offset);
  return out;
}

/** Each defined function's [name without version, file offset], .symtab first, then .dynsym (a name may come twice). */
function* eachFunction(bytes: Uint8Array, path: string): Generator<[string, number]> {
  if (bytes.byteLength < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new BpfError('NO_SUCH_TARGET', `${path}: not an ELF file`);
  }
  if (bytes[4] !== 2) throw new BpfError('NO_SUCH_TARGET', `${path}: not a 64-bit ELF file`);
  const le = bytes[5] === 1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(40, le));
  const shnum = dv.getUint16(60, le);
  if (shoff + shnum * 64 > bytes.byteLength) throw new BpfError('NO_SUCH_TARGET', `${path}: truncated section table`);
  const sh: Shdr[] = [];
  for (let i = 0; i < shnum; i++) {
    const b = shoff + i * 64;
    sh.push({
      type: dv.getUint32(b + 4, le),
      addr: dv.getBigUint64(b + 16, le),
      offset: Number(dv.getBigUint64(b + 24, le)),
      size: Number(dv.getBigUint64(b + 32, le)),
      link: dv.getUint32(b + 40, le),
      entsize: Number(dv.getBigUint64(b + 56, le)),
    });
  }
  for (const want of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const tab of sh) {
      if (tab.type !== want || tab.entsize !== 24) continue;
      const str = sh[tab.link];
      if (!str || tab.offset + tab.size > bytes.byteLength || str.offset + str.size > bytes.byteLength) continue;
      for (let off = tab.offset; off + 24 <= tab.offset + tab.size; off += 24) {
        const info = dv.getUint8(off + 4);
        const kind = info & 0xf;
        if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
        const shndx = dv.getUint16(off + 6, le);
        if (shndx === SHN_UNDEF || shndx >= sh.length) continue;
        const nameOff = str.offset + dv.getUint32(off, le);
        let end = nameOff;
        while (end < str.offset + str.size && bytes[end] !== 0) end++;
        const full = Buffer.from(bytes.buffer, bytes.byteOffset + nameOff, end - nameOff).toString('latin1');
        const at = full.indexOf('@');
        const value = dv.getBigUint64(off + 8, le);
        const sec = sh[shndx]!;
        yield [at < 0 ? full : full.slice(0, at), Number(value - sec.addr) + sec.offset];
      }
    }
  }
}

const LIB_DIRS = ['/lib64', '/usr/lib64', '/lib', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];

/**
 * The file a uprobe names: an absolute path as given; a library name
 * ("libc.so.6") as mapped in process `pid` (or this one), else from the
 * usual library directories; a program name from PATH.
 */
export function resolveProbeBinary(binary: string, pid?: number): string {
  if (isAbsolute(binary)) {
    if (!existsSync(binary)) throw new BpfError('NO_SUCH_TARGET', `${binary}: no such file`);
    return realpathSync(binary);
  }
  if (binary.includes('.so')) {
    try {
      const maps = readFileSync(`/proc/${pid ?? 'self'}/maps`, 'utf8');
      for (const line of maps.split('\n')) {
        const file = line.slice(line.indexOf('/'));
        if (line.includes('/') && file.split('/').pop() === binary) return file;
      }
    } catch {
      // The process is gone or hidden: fall back to the library directories.
    }
    for (const dir of [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS]) {
      const p = join(dir, binary);
      if (existsSync(p)) return realpathSync(p);
    }
    throw new BpfError('NO_SUCH_TARGET', `library ${binary} not found (give its absolute path)`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, binary);
    try {
      accessSync(p, constants.X_OK);
      return realpathSync(p);
    } catch {
      // not here
    }
  }
  throw new BpfError('NO_SUCH_TARGET', `program ${binary} not found in PATH (give its absolute path)`);
}
