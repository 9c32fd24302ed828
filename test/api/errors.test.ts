// Typed errors from the public API: every failure is a BpfError with a
// stable code; verifier and CO-RE refusals are their own subclasses; a closed
// collection says it is closed.
import { describe, expect, it } from 'vitest';
import { BpfError, CoreRelocationError, VerifierError, openObject } from '../../src/index.js';
import { describeRoot } from '../helpers/root.js';

const usage = (text: string) => expect.objectContaining({ name: 'BpfError', code: 'USAGE', message: expect.stringContaining(text) });

describe('setGlobal refuses what is not an integer', () => {
  it.each([
    ['nine', '"nine"'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
  ])('%j is a USAGE BpfError naming the variable', (value, shown) => {
    const spec = openObject('fixtures/globals.o');
    // A string reaches here from untyped callers (JS, JSON config).
    expect(() => spec.setGlobal('drop_port', value as unknown as number)).toThrowError(usage(`global drop_port takes an integer`));
    expect(() => spec.setGlobal('drop_port', value as unknown as number)).toThrowError(usage(`got ${shown}`));
  });
});

describe('error classes', () => {
  it('VerifierError and CoreRelocationError are BpfErrors with their codes', () => {
    const v = new VerifierError('m', { log: '0: (b7) r0 = 0\n', instruction: 0 });
    expect(v).toBeInstanceOf(BpfError);
    expect([v.code, v.name, v.instruction, v.sourceLine]).toEqual(['VERIFIER', 'VerifierError', 0, undefined]);
    const c = new CoreRelocationError('m');
    expect(c).toBeInstanceOf(BpfError);
    expect([c.code, c.name, c.instruction, c.log]).toEqual(['CORE_RELOCATION', 'CoreRelocationError', -1, '']);
  });
});

describeRoot('a closed collection', () => {
  it('says it is closed, naming the object and what was asked for', () => {
    const coll = openObject('fixtures/globals.o').load();
    expect(coll.closed).toBe(false);
    expect(coll.program('xdp_globals').name).toBe('xdp_globals');
    coll.close();
    expect(coll.closed).toBe(true);
    expect(() => coll.program('xdp_globals')).toThrowError(
      expect.objectContaining({ code: 'CLOSED', message: expect.stringMatching(/^fixtures\/globals\.o: cannot get program xdp_globals: the collection was closed/) }),
    );
    expect(() => coll.map('.data')).toThrowError(expect.objectContaining({ code: 'CLOSED', message: expect.stringContaining('map .data') }));
  });
});

describe('the library throws only BpfErrors', () => {
  it('a malformed capability set is an INVALID_ARGUMENT BpfError', async () => {
    const { parseCapHex } = await import('../../src/sys/caps.js');
    expect(parseCapHex('000001fffeffffff')).toBe(0x1fffeffffffn);
    expect(() => parseCapHex('zz')).toThrowError(expect.objectContaining({ name: 'BpfError', code: 'INVALID_ARGUMENT' }));
  });

  it('no source file throws a bare Error, RangeError, TypeError or SyntaxError', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(100);
    const raw = files.flatMap((f) =>
      readFileSync(`src/${f}`, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `src/${f}:${i + 1}`, line }))
        .filter(({ line }) => /\bthrow new (Error|RangeError|TypeError|SyntaxError)\(/.test(line)),
    );
    expect(raw.map((r) => r.where)).toEqual([]);
  });
});
