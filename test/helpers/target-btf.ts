// The committed kernel BTF blob the CO-RE tests resolve against without root
// or a particular running kernel: fixtures/vmlinux-6.18.btf.gz is
// `gzip -9 -n` of /sys/kernel/btf/vmlinux from Linux 6.18.44 x86_64.
import { readBtfFile } from '../../src/btf/kernel.js';
import type { Btf } from '../../src/btf/btf.js';

export const TARGET_BTF_PATH = 'fixtures/vmlinux-6.18.btf.gz';

let cached: Btf | undefined;

export function targetBtf(): Btf {
  return (cached ??= readBtfFile(TARGET_BTF_PATH));
}
