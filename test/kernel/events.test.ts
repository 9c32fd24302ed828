// Ring buffer and perf event array readers, fed by BPF_PROG_TEST_RUN.
import { expect, it } from 'vitest';
import { loadObject } from '../../src/collection.js';
import { PerfBufferReader } from '../../src/events/perf-buffer.js';
import { RingBufferReader } from '../../src/events/ring-buffer.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { ipv4, tcp, udp } from '../helpers/packets.js';
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
        expect(Buffer.from(d).readBigUInt64LE(0)).toBe(next);
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
