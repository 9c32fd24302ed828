// Guarded inputs: nothing hangs, nothing eats the machine. Object files must
// be regular and not huge; numbers handed to the kernel as __u32 are checked
// before they can wrap; a map too big for the machine is refused before
// MAP_CREATE; a verifier log is explained from its tail without copies; a
// BTF type that contains itself is a BpfError, not a TypeError.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { BpfMap, estimateMapBytes, updateFlagValue } from '../../src/maps/map.js';
import { btfCodec } from '../../src/maps/typed.js';
import { parseBtf } from '../../src/btf/btf.js';
import { DEFAULT_MAX_OBJECT_BYTES, readObjectBytes } from '../../src/object/read.js';
import { lastInstruction, logTail, needsPerfmon, verdictLine } from '../../src/programs/verifier-log.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { memAvailableFrom } from '../../src/sys/meminfo.js';
import { loadWarnings } from '../../src/cli/load-warnings.js';
import { BtfBuilder } from '../helpers/btf-builder.js';
import { cli, ensureDist, fixture, ROOT } from '../helpers/cli.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof BpfError)) throw new Error(`not a BpfError: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    return `${e.code}: ${e.message}`;
  }
  throw new Error('did not throw');
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bpf-ts-guards-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('object files: regular files only, size capped', () => {
  it('a FIFO is refused at once (it used to block the read forever)', () => {
    const fifo = join(dir, 'obj.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(code(() => readObjectBytes(fifo))).toBe(`IO: ${fifo}: a FIFO, not an object file: only regular files are read`);
  });

  it('/dev/zero is refused (it used to grow without end)', () => {
    expect(code(() => readObjectBytes('/dev/zero'))).toBe('IO: /dev/zero: a character device, not an object file: only regular files are read');
  });

  it('a file over the cap is refused with its size; maxBytes raises the cap', () => {
    const f = join(dir, 'big.o');
    writeFileSync(f, Buffer.alloc(4096, 1));
    expect(code(() => readObjectBytes(f, { maxBytes: 4095 }))).toBe(`IO: ${f}: 4096 bytes, more than the 4095-byte limit for an object file (raise it with maxBytes / --max-size)`);
    expect(readObjectBytes(f, { maxBytes: 4096 }).byteLength).toBe(4096);
    expect(DEFAULT_MAX_OBJECT_BYTES).toBe(256 * 1024 * 1024);
  });

  it('inspect: FIFO and --max-size through the CLI, one line each', async () => {
    const fifo = join(dir, 'cli.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await cli('inspect', fifo);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`bpf-ts: ${fifo}: a FIFO, not an object file: only regular files are read\n`);
    const small = await cli('inspect', fixture('drop_all.o'), '--max-size', '1K');
    expect(small.code).toBe(1);
    expect(small.stderr).toMatch(/drop_all\.o: \d+ bytes, more than the 1024-byte limit/);
    const ok = await cli('inspect', fixture('drop_all.o'), '--max-size', '1M', '--json');
    expect(ok.code).toBe(0);
    expect(ok.json().programs[0].name).toBe('xdp_drop');
  });
});

describe('numbers the kernel takes as __u32 are checked first', () => {
  const spec = { name: 'guard', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8 };
  it.each([
    [-1, '-1'],
    [1.5, '1.5'],
    [2 ** 32, '4294967296'],
    [NaN, 'NaN'],
  ])('maxEntries %s is a BpfError, not a wrapped value', (maxEntries, shown) => {
    expect(code(() => BpfMap.create({ ...spec, maxEntries }))).toBe(`INVALID_ARGUMENT: map "guard" (hash): maxEntries must be an integer from 0 to 4294967295, got ${shown}`);
  });

  it('BpfMap.fromId(2**32 + id) is refused instead of opening map id', () => {
    expect(code(() => BpfMap.fromId(2 ** 32 + 5))).toBe('INVALID_ARGUMENT: BpfMap.fromId: id must be an integer from 1 to 4294967295, got 4294967301');
    expect(code(() => BpfMap.fromId(0))).toMatch(/^INVALID_ARGUMENT: BpfMap\.fromId: id must be an integer from 1/);
  });

  it("a misspelt update flag ('noExist') is an error, never BPF_ANY", () => {
    expect(code(() => updateFlagValue('noExist', 'map "m"'))).toBe(`INVALID_ARGUMENT: map "m": unknown update flag "noExist" (one of: any, noexist, exist, lock)`);
    expect(code(() => updateFlagValue('toString', 'map "m"'))).toMatch(/unknown update flag "toString"/);
    expect([updateFlagValue('any', ''), updateFlagValue('noexist', ''), updateFlagValue('exist', '')]).toEqual([0, 1, 2]);
  });
});

describe('map memory is estimated before MAP_CREATE', () => {
  it('entries × (key + value), × possible CPUs for per-CPU maps', () => {
    expect(estimateMapBytes({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 4096, maxEntries: 1 << 24 }, 8)).toBe((1 << 24) * 4100);
    expect(estimateMapBytes({ type: BPF_MAP_TYPE.PERCPU_HASH, keySize: 4, valueSize: 4096, maxEntries: 1 << 24 }, 8)).toBe((1 << 24) * 4100 * 8);
    expect(estimateMapBytes({ type: BPF_MAP_TYPE.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20 }, 8)).toBe(1 << 20);
  });

  it('the per-CPU hash that got the loader OOM-killed is refused, with the figures', () => {
    const cpus = possibleCpus();
    const need = (1 << 24) * 4100 * cpus;
    const avail = memAvailableFrom(execFileSync('cat', ['/proc/meminfo'], { encoding: 'utf8' }))!;
    expect(need).toBeGreaterThan(avail); // 2^24 × 4100 B × CPUs is more than this machine has
    const msg = code(() => BpfMap.create({ name: 'huge', type: BPF_MAP_TYPE.PERCPU_HASH, keySize: 4, valueSize: 4096, maxEntries: 1 << 24 }));
    expect(msg).toMatch(
      new RegExp(
        `^MEMORY_LIMIT: map "huge" \\(percpu_hash\\): needs about ${Math.round(need / 1048576)} MiB \\(16777216 entries × \\(4 \\+ 4096\\) bytes × ${cpus} possible CPUs\\), more than the \\d+ MiB available \\((MemAvailable in /proc/meminfo|memory cgroup limit)\\); lower max_entries, or pass ignoreMemoryLimit`,
      ),
    );
  });

  it('reads MemAvailable from /proc/meminfo text', () => {
    expect(memAvailableFrom('MemTotal:       24684092 kB\nMemFree:        22952932 kB\nMemAvailable:   24192996 kB\n')).toBe(24192996 * 1024);
  });
});

describe('verifier logs: explained from the tail, read in place', () => {
  const log = [
    'func#0 @0',
    '0: R1=ctx() R10=fp0',
    '18: (67) r3 <<= 2                     ; R3=scalar()',
    '19: (0f) r2 += r3',
    'R2 has pointer with unsupported alu operation, pointer arithmetic with it prohibited for !root',
    'processed 20 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0',
    '',
  ].join('\n');

  it('bytes and text give the same instruction, verdict and tail', () => {
    const bytes = Buffer.from(log);
    expect(lastInstruction(bytes)).toBe(19);
    expect(lastInstruction(log)).toBe(19);
    expect(verdictLine(bytes)).toBe('R2 has pointer with unsupported alu operation, pointer arithmetic with it prohibited for !root');
    expect(logTail(bytes, 2)).toBe(logTail(log, 2));
    expect(logTail(bytes, 2).split('\n')).toEqual([
      'R2 has pointer with unsupported alu operation, pointer arithmetic with it prohibited for !root',
      'processed 20 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0',
    ]);
    expect(needsPerfmon(bytes)).toBe(true);
    expect(needsPerfmon("R1 invalid mem access 'scalar'\n")).toBe(false);
  });

  it('a 77 MB log is explained within 1.5× its size (decoding and splitting it grew memory by 2.9× the log)', () => {
    ensureDist();
    // In a child, so this process's heap does not blur the figure.
    const script = `
      const { lastInstruction, logTail, verdictLine } = await import(${JSON.stringify(join(ROOT, 'dist/programs/verifier-log.js'))});
      const line = '123: (bf) r3 = r2                       ; R2=pkt(off=14,r=34) R3=pkt(off=14,r=34)\\n';
      const size = 77 * 1024 * 1024;
      // The line repeated (one fill, not a million writes: this must not be slow on a busy machine), then the verdict.
      const log = Buffer.alloc(size, line, 'latin1');
      log.fill(' ', size - 200);
      log.write('\\nR2 invalid mem access\\nprocessed 9 insns\\n', size - 100, 'latin1');
      globalThis.gc(); const before = process.memoryUsage().rss;
      let peak = before;
      const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 1);
      const r = [lastInstruction(log), verdictLine(log), logTail(log).length];
      peak = Math.max(peak, process.memoryUsage().rss);
      clearInterval(t);
      console.log(JSON.stringify({ r, grew: peak - before, size }));
    `;
    const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 240_000 });
    expect(out.status, out.stderr).toBe(0);
    const { r, grew, size } = JSON.parse(out.stdout);
    expect(r[0]).toBe(123);
    expect(r[1]).toBe('R2 invalid mem access');
    // The log itself is the 1×; explaining it may add at most half of that.
    expect(grew).toBeLessThan(size * 0.5);
  }, 300_000);
});

