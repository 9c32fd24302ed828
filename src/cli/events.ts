// Live events for `bpf-ts run`: a reader per ring buffer and perf event
// array of the object, printed as they arrive.

import type { BpfCollection } from '../collection.js';
import { PerfBufferReader } from '../events/perf-buffer.js';
import { RingBufferReader } from '../events/ring-buffer.js';
import type { EventRecord } from '../events/stream.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';

export function hexDump(data: Uint8Array, indent = '  '): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = Array.from(data.subarray(off, off + 16), (b) => b.toString(16).padStart(2, '0'));
    lines.push(`${indent}${off.toString(16).padStart(4, '0')}: ${row.join(' ')}`);
  }
  return lines.join('\n');
}

export function formatEvent(map: string, r: EventRecord, ctx: CommandContext): string {
  if (ctx.json) return JSON.stringify({ map, cpu: r.cpu, data: Buffer.from(r.data).toString('hex'), lost: r.lost });
  const where = r.cpu === null ? map : `${map} cpu ${r.cpu}`;
  const lost = r.lost ? ` (${r.lost} lost before it)` : '';
  return `[${where}] ${r.data.length} bytes${lost}\n${hexDump(r.data)}`;
}

/** Start printing events of every event map; returns a function that stops and closes the readers. */
export function streamEvents(coll: BpfCollection, ctx: CommandContext): () => void {
  const readers: (RingBufferReader | PerfBufferReader)[] = [];
  for (const [name, m] of coll.maps) {
    let reader: RingBufferReader | PerfBufferReader;
    if (m.type === BPF_MAP_TYPE.RINGBUF) reader = new RingBufferReader(m);
    else if (m.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) reader = new PerfBufferReader(m);
    else continue;
    readers.push(reader);
    void (async () => {
      for await (const r of reader) ctx.print(formatEvent(name, r, ctx));
    })();
  }
  return () => {
    for (const r of readers) r.close();
  };
}
