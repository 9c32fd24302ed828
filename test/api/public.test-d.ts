// Type-level tests of the public API, checked by tsc with tsconfig.test.json
// (test/typecheck.test.ts in `npm test`; `npm run typecheck`). A user writes no casts.
import { describe, expectTypeOf, it } from 'vitest';
import {
  attachCgroupLink,
  attachTc,
  attachTcx,
  attachXdp,
  attachXdpLink,
  BpfError,
  BpfLink,
  BpfMap,
  BpfProgram,
  CgroupLink,
  CoreRelocationError,
  TcxLink,
  VerifierError,
  XdpLink,
  openObject,
  RingBufferReader,
  type CgroupAttachTypeName,
  type MapCreateSpec,
  type MapSpec,
  type LineInfo,
  type ProgramTypeOption,
  type UpdateFlags,
} from '../../src/index.js';

declare const map: BpfMap;
declare const prog: BpfProgram;

describe('maps', () => {
  it('get() is a Buffer or undefined; per-CPU values come from getPerCpu()', () => {
    expectTypeOf(map.get(1)).toEqualTypeOf<Buffer | undefined>();
    expectTypeOf(map.getPerCpu(1)).toEqualTypeOf<Buffer[] | undefined>();
    expectTypeOf(map.lookupAndDelete()).toEqualTypeOf<Buffer | undefined>();
    expectTypeOf(map.lookupAndDeletePerCpu(1)).toEqualTypeOf<Buffer[] | undefined>();
  });
  it('update flags are names, alone or combined with lock', () => {
    expectTypeOf<'lock'>().toMatchTypeOf<UpdateFlags>();
    expectTypeOf<['exist', 'lock']>().toMatchTypeOf<UpdateFlags>();
    expectTypeOf<'exists'>().not.toMatchTypeOf<UpdateFlags>();
    map.set(1, 2, ['exist', 'lock']);
    // @ts-expect-error: not a flag name
    map.set(1, 2, 'exists');
  });
});

describe('attach', () => {
  it('takes a BpfProgram or a raw fd, and the interface as iface', () => {
    expectTypeOf(attachXdpLink({ iface: 'eth0', program: prog })).toEqualTypeOf<XdpLink>();
    expectTypeOf(attachXdpLink({ iface: 3, program: 7 })).toEqualTypeOf<XdpLink>();
    attachXdp({ iface: 'eth0', progFd: 7 });
    attachTc({ iface: 'eth0', direction: 'ingress', program: prog });
    expectTypeOf(attachTcx({ iface: 'eth0', direction: 'egress', program: prog })).toEqualTypeOf<TcxLink>();
    expectTypeOf(attachCgroupLink({ cgroup: 'app', attachType: 'sock_ops', program: prog })).toEqualTypeOf<CgroupLink>();
    // @ts-expect-error: the interface is `iface`
    attachXdp({ ifname: 'eth0', program: prog });
    // @ts-expect-error: a program is required
    attachXdp({ iface: 'eth0' });
  });
  it('every link kind is a BpfLink', () => {
    expectTypeOf<XdpLink>().toMatchTypeOf<BpfLink>();
    expectTypeOf<TcxLink>().toMatchTypeOf<BpfLink>();
    expectTypeOf<CgroupLink>().toMatchTypeOf<BpfLink>();
    expectTypeOf<XdpLink['id']>().toEqualTypeOf<number>();
    expectTypeOf<XdpLink['progId']>().toEqualTypeOf<number>();
  });
});

describe('type names', () => {
  it('programType and cgroup attachType are the names the library knows, or numbers', () => {
    expectTypeOf<'xdp'>().toMatchTypeOf<ProgramTypeOption>();
    expectTypeOf<'tc'>().toMatchTypeOf<ProgramTypeOption>();
    expectTypeOf<6>().toMatchTypeOf<ProgramTypeOption>();
    expectTypeOf<'xpd'>().not.toMatchTypeOf<ProgramTypeOption>();
    expectTypeOf<'sock_ops'>().toMatchTypeOf<CgroupAttachTypeName>();
    expectTypeOf<'sockops'>().not.toMatchTypeOf<CgroupAttachTypeName>();
    // @ts-expect-error: a misspelt program type
    openObject('x.o').load({ programType: 'xpd' });
    // @ts-expect-error: a misspelt hook
    attachCgroupLink({ cgroup: 'app', attachType: 'sockops', program: prog });
  });
});

