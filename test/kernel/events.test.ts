// vitest: long (100,000-record ring and perf runs: ~13 s)
// Ring buffer and perf event array readers, fed by BPF_PROG_TEST_RUN.
// The readers' behaviour under a real concurrent flood is in events-flood.test.ts.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { type BpfCollection, loadObject, openObject } from '../../src/collection.js';
import { PerfBufferReader } from '../../src/events/perf-buffer.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { ipv4, tcp, udp } from '../helpers/packets.js';
import { ensureDist, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('ring buffer reader', () => {
  it('delivers N records in order with none lost (consume)', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    const frame = udp({ dport: 7, payload: Buffer.alloc(30) });
    c.program('xdp_ringbuf').testRun(frame, { repeat: 1000 });
    const seqs: bigint[] = [];
    const lens: number[] = [];
    const n = reader.consume((d) => {
      seqs.push(Buffer.from(d).readBigUInt64LE(0));
      lens.push(Buffer.from(d).readUInt32LE(8));
    });
    expect(n).toBe(1000);
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)));
    expect(new Set(lens)).toEqual(new Set([frame.length]));
    expect(reader.consume(() => {})).toBe(0);
  });

  it('wraps around the ring many times without losing order', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    // 256 KiB ring, 24-byte records (8 header + 16): ~10,900 per lap; go ~3 laps in chunks.
    let next = 1n;
    for (let round = 0; round < 30; round++) {
      c.program('xdp_ringbuf').testRun(udp({ dport: 7 }), { repeat: 1000 });
      reader.consume((d) => {
        const seq = Buffer.from(d).readBigUInt64LE(0);
        if (seq !== next) expect(seq).toBe(next); // (cheap check first: 30,000 of them)
        next++;
      });
    }
    expect(next).toBe(30001n);
  });

  it('async iteration wakes up through the event loop', async () => {
    using c = loadObject('fixtures/ringbuf.o');
    const reader = new RingBufferReader(c.map('events'));
    const got: bigint[] = [];
    const done = (async () => {
      for await (const rec of reader) {
        expect(rec.cpu).toBeNull();
        got.push(rec.data.readBigUInt64LE(0));
        if (got.length === 5) break;
      }
    })();
    // Produce after the iterator is waiting: readiness must come from poll, not from the first drain.
    setTimeout(() => c.program('xdp_ringbuf').testRun(udp({ dport: 7 }), { repeat: 5 }), 20);
    await done;
    reader.close();
    expect(got).toEqual([1n, 2n, 3n, 4n, 5n]);
  });
});

describeRoot('perf event array reader', () => {
  it('syn_reporter: one sample per SYN with addresses, ports and the frame appended', () => {
    using c = loadObject('fixtures/syn_reporter.o');
    using reader = new PerfBufferReader(c.map('syn_events'));
    expect(reader.cpus).toHaveLength(possibleCpus());
    const syn = tcp({ src: '10.1.2.3', dst: '10.4.5.6', sport: 40001, dport: 8080, flags: 0x02 });
    const synAck = tcp({ src: '10.1.2.3', dst: '10.4.5.6', sport: 40001, dport: 8080, flags: 0x12 });
    const p = c.program('xdp_syn');
    p.testRun(syn);
    p.testRun(synAck); // SYN+ACK is not a connection attempt
    p.testRun(syn, { repeat: 2 });
    const recs: Buffer[] = [];
    reader.consume((r) => {
      expect(r.lost).toBe(0);
      recs.push(r.data);
    });
    expect(recs).toHaveLength(3);
    for (const d of recs) {
      // struct syn_meta { u32 saddr, daddr; u16 sport, dport; u32 pkt_len } in network order, then the frame.
      expect(d.subarray(0, 4)).toEqual(ipv4('10.1.2.3'));
      expect(d.subarray(4, 8)).toEqual(ipv4('10.4.5.6'));
      expect(d.readUInt16BE(8)).toBe(40001);
      expect(d.readUInt16BE(10)).toBe(8080);
      expect(d.readUInt32LE(12)).toBe(syn.length);
      expect(d.subarray(16, 16 + syn.length)).toEqual(syn);
    }
  });
});

