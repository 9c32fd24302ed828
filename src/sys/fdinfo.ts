// What the kernel says of a BPF fd outside BPF_OBJ_GET_INFO_BY_FD:
// /proc/self/fdinfo/<fd> (the memory charged to the object, whether a map is
// frozen), and when a program was loaded as a wall-clock time.

const { readFileSync } = process.getBuiltinModule('node:fs');

export interface BpfFdInfo {
  /** Bytes charged to the object ("memlock:"; bpftool's bytes_memlock), or null when not reported. */
  memlock: number | null;
  /** Frozen with BPF_MAP_FREEZE ("frozen:"; maps only), else null. */
  frozen: boolean | null;
}

/** The memlock and frozen lines of /proc/self/fdinfo/<fd>. */
export function bpfFdInfo(fd: number): BpfFdInfo {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(text)?.[1];
  const memlock = field('memlock');
  const frozen = field('frozen');
  return { memlock: memlock === undefined ? null : Number(memlock), frozen: frozen === undefined ? null : frozen !== '0' };
}

/**
 * A program's load_time (ns of CLOCK_BOOTTIME, which bpf_prog_info gives) as
 * a wall-clock Date: now minus the time since boot (/proc/uptime, 10 ms
 * steps) plus load_time — the conversion bpftool makes for loaded_at.
 */
export function bootTimeToDate(bootNs: bigint): Date {
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return new Date(Date.now() - uptimeS * 1000 + Number(bootNs / 1_000_000n));
}