describe('errors', () => {
  it('verifier and CO-RE failures are typed BpfErrors', () => {
    expectTypeOf<VerifierError>().toMatchTypeOf<BpfError>();
    expectTypeOf<VerifierError['log']>().toEqualTypeOf<string>();
    expectTypeOf<VerifierError['instruction']>().toEqualTypeOf<number>();
    expectTypeOf<VerifierError['sourceLine']>().toEqualTypeOf<LineInfo | undefined>();
    expectTypeOf<CoreRelocationError>().toMatchTypeOf<BpfError>();
  });
});

describe('map iteration', () => {
  it('entries() and getBatch() yield one Buffer per key; per-CPU maps through the *PerCpu calls', () => {
    expectTypeOf(map.entries()).toEqualTypeOf<Generator<[Buffer, Buffer]>>();
    expectTypeOf(map.entriesPerCpu()).toEqualTypeOf<Generator<[Buffer, Buffer[]]>>();
    expectTypeOf(map.entriesBatch()).toEqualTypeOf<Generator<[Buffer, Buffer]>>();
    expectTypeOf(map.entriesBatchPerCpu({ andDelete: true })).toEqualTypeOf<Generator<[Buffer, Buffer[]]>>();
    expectTypeOf(map.getBatch({ batchSize: 64 })).toEqualTypeOf<[Buffer, Buffer][]>();
    expectTypeOf(map.getBatchPerCpu()).toEqualTypeOf<[Buffer, Buffer[]][]>();
    for (const [k, v] of map) {
      expectTypeOf(k).toEqualTypeOf<Buffer>();
      expectTypeOf(v).toEqualTypeOf<Buffer>();
      v.readUInt32LE(0);
    }
    for (const [, v] of map.getBatchPerCpu()) expectTypeOf(v).toEqualTypeOf<Buffer[]>();
    // @ts-expect-error: a per-CPU batch holds arrays, not one Buffer
    map.getBatchPerCpu()[0]?.[1].readUInt32LE(0);
  });
});

describe('object layer', () => {
  it('a parsed MapSpec is a MapCreateSpec: BpfMap.create() takes it as it is', () => {
    expectTypeOf<MapSpec>().toMatchTypeOf<MapCreateSpec>();
  });

  it('a map type by name or number; a misspelt name does not compile', () => {
    expectTypeOf<{ name: 'a'; type: 'percpu_array'; keySize: 4; valueSize: 8; maxEntries: 1 }>().toMatchTypeOf<MapCreateSpec>();
    expectTypeOf<{ name: 'a'; type: 6; keySize: 4; valueSize: 8; maxEntries: 1 }>().toMatchTypeOf<MapCreateSpec>();
    // @ts-expect-error: not a map type name
    const bad: MapCreateSpec = { name: 'a', type: 'percpu_arary', keySize: 4, valueSize: 8, maxEntries: 1 };
    void bad;
  });
});

describe('ring buffer walk', () => {
  it('offsets and lengths are numbers, the views typed arrays: no cast in the loop', () => {
    const rb = new RingBufferReader(map);
    expectTypeOf(rb.firstRecord()).toEqualTypeOf<number>();
    expectTypeOf(rb.recordAfter(8)).toEqualTypeOf<number>();
    expectTypeOf(rb.recordLength).toEqualTypeOf<number>();
    expectTypeOf(rb.words).toEqualTypeOf<Uint32Array>();
    expectTypeOf(rb.data).toEqualTypeOf<Uint8Array>();
    expectTypeOf(rb.releaseBatch()).toEqualTypeOf<void>();
  });
});
