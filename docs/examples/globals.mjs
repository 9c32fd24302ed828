// Global variables through mmap: read what the program wrote, write what it
// reads, with no syscall per access. Run from the repository root, as root:
//   sudo node docs/examples/globals.mjs
import { openObject } from 'bpf-ts';

// Ethernet + IPv4 (10.0.0.1 -> 10.0.0.2) + UDP (40000 -> 9) + "hello".
const frame = Buffer.from('020000000002020000000001' + '0800' + '4500002100010000401166c80a0000010a000002' + '9c400009000d0000' + '68656c6c6f', 'hex');

const obj = openObject('fixtures/globals.o').setGlobal('drop_port', 9).load();
try {
  const g = obj.globals;
  console.log(`drop_port = ${g.drop_port} (.rodata, read-only now)`);
  g.seen_total = 1000n; // __u64 seen_total, in .data
  obj.program('xdp_globals').testRun(frame, { repeat: 5 });
  console.log(`seen_total = ${g.seen_total}, hits = [${[...g.hits].join(', ')}]`);
  try {
    g.drop_port = 53;
  } catch (e) {
    console.log(`${e.code}: ${e.message}`);
  }
} finally {
  obj.close();
}
