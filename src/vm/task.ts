// The current task as kernel memory: bpf_get_current_task and
// bpf_get_current_task_btf return the address of a struct task_struct laid
// out by the emulation's kernel BTF (EmulateOptions.coreTarget, the same BTF
// CO-RE relocations resolve against), with what tracing programs read of it
// set from the emulated task: pid, tgid, comm, and real_parent/parent
// pointing to the parent's task_struct (its pid and tgid the task's ppid),
// group_leader to the process's first thread (the task itself when its pid
// is its tgid). The rest is zero.

import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import type { BtfComposite } from '../btf/kinds.js';
import { Memory, type Region } from './memory.js';
import type { Task } from './trace.js';

/** Member byte offsets of struct task_struct in `btf`; an error naming what the BTF lacks. */
function taskLayout(btf: Btf): { size: number; at: Record<string, number> } {
  const t = btf.findByName('task_struct', 'struct') as BtfComposite | undefined;
  if (!t) throw new BpfError('CORE_RELOCATION', "bpf_get_current_task: the emulation's kernel BTF (coreTarget) has no struct task_struct");
  const at: Record<string, number> = {};
  for (const m of t.members) if (m.bitfieldSize === 0 && m.bitOffset % 8 === 0) at[m.name] = m.bitOffset / 8;
  for (const name of ['pid', 'tgid', 'comm', 'real_parent', 'parent', 'group_leader']) {
    if (at[name] === undefined) throw new BpfError('CORE_RELOCATION', `bpf_get_current_task: struct task_struct in the emulation's kernel BTF has no ${name}`);
  }
  return { size: t.size, at };
}

/** The task's task_struct and its parent's, mapped read-only; returns the task's address. */
export function mapTaskStruct(memory: Memory, btf: Btf, task: Task): bigint {
  const { size, at } = taskLayout(btf);
  const make = (pid: number, tgid: number, comm: Uint8Array): Region => {
    const bytes = new Uint8Array(size);
    const dv = new DataView(bytes.buffer);
    dv.setInt32(at.pid!, pid, true);
    dv.setInt32(at.tgid!, tgid, true);
    bytes.set(comm.subarray(0, 15), at.comm!);
    return memory.add('task_struct', bytes, { kind: 'memory', writable: false });
  };
  const set = (r: Region, field: string, to: Region) => r.dv.setBigUint64(at[field]!, Memory.address(to.id), true);
  const parent = make(task.ppid, task.ppid, new Uint8Array(0));
  set(parent, 'group_leader', parent);
  // A thread other than its process's first has that one as its group leader (pid = tgid).
  const current = make(task.pid, task.tgid, task.comm);
  const leader = task.pid === task.tgid ? current : make(task.tgid, task.tgid, task.comm);
  for (const r of new Set([current, leader])) {
    for (const field of ['real_parent', 'parent']) set(r, field, parent);
    set(r, 'group_leader', leader);
  }
  return Memory.address(current.id);
}
