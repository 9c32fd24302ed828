// src/btf/index.ts (`bpf-ts/btf`) is the one entry point for BTF: it carries
// the parser, kinds, lookup, formatting, .BTF.ext, sanitising, values and the
// kernel side, and they are the very functions the main entry exports.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as btf from '../../src/btf/index.js';
import * as main from '../../src/index.js';

it('exports the BTF API, the same functions as the main entry', () => {
  const shared = [
    'parseBtf',
    'parseBtfExt',
    'sanitizeBtf',
    'ALL_BTF_FEATURES',
    'decodeBtfValue',
    'encodeBtfValue',
    'encodeBtfValueInto',
    'toJsonValue',
    'vmlinuxBtf',
    'moduleBtf',
    'moduleBtfNames',
    'kernelCoreTarget',
    'coreTargetFromBtf',
    'readBtfFile',
    'btfFeatures',
    'btfInfo',
    'btfFdById',
    'kernelBtfById',
    'loadBtf',
  ];
  for (const name of shared) {
    expect((btf as Record<string, unknown>)[name], name).toBeDefined();
    expect((btf as Record<string, unknown>)[name], name).toBe((main as Record<string, unknown>)[name]);
  }
  for (const name of ['formatType', 'formatRaw', 'valueFields', 'BTF_KIND_STRUCT', 'BTF_KIND_NAMES', 'BTF_HEADER_SIZE', 'VMLINUX_BTF_PATH']) {
    expect((btf as Record<string, unknown>)[name], name).toBeDefined();
  }
  expect(btf.BTF_KIND_STRUCT).toBe(4); // include/uapi/linux/btf.h
  expect(btf.VMLINUX_BTF_PATH).toBe('/sys/kernel/btf/vmlinux');
});

it('parses, looks up and formats through the entry point alone', () => {
  // The first struct of globals.o as bpftool dumped it (fixtures/globals.btf.txt).
  const dump = readFileSync('fixtures/globals.btf.txt', 'utf8');
  const m = dump.match(/\[(\d+)\] STRUCT '(\w+)' size=(\d+) vlen=(\d+)/);
  expect(m).not.toBeNull();
  const o = main.parseObject(readFileSync('fixtures/globals.o'), 'globals.o');
  const t = o.btf!.findByName(m![2]!, 'struct');
  expect(t?.id).toBe(Number(m![1]));
  expect(t?.kind === 'struct' && t.size).toBe(Number(m![3]));
  expect(btf.formatType(o.btf!, t!.id)).toMatch(new RegExp(`^struct ${m![2]} \\{`));
});
