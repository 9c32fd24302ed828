// The running kernel's BTF, as CO-RE relocation target: vmlinux from
// /sys/kernel/btf/vmlinux (read and indexed once per process), and module
// BTF from /sys/kernel/btf/<module> (split BTF on vmlinux), read only when a
// relocation finds nothing in vmlinux. Tests and cross-kernel builds pass
// their own blob instead (coreTargetFromBtf / readBtfFile).

import { BpfError } from '../errors.js';
import { type Btf, parseBtf } from './btf.js';
import { btfBuffer } from './scan-wasm.js';
import type { CoreTarget } from './target.js';
import { ffiLoaded, mmap, munmap, PROT_READ } from '../sys/ffi.js';
const { closeSync, fstatSync, openSync, readFileSync, readdirSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');
// zlib loads when a gzip file comes (a module-level import costs every import of the library ~4 ms).
const gunzipSync = (b: Uint8Array): Buffer => process.getBuiltinModule('node:zlib').gunzipSync(b);

const MAP_PRIVATE = 2;

export const KERNEL_BTF_DIR = '/sys/kernel/btf';
export const VMLINUX_BTF_PATH = `${KERNEL_BTF_DIR}/vmlinux`;

let vmlinux: Btf | undefined;
const modules = new Map<string, Btf>();

function readBytes(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'ENOENT' && path.startsWith(KERNEL_BTF_DIR) ? ' (kernel built without CONFIG_DEBUG_INFO_BTF?)' : '';
    throw new BpfError('IO', `${path}: cannot read: ${err.code ?? err.message}${hint}`);
  }
}

/**
 * A raw BTF file (gzip-compressed when it starts with the gzip magic), e.g.
 * a saved copy of some kernel's /sys/kernel/btf/vmlinux. `base` for split BTF.
 */
export function readBtfFile(path: string, opts: { base?: Btf } = {}): Btf {
  let bytes = readBytes(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const b = gunzipSync(bytes);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return parseBtf(bytes, { base: opts.base, source: path });
}

/**
 * vmlinux BTF's bytes. sysfs hands out a page per read(2), ~1300 reads for
 * 5 MB; kernels since 6.16 let the file be mapped, and one copy out of the
 * mapping costs less. Only when koffi is loaded already (a load), so
 * commands that merely read BTF do not pay for loading it; any failure
 * falls back to read(2).
 */
function readVmlinux(): Uint8Array {
  if (ffiLoaded()) {
    let fd = -1;
    try {
      fd = openSync(VMLINUX_BTF_PATH, 'r');
      const size = fstatSync(fd).size;
      const m = size > 0 ? mmap(size, PROT_READ, MAP_PRIVATE, fd, 0) : -1;
      if (typeof m !== 'number') {
        // A copy: the mapping is read-only, and a write through `raw` must not
        // fault. Into the buffer the parser scans in place (no second copy).
        const copy = btfBuffer(size);
        copy.set(new Uint8Array(m.buffer, 0, size));
        munmap(m);
        return copy;
      }
    } catch {
      // Fall through to read(2), which reports errors properly.
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  return readBytes(VMLINUX_BTF_PATH);
}

/** The running kernel's vmlinux BTF (read once, then cached). */
export function vmlinuxBtf(): Btf {
  return (vmlinux ??= parseBtf(readVmlinux(), { source: VMLINUX_BTF_PATH }));
}

/** Names of the loaded modules that have BTF. */
export function moduleBtfNames(): string[] {
  try {
    return readdirSync(KERNEL_BTF_DIR)
      .filter((n) => n !== 'vmlinux')
      .sort();
  } catch {
    return [];
  }
}

/** A module's BTF, split on vmlinux (cached). */
export function moduleBtf(name: string): Btf {
  let m = modules.get(name);
  if (!m) {
    if (name.includes('/') || name === 'vmlinux') throw new BpfError('USAGE', `not a module name: ${name}`);
    const path = join(KERNEL_BTF_DIR, name);
    m = parseBtf(readBytes(path), { base: vmlinuxBtf(), source: path });
    modules.set(name, m);
  }
  return m;
}

/** The running kernel as CO-RE target: vmlinux, then modules on demand. */
export function kernelCoreTarget(): CoreTarget {
  return {
    vmlinux: vmlinuxBtf(),
    *modules() {
      for (const name of moduleBtfNames()) {
        try {
          yield moduleBtf(name);
        } catch {
          // A module unloaded meanwhile, or unreadable BTF: it cannot hold candidates.
        }
      }
    },
  };
}

export { coreTargetFromBtf } from './target.js';
