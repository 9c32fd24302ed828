// How `bpf-ts run` prints events: hex dumps, and the header decoded when the
// object's BTF describes the record type (no kernel needed).
import { describe, expect, it } from 'vitest';
import { eventHeaders, formatEvent, hexDump } from '../src/cli/events.js';
import type { CommandContext } from '../src/cli/command.js';
import { BpfError } from '../src/errors.js';
import { parseBtf } from '../src/btf/btf.js';
import { BtfBuilder } from './helpers/btf-builder.js';

function ctx(json: boolean): CommandContext {
  return { json, debug: false, print: () => {}, printJson: () => {} };
}

// struct syn_meta { u32 saddr, daddr; u16 sport, dport; u32 pkt_len; } — 16 bytes.
function synMetaBtf() {
  const b = new BtfBuilder();
  const u32 = b.int('unsigned int', 4);
  const u16 = b.int('unsigned short', 2);
  b.composite('struct', 'syn_meta', 16, [
    { name: 'saddr', type: u32, bitOffset: 0 },
    { name: 'daddr', type: u32, bitOffset: 32 },
    { name: 'sport', type: u16, bitOffset: 64 },
    { name: 'dport', type: u16, bitOffset: 80 },
    { name: 'pkt_len', type: u32, bitOffset: 96 },
  ]);
  return parseBtf(b.build());
}

function record(): Buffer {
  const d = Buffer.alloc(20);
  d.writeUInt32LE(0x0a0b0c0d, 0);
  d.writeUInt32LE(7, 4);
  d.writeUInt16LE(40000, 8);
  d.writeUInt16LE(8080, 10);
  d.writeUInt32LE(4, 12);
  d.set([0xde, 0xad, 0xbe, 0xef], 16);
  return d;
}

describe('event output', () => {
  it('hex dump: 16 bytes a line with offsets', () => {
    expect(hexDump(Uint8Array.from({ length: 18 }, (_, i) => i))).toBe('  0000: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n  0010: 10 11');
  });

  it('--json without BTF: map, cpu, hex data, lost', () => {
    const line = formatEvent('syn_events', { data: record(), cpu: 1, lost: 2 }, ctx(true));
    expect(JSON.parse(line)).toEqual({ map: 'syn_events', cpu: 1, data: record().toString('hex'), lost: 2 });
  });

  it('decodes the header with --event-type and dumps the bytes after it', () => {
    const btf = synMetaBtf();
    const headers = eventHeaders(btf, ['syn_events'], 'syn_meta', 'x.o');
    const h = headers.get('syn_events')!;
    expect(h.size).toBe(16);
    const json = JSON.parse(formatEvent('syn_events', { data: record(), cpu: 0, lost: 0 }, ctx(true), h));
    expect(json.decoded).toEqual({ saddr: 0x0a0b0c0d, daddr: 7, sport: 40000, dport: 8080, pkt_len: 4 });
    const text = formatEvent('syn_events', { data: record(), cpu: 0, lost: 0 }, ctx(false), h);
    expect(text).toBe('[syn_events cpu 0] 20 bytes\n  syn_meta {"saddr":168496141,"daddr":7,"sport":40000,"dport":8080,"pkt_len":4}\n  0000: de ad be ef');
  });

  it('MAP=TYPE applies to one map; unknown names are usage errors', () => {
    const btf = synMetaBtf();
    expect([...eventHeaders(btf, ['a', 'b'], 'b=syn_meta', 'x.o').keys()]).toEqual(['b']);
    expect(() => eventHeaders(btf, ['a'], 'nope', 'x.o')).toThrow(BpfError);
    expect(() => eventHeaders(btf, ['a'], 'c=syn_meta', 'x.o')).toThrow(/no ring buffer or perf event array named c/);
    expect(() => eventHeaders(null, ['a'], 'syn_meta', 'x.o')).toThrow(/no BTF/);
    // Without --event-type and without a struct named "event": nothing decoded.
    expect(eventHeaders(btf, ['a'], undefined, 'x.o').size).toBe(0);
  });
});
