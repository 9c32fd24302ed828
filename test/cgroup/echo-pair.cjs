// A TCP echo server and one client over 127.0.0.1, driven line by line on
// stdin, reporting on stdout as JSON lines. The sockops test runs it inside a
// test cgroup and a test network namespace (loopback only):
//   start           → {"event":"connected","clientPort":…,"serverPort":…}
//   send <base64>   → the client writes those bytes; once the same number of
//                     bytes has come back: {"event":"echo","data":"<base64>"}
//   close           → both ends closed: {"event":"closed"}, then exit 0
'use strict';
const net = require('node:net');
const readline = require('node:readline');

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let server;
let client;
let accepted;
let pending = null;
let announced = false;

function start() {
  server = net.createServer((s) => {
    accepted = s;
    // Echo each chunk back as it arrives.
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
    maybeConnected();
  });
  server.listen(0, '127.0.0.1', () => {
    client = net.connect(server.address().port, '127.0.0.1');
    client.on('connect', maybeConnected);
    client.on('data', (d) => {
      if (!pending) return;
      pending.got.push(d);
      pending.n += d.length;
      if (pending.n >= pending.want) {
        const data = Buffer.concat(pending.got).toString('base64');
        pending = null;
        say({ event: 'echo', data });
      }
    });
    client.on('error', (e) => say({ event: 'error', message: e.message }));
  });
}

function maybeConnected() {
  if (!announced && accepted && client && client.remotePort && !client.connecting) {
    announced = true;
    say({ event: 'connected', clientPort: client.localPort, serverPort: client.remotePort });
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'start') start();
  else if (cmd === 'send') {
    const bytes = Buffer.from(arg, 'base64');
    pending = { want: bytes.length, n: 0, got: [] };
    client.write(bytes);
  } else if (cmd === 'close') {
    client.end();
    accepted.end();
    server.close(() => {
      say({ event: 'closed' });
      process.exit(0);
    });
  }
});
