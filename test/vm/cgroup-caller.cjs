// Calls for the cgroup hook tests (test/helpers/cgroup-lab.ts), made inside a
// test network namespace (loopback only) and, mostly, a test cgroup, so that
// the cgroup's sock_addr, sock and sysctl programs run on them. One JSON
// operation per stdin line, one JSON answer per stdout line:
//   {"op":"listen","addr","port"}            TCP listener kept open   → {"ok":true}
//   {"op":"tcp-connect","addr","port","from"} connect (from [addr, port] bound first)
//                                             → {"local":port,"remote":[addr,port]} | {"error":code}
//   {"op":"udp-connect","addr","port","family"} → {"local":port,"remote":[addr,port]} | {"error":code,"local":port}
//   {"op":"bind","addr","port"}              a UDP socket bound, kept → {"local":[addr,port]} | {"error":code}
//   {"op":"udp-send","addr","port","from","rcv"} a receiver bound at rcv, a sender at from,
//                                             the sender sends to addr:port → {"from":[addr,port]} | {"error":code} | {"timeout":true}
//   {"op":"socket","family","proto"}         socket(2), then SO_MARK, SO_PRIORITY and SO_BINDTOIFINDEX
//                                             (through the library's FFI, argv[2]: node has no getsockopt)
//                                             → {"mark","priority","ifindex"} | {"error":code}
//   {"op":"sysctl-read","name","pos","size"} pread of /proc/sys/<name> → {"hex"} | {"error":code}
//   {"op":"sysctl-write","name","hex","pos"}  one pwrite(2) of the bytes → {"n"} | {"error":code}
//                                             (node's own write loops over a short one: koffi,
//                                             for this call the library has no use for)
//                                             (the names are the namespace's own: net/…)
//   {"op":"sockopt","family","proto","setup":[[level,name,hex]…],"call":"set"|"get","level","name",
//    "hex" (set) | "size" (get: the buffer, zero-filled),"readback":[[level,name,size]…]}
//    ("call":"connect","addr","port": an IPv4 connect instead, the cgroup's connect4 hook running)
//                                             a fresh socket, the setup's setsockopt calls, one setsockopt or
//                                             getsockopt, then getsockopt of each readback option
//                                             → {"errno"} | {"ok":true} | {"hex","n"}, and "readback": [{"errno"} | {"hex"}]
//   {"op":"open","path","mode":"r"|"w"|"rw"} open(2) of a device node, closed at once → {"ok":true} | {"errno"}
//   {"op":"mknod","path","type":"char"|"block","major","minor"} mknod(2) (koffi, as pwrite), the node
//                                             removed at once → {"ok":true} | {"errno"}
//   {"op":"tcp-talk","addr","port","bytes"}   a listener, one connection to it, `bytes` sent and echoed
//                                             back, both ends closed, the listener too → {"local":port} | {"error":code}
//   {"op":"ping"}                             → {"ok":true} once the process has loaded all it uses
// "listen" and "bind" answer {"error":code} when the call fails; "bind" takes "family" 6 for udp6.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const dgram = require('node:dgram');
const readline = require('node:readline');

const kept = [];
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const failed = (e) => ({ error: e.code ?? String(e) });
const ERRNO = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 22: 'EINVAL', 93: 'EPROTONOSUPPORT', 97: 'EAFNOSUPPORT' };
let ffi;
let pwrite;
let mknod;

const bindUdp = (s, [address, port]) =>
  new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address, port }, () => {
      s.removeListener('error', reject);
      resolve();
    });
  });

