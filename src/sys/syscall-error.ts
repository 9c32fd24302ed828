// A failed bpf() call. The message names the command, the object involved and
// the errno, then says what that errno usually means for that command: the
// kernel's own words ("Invalid argument") rarely tell people what to fix.

import { BpfError } from '../errors.js';
import { bpfCmdName } from './bpf-cmd.js';
import * as cmd from './bpf-cmd.js';
import * as E from './errno.js';
import { errnoDescription, errnoName } from './errno.js';
import { capsForCommand, capsHint, type CapCallInfo } from './caps.js';
import { describeAccess } from './file-access.js';
import * as ffi from './ffi.js';
const { dirname, resolve } = process.getBuiltinModule('node:path');

const BPF_FS_MAGIC = 0xcafe4a11;

/** What a failed call was about, beyond its command: picks the capabilities and names the file. */
export interface SyscallErrorInfo extends CapCallInfo {
  /** The bpffs path of OBJ_GET / OBJ_PIN. */
  path?: string;
  /** Element calls: the flags passed (BPF_F_LOCK explains an EINVAL). */
  elemFlags?: number;
}

/** BPF_F_LOCK (uapi; also in map-attr.ts, which this file must not import). */
const F_LOCK = 4;

// When the caller has every capability a call needs, an EPERM comes from elsewhere.
const EPERM_ELSEWHERE = 'this process has the capabilities this call needs; the refusal comes from elsewhere: a security module (SELinux, AppArmor, lockdown) or a user namespace without a BPF token';

const MAP_ELEM_CMDS = new Set([
  cmd.BPF_MAP_LOOKUP_ELEM,
  cmd.BPF_MAP_UPDATE_ELEM,
  cmd.BPF_MAP_DELETE_ELEM,
  cmd.BPF_MAP_GET_NEXT_KEY,
  cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM,
  cmd.BPF_MAP_LOOKUP_BATCH,
  cmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH,
  cmd.BPF_MAP_UPDATE_BATCH,
  cmd.BPF_MAP_DELETE_BATCH,
]);

const GET_BY_ID_CMDS = new Set([cmd.BPF_PROG_GET_FD_BY_ID, cmd.BPF_MAP_GET_FD_BY_ID, cmd.BPF_LINK_GET_FD_BY_ID, cmd.BPF_BTF_GET_FD_BY_ID]);

