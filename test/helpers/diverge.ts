// When the emulator and a reference (the kernel's BPF_PROG_TEST_RUN, which
// shows no trace) disagree on a packet: name the packet, what differs, and
// the first instruction that explains it — found on the emulator's side by
// replaying the packet with a trace from the emulator's state before the
// run: the last write to the differing packet byte or map entry, or the last
// instruction that set r0 for a return value.

import type { EmulateOptions, EmulatedCollection } from '../../src/vm/emulate.js';
import type { TraceStep } from '../../src/vm/vm.js';

type Value = Buffer | Buffer[];
export type MapDump = Record<string, string>;

/** A collection a run's outcome can be read from: the kernel's or the emulator's. */
export interface RunSide {
  program(name: string): { testRun(data: Buffer): { retval: number; dataOut: Uint8Array } };
  map(name: string): Walkable;
}

/** A map's two iterations (kernel's or emulator's): one value, or one per CPU. */
interface Walkable {
  perCpu: boolean;
  entries(): Iterable<[Buffer, Buffer]>;
  entriesPerCpu(): Iterable<[Buffer, Buffer[]]>;
}

/** Every [key, value] of a map, per-CPU or not. */
export function allEntries(map: Walkable): [Buffer, Value][] {
  return map.perCpu ? [...map.entriesPerCpu()] : [...map.entries()];
}

/** One normal form for a value: per-CPU values summed word by word (u64 when they divide evenly). */
export function norm(v: Value): string {
  if (!Array.isArray(v)) return v.toString('hex');
  const size = v[0]?.length ?? 0;
  const sum = Buffer.alloc(size);
  if (size % 8 === 0) for (let o = 0; o < size; o += 8) sum.writeBigUInt64LE(v.reduce((a, b) => a + b.readBigUInt64LE(o), 0n) & ((1n << 64n) - 1n), o);
  else for (const b of v) for (let i = 0; i < size; i++) sum.writeUInt8(sum.readUInt8(i) | b.readUInt8(i), i);
  return sum.toString('hex');
}

export function dump(map: Walkable): MapDump {
  const out: MapDump = {};
  for (const [k, v] of allEntries(map)) out[k.toString('hex')] = norm(v);
  return out;
}

/** The emulator's maps as they are, to replay a run from this state. */
export type Snapshot = Map<string, [Buffer, Value][]>;

export function snapshot(em: EmulatedCollection, maps: string[]): Snapshot {
  return new Map(maps.map((m) => [m, allEntries(em.map(m))]));
}

export type Difference =
  { kind: 'retval'; ref: number; emu: number } | { kind: 'data'; offset: number; ref: string; emu: string } | { kind: 'map'; map: string; key: string; ref?: string; emu?: string };

interface Outcome {
  retval: number;
  dataOut: Uint8Array;
  maps: Record<string, MapDump>;
}

/** The first way two outcomes differ: return value, then output bytes, then map entries (by map, then key). */
export function firstDifference(ref: Outcome, emu: Outcome): Difference | undefined {
  if (ref.retval !== emu.retval) return { kind: 'retval', ref: ref.retval, emu: emu.retval };
  const a = Buffer.from(ref.dataOut);
  const b = Buffer.from(emu.dataOut);
  if (!a.equals(b)) {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    const at = (x: Buffer) => (i < x.length ? x.subarray(i, i + 1).toString('hex') : `end (${x.length} bytes)`);
    return { kind: 'data', offset: i, ref: at(a), emu: at(b) };
  }
  for (const m of Object.keys(ref.maps)) {
    const r = ref.maps[m] ?? {};
    const e = emu.maps[m] ?? {};
    for (const key of [...new Set([...Object.keys(r), ...Object.keys(e)])].sort()) {
      if (r[key] !== e[key]) return { kind: 'map', map: m, key, ref: r[key], emu: e[key] };
    }
  }
  return undefined;
}

function describe(d: Difference): string {
  if (d.kind === 'retval') return `retval: reference ${d.ref}, emulator ${d.emu}`;
  if (d.kind === 'data') return `data out byte ${d.offset}: reference ${d.ref}, emulator ${d.emu}`;
  return `map ${d.map} key ${d.key}: reference ${d.ref ?? 'absent'}, emulator ${d.emu ?? 'absent'}`;
}