async function run(op) {
  switch (op.op) {
    case 'listen': {
      const s = net.createServer((c) => c.on('error', () => {}));
      try {
        await new Promise((resolve, reject) => {
          s.once('error', reject);
          s.listen(op.port, op.addr, resolve);
        });
      } catch (e) {
        return failed(e);
      }
      kept.push(s);
      return { ok: true };
    }
    case 'tcp-connect':
      return new Promise((resolve) => {
        const c = net.connect({ host: op.addr, port: op.port, ...(op.from ? { localAddress: op.from[0], localPort: op.from[1] } : {}) });
        c.once('connect', () => {
          kept.push(c);
          resolve({ local: c.localPort, remote: [c.remoteAddress, c.remotePort] });
        });
        c.once('error', (e) => resolve(failed(e)));
      });
    case 'udp-connect':
      return new Promise((resolve) => {
        const s = dgram.createSocket(op.family === 6 ? 'udp6' : 'udp4');
        s.once('error', (e) => resolve(failed(e)));
        // node binds the socket to a port of its own before it connects: reported as local.
        s.connect(op.port, op.addr, (e) => {
          const local = s.address().port;
          if (e) {
            s.close();
            return resolve({ ...failed(e), local });
          }
          const r = s.remoteAddress();
          s.close();
          resolve({ local, remote: [r.address, r.port] });
        });
      });
    case 'bind': {
      const s = dgram.createSocket(op.family === 6 ? 'udp6' : 'udp4');
      try {
        await bindUdp(s, [op.addr, op.port]);
      } catch (e) {
        s.close();
        return failed(e);
      }
      kept.push(s);
      const a = s.address();
      return { local: [a.address, a.port] };
    }
    case 'udp-send': {
      const r = dgram.createSocket('udp4');
      const s = dgram.createSocket('udp4');
      try {
        await bindUdp(r, op.rcv);
        await bindUdp(s, op.from);
        return await new Promise((resolve) => {
          const timer = setTimeout(() => resolve({ timeout: true }), 3000);
          r.once('message', (_m, rinfo) => {
            clearTimeout(timer);
            resolve({ from: [rinfo.address, rinfo.port] });
          });
          s.send('x', op.port, op.addr, (e) => {
            if (e) {
              clearTimeout(timer);
              resolve(failed(e));
            }
          });
        });
      } catch (e) {
        return failed(e);
      } finally {
        r.close();
        s.close();
      }
    }
    case 'socket': {
      const fd = ffi.socket(op.family === 6 ? 10 : 2, (op.proto === 'tcp' ? 1 : 2) | ffi.SOCK_CLOEXEC, 0);
      if (fd < 0) return { error: ERRNO[-fd] ?? `errno ${-fd}` };
      const get = (name) => {
        const b = Buffer.alloc(4);
        return ffi.getsockopt(fd, 1, name, b) < 0 ? -1 : b.readUInt32LE(0);
      };
      const out = { mark: get(36), priority: get(12), ifindex: get(62) };
      ffi.close(fd);
      return out;
    }
    case 'sysctl-read':
    case 'sysctl-write': {
      // Only the test namespace's own sysctls: this process's net/ tree.
      if (!/^net\/[a-z0-9_./-]+$/.test(op.name) || op.name.includes('..')) return { error: `not a net sysctl: ${op.name}` };
      let fd;
      try {
        fd = fs.openSync(`/proc/sys/${op.name}`, op.op === 'sysctl-read' ? fs.constants.O_RDONLY : fs.constants.O_WRONLY);
        if (op.op === 'sysctl-write') {
          const b = Buffer.from(op.hex, 'hex');
          const n = pwrite(fd, b, b.length, op.pos);
          return n < 0 ? { error: ERRNO[-n] ?? `errno ${-n}` } : { n };
        }
        const b = Buffer.alloc(op.size);
        const n = fs.readSync(fd, b, 0, op.size, op.pos);
        return { hex: b.subarray(0, n).toString('hex') };
      } catch (e) {
        return failed(e);
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
    case 'sockopt': {
      const fd = ffi.socket(op.family === 6 ? 10 : 2, (op.proto === 'tcp' ? 1 : 2) | ffi.SOCK_CLOEXEC, 0);
      if (fd < 0) return { error: ERRNO[-fd] ?? `errno ${-fd}` };
      const get = (level, name, size) => {
        const b = Buffer.alloc(size);
        const n = ffi.getsockopt(fd, level, name, b);
        return n < 0 ? { errno: -n } : { hex: b.subarray(0, n).toString('hex'), n };
      };
      try {
        for (const [level, name, hex] of op.setup ?? []) {
          const r = ffi.setsockopt(fd, level, name, Buffer.from(hex, 'hex'));
          if (r < 0) return { error: `setup ${level}/${name}: errno ${-r}` };
        }
        let out;
        if (op.call === 'connect') {
          // An IPv4 connect to op.addr:op.port (UDP: nothing sent; TCP: refused by a closed port, after the hooks).
          const sa = Buffer.alloc(16);
          sa.writeUInt16LE(2, 0);
          sa.writeUInt16BE(op.port, 2);
          Buffer.from(op.addr.split('.').map(Number)).copy(sa, 4);
          const r = ffi.connect(fd, sa);
          out = r < 0 ? { errno: -r } : { ok: true };
        } else if (op.call === 'set') {
          const r = ffi.setsockopt(fd, op.level, op.name, Buffer.from(op.hex, 'hex'));
          out = r < 0 ? { errno: -r } : { ok: true };
        } else out = get(op.level, op.name, op.size);
        out.readback = (op.readback ?? []).map(([level, name, size]) => {
          const r = get(level, name, size);
          delete r.n;
          return r;
        });
        return out;
      } finally {
        ffi.close(fd);
      }
    }
    case 'open':
      try {
        fs.closeSync(fs.openSync(op.path, { r: fs.constants.O_RDONLY, w: fs.constants.O_WRONLY, rw: fs.constants.O_RDWR }[op.mode] | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY));
        return { ok: true };
      } catch (e) {
        return { errno: -e.errno };
      }
    case 'mknod': {
      // makedev(3) for glibc: major's low 12 bits at 8, minor's low 8 bits at 0, minor's rest at 12.
      const dev = ((BigInt(op.major) & 0xfffn) << 8n) | (BigInt(op.minor) & 0xffn) | ((BigInt(op.minor) & ~0xffn) << 12n) | ((BigInt(op.major) & ~0xfffn) << 32n);
      const r = mknod(op.path, (op.type === 'char' ? 0o020000 : 0o060000) | 0o600, dev);
      if (r < 0) return { errno: -r };
      fs.unlinkSync(op.path);
      return { ok: true };
    }
    case 'tcp-talk':
      return talk(op);
    case 'ping':
      return { ok: true };
    default:
      return { error: `unknown op ${op.op}` };
  }
}

/** One TCP connection's whole life in this process: both ends, and the listener, in the cgroup. */
async function talk(op) {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end());
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(op.port, op.addr, resolve);
    });
    return await new Promise((resolve) => {
      const c = net.connect({ host: op.addr, port: op.port });
      let got = 0;
      c.once('error', (e) => resolve(failed(e)));
      c.once('connect', () => c.write(Buffer.alloc(op.bytes, 0x5a)));
      c.on('data', (d) => {
        got += d.length;
        if (got >= op.bytes) c.end();
      });
      c.once('close', () => resolve({ local: c.localPort }));
    });
  } catch (e) {
    return failed(e);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

(async () => {
  // Everything loaded before the first call ({"op":"ping"} answers once it is): loading it later
  // (koffi reads /dev/urandom) would be a device access the cgroup's programs see.
  ffi = await import(process.argv[2]);
  const koffi = require('koffi');
  const libc = koffi.load('libc.so.6');
  const checked =
    (f) =>
    (...a) => {
      const n = f(...a);
      return n < 0 ? -koffi.errno() : n;
    };
  pwrite = checked(libc.func('long pwrite(int fd, void *buf, size_t n, long off)'));
  mknod = checked(libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'));
  for await (const line of readline.createInterface({ input: process.stdin })) say(await run(JSON.parse(line)));
  for (const k of kept) {
    if (typeof k.close === 'function') k.close();
    else k.destroy();
  }
})();
