// Emulated maps share BpfMap's interface, batches included: MapLike is what
// both answer, a function written against it takes either (checked by the
// TypeScript compiler on a snippet, with a control that must not compile),
// and the batch calls behave as BpfMap's (test/maps-batch tests the kernel's;
// the root test here runs the same code on both and compares).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/uapi/bpf.js';
import { EmulatedMap, type MapLike } from '../../src/vm/maps.js';
import { Memory } from '../../src/vm/memory.js';
import { ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { ts } from '../helpers/typescript.js';

const src = (p: string) => JSON.stringify(join(ROOT, 'src', p));

/**
 * Compiler diagnostics for each snippet, as modules next to nothing importing
 * src/ by absolute path. All snippets go through one program (the compiler
 * reads src/ and the libs once); each one's diagnostics are its own.
 */
function compile(snippets: Record<string, string>): Record<string, string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-maplike-'));
  try {
    const files = Object.fromEntries(
      Object.entries(snippets).map(([name, code]) => {
        const file = join(dir, `${name}.ts`);
        writeFileSync(file, code);
        return [name, file];
      }),
    );
    const program = ts.createProgram(Object.values(files), {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    return Object.fromEntries(
      Object.entries(files).map(([name, file]) => [name, diagnostics.filter((d) => d.file?.fileName === file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const shared = `
import type { BpfMap } from ${src('maps/map.js')};
import type { EmulatedMap, MapLike } from ${src('vm/maps.js')};
// Test code written once, against the shared interface.
export function resetCounters(m: MapLike): number {
  const n = m.setBatch([[0, 0n], [1, Buffer.alloc(8)]]);
  const all: [Buffer, Buffer][] = m.getBatch({ batchSize: 16 });
  const perCpu: [Buffer, Buffer[]][] = m.perCpu ? m.getBatchPerCpu() : [];
  return n + all.length + perCpu.length + m.deleteBatch([2, 3n]);
}
export const onKernel = (m: BpfMap) => resetCounters(m);
export const onEmulator = (m: EmulatedMap) => resetCounters(m);
// And the batch calls have the same parameter and result types on both.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const sameShapes: [
  Same<Parameters<BpfMap['getBatch']>, Parameters<EmulatedMap['getBatch']>>,
  Same<ReturnType<BpfMap['getBatch']>, ReturnType<EmulatedMap['getBatch']>>,
  Same<ReturnType<BpfMap['getBatchPerCpu']>, ReturnType<EmulatedMap['getBatchPerCpu']>>,
  Same<ReturnType<BpfMap['entries']>, ReturnType<EmulatedMap['entries']>>,
  Same<ReturnType<BpfMap['entriesPerCpu']>, ReturnType<EmulatedMap['entriesPerCpu']>>,
  Same<Parameters<BpfMap['setBatch']>, Parameters<EmulatedMap['setBatch']>>,
  Same<ReturnType<BpfMap['setBatch']>, ReturnType<EmulatedMap['setBatch']>>,
  Same<Parameters<BpfMap['deleteBatch']>, Parameters<EmulatedMap['deleteBatch']>>,
  Same<ReturnType<BpfMap['deleteBatch']>, ReturnType<EmulatedMap['deleteBatch']>>,
] = [true, true, true, true, true, true, true, true, true];
`;

describe('MapLike: one interface, both maps', () => {
  const bad = `${shared}\nexport const onHalf = (m: Omit<EmulatedMap, 'deleteBatch'>) => resetCounters(m);\n`;
  let diagnostics: Record<string, string[]> | undefined;
  const compiled = () => (diagnostics ??= compile({ shared, bad }));

  it('a function written against MapLike compiles with a BpfMap and with an EmulatedMap', () => {
    expect(compiled().shared).toEqual([]);
  }, 120_000);

  it('control: the compiler refuses a map without the batch calls', () => {
    const errs = compiled().bad;
    expect(errs).toHaveLength(1);
    expect(errs![0]).toMatch(/deleteBatch/);
  }, 120_000);
});

const mk = (type: number, keySize: number, valueSize: number, maxEntries: number, cpus = 1) => new EmulatedMap(new Memory(), { name: 'm', type, keySize, valueSize, maxEntries, flags: 0 }, { cpus });
const u64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

describe('emulated batches', () => {
  it('hash: setBatch writes all and counts, getBatch reads them, deleteBatch skips absent keys', () => {
    const m = mk(T.HASH, 4, 8, 8);
    expect(
      m.setBatch([
        [1, 10n],
        [2, u64(20)],
        [3, 30],
      ]),
    ).toBe(3);
    expect(m.getBatch().map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)])).toEqual([
      [1, 10n],
      [2, 20n],
      [3, 30n],
    ]);
    expect(m.deleteBatch([1, 9, 3])).toBe(2);
    expect([...m.keys()].map((k) => k.readUInt32LE(0))).toEqual([2]);
  });

  it('setBatch stops at the first error, as BPF_MAP_UPDATE_BATCH does, saying how far it got', () => {
    const m = mk(T.HASH, 4, 8, 2);
    expect(() =>
      m.setBatch([
        [1, 1n],
        [2, 2n],
        [3, 3n],
      ]),
    ).toThrow(/E2BIG, after 2 of the batch/);
    expect(m.getBatch()).toHaveLength(2);
    expect(() => m.setBatch([[1, 5n]], 'noexist')).toThrow(/EEXIST/);
  });

  it('per-CPU: getBatch gives one value per CPU; arrays refuse deleteBatch', () => {
    const m = mk(T.PERCPU_ARRAY, 4, 8, 2, 3);
    m.setBatch([[1, [u64(1), u64(2), u64(3)]]]);
    expect(m.getBatchPerCpu()[1]![1]).toEqual([u64(1), u64(2), u64(3)]);
    expect([...m.entriesPerCpu()][1]![1]).toEqual([u64(1), u64(2), u64(3)]);
    // As on BpfMap: the single-value calls refuse a per-CPU map, naming the per-CPU one.
    expect(() => m.getBatch()).toThrow('emulated map m is percpu_array, which holds one value per CPU: use getBatchPerCpu() instead of getBatch()');
    expect(() => m.entries()).toThrow('use entriesPerCpu() instead of entries()');
    expect(() => mk(T.HASH, 4, 8, 2).getBatchPerCpu()).toThrow('emulated map m: getBatchPerCpu needs a per-CPU map, this is hash');
    expect(() => m.deleteBatch([0])).toThrow(/EINVAL/);
  });

  it('scalars too big for the size are refused, not truncated', () => {
    const m = mk(T.HASH, 4, 8, 2);
    expect(() => m.set(2 ** 32, 1n)).toThrow(/does not fit 4 bytes/);
    m.set(-1, -1n);
    expect(m.get(0xffffffff)).toEqual(Buffer.alloc(8, 0xff));
  });
});

describeRoot('the same MapLike code on a kernel map and an emulated one', () => {
  it('hash map: identical results from setBatch/getBatch/deleteBatch', () => {
    const run = (m: MapLike) => {
      const wrote = m.setBatch([
        [7, 70n],
        [8, 80n],
        [9, 90n],
      ]);
      const deleted = m.deleteBatch([8, 100]);
      const left = m
        .getBatch()
        .map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`)
        .sort();
      return { wrote, deleted, left };
    };
    using kern = BpfMap.create({ name: 'maplike_t', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    const em = mk(T.HASH, 4, 8, 8);
    const k = run(kern);
    expect(k).toEqual({ wrote: 3, deleted: 1, left: [`07000000=${u64(70).toString('hex')}`, `09000000=${u64(90).toString('hex')}`] });
    expect(run(em)).toEqual(k);
  });
});
