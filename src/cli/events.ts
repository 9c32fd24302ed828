// Live events for `bpf-ts run`: a reader per ring buffer and perf event
// array of the object, printed as they arrive.

import { decodeBtfValue } from '../btf/values/decode.js';
import { toJsonValue } from '../btf/values/json.js';
import type { BpfCollection } from '../collection.js';
import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { PerfBufferReader } from '../events/perf-buffer.js';
import { RingBufferReader } from '../events/ring-buffer.js';
import type { EventRecord } from '../events/stream.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';
import { writeStderr } from './lifecycle.js';

export function hexDump(data: Uint8Array, indent = '  '): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = Array.from(data.subarray(off, off + 16), (b) => b.toString(16).padStart(2, '0'));
    lines.push(`${indent}${off.toString(16).padStart(4, '0')}: ${row.join(' ')}`);
  }
  return lines.join('\n');
}

/** How to decode the start of each record: a BTF struct of the object. */
export interface EventHeader {
  btf: Btf;
  typeId: number;
  name: string;
  size: number;
}

/**
 * The BTF type that describes each map's records: `--event-type TYPE` (every
 * event map) or `MAP=TYPE`; without it, a struct named `event` (the
 * libbpf-bootstrap convention) when the object has one.
 */
export function eventHeaders(btf: Btf | null, maps: string[], spec: string | undefined, source: string): Map<string, EventHeader> {
  const out = new Map<string, EventHeader>();
  if (!btf) {
    if (spec) throw new BpfError('USAGE', `--event-type: ${source} has no BTF to decode events with`);
    return out;
  }
  const [mapName, typeName] = spec?.includes('=') ? spec.split('=', 2) : [undefined, spec ?? 'event'];
  const t = btf.findByName(typeName!, 'struct') ?? btf.findByName(typeName!, 'union');
  if (!t) {
    if (spec) throw new BpfError('USAGE', `--event-type: ${source} has no struct or union named ${typeName}`);
    return out;
  }
  for (const m of maps) {
    if (mapName === undefined || mapName === m) out.set(m, { btf, typeId: t.id, name: typeName!, size: btf.resolveSize(t.id) });
  }
  if (mapName !== undefined && !maps.includes(mapName)) throw new BpfError('USAGE', `--event-type: ${source} has no ring buffer or perf event array named ${mapName}`);
  return out;
}

function decodeHeader(h: EventHeader | undefined, data: Uint8Array): unknown {
  if (!h || data.length < h.size) return undefined;
  return toJsonValue(decodeBtfValue(h.btf, h.typeId, data));
}

export function formatEvent(map: string, r: EventRecord, ctx: CommandContext, header?: EventHeader): string {
  const decoded = decodeHeader(header, r.data);
  if (ctx.json) {
    return JSON.stringify({ map, cpu: r.cpu, data: Buffer.from(r.data).toString('hex'), lost: r.lost, ...(decoded !== undefined ? { decoded } : {}) });
  }
  const where = r.cpu === null ? map : `${map} cpu ${r.cpu}`;
  const lost = r.lost ? ` (${r.lost} lost before it)` : '';
  const head = decoded !== undefined ? `\n  ${header!.name} ${JSON.stringify(decoded)}` : '';
  const rest = decoded !== undefined ? r.data.subarray(header!.size) : r.data;
  const dump = rest.length ? `\n${hexDump(rest)}` : '';
  return `[${where}] ${r.data.length} bytes${lost}${head}${dump}`;
}

const isEventMap = (type: number) => type === BPF_MAP_TYPE.RINGBUF || type === BPF_MAP_TYPE.PERF_EVENT_ARRAY;

/** Start printing events of every event map; returns a function that stops and closes the readers. */
export function streamEvents(coll: BpfCollection, ctx: CommandContext, headers: Map<string, EventHeader> = new Map()): () => void {
  const readers: (RingBufferReader | PerfBufferReader)[] = [];
  for (const [name, m] of coll.maps) {
    if (!isEventMap(m.type)) continue;
    let reader;
    try {
      reader = m.type === BPF_MAP_TYPE.RINGBUF ? new RingBufferReader(m) : new PerfBufferReader(m);
    } catch (e) {
      // The readers already open would keep the process alive: close them with the failure.
      for (const r of readers) r.close();
      throw e;
    }
    readers.push(reader);
    printEach(reader, (r) => formatEvent(name, r, ctx, headers.get(name)), ctx, `events from ${name}`);
  }
  return () => {
    for (const r of readers) r.close();
  };
}

/**
 * Print each item of `source` as it arrives. A source that fails (polling
 * error, corrupt buffer) ends with one line on stderr naming `what`, not an
 * unhandled rejection.
 */
export function printEach<T>(source: AsyncIterable<T>, format: (item: T) => string, ctx: CommandContext, what: string): void {
  void (async () => {
    for await (const item of source) ctx.print(format(item));
  })().catch((e: unknown) => {
    writeStderr(`bpf-ts: ${what} stopped: ${e instanceof Error ? e.message : String(e)}\n`);
  });
}

/** Names of the maps streamEvents reads. */
export function eventMapNames(coll: BpfCollection): string[] {
  return [...coll.maps].filter(([, m]) => isEventMap(m.type)).map(([n]) => n);
}
