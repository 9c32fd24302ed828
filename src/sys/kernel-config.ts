// The running kernel's build configuration, for .kconfig externs: from
// /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-$(uname -r), as
// libbpf reads it. Values stay as the file spells them: "y", "m", a number,
// a quoted string; options that are "not set" are absent.

import { BpfError } from '../errors.js';
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');
const { release } = process.getBuiltinModule('node:os');
// zlib loads when /proc/config.gz is read, not with the library.
const gunzipSync = (b: Uint8Array): Buffer => process.getBuiltinModule('node:zlib').gunzipSync(b);

let cached: { path: string; values: Map<string, string> } | undefined;

export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, name, value] = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim()) ?? [];
    if (name !== undefined && value !== undefined) out.set(name, value);
  }
  return out;
}

/** The kernel config and where it was read from; throws when neither file exists. */
export function kernelConfig(): { path: string; values: Map<string, string> } {
  if (cached) return cached;
  const candidates = ['/proc/config.gz', `/boot/config-${release()}`];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const bytes = readFileSync(path);
    const text = path.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    cached = { path, values: parseKernelConfig(text) };
    return cached;
  }
  throw new BpfError(
    'KCONFIG_UNAVAILABLE',
    `the kernel configuration is in neither ${candidates.join(' nor ')} (enable CONFIG_IKCONFIG_PROC, or install the config file); needed for CONFIG_* externs`,
  );
}

/** KERNEL_VERSION(a, b, c) of a release string like "6.18.44-foo", as LINUX_KERNEL_VERSION wants it (c capped at 255). */
export function kernelVersionCode(rel = release()): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) throw new BpfError('KCONFIG_UNAVAILABLE', `cannot read a kernel version from release "${rel}"`);
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}
