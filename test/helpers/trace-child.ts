// Drive test/helpers/trace-child.cjs: spawn it, learn its pid, send commands
// and wait for each answer (no timing: every step waits for the child's reply).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./trace-child.cjs', import.meta.url));

export interface TraceChild {
  pid: number;
  /** Send "cmd n" and resolve with the number the child answers. */
  call(cmd: 'getppid' | 'getpgid' | 'abs' | 'ppid' | 'open', n: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startTraceChild(): Promise<TraceChild> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [SCRIPT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let waiters: ((line: string) => void)[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiters.shift()?.(line);
    }
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      waiters.push(resolve);
      child.once('exit', (code) => reject(new Error(`trace child exited ${code}: ${stderr}`)));
    });
  const ready = await next();
  const pid = Number(ready.split(' ')[1]);
  return {
    pid,
    async call(cmd, n) {
      const p = next();
      child.stdin.write(`${cmd} ${n}\n`);
      const line = await p;
      return Number(line.split(' ')[1]);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.stdin.end('exit\n');
      await done;
      waiters = [];
    },
  };
}
