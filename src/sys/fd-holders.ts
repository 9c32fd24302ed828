// Which processes hold a BPF object open: every /proc/<pid>/fd entry that is
// a bpf-map, bpf-prog or bpf_link anon inode, matched by the id its fdinfo
// gives. What bpftool's "pids" shows (it uses a BPF iterator for the same
// walk); here it is procfs, so it needs no BPF program and no kernel support.

import { fdKindOfLink } from './fd.js';

const { readdirSync, readFileSync, readlinkSync } = process.getBuiltinModule('node:fs');

export type HeldKind = 'map' | 'prog' | 'link';

/** The fdinfo line with the object's id, by kind. */
const ID_FIELD: Record<HeldKind, RegExp> = {
  map: /^map_id:\s*(\d+)$/m,
  prog: /^prog_id:\s*(\d+)$/m,
  link: /^link_id:\s*(\d+)$/m,
};

export interface FdHolder {
  pid: number;
  /** /proc/<pid>/comm */
  comm: string;
  /** Its fds to the object. */
  fds: number[];
}

/**
 * The processes other than this one holding the object of `kind` with `id`,
 * by pid; `hidden` counts the processes whose fds this one may not read
 * (another user's: listing them needs CAP_DAC_READ_SEARCH, reading each
 * CAP_SYS_PTRACE).
 */
export function fdHolders(kind: HeldKind, id: number): { holders: FdHolder[]; hidden: number } {
  const field = ID_FIELD[kind];
  const holders: FdHolder[] = [];
  let hidden = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') hidden++;
      continue; // or the process is gone
    }
    const mine: number[] = [];
    let denied = false;
    for (const fd of fds) {
      try {
        // A link fd reads bpf_link from LINK_CREATE, bpf-link from OBJ_GET of a pin: fdKindOfLink knows both.
        if (fdKindOfLink(readlinkSync(`/proc/${entry}/fd/${fd}`)) !== kind) continue;
        if (Number(field.exec(readFileSync(`/proc/${entry}/fdinfo/${fd}`, 'utf8'))?.[1]) === id) mine.push(Number(fd));
      } catch (e) {
        // Closed meanwhile, or (EACCES) listing was allowed but reading is not.
        if ((e as NodeJS.ErrnoException).code === 'EACCES') denied = true;
      }
    }
    if (denied && mine.length === 0) hidden++;
    if (mine.length === 0) continue;
    let comm = '';
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      // exited meanwhile
    }
    holders.push({ pid: Number(entry), comm, fds: mine.sort((a, b) => a - b) });
  }
  return { holders: holders.sort((a, b) => a.pid - b.pid), hidden };
}
