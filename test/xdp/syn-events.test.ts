// The SYN reporter on real traffic: one perf event per connection attempt,
// with addresses, ports and the frame bytes the program appended.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachXdp } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { PerfBufferReader } from '../../src/events/perf-buffer.js';
import type { EventRecord } from '../../src/events/stream.js';
import { netnsPath } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { ipv4 } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { until } from '../helpers/wait.js';

const PORT = 8089; // nothing listens: each attempt is one SYN answered by one RST
const ATTEMPTS = 4;

describeRoot('syn_reporter on a veth pair', () => {
  let env: TestEnv;
  let coll: BpfCollection;
  beforeAll(() => {
    env = setupTestEnv();
    coll = loadObject('fixtures/syn_reporter.o');
    attachXdp({ iface: env.vethB, progFd: coll.program('xdp_syn').fd.value, mode: 'skb', netns: env.nsB });
  });
  afterAll(() => {
    coll?.close();
    if (env) teardownTestEnv(env);
  });

  it(`${ATTEMPTS} refused connection attempts give exactly ${ATTEMPTS} events`, async () => {
    using reader = new PerfBufferReader(coll.map('syn_events'));
    const events: EventRecord[] = [];
    const collecting = (async () => {
      for await (const e of reader) events.push(e);
    })();
    // The client runs inside namespace A: connect() from there, to B only.
    const script = `
      const net = require('net'); let left = ${ATTEMPTS};
      const next = () => { if (!left--) return; const s = net.connect(${PORT}, '${env.ipB}');
        s.on('error', () => next()); s.on('connect', () => { s.destroy(); next(); }); };
      next();`;
    // Asynchronously, so the event loop keeps delivering readiness meanwhile.
    const child = spawn('nsenter', [`--net=${netnsPath(env.nsA)}`, '--', process.execPath, '-e', script], { stdio: 'ignore' });
    const status = await new Promise<number | null>((res) => child.on('exit', res));
    expect(status).toBe(0);

    // Every SYN was answered before the client exited, so every record is in
    // the buffer: wait for the event loop to deliver them (the bound only
    // keeps a lost record from hanging the run).
    await until(() => events.length >= ATTEMPTS, 30_000, 20);
    await new Promise((res) => setTimeout(res, 200));
    reader.close();
    await collecting;

    expect(events).toHaveLength(ATTEMPTS);
    const sports = new Set<number>();
    for (const e of events) {
      expect(e.lost).toBe(0);
      const d = e.data;
      expect(d.subarray(0, 4)).toEqual(ipv4(env.ipA));
      expect(d.subarray(4, 8)).toEqual(ipv4(env.ipB));
      expect(d.readUInt16BE(10)).toBe(PORT);
      sports.add(d.readUInt16BE(8));
      const len = d.readUInt32LE(12);
      // The appended frame: Ethernet to B's MAC from A's, IPv4, TCP SYN to PORT.
      const frame = d.subarray(16, 16 + len);
      expect(frame.length).toBe(len);
      expect(frame.subarray(0, 6).toString('hex')).toBe(env.macB.replaceAll(':', ''));
      expect(frame.subarray(6, 12).toString('hex')).toBe(env.macA.replaceAll(':', ''));
      expect(frame.readUInt16BE(12)).toBe(0x0800);
      expect(frame[14 + 9]).toBe(6); // IPPROTO_TCP
      const tcp = 14 + (frame.readUInt8(14) & 0xf) * 4;
      expect(frame.readUInt16BE(tcp + 2)).toBe(PORT);
      expect(frame.readUInt8(tcp + 13) & 0x12).toBe(0x02); // SYN without ACK
    }
    expect(sports.size).toBe(ATTEMPTS);
  });
});
