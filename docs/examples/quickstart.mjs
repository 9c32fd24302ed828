// Open an object, set a .rodata constant, load, write a map, test-run, read counters.
// Run from the repository root, as root:  sudo node docs/examples/quickstart.mjs
import { openObject } from 'bpf-ts';

// Ethernet + IPv4 (10.0.0.1 -> 10.0.0.2) + UDP (40000 -> 9) + "hello".
const frame = Buffer.from('020000000002020000000001' + '0800' + '4500002100010000401166c80a0000010a000002' + '9c400009000d0000' + '68656c6c6f', 'hex');

const spec = openObject('fixtures/globals.o');
spec.setGlobal('drop_port', 9); // const volatile __u32 drop_port, in .rodata
const obj = spec.load();
try {
  // .bss holds __u64 hits[4]: start from known values.
  const bss = Buffer.alloc(32);
  bss.writeBigUInt64LE(100n, 0);
  obj.map('.bss').set(0, bss);

  const run = obj.program('xdp_globals').testRun(frame, { repeat: 3 });
  console.log(`verdict: ${run.verdict} (retval ${run.retval})`);

  const hits = obj.map('.bss').get(0);
  console.log(`hits[0] = ${hits.readBigUInt64LE(0)}, hits[1] = ${hits.readBigUInt64LE(8)}`);
} finally {
  obj.close(); // nothing was pinned or attached: the kernel frees it all
}
