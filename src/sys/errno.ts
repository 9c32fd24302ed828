// errno numbers as Linux reports them (asm-generic/errno-base.h, errno.h and
// the kernel-internal values bpf() can leak, like ENOTSUPP). Error messages use
// the symbolic name because that is what people search for.

const ERRNO: Record<number, [name: string, description: string]> = {
  1: ['EPERM', 'operation not permitted'],
  2: ['ENOENT', 'no such file, object or element'],
  3: ['ESRCH', 'no such process'],
  4: ['EINTR', 'interrupted system call'],
  5: ['EIO', 'I/O error'],
  6: ['ENXIO', 'no such device or address'],
  7: ['E2BIG', 'argument too big'],
  8: ['ENOEXEC', 'exec format error'],
  9: ['EBADF', 'bad file descriptor'],
  10: ['ECHILD', 'no child processes'],
  11: ['EAGAIN', 'resource temporarily unavailable'],
  12: ['ENOMEM', 'out of memory'],
  13: ['EACCES', 'permission denied'],
  14: ['EFAULT', 'bad address'],
  15: ['ENOTBLK', 'block device required'],
  16: ['EBUSY', 'device or resource busy'],
  17: ['EEXIST', 'already exists'],
  18: ['EXDEV', 'cross-device link'],
  19: ['ENODEV', 'no such device'],
  20: ['ENOTDIR', 'not a directory'],
  21: ['EISDIR', 'is a directory'],
  22: ['EINVAL', 'invalid argument'],
  23: ['ENFILE', 'too many open files in system'],
  24: ['EMFILE', 'too many open files'],
  25: ['ENOTTY', 'inappropriate ioctl for device'],
  26: ['ETXTBSY', 'text file busy'],
  27: ['EFBIG', 'file too large'],
  28: ['ENOSPC', 'no space left'],
  29: ['ESPIPE', 'illegal seek'],
  30: ['EROFS', 'read-only file system'],
  31: ['EMLINK', 'too many links'],
  32: ['EPIPE', 'broken pipe'],
  33: ['EDOM', 'argument out of domain'],
  34: ['ERANGE', 'result out of range'],
  35: ['EDEADLK', 'resource deadlock would occur'],
  36: ['ENAMETOOLONG', 'file name too long'],
  37: ['ENOLCK', 'no locks available'],
  38: ['ENOSYS', 'function not implemented'],
  39: ['ENOTEMPTY', 'directory not empty'],
  40: ['ELOOP', 'too many levels of symbolic links'],
  42: ['ENOMSG', 'no message of desired type'],
  61: ['ENODATA', 'no data available'],
  62: ['ETIME', 'timer expired'],
  71: ['EPROTO', 'protocol error'],
  74: ['EBADMSG', 'bad message'],
  75: ['EOVERFLOW', 'value too large for defined data type'],
  84: ['EILSEQ', 'illegal byte sequence'],
  88: ['ENOTSOCK', 'not a socket'],
  90: ['EMSGSIZE', 'message too long'],
  92: ['ENOPROTOOPT', 'protocol not available (no such socket option)'],
  93: ['EPROTONOSUPPORT', 'protocol not supported'],
  95: ['EOPNOTSUPP', 'operation not supported'],
  97: ['EAFNOSUPPORT', 'address family not supported'],
  98: ['EADDRINUSE', 'address already in use'],
  99: ['EADDRNOTAVAIL', 'cannot assign requested address'],
  100: ['ENETDOWN', 'network is down'],
  101: ['ENETUNREACH', 'network is unreachable'],
  105: ['ENOBUFS', 'no buffer space available'],
  106: ['EISCONN', 'socket is already connected'],
  107: ['ENOTCONN', 'socket is not connected'],
  110: ['ETIMEDOUT', 'timed out'],
  111: ['ECONNREFUSED', 'connection refused'],
  114: ['EALREADY', 'operation already in progress'],
  115: ['EINPROGRESS', 'operation now in progress'],
  122: ['EDQUOT', 'quota exceeded'],
  125: ['ECANCELED', 'operation canceled'],
  // Kernel-internal codes (include/linux/errno.h) that still reach user space from bpf().
  512: ['ERESTARTSYS', 'interrupted, restart the call'],
  513: ['ERESTARTNOINTR', 'restart the call'],
  516: ['ERESTART_RESTARTBLOCK', 'restart the call'],
  517: ['EPROBE_DEFER', 'driver requests probe retry'],
  521: ['EBADHANDLE', 'illegal NFS file handle'],
  524: ['ENOTSUPP', 'operation not supported by this kernel'],
  525: ['ETOOSMALL', 'buffer or request too small'],
  526: ['ESERVERFAULT', 'server fault'],
  527: ['EBADTYPE', 'type not supported by server'],
  528: ['EJUKEBOX', 'request initiated, but will not complete before timeout'],
  529: ['EIOCBQUEUED', 'iocb queued'],
  530: ['ERECALLCONFLICT', 'conflict with recalled state'],
};

/** Symbolic errno constants used in comparisons across bpf-ts. */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const ENOSYS = 38;
export const ENOTSOCK = 88;
export const ESTALE = 116;
export const EOPNOTSUPP = 95;
export const ENOBUFS = 105;
export const ENOTSUPP = 524;

/** "EPERM" for 1; "errno 999" for numbers this table does not know. */
export function errnoName(errno: number): string {
  return ERRNO[errno]?.[0] ?? `errno ${errno}`;
}

/** A short strerror-style description. */
export function errnoDescription(errno: number): string {
  return ERRNO[errno]?.[1] ?? 'unknown error';
}

/** The errno number for a symbolic name, or undefined. */
export function errnoNumber(name: string): number | undefined {
  for (const [n, [sym]] of Object.entries(ERRNO)) if (sym === name) return Number(n);
  return undefined;
}

/** Both "not supported" spellings: the kernel returns either depending on the path. */
export function isNotSupported(errno: number): boolean {
  return errno === ENOTSUPP || errno === EOPNOTSUPP;
}
