// Read events from a ring buffer and a perf event array, stop, and let the process end.
// Run from the repository root, as root:  sudo node docs/examples/events.mjs
import { loadObject, RingBufferReader, PerfBufferReader } from 'bpf-ts';

// events_seq.o writes {u64 seq; u32 len; u32 cpu} to both maps per packet.
const obj = loadObject('fixtures/events_seq.o');
try {
  const rb = new RingBufferReader(obj.map('rb'));
  const perf = new PerfBufferReader(obj.map('perf'));
  obj.program('xdp_both').testRun(Buffer.alloc(64), { repeat: 5 }); // five "packets"

  for await (const rec of rb) {
    const seq = rec.data.readBigUInt64LE(0);
    console.log(`ring buffer: seq ${seq}`);
    if (seq === 3n) break; // leaving the loop closes the reader
  }
  console.log(`ring buffer reader closed: ${rb.closed}`);

  let n = 0;
  for await (const { cpu, data, lost } of perf) {
    console.log(`perf: seq ${data.readBigUInt64LE(0)} from CPU ${cpu}${lost ? `, ${lost} lost before it` : ''}`);
    if (++n === 5) break;
  }
  console.log(`perf samples lost in all: ${perf.lost}`);
} finally {
  obj.close(); // would also end any reader still open on its maps
}
// No process.exit(): nothing is left polling, so node exits by itself.