describeRoot('ring buffer consumeRaw', () => {
  it('gives offsets into the data area that hold the same records as consume()', () => {
    using c = loadObject('fixtures/ringbuf.o');
    using reader = new RingBufferReader(c.map('events'));
    c.program('xdp_ringbuf').testRun(udp({ dport: 7 }), { repeat: 50 });
    const seqs: bigint[] = [];
    const n = reader.consumeRaw((bytes, offset, length) => {
      expect(length).toBe(16);
      seqs.push(Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).readBigUInt64LE(0));
    });
    expect(n).toBe(50);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
  });
});

// ---------------------------------------------------------------------------
// Readers that end (issue 9, item 4). fixtures/events_seq.o numbers every
// record per map and counts, in its `stats` map, what the kernel refused
// (slot 1: ring buffer reserve failures, slot 3: perf output failures,
// slot 4: discards): the figures the readers' own counts must match.

const SEQ_OBJ = 'fixtures/events_seq.o';
const RB_SEQ = 0;
const RB_FULL = 1;
const PERF_SEQ = 2;
const PERF_FAIL = 3;
const RB_DISCARDED = 4;

function stat(c: BpfCollection, slot: number): number {
  return Number((c.map('stats').get(slot) as Buffer).readBigUInt64LE(0));
}

interface SeqEvent {
  seq: number;
  len: number;
  cpu: number;
}

