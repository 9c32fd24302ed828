// Count this process's getppid() calls with a tracepoint program, and list
// our own task with an iterator. Run from the repository root, as root:
//   sudo node docs/examples/tracing.mjs
import { openObject, attachTracepoint, attachIter } from 'bpf-ts';

const spec = openObject('fixtures/tracing.o');
spec.setGlobal('target_tgid', process.pid); // const volatile: only our calls count
const obj = spec.load({ programs: ['tp_getppid', 'iter_tasks'] });
try {
  const link = attachTracepoint(obj.program('tp_getppid'), 'syscalls', 'sys_enter_getppid');
  for (let i = 0; i < 10; i++) void process.ppid; // each read is one getppid() syscall
  link.close(); // detached: later calls are not counted
  void process.ppid;

  const out = Buffer.alloc(8);
  obj.map('counts').lookupInto(0, out);
  console.log(`getppid calls seen: ${out.readBigUInt64LE(0)}`);

  const iter = attachIter(obj.program('iter_tasks'));
  const mine = iter
    .read()
    .toString()
    .split('\n')
    .filter((l) => l === `${process.pid} ${process.pid}`);
  iter.close();
  console.log(`iter/task lines for this process's main thread: ${mine.length}`);
} finally {
  obj.close();
}