describe('BTF that no compiler writes', () => {
  it('a struct that contains itself is a BpfError naming it, not a TypeError', () => {
    const b = new BtfBuilder();
    const u32 = b.int('u32', 4);
    const id = b.nextId;
    b.composite('struct', 'self', 8, [
      { name: 'a', type: u32, bitOffset: 0 },
      { name: 'me', type: id, bitOffset: 32 },
    ]);
    const btf = parseBtf(b.build(), { littleEndian: true });
    expect(code(() => btfCodec(btf, id).decode(new Uint8Array(8)))).toBe(
      `BTF_INVALID: BTF type [${id}] struct self contains itself (through member me), which no C type can: the BTF is corrupt, so values of this map cannot be decoded`,
    );
  });

  it('a BTF the kernel refused is reported, not silently dropped', () => {
    expect(loadWarnings({ path: 'x.o', btfError: null })).toEqual([]);
    expect(loadWarnings({ path: 'x.o', btfError: '[5] STRUCT s size=4 vlen=1\n\tmember m type_id=5 Loop detected\n' })).toEqual([
      "x.o: the kernel refused the object's BTF (member m type_id=5 Loop detected); loaded without it: maps carry no BTF types (no formatted dumps, no typed access from other tools) and verifier errors name no source lines",
    ]);
  });
});
