// Figure: a unit test's packets through the emulator vs through the kernel.
// The ICMP even-sequence dropper on a 64-byte echo request: spec.emulate()'s
// testRun per packet against BPF_PROG_TEST_RUN (repeat 1) called from Node
// per packet, alternating runs so both see the same machine load.

import { join } from 'node:path';
import { ROOT, check, dist, fmt, nowNs } from './util.js';

const PACKETS = 20_000;
const RUNS = 5;
const TARGET = 3;

/** Ethernet + IPv4 + ICMP echo request, 64 bytes, sequence `seq`. */
function echo(seq) {
  const b = Buffer.alloc(64);
  Buffer.from('020000000002020000000001', 'hex').copy(b, 0);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(50, 16);
  b[22] = 64;
  b[23] = 1;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(b, 26);
  b[34] = 8;
  b.writeUInt16BE(0x1234, 38);
  b.writeUInt16BE(seq, 40);
  return b;
}

export async function emulateVsKernel() {
  const { openObject } = await dist('index.js');
  const spec = openObject(join(ROOT, 'fixtures', 'icmp_even_drop.o'));
  const em = spec.emulate();
  const eprog = em.program('xdp_even_drop');
  const coll = spec.load({ ignorePinning: true });
  try {
    const kprog = coll.program('xdp_even_drop');
    const pkts = [echo(1), echo(2)];
    check(eprog.testRun(pkts[1]).verdict === 'XDP_DROP' && kprog.testRun(pkts[1]).verdict === 'XDP_DROP', 'even sequence not dropped');
    check(eprog.testRun(pkts[0]).verdict === 'XDP_PASS' && kprog.testRun(pkts[0]).verdict === 'XDP_PASS', 'odd sequence not passed');
    const time = (run) => {
      const t0 = nowNs();
      let drops = 0;
      for (let i = 0; i < PACKETS; i++) if (run(pkts[i & 1]).retval === 1) drops++;
      check(drops === PACKETS / 2, `expected ${PACKETS / 2} drops, got ${drops}`);
      return (nowNs() - t0) / PACKETS;
    };
    let bestE = Infinity;
    let bestK = Infinity;
    for (let r = 0; r < RUNS; r++) {
      bestK = Math.min(
        bestK,
        time((p) => kprog.testRun(p)),
      );
      bestE = Math.min(
        bestE,
        time((p) => eprog.testRun(p)),
      );
    }
    const speedup = bestK / bestE;
    return [
      {
        name: 'emulated test run',
        line: `emulated test run: ${fmt.ns(bestE)} ns per packet vs BPF_PROG_TEST_RUN ${fmt.ns(bestK)} ns: speedup ${fmt.ratio(speedup)}x`,
        detail: `icmp_even_drop.o on 64-byte echo requests, ${PACKETS} packets per run, best of ${RUNS} alternating runs`,
        checks: [{ what: 'speedup', value: `${fmt.ratio(speedup)}x`, target: `>= ${TARGET}x`, pass: speedup >= TARGET }],
      },
    ];
  } finally {
    coll.close();
  }
}