function seqEvent(d: Uint8Array): SeqEvent {
  const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return { seq: Number(b.readBigUInt64LE(0)), len: b.readUInt32LE(8), cpu: b.readUInt32LE(12) };
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run an ES module body in a child node process that imports bpf-ts from
 * dist/ (and, with `cpu`, pinned to that CPU by taskset). The wait is
 * bounded: a child that does not exit by itself is killed and reported.
 */
function runChild(body: string, opts: { cpu?: number; timeoutMs?: number } = {}): Promise<ChildResult> {
  const prelude = `import { loadObject, openObject, RingBufferReader, PerfBufferReader, BpfError } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
const OBJ = ${JSON.stringify(join(ROOT, SEQ_OBJ))};
const FRAME = Buffer.alloc(60, 0xab);
const seqOf = (d) => Number(Buffer.from(d.buffer, d.byteOffset, d.byteLength).readBigUInt64LE(0));
const codeOf = (f) => { try { f(); return 'none'; } catch (e) { return e instanceof BpfError ? e.code : 'not a BpfError: ' + e; } };
`;
  const argv = ['--input-type=module', '-e', prelude + body];
  const [cmd, args] = opts.cpu === undefined ? [process.execPath, argv] : ['taskset', ['-c', String(opts.cpu), process.execPath, ...argv]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The child exited by itself with status 0; its stdout's last line, parsed. */
function exitedCleanly(r: ChildResult): any {
  expect(r.timedOut, `child did not exit by itself (still running after the bounded wait)\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(false);
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

describeRoot('event readers end (child processes)', () => {
  beforeAll(() => ensureDist(), 180_000);

  it.each([
    ['RingBufferReader', 'rb', 'xdp_rb'],
    ['PerfBufferReader', 'perf', 'xdp_perf'],
  ])('%s: break out of for await closes the reader and the process exits by itself', async (Reader, map, prog) => {
    const r = await runChild(`
const c = loadObject(OBJ);
const r = new ${Reader}(c.map('${map}'));
c.program('${prog}').testRun(FRAME, { repeat: 3 });
const got = [];
for await (const rec of r) { got.push(seqOf(rec.data)); break; }
// No close(), no process.exit(): leaving the loop must be enough.
console.log(JSON.stringify({ got, closed: r.closed }));
`);
    expect(exitedCleanly(r)).toEqual({ got: [1], closed: true });
  });

  it.each([
    ['RingBufferReader', 'rb', 'xdp_rb'],
    ['PerfBufferReader', 'perf', 'xdp_perf'],
  ])('%s: break, then collection.close() (before the loop polls again): no abort', async (Reader, map, prog) => {
    const r = await runChild(`
const c = loadObject(OBJ);
const r = new ${Reader}(c.map('${map}'));
c.program('${prog}').testRun(FRAME, { repeat: 3 });
for await (const rec of r) break;
c.close();
c.close();
r.close();
console.log(JSON.stringify({ closed: r.closed, consume: codeOf(() => r.consume(() => {})) }));
`);
    expect(exitedCleanly(r)).toEqual({ closed: true, consume: 'CLOSED' });
  });

  it.each([
    ['RingBufferReader', 'rb', 'xdp_rb'],
    ['PerfBufferReader', 'perf', 'xdp_perf'],
  ])('%s: closing the collection ends a waiting loop after what the buffer held', async (Reader, map, prog) => {
    const r = await runChild(`
const c = loadObject(OBJ);
const r = new ${Reader}(c.map('${map}'));
const loop = (async () => { const got = []; for await (const rec of r) got.push(seqOf(rec.data)); return got; })();
await new Promise((res) => setTimeout(res, 10)); // the loop waits on an empty buffer
c.program('${prog}').testRun(FRAME, { repeat: 4 });
c.close(); // synchronously: the 4 records are still in the buffer, not yet seen by poll
const got = await loop;
r.close();
c.close();
console.log(JSON.stringify({ got, closed: r.closed }));
`);
    expect(exitedCleanly(r)).toEqual({ got: [1, 2, 3, 4], closed: true });
  });

  it.each([
    ['RingBufferReader', 'rb'],
    ['PerfBufferReader', 'perf'],
  ])('%s: every close order, twice, ends or throws CLOSED and never crashes', async (Reader, map) => {
    const r = await runChild(`
const out = {};
{ // reader first, then the collection, then both again
  const c = loadObject(OBJ); const r = new ${Reader}(c.map('${map}'));
  r.close(); c.close(); r.close(); c.close();
  out.readerFirst = codeOf(() => r.consume(() => {}));
}
{ // collection first: the reader is closed with it
  const c = loadObject(OBJ); const r = new ${Reader}(c.map('${map}'));
  c.close(); c.close();
  out.collectionFirst = { closed: r.closed, consume: codeOf(() => r.consume(() => {})) };
  const got = []; for await (const rec of r) got.push(rec); // ends at once
  out.iterateAfter = got.length;
  r.close();
}
{ // a reader on a map that is already closed
  const c = loadObject(OBJ); const m = c.map('${map}'); c.close();
  out.newOnClosed = codeOf(() => new ${Reader}(m));
}
{ // close() from inside a consume() callback
  const c = loadObject(OBJ); const r = new ${Reader}(c.map('${map}'));
  c.program('${map === 'rb' ? 'xdp_rb' : 'xdp_perf'}').testRun(FRAME, { repeat: 5 });
  out.closeInCallback = r.consume(() => r.close());
  out.afterCallback = codeOf(() => r.consume(() => {}));
  c.close();
}
{ // dispose
  const c = loadObject(OBJ);
  { const r = new ${Reader}(c.map('${map}')); r[Symbol.dispose](); }
  c.close();
}
console.log(JSON.stringify(out));
`);
    expect(exitedCleanly(r)).toEqual({
      readerFirst: 'CLOSED',
      collectionFirst: { closed: true, consume: 'CLOSED' },
      iterateAfter: 0,
      newOnClosed: 'CLOSED',
      closeInCallback: 1,
      afterCallback: 'CLOSED',
    });
  });

  it('perf: lost samples are reported as a count, on the next sample and in total (pinned to CPU 0)', async () => {
    // One data page (4 KiB) per CPU, 32-byte records: 1000 samples overflow it.
    // Pinned to one CPU so the kernel's pending lost count is flushed by the next sample there.
    const r = await runChild(
      `
const c = loadObject(OBJ);
const stat = (k) => Number(c.map('stats').get(k).readBigUInt64LE(0));
const r = new PerfBufferReader(c.map('perf'), { pages: 1 });
c.program('xdp_perf').testRun(FRAME, { repeat: 1000 });
const first = []; r.consume((rec) => first.push({ seq: seqOf(rec.data), cpu: rec.cpu, lost: rec.lost }));
const failed = stat(3);
const lostBefore = r.lost;
c.program('xdp_perf').testRun(FRAME, { repeat: 10 });
const second = []; r.consume((rec) => second.push({ seq: seqOf(rec.data), cpu: rec.cpu, lost: rec.lost }));
console.log(JSON.stringify({ first, second, failed, lostBefore, lostAfter: r.lost, issued: stat(2) }));
r.close(); c.close();
`,
      { cpu: 0 },
    );
    const o = exitedCleanly(r);
    const kept = o.first.length;
    expect(kept).toBeGreaterThan(50);
    expect(kept).toBeLessThan(1000);
    expect(o.first.map((e: any) => e.seq)).toEqual(Array.from({ length: kept }, (_, i) => i + 1));
    expect(new Set(o.first.map((e: any) => e.cpu))).toEqual(new Set([0]));
    expect(o.first.every((e: any) => e.lost === 0)).toBe(true);
    // The program saw bpf_perf_event_output fail for exactly the samples that did not arrive.
    expect(o.failed).toBe(1000 - kept);
    expect(o.lostBefore).toBe(0); // the kernel reports it once there is room again
    expect(o.second.map((e: any) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 1001 + i));
    expect(o.second[0].lost).toBe(o.failed);
    expect(o.second.slice(1).every((e: any) => e.lost === 0)).toBe(true);
    expect(o.lostAfter).toBe(o.failed);
    expect(o.issued).toBe(1010);
  });
});

describeRoot('event readers: volume, wrap-around, discards', () => {
  it('ring buffer: 100,000 records through for await, in order, none lost or duplicated', async () => {
    using c = loadObject(SEQ_OBJ);
    const reader = new RingBufferReader(c.map('rb'));
    const it = reader[Symbol.asyncIterator]();
    const frame = udp({ dport: 9, payload: Buffer.alloc(20) });
    let expected = 1;
    // 64 KiB ring, 24-byte records: ~2,700 fit; 1,000 per round laps it ~37 times.
    for (let round = 0; round < 100; round++) {
      c.program('xdp_rb').testRun(frame, { repeat: 1000 });
      for (let i = 0; i < 1000; i++) {
        const r = await it.next();
        if (r.done) expect(r.done, `record ${round * 1000 + i + 1}`).toBe(false); // (cheap check first: 100,000 of them)
        const e = seqEvent(r.value!.data);
        if (e.seq !== expected) expect(e.seq).toBe(expected); // (cheap check first: 100,000 of them)
        expected++;
      }
    }
    expect(expected - 1).toBe(100_000);
    expect(stat(c, RB_SEQ)).toBe(100_000);
    expect(stat(c, RB_FULL)).toBe(0);
    expect(reader.discarded).toBe(0);
    expect(await it.return!()).toEqual({ value: undefined, done: true });
    expect(reader.closed).toBe(true);
  }, 120_000);

  it('perf buffer: 100,000 samples through for await, none lost or duplicated, per-CPU order kept', async () => {
    using c = loadObject(SEQ_OBJ);
    const reader = new PerfBufferReader(c.map('perf'));
    const it = reader[Symbol.asyncIterator]();
    const frame = udp({ dport: 9, payload: Buffer.alloc(20) });
    const seen = new Uint8Array(100_001);
    const lastOnCpu = new Map<number, number>();
    let dups = 0;
    let disorder = 0;
    for (let round = 0; round < 100; round++) {
      c.program('xdp_perf').testRun(frame, { repeat: 1000 });
      for (let i = 0; i < 1000; i++) {
        const r = await it.next();
        if (r.done) expect(r.done, `record ${round * 1000 + i + 1}`).toBe(false); // (cheap check first: 100,000 of them)
        const e = seqEvent(r.value!.data);
        if (seen[e.seq]) dups++;
        seen[e.seq] = 1;
        if ((lastOnCpu.get(r.value!.cpu!) ?? 0) > e.seq) disorder++;
        lastOnCpu.set(r.value!.cpu!, e.seq);
        if (e.cpu !== r.value!.cpu) disorder++; // the ring it came from is the CPU that wrote it
      }
    }
    expect({ dups, disorder, lost: reader.lost }).toEqual({ dups: 0, disorder: 0, lost: 0 });
    expect(seen.subarray(1).every((b) => b === 1)).toBe(true);
    expect(stat(c, PERF_SEQ)).toBe(100_000);
    expect(stat(c, PERF_FAIL)).toBe(0);
    await it.return!();
    expect(reader.closed).toBe(true);
  }, 120_000);

  it('perf buffer wrap-around: records of varying size split across the ring end arrive whole', () => {
    const spec = openObject(SEQ_OBJ);
    spec.setGlobal('perf_tail', 256); // append the whole frame to each sample
    using c = spec.load();
    using reader = new PerfBufferReader(c.map('perf'), { pages: 1 });
    const ring = 4096;
    const frames = new Map<number, Buffer>();
    let seq = 0;
    let bytes = 0;
    const got = new Map<number, { cpu: number; data: Buffer }>();
    for (let round = 0; round < 300; round++) {
      // 15 records of up to 200 bytes stay under one 4 KiB page between reads.
      for (let i = 0; i < 15; i++) {
        const frame = udp({ dport: 9, payload: Buffer.alloc((seq * 7) % 111, seq & 0xff) });
        frames.set(++seq, frame);
        c.program('xdp_perf').testRun(frame);
        // header 8 + (u32 size + 16-byte event + frame) rounded up to 8
        bytes += 8 + ((4 + 16 + frame.length + 7) & ~7);
      }
      reader.consume((r) => {
        const e = seqEvent(r.data);
        if (got.has(e.seq)) throw new Error(`seq ${e.seq} delivered twice`);
        got.set(e.seq, { cpu: r.cpu!, data: r.data });
      });
    }
    expect(bytes / ring).toBeGreaterThan(50); // the ring wrapped over 50 times
    expect(got.size).toBe(seq);
    expect(reader.lost).toBe(0);
    const bad: number[] = [];
    for (const [s, { cpu, data }] of got) {
      const frame = frames.get(s)!;
      const e = seqEvent(data);
      // The sample's raw size may be padded: the frame follows the 16-byte event.
      if (e.len !== frame.length || e.cpu !== cpu || !data.subarray(16, 16 + frame.length).equals(frame)) bad.push(s);
    }
    expect(bad).toEqual([]);
  });

  it('ring buffer: discarded records are skipped and counted', () => {
    const spec = openObject(SEQ_OBJ);
    spec.setGlobal('discard_every', 3);
    using c = spec.load();
    using reader = new RingBufferReader(c.map('rb'));
    const seqs: number[] = [];
    for (let round = 0; round < 3; round++) {
      c.program('xdp_rb').testRun(udp({ dport: 9 }), { repeat: 1000 });
      reader.consume((d) => seqs.push(seqEvent(d).seq));
    }
    const expected = Array.from({ length: 3000 }, (_, i) => i + 1).filter((s) => s % 3 !== 0);
    expect(seqs).toEqual(expected);
    expect(reader.discarded).toBe(1000);
    expect(stat(c, RB_DISCARDED)).toBe(1000);
    expect(stat(c, RB_FULL)).toBe(0);
  });
});
