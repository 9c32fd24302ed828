// The pure parts of extern resolution: kernel config text, version codes,
// kallsyms lines. (Values from the running kernel: test/kernel/externs.test.ts.)

import { describe, expect, it } from 'vitest';
import { kallsymsAddresses } from '../src/sys/kallsyms.js';
import { kernelVersionCode, parseKernelConfig } from '../src/sys/kernel-config.js';

describe('kernel config and symbols', () => {
  it('reads CONFIG_ lines as the file spells them; "is not set" lines are absent', () => {
    const c = parseKernelConfig('# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_HZ=250\nCONFIG_S="x y"\nCONFIG_H=0x10\n');
    expect(Object.fromEntries(c)).toEqual({ CONFIG_A: 'y', CONFIG_B: 'm', CONFIG_HZ: '250', CONFIG_S: '"x y"', CONFIG_H: '0x10' });
  });
  it('KERNEL_VERSION(a,b,c) with c capped at 255, as libbpf computes LINUX_KERNEL_VERSION', () => {
    expect(kernelVersionCode('6.18.44-fc-v657')).toBe(0x06122c);
    expect(kernelVersionCode('5.4.300')).toBe((5 << 16) + (4 << 8) + 255);
    expect(kernelVersionCode('6.1')).toBe(0x060100);
    expect(() => kernelVersionCode('weird')).toThrow(/cannot read a kernel version/);
  });
  it('kallsyms: the first address of each wanted symbol, module suffixes ignored', () => {
    const text = 'ffffffff81000000 T _stext\nffffffff81234560 T tcp_v4_connect\nffffffffc0001000 t tcp_v4_connect\t[mod]\nffffffffc0002000 T mod_fn\t[mod]\n';
    const m = kallsymsAddresses(['tcp_v4_connect', 'mod_fn', 'absent'], text);
    expect([...m]).toEqual([
      ['tcp_v4_connect', 0xffffffff81234560n],
      ['mod_fn', 0xffffffffc0002000n],
    ]);
  });
});
