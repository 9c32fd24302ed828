// Guarded inputs against the kernel: a misspelt update flag changes nothing,
// testRun({ repeat: -1 }) never reaches BPF_PROG_TEST_RUN, fromId(2**32+id)
// opens nothing, typedMap() on a self-containing BTF type fails with a
// BpfError, and a load whose BTF the kernel refuses says so on stderr.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openObject, type BpfCollection } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BpfMap } from '../../src/maps/map.js';
import { typedMap } from '../../src/maps/typed.js';
import { parseBtf } from '../../src/btf/btf.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { BtfBuilder } from '../helpers/btf-builder.js';
import { cli, fixture } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const thrown = (f: () => unknown): BpfError => {
  try {
    f();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw new Error(`not a BpfError: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('did not throw');
};

/**
 * The object with its struct `name` made to contain itself (first member's
 * type set to the struct's own id), located by walking the raw .BTF records.
 */
function withSelfContainingStruct(obj: Uint8Array, name: string): Uint8Array {
  const out = Uint8Array.from(obj);
  const v = new DataView(out.buffer);
  // ELF64 little-endian section headers → .BTF.
  const shoff = Number(v.getBigUint64(0x28, true));
  const shnum = v.getUint16(0x3c, true);
  const shstr = shoff + v.getUint16(0x3e, true) * 64;
  const strOff = Number(v.getBigUint64(shstr + 24, true));
  let btf = -1;
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    let n = strOff + v.getUint32(h, true);
    let s = '';
    while (out[n]) s += String.fromCharCode(out[n++]!);
    if (s === '.BTF') btf = Number(v.getBigUint64(h + 24, true));
  }
  if (btf < 0) throw new Error('no .BTF');
  const hdrLen = v.getUint32(btf + 4, true);
  const typeStart = btf + hdrLen + v.getUint32(btf + 8, true);
  const typeEnd = typeStart + v.getUint32(btf + 12, true);
  const strings = btf + hdrLen + v.getUint32(btf + 16, true);
  const str = (o: number) => {
    let s = '';
    for (let n = strings + o; out[n]; n++) s += String.fromCharCode(out[n]!);
    return s;
  };
  // Extra bytes per kind after the 12-byte header (btf.h).
  const extra = (kind: number, vlen: number): number => [0, 4, 0, 12, 12 * vlen, 12 * vlen, 8 * vlen, 0, 0, 0, 0, 0, 0, 8 * vlen, 4, 12 * vlen, 0, 4, 0, 12 * vlen][kind] ?? NaN;
  let id = 1;
  for (let o = typeStart; o < typeEnd; id++) {
    const info = v.getUint32(o + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === 4 && vlen > 0 && str(v.getUint32(o, true)) === name) {
      v.setUint32(o + 12 + 4, id, true); // members[0].type = own id
      return out;
    }
    o += 12 + extra(kind, vlen);
  }
  throw new Error(`no struct ${name}`);
}

describeRoot('guarded inputs (kernel)', () => {
  let map: BpfMap;
  let coll: BpfCollection;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-ts-guards-k-'));
    map = BpfMap.create({ name: 'guard_k', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 4 });
    coll = openObject(fixture('drop_all.o')).load({ programs: ['xdp_drop'], programType: 'xdp', ignorePinning: true });
  });
  afterAll(() => {
    map?.close();
    coll?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("set(…, 'noExist') throws and leaves the value as it was (it used to overwrite it as BPF_ANY)", () => {
    map.set(1, 7n);
    const e = thrown(() => map.set(1, 9n, 'noExist' as never));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(map.get(1)).toEqual(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]));
    expect(thrown(() => map.setBatch([[2, 3n]], 'Exist' as never)).code).toBe('INVALID_ARGUMENT');
    expect(map.has(2)).toBe(false);
    // The spelled-right flag still means NOEXIST to the kernel: EEXIST.
    expect(thrown(() => map.set(1, 9n, 'noexist')).message).toMatch(/EEXIST/);
  });

  it('testRun({ repeat: -1 }) is refused before the kernel runs it 4294967295 times', () => {
    const prog = coll.program('xdp_drop');
    const e = thrown(() => prog.testRun(new Uint8Array(64), { repeat: -1 }));
    expect(e.message).toBe('program xdp_drop: testRun: repeat must be an integer from 0 to 4294967295, got -1');
    expect(prog.testRun(new Uint8Array(64), { repeat: 3 }).verdict).toBe('XDP_DROP');
  });

  it('BpfMap.fromId(2**32 + id) does not open map id', () => {
    expect(thrown(() => BpfMap.fromId(2 ** 32 + map.id)).code).toBe('INVALID_ARGUMENT');
    using same = BpfMap.fromId(map.id, { readOnly: true });
    expect(same.name).toBe('guard_k');
  });

  it('typedMap() over a BTF struct that contains itself: BpfError, no TypeError from get()', () => {
    const b = new BtfBuilder();
    const u32 = b.int('u32', 4);
    const id = b.nextId;
    b.composite('struct', 'self', 8, [
      { name: 'a', type: u32, bitOffset: 0 },
      { name: 'me', type: id, bitOffset: 32 },
    ]);
    const btf = parseBtf(b.build(), { littleEndian: true });
    const e = thrown(() => typedMap(map, btf, 0, id).get(1));
    expect(e.code).toBe('BTF_INVALID');
    expect(e.message).toMatch(/struct self contains itself \(through member me\)/);
  });

  it('a BTF the kernel refuses: the load goes on without it and the CLI says so', async () => {
    const patched = join(dir, 'icmp_even_drop.selfbtf.o');
    writeFileSync(patched, withSelfContainingStruct(readFileSync(fixture('icmp_even_drop.o')), 'xdp_md'));
    using c = openObject(patched).load({ programs: ['xdp_even_drop'], programType: 'xdp', ignorePinning: true });
    expect(c.btf).toBeNull();
    expect(c.btfError).toMatch(/xdp_md/);
    const r = await cli('test-run', patched, '--data-hex', '00'.repeat(64));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/XDP_PASS/);
    expect(r.stderr).toMatch(new RegExp(`^bpf-ts: warning: ${patched}: the kernel refused the object's BTF \\(.+\\); loaded without it`));
  });
});
