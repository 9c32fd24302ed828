// UDP datagrams from inside a test namespace, through a socket made there
// with bpf-ts's own socket()/sendto() (node's dgram would make its socket
// later, outside the namespace).
import { withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;

/** Send each payload as one datagram from `ns` to ip:port. */
export function sendUdp(ns: string, ip: string, port: number, payloads: string[]): void {
  withNetns(ns, () => {
    const fd = ffi.socket(AF_INET, SOCK_DGRAM | ffi.SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket: errno ${-fd}`);
    try {
      const addr = Buffer.alloc(16);
      addr.writeUInt16LE(AF_INET, 0);
      addr.writeUInt16BE(port, 2);
      Buffer.from(ip.split('.').map(Number)).copy(addr, 4);
      for (const p of payloads) if (ffi.sendto(fd, Buffer.from(p), 0, addr) !== p.length) throw new Error(`sendto ${p}`);
    } finally {
      ffi.close(fd);
    }
  });
}
