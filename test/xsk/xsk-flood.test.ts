// An AF_XDP socket under a real flood: a UDP sender in one test namespace
// floods the veth whose other end runs xdp_xsk_redirect, while this process
// reads the socket with `for await`. Each datagram carries its number. Every
// frame the program saw (its own count, rx_seen) must be accounted for: read
// here exactly once, in order, or dropped by the kernel and counted in the
// socket's statistics (no free frame to receive into, or the rx ring full).
// Nothing depends on speed: how much the flood sends does not matter, and
// every wait is for a condition, bounded only to turn a hang into a failure.
//
// vitest: serial (the flood keeps every CPU busy)
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachXdp, detachXdp } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { netnsExists, netnsPath } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { XdpSocket } from '../../src/xsk/socket.js';
import { ensureDist, fixture, ROOT } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { udpFloodPreamble } from '../helpers/udp-flood.js';
import { until } from '../helpers/wait.js';

const SECONDS = 5;
/** Ethernet + IPv4 + UDP headers: the datagram's number starts here. */
const SEQ_AT = 14 + 20 + 8;

/** UDP to `ip`:9 for `secs`, each datagram numbered from 0 (u32 LE); prints "done N". */
const flood = (ffi: string) => `${udpFloodPreamble(ffi)}
const end = Date.now() + secs * 1000;
let sent = 0;
while (Date.now() < end) {
  for (let i = 0; i < 256; i++) {
    payload.writeUInt32LE(sent, 0);
    if (ffi.sendto(fd, payload, 0, addr) > 0) sent++;
  }
}
ffi.close(fd);
console.log('done ' + sent);
`;

describeRoot('AF_XDP socket under a UDP flood', () => {
  let env: TestEnv | undefined;
  let coll: BpfCollection | undefined;
  let sender: ChildProcessWithoutNullStreams | undefined;

  beforeAll(() => {
    ensureDist();
    env = setupTestEnv();
    coll = loadObject(fixture('xsk_redirect.o'));
    attachXdp({ iface: env.vethB, netns: env.nsB, program: coll.program('xdp_xsk_redirect'), mode: 'native' });
  });

  afterAll(() => {
    sender?.kill('SIGKILL');
    try {
      if (env && netnsExists(env.nsB)) detachXdp(env.vethB, { netns: env.nsB });
      coll?.close();
    } finally {
      if (env) teardownTestEnv(env);
    }
  });

  it(`every frame of a ${SECONDS} s flood is read once, in order, or counted as dropped by the kernel`, async () => {
    const seen = () => Number(coll!.map('rx_seen').get(0)!.readBigUInt64LE(0));
    const seenBefore = seen();
    using xsk = XdpSocket.open({ iface: env!.vethB, netns: env!.nsB, mode: 'copy', frames: 4096, ringSize: 2048 });
    xsk.register(coll!.map('xsks'));

    let received = 0;
    let outOfOrder = 0;
    let last = -1;
    let foreign = 0;
    const reading = (async () => {
      for await (const f of xsk) {
        // Only the flood's datagrams: IPv4 UDP to port 9.
        if (f.length < SEQ_AT + 4 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 17 || f.readUInt16BE(36) !== 9) {
          foreign++;
          continue;
        }
        const seq = f.readUInt32LE(SEQ_AT);
        if (seq <= last) outOfOrder++;
        last = seq;
        received++;
      }
    })();

    const ffi = join(ROOT, 'dist', 'sys', 'ffi.js');
    sender = spawn('nsenter', [`--net=${netnsPath(env!.nsA)}`, '--', process.execPath, '--input-type=module', '-e', flood(ffi), env!.ipB, String(SECONDS)]);
    let out = '';
    sender.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => sender!.once('exit', resolve));
    expect(code).toBe(0);
    const sent = Number(/done (\d+)/.exec(out)?.[1]);
    expect(sent).toBeGreaterThan(0);

    // Every frame the program saw is read or counted as dropped; wait for the reader to catch up.
    const accounted = () => {
      const st = xsk.stats();
      return received + foreign + Number(st.rxDropped + st.rxRingFull);
    };
    await until(() => accounted() >= seen() - seenBefore, 60_000, 50);
    const st = xsk.stats();
    const programSaw = seen() - seenBefore;
    expect({ accounted: accounted(), programSaw }).toEqual({ accounted: programSaw, programSaw });
    expect(programSaw).toBeLessThanOrEqual(sent); // veth may drop before XDP under load, never invent frames
    expect(received).toBeGreaterThan(0);
    expect(foreign).toBe(0);
    expect(outOfOrder).toBe(0);
    expect(last).toBeLessThan(sent);
    expect(st.rxInvalidDescs).toBe(0n);
    xsk.close();
    await reading;
    console.log(`AF_XDP flood: ${sent} sent, ${programSaw} seen by XDP, ${received} read, ${st.rxDropped} + ${st.rxRingFull} dropped by the kernel`);
  });
});