/** What an errno most likely means for a given command. */
export function syscallHint(command: number, errno: number, info: SyscallErrorInfo = {}): string {
  const isUpdate = command === cmd.BPF_MAP_UPDATE_ELEM || command === cmd.BPF_MAP_UPDATE_BATCH;
  switch (errno) {
    case E.EPERM:
      if (isUpdate || command === cmd.BPF_MAP_DELETE_ELEM || command === cmd.BPF_MAP_DELETE_BATCH)
        return 'map is frozen or opened read-only (BPF_MAP_FREEZE / BPF_F_RDONLY): user space cannot write it through this fd';
      if (command === cmd.BPF_OBJ_GET || command === cmd.BPF_OBJ_PIN) {
        if (!info.path) return 'not permitted on this bpffs path';
        // Pinning outside a bpf filesystem is EPERM too.
        const dir = dirname(resolve(info.path));
        if (command === cmd.BPF_OBJ_PIN && ffi.fsMagic(dir) !== BPF_FS_MAGIC) return `${dir} is not on a bpf filesystem; pins need one (mount -t bpf bpf /sys/fs/bpf)`;
        return describeAccess(info.path, command === cmd.BPF_OBJ_PIN ? 'pin' : 'open');
      }
      return capsHint(
        capsForCommand(command, info),
        command === cmd.BPF_MAP_CREATE || command === cmd.BPF_PROG_LOAD ? `${EPERM_ELSEWHERE}; on kernels before 5.11 RLIMIT_MEMLOCK may be too low` : EPERM_ELSEWHERE,
      );
    case E.ENOENT:
      if (command === cmd.BPF_OBJ_GET) return 'no such pinned object at this path';
      if (GET_BY_ID_CMDS.has(command)) return 'no object with this id (it may have just been freed)';
      if (MAP_ELEM_CMDS.has(command)) return 'no such element';
      return errnoDescription(errno);
    case E.EEXIST:
      if (command === cmd.BPF_OBJ_PIN) return 'something is already pinned at this path';
      if (isUpdate) return 'element already exists (BPF_NOEXIST)';
      return errnoDescription(errno);
    case E.E2BIG:
      if (isUpdate) return 'map is full (max_entries reached) or the array index is out of range';
      if (command === cmd.BPF_PROG_LOAD) return 'program too large for this kernel';
      return 'an argument is larger than this kernel accepts (attr size, key/value size or max_entries)';
    case E.ENOSPC:
      if (command === cmd.BPF_PROG_LOAD) return 'verifier log buffer too small';
      if (command === cmd.BPF_MAP_LOOKUP_BATCH || command === cmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH) return 'batch count smaller than one hash bucket; use a larger batch';
      return 'no space left (map or kernel limit reached)';
    case E.EINVAL:
      if (command === cmd.BPF_MAP_CREATE) return 'invalid map definition for this kernel: check type, key/value size, max_entries and flags (lpm_trie needs BPF_F_NO_PREALLOC)';
      if (command === cmd.BPF_OBJ_PIN || command === cmd.BPF_OBJ_GET) return 'invalid path or flags (is the path on a bpf filesystem?)';
      if (info.elemFlags !== undefined && info.elemFlags & F_LOCK)
        return "the 'lock' flag (BPF_F_LOCK) needs a map whose value holds a struct bpf_spin_lock, described by the map's BTF; this map's value has none: drop 'lock'";
      if (isUpdate) return 'invalid flags, or a value this map type does not accept (e.g. an fd of the wrong kind)';
      return 'invalid argument: an unsupported flag, type or size for this kernel';
    case E.EBADF:
      return 'bad file descriptor: closed, or not a BPF object of the expected kind';
    case E.ENOMEM:
      return 'out of memory: the map is too large for the memory cgroup (or RLIMIT_MEMLOCK on kernels before 5.11)';
    case E.EACCES:
      if (command === cmd.BPF_PROG_LOAD) return 'rejected by the verifier';
      if ((command === cmd.BPF_OBJ_GET || command === cmd.BPF_OBJ_PIN) && info.path) return describeAccess(info.path, command === cmd.BPF_OBJ_PIN ? 'pin' : 'open');
      return 'access denied (object opened read-only or write-only, or a security module refused)';
    case E.EFAULT:
      return 'the kernel could not read or write a buffer it was given (a bug in bpf-ts)';
    case E.EBUSY:
      return 'object is busy (already attached or in use)';
    case E.ENODEV:
      return 'no such network device (ifindex)';
    case E.ENOTSUPP:
    case E.EOPNOTSUPP:
      return 'operation not supported for this object type by this kernel';
    case E.ENOSYS:
      return 'bpf() is not available (kernel built without CONFIG_BPF_SYSCALL)';
    case E.EAGAIN:
      return 'resource temporarily unavailable; retry';
    case E.EINTR:
      return 'interrupted by a signal; retry';
    case E.ENOTDIR:
      return 'a component of the path is not a directory';
    case E.ERANGE:
      return 'value out of range for this kernel';
    default:
      return errnoDescription(errno);
  }
}

export class BpfSyscallError extends BpfError {
  /** "BPF_MAP_CREATE" */
  readonly command: string;
  /** Command number (enum bpf_cmd). */
  readonly cmd: number;
  /** Positive errno. */
  readonly errno: number;
  /** "EPERM" */
  readonly errnoName: string;

  /** @param context what the call was about, e.g. `map "counters"`. */
  constructor(command: number, errno: number, context?: string, info?: SyscallErrorInfo) {
    const name = errnoName(errno);
    const where = context ? ` (${context})` : '';
    super('SYSCALL', `${bpfCmdName(command)}${where}: ${name}: ${syscallHint(command, errno, info)}`);
    this.name = 'BpfSyscallError';
    this.command = bpfCmdName(command);
    this.cmd = command;
    this.errno = errno;
    this.errnoName = name;
  }
}
