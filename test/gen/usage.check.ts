// Type test for generated modules (compiled by test/gen/gen.test.ts with
// tsc --strict after test/.gen is generated): right uses compile, and every
// line marked as an expected error must be a compile error, or tsc fails the test.
import { open as openGlobals } from '../.gen/globals.js';
import { open as openLpm, type ipv4_lpm_key } from '../.gen/lpm_blocklist.js';
import { open as openEvents, pkt_event } from '../.gen/events_typed.js';

const g = openGlobals();
g.rodata.drop_port = 9;
// @ts-expect-error a string for a u32 const volatile
g.rodata.drop_port = 'nine';
{
  using c = g.load();
  const total: bigint = c.globals.seen_total;
  c.globals.seen_total = total + 1n;
  // @ts-expect-error a number for a u64 global
  c.globals.seen_total = 1;
  const hits: BigUint64Array = c.globals.hits;
  void hits;
  // @ts-expect-error .rodata is read-only after load
  c.rodata.drop_port = 1;
  c.programs.xdp_globals?.testRun(new Uint8Array(64));
}

const l = openLpm().load();
const key: ipv4_lpm_key = { prefixlen: 24, addr: 0x0a0000 };
l.maps.blocklist.set(key, 1n);
const hit: bigint | undefined = l.maps.blocklist.get(key);
void hit;
// @ts-expect-error a number where the key is struct ipv4_lpm_key
l.maps.blocklist.get(5);
// @ts-expect-error a key missing a field
l.maps.blocklist.set({ prefixlen: 8 }, 1n);
const perCpu: bigint[] | undefined = l.maps.drops.get(0);
void perCpu;
// @ts-expect-error per-CPU maps return one value per CPU
const notArray: bigint | undefined = l.maps.drops.get(0);
void notArray;
l.close();

const e = openEvents().load();
const ev: pkt_event = pkt_event.decode(new Uint8Array(32));
const tag: string = ev.tag;
const src: Uint8Array = ev.src;
void [tag, src];
for (const [k, v] of e.maps.last) {
  const ifindex: number = k.ifindex;
  const seq: bigint = v.seq;
  void [ifindex, seq];
}
// @ts-expect-error no such map
void e.maps.nope;
e.close();