const stepText = (s: TraceStep) => `${s.program} instruction ${s.slot} (${s.text})${s.source ? ` at ${s.source.fileName}:${s.source.line}: ${s.source.source.trim()}` : ''}`;

/**
 * Replay `pkt` through `program` in a fresh emulator made by `make` (with a
 * trace), its maps restored from `before`, and find the instruction behind
 * difference `d`. Returns the sentence naming it.
 */
export function explain(make: (extra: EmulateOptions) => EmulatedCollection, before: Snapshot, program: string, pkt: Buffer, d: Difference): string {
  const watch = (em: EmulatedCollection): (() => string | undefined) => {
    if (d.kind === 'data') {
      return () => {
        const p = em.state?.pkt;
        if (!p) return undefined;
        return d.offset < p.end - p.data ? (p.buf[p.data + d.offset] ?? NaN).toString(16) : `end ${p.end - p.data}`;
      };
    }
    if (d.kind === 'map') {
      const key = Buffer.from(d.key, 'hex');
      return () => {
        const v = em.map(d.map).get(key);
        return v === undefined ? undefined : norm(v);
      };
    }
    return () => undefined;
  };
  let last: TraceStep | undefined;
  let prev: string | undefined;
  let read: () => string | undefined = () => undefined;
  const calls: TraceStep[] = [];
  let steps = 0;
  const em = make({
    trace: (s) => {
      steps++;
      if (/^call /.test(s.text)) calls.push(s);
      if (d.kind === 'retval') {
        if (s.changed.some(([r]) => r === 0)) last = s;
        return;
      }
      const now = read();
      if (now !== prev) last = s;
      prev = now;
    },
  });
  for (const [m, entries] of before) for (const [k, v] of entries) em.map(m).set(k, v);
  read = watch(em);
  if (d.kind === 'data') prev = d.offset < pkt.length ? pkt.readUInt8(d.offset).toString(16) : `end ${pkt.length}`;
  else prev = read();
  em.program(program).testRun(pkt);
  const what = d.kind === 'retval' ? 'the last instruction to set r0' : d.kind === 'data' ? `the last write to packet byte ${d.offset}` : `the last write to ${d.map}[${d.key}]`;
  if (last) return `first differing instruction: ${stepText(last)} (${what} in the emulator)`;
  const via = calls.length ? `; its calls on this path: ${calls.map(stepText).join('; ')}` : '';
  return `no instruction of the emulator's ${steps}-instruction run changed it (the reference did)${via}`;
}

/**
 * Run `pkt` through `program` on both sides and compare retval, output bytes
 * and `maps`. Undefined when they agree; else the message: packet (hex), the
 * difference, and the instruction behind it.
 */
export function compareRun(opts: {
  label: string;
  ref: RunSide;
  emu: EmulatedCollection;
  make: (extra: EmulateOptions) => EmulatedCollection;
  program: string;
  pkt: Buffer;
  maps: string[];
  /** The reference's outcome when already run (e.g. to handle its refusals first). */
  refRun?: { retval: number; dataOut: Uint8Array };
}): string | undefined {
  const before = snapshot(opts.emu, opts.maps);
  const k = opts.refRun ?? opts.ref.program(opts.program).testRun(opts.pkt);
  const e = opts.emu.program(opts.program).testRun(opts.pkt);
  const ref: Outcome = { retval: k.retval, dataOut: k.dataOut, maps: Object.fromEntries(opts.maps.map((m) => [m, dump(opts.ref.map(m))])) };
  const emu: Outcome = { retval: e.retval, dataOut: e.dataOut, maps: Object.fromEntries(opts.maps.map((m) => [m, dump(opts.emu.map(m))])) };
  const d = firstDifference(ref, emu);
  if (!d) return undefined;
  let why: string;
  try {
    why = explain(opts.make, before, opts.program, opts.pkt, d);
  } catch (err) {
    why = `replaying it with a trace failed: ${(err as Error).message}`;
  }
  return `${opts.label} ${opts.program} on packet ${opts.pkt.toString('hex')}: ${describe(d)}; ${why}`;
}
