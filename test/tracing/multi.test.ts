// uprobe.multi and kprobe.multi links (fixtures/uprobe_multi.o): one link on
// several functions, each attach point with its own cookie. The programs
// count, for the trace child only, the calls it makes and the sum of the
// cookies they ran with, so the sum tells which offset got which cookie.
// Function lists for globs are checked against readelf's symbol table; link
// details against the kernel's bpf_link_info.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openObject, type BpfCollection, type BpfObjectSpec } from '../../src/collection.js';
import { linkTarget } from '../../src/cli/link-target.js';
import { autoAttach, autoAttachPlan } from '../../src/link/auto.js';
import { attachKprobeMulti, attachUprobeMulti } from '../../src/link/tracing.js';
import { matchFunctions, resolveProbeBinary } from '../../src/link/uprobe-target.js';
import { parseObject } from '../../src/object/object.js';
import { BPF_LINK_TYPE } from '../../src/sys/link-type.js';
import { fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { startTraceChild, type TraceChild } from '../helpers/trace-child.js';

/** Defined functions of an ELF file whose names match `re`, as readelf lists them (.symtab and .dynsym). */
function readelfFunctions(path: string, re: RegExp): string[] {
  const out = execFileSync('readelf', ['-W', '--syms', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    // Num: Value Size Type Bind Vis Ndx Name
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || (f[3] !== 'FUNC' && f[3] !== 'IFUNC') || f[6] === 'UND') continue;
    const name = f[7]!.replace(/@.*$/, '');
    if (re.test(name)) names.add(name);
  }
  return [...names].sort();
}

function kernelHasFprobe(): boolean {
  const config = gunzipSync(readFileSync('/proc/config.gz')).toString();
  return /^CONFIG_FPROBE=y$/m.test(config);
}

describe('uprobe.multi and kprobe.multi sections (no kernel)', () => {
  const specs = parseObject(readFileSync(fixture('uprobe_multi.o'))).programs;
  const spec = (name: string) => specs.find((p) => p.name === name)!;

  it('auto-attach reads the binary and the glob from the section, as libbpf writes them', () => {
    expect(autoAttachPlan(spec('umulti_auto'))).toEqual({ kind: 'uprobe_multi', binary: 'libc.so.6', pattern: 'getpp*', retprobe: false });
    expect(autoAttachPlan(spec('kmulti_entry'))).toEqual({ kind: 'kprobe_multi', func: 'do_getpgid', retprobe: false });
    expect(autoAttachPlan(spec('umulti_entry'))).toEqual({ kind: 'none', reason: 'section uprobe.multi names no target (attach it with the library)' });
    expect(autoAttachPlan({ ...spec('kmulti_entry'), section: 'kprobe.multi/do_*', attachTarget: 'do_*' })).toEqual({
      kind: 'none',
      reason: 'section kprobe.multi/do_*: globs over kernel functions are not auto-attached; give attachKprobeMulti the list',
    });
  });

  it('a glob matches the functions readelf lists, in name order', () => {
    const libc = resolveProbeBinary('libc.so.6');
    const bytes = readFileSync(libc);
    expect(matchFunctions(bytes, 'getp*id', libc).map((f) => f.name)).toEqual(readelfFunctions(libc, /^getp.*id$/));
    expect(matchFunctions(bytes, 'getp?id', libc).map((f) => f.name)).toEqual(readelfFunctions(libc, /^getp.id$/));
    expect(matchFunctions(bytes, 'getp?id', libc).map((f) => f.name)).toEqual(['getpgid', 'getppid']);
    const e = thrown(() => matchFunctions(bytes, 'no_such_fn_*', libc));
    expect(e).toMatchObject({ code: 'NO_SUCH_TARGET' });
    expect(e.message).toBe(`${libc}: no function matches no_such_fn_* in its symbol tables (.symtab/.dynsym)`);
  });
});

describeRoot('uprobe.multi and kprobe.multi links', () => {
  let child: TraceChild;
  let c: BpfCollection;
  let spec: BpfObjectSpec;

  const count = (slot: number) => c.map('counts').get(slot)!.readBigUInt64LE(0);
  const zero = () => {
    for (let s = 0; s < 8; s++) c.map('counts').set(s, 0n);
  };

  beforeAll(async () => {
    child = await startTraceChild();
    spec = openObject(fixture('uprobe_multi.o')).setGlobal('target_tgid', child.pid);
    c = spec.load();
  });
  afterAll(async () => {
    c?.close();
    await child?.stop();
  });

  it('one link on three libc functions: each call runs the program with its own function’s cookie', async () => {
    zero();
    using link = attachUprobeMulti(c.program('umulti_entry'), 'libc.so.6', ['abs', 'getppid', 'getpgid'], { pid: child.pid, cookies: [1n, 100n, 10000n] });
    expect(link.type).toBe(BPF_LINK_TYPE.UPROBE_MULTI);
    expect(link.functions).toEqual(['abs', 'getppid', 'getpgid']);
    const info = link.info();
    expect(info.details).toEqual({ kind: 'uprobe_multi', path: resolveProbeBinary('libc.so.6'), count: 3, retprobe: false, pid: child.pid });
    expect(linkTarget(info)).toBe(`uprobe ${resolveProbeBinary('libc.so.6')} (3 functions, pid ${child.pid})`);
    await child.call('abs', 3);
    await child.call('getppid', 5);
    await child.call('getpgid', 7);
    expect(count(0)).toBe(15n);
    expect(count(1)).toBe(3n * 1n + 5n * 100n + 7n * 10000n);
  });

  it('uretprobe.multi runs at each return, with the cookie of the function returning', async () => {
    zero();
    using link = attachUprobeMulti(c.program('umulti_return'), 'libc.so.6', ['abs', 'getpgid'], { pid: child.pid, retprobe: true, cookies: [2n, 2000n] });
    expect(link.info().details).toMatchObject({ kind: 'uprobe_multi', count: 2, retprobe: true });
    await child.call('abs', 4);
    await child.call('getpgid', 6);
    await child.call('getppid', 9); // not attached
    expect(count(2)).toBe(10n);
    expect(count(3)).toBe(4n * 2n + 6n * 2000n);
  });

  it('auto-attach from the section (uprobe.multi/libc.so.6:getpp*) and detach on close', async () => {
    zero();
    const link = autoAttach(c.program('umulti_auto'), spec.program('umulti_auto'));
    await child.call('getppid', 8);
    expect(count(0)).toBe(8n);
    link.close();
    await child.call('getppid', 8);
    expect(count(0)).toBe(8n);
  });

  it('refuses a cookie list of the wrong length and a function the file lacks', () => {
    let e = thrown(() => attachUprobeMulti(c.program('umulti_entry'), 'libc.so.6', ['abs', 'getpgid'], { cookies: [1n] }));
    expect(e).toMatchObject({ code: 'USAGE' });
    expect(e.message).toMatch(/^uprobe\.multi \/.*libc\.so\.6:abs,getpgid: 1 cookies for 2 functions \(abs, getpgid\)$/);
    e = thrown(() => attachUprobeMulti(c.program('umulti_entry'), 'libc.so.6', ['abs', 'not_in_libc']));
    expect(e).toMatchObject({ code: 'NO_SUCH_TARGET' });
    expect(e.message).toMatch(/libc\.so\.6: no function not_in_libc in its symbol tables/);
  });

  it('kprobe.multi: attached where the kernel has fprobe, refused naming CONFIG_FPROBE where it has not', async () => {
    if (kernelHasFprobe()) {
      zero();
      using link = attachKprobeMulti(c.program('kmulti_entry'), ['do_getpgid']);
      expect(link.type).toBe(BPF_LINK_TYPE.KPROBE_MULTI);
      await child.call('getpgid', 3);
      expect(count(4)).toBeGreaterThanOrEqual(3n);
    } else {
      const e = thrown(() => attachKprobeMulti(c.program('kmulti_entry'), ['do_getpgid']));
      expect(e).toMatchObject({ code: 'KERNEL_UNSUPPORTED' });
      expect(e.message).toBe('kprobe.multi do_getpgid: this kernel cannot attach kprobe.multi links (built without CONFIG_FPROBE); attach one kprobe per function, or fentry/fexit where BTF allows');
    }
  });
});
