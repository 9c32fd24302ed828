// The start of a UDP flood sender for the flood tests: an ES module run with
// `node --input-type=module -e SCRIPT IP SECONDS` inside a test namespace,
// sending through bpf-ts's own sendto (a synchronous loop: node's dgram
// queues without bound). It defines `fd` (a UDP socket), `addr` (IP:9),
// `secs` and `payload` (18 bytes); the test appends its own loop.
export const udpFloodPreamble = (ffi: string): string => `
import * as ffi from ${JSON.stringify(ffi)};
const [ip, secs] = [process.argv[1], Number(process.argv[2])];
const fd = ffi.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
if (fd < 0) throw new Error('socket: errno ' + -fd);
const addr = Buffer.alloc(16);
addr.writeUInt16LE(2, 0);
addr.writeUInt16BE(9, 2);
Buffer.from(ip.split('.').map(Number)).copy(addr, 4);
const payload = Buffer.alloc(18, 0x5a);
`;
