// The CLI writes its output straight to fds 1 and 2 (src/cli/lifecycle.ts).
// A parent may hand it a non-blocking pipe: when that pipe is full, write(2)
// fails with EAGAIN, and the rest of the output must still arrive, whole and
// in order, through Node's stream.
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { BIN, ensureDist, fixture } from '../helpers/cli.js';

// A 4096-byte non-blocking pipe as the child's stdout, read only once it is
// full (the child is then past its first EAGAIN), then drained to the end.
const FULL_PIPE = `
import array, fcntl, os, subprocess, sys, termios, time
F_SETPIPE_SZ = 1031
r, w = os.pipe()
size = fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
os.close(w)
n = array.array('i', [0])
while p.poll() is None:
    fcntl.ioctl(r, termios.FIONREAD, n)
    if n[0] >= size: break
    time.sleep(0.01)
full = p.poll() is None and n[0] >= size
data = bytearray()
while True:
    chunk = os.read(r, 65536)
    if not chunk: break
    data += chunk
err = p.stderr.read()
sys.stderr.write(f"pipe {size} full-while-running {full} exit {p.wait()} stderr {err!r}\\n")
sys.stdout.buffer.write(data)
`;

describe('CLI output', () => {
  test('a non-blocking stdout that fills up gets the whole output', () => {
    ensureDist();
    const args = ['btf', 'dump', fixture('core_reads.clang14.o')];
    const plain = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    expect(plain.status).toBe(0);
    expect(plain.stdout.length).toBeGreaterThan(3 * 4096);
    const r = spawnSync('python3', ['-c', FULL_PIPE, process.execPath, BIN, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // The child filled the pipe and was still running: its next write met EAGAIN.
    expect(r.stderr).toBe("pipe 4096 full-while-running True exit 0 stderr b''\n");
    expect(r.stdout).toBe(plain.stdout);
  });
});
