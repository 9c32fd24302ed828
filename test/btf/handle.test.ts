// loadBtf: a blob into the kernel, an fd we own; checked with bpftool (an
// independent reader of the kernel's BTF objects) and btfInfo.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { btfFeatures, btfInfo, loadBtf, sanitizeBtf } from '../../src/btf/index.js';
import { BpfError } from '../../src/errors.js';
import { parseObject } from '../../src/object/object.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('loadBtf', () => {
  it("loads an object's BTF: bpftool sees an object of its size, btfInfo reads back the same bytes", () => {
    const o = parseObject(readFileSync('fixtures/globals.o'), 'globals.o');
    const bytes = sanitizeBtf(o.btfForKernel!, btfFeatures(), { littleEndian: o.littleEndian });
    using fd = loadBtf(bytes, 'BTF of globals.o');
    const info = btfInfo(fd.value);
    expect(Buffer.from(info.raw).equals(Buffer.from(bytes))).toBe(true);
    expect(info.kernelBtf).toBe(false);
    const shown = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'show', 'id', String(info.id)], { encoding: 'utf8' }));
    expect(shown.id).toBe(info.id);
    expect(shown.size).toBe(bytes.length);
  });

  it('a blob the kernel refuses is a BpfError naming the call and the label', () => {
    const bad = new Uint8Array(64);
    bad.set([0x9f, 0xeb, 1, 0, 24, 0, 0, 0]); // a header, then lengths that do not add up
    new DataView(bad.buffer).setUint32(12, 1000, true);
    let err: unknown;
    try {
      loadBtf(bad, 'my blob').close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('SYSCALL');
    expect((err as BpfError).message).toMatch(/^BPF_BTF_LOAD \(my blob/);
  });
});
