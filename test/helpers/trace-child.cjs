// A process for tracing tests to watch: it makes exactly the calls it is
// told to, one command per stdin line, and answers each with "ok <result>".
//   getppid N   N getppid() syscalls through libc
//   getpgid N   N getpgid(0) syscalls; answers the pgid
//   abs N       abs(-1) … abs(-N) through libc (uprobe target); answers the sum
//   ppid N      N reads of process.ppid (node's own uv_os_getppid)
//   open N      N opens of /dev/null
// It prints "ready <pid>" first. Run with the repository as cwd (for koffi).
const koffi = require('koffi');
const fs = require('node:fs');
const libc = koffi.load('libc.so.6');
const getppid = libc.func('int getppid(void)');
const getpgid = libc.func('int getpgid(int)');
const abs = libc.func('int abs(int)');
const readline = require('node:readline');
const rl = readline.createInterface({ input: process.stdin });
process.stdout.write(`ready ${process.pid}\n`);
rl.on('line', (line) => {
  const [cmd, nText] = line.trim().split(/\s+/);
  const n = Number(nText);
  let result = 0;
  if (cmd === 'getppid') for (let i = 0; i < n; i++) getppid();
  else if (cmd === 'getpgid') for (let i = 0; i < n; i++) result = getpgid(0);
  else if (cmd === 'abs') for (let i = 1; i <= n; i++) result += abs(-i);
  else if (cmd === 'ppid')
    for (let i = 0; i < n; i++) result = process.ppid; // node's uv_os_getppid
  else if (cmd === 'open') for (let i = 0; i < n; i++) fs.closeSync(fs.openSync('/dev/null', 'r'));
  else if (cmd === 'exit') process.exit(0);
  process.stdout.write(`ok ${result}\n`);
});
