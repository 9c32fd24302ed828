// The one module that touches FFI. Everything else in bpf-ts talks to the
// kernel through the small functions exported here, with plain Buffers.
//
// Every wrapper returns the raw result: a non-negative value on success, or
// -errno on failure (the kernel's own convention), so callers decide how to
// report. koffi is loaded lazily: importing the object layer never needs it.
//
// koffi 3: the native code comes from a per-platform optional dependency
// (@koromix/koffi-<os>-<arch>), so nothing is built or downloaded by an
// install script (npm 11 skips dependency scripts unless allowed). Pointers
// are BigInt addresses.

import { BpfError } from '../errors.js';
const { closeSync, openSync, readFileSync, readSync, realpathSync } = process.getBuiltinModule('node:fs');
const { Module, createRequire } = process.getBuiltinModule('node:module');
const { dirname, join } = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');

type Koffi = typeof import('koffi');
// koffi types a call's result from the C prototype at run time; each wrapper here gives it its TS type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: unknown[]) => any;

const require = createRequire(import.meta.url);

// Syscall numbers differ per architecture; these are the ones libc has no
// wrapper for (bpf, perf_event_open).
const SYSCALLS: Record<string, { bpf: number; perfEventOpen: number }> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  arm64: { bpf: 280, perfEventOpen: 241 },
  riscv64: { bpf: 280, perfEventOpen: 241 },
  loong64: { bpf: 280, perfEventOpen: 241 },
  ia32: { bpf: 357, perfEventOpen: 336 },
  arm: { bpf: 386, perfEventOpen: 364 },
};

interface Bound {
  koffi: Koffi;
  /** libc, loaded once: the lazily bound groups below add functions from it. */
  libc: ReturnType<Koffi['load']>;
  bpf: Fn;
  perfEventOpen: Fn;
  close: Fn;
  socket: Fn;
  bind: Fn;
  listen: Fn;
  connect: Fn;
  sendto: Fn;
  recvfrom: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  getsockname: Fn;
  setns: Fn;
  statfs: Fn;
  getrlimit: Fn;
  setrlimit: Fn;
  ioctl: Fn;
  mmap: Fn;
  munmap: Fn;
  ifNameToIndex: Fn;
  ifIndexToName: Fn;
  fcntl: Fn;
  nrBpf: number;
  nrPerf: number;
}

let bound: Bound | undefined;

/**
 * The dynamic loader (PT_INTERP) named in a 64-bit little-endian ELF
 * executable's program headers, or null when it cannot tell.
 */
function elfInterpreter(path: string): string | null {
  const PT_INTERP = 3;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB.
    if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return null;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      if (p + 56 > n) return null;
      if (head.readUInt32LE(p) !== PT_INTERP) continue;
      const off = Number(head.readBigUInt64LE(p + 8));
      const size = Number(head.readBigUInt64LE(p + 32));
      if (size < 2 || size > 256) return null;
      const name = Buffer.alloc(size);
      if (readSync(fd, name, 0, size, off) !== size) return null;
      return name.toString('latin1', 0, size - 1);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * koffi's native module, loaded straight from its per-platform package.
 * koffi's entry point finds the same file through three layers of CommonJS
 * (its loader, the platform package's, a libc check), which in a fresh
 * process cost ~10 ms of a ~30 ms first load; this costs ~2 ms. Only the
 * layout npm makes (node_modules/koffi with node_modules/@koromix/koffi-<os>-<arch>
 * beside it, versions equal) is tried: anything else, or any error, returns
 * null and koffi's own loader runs.
 */
function koffiDirect(): Koffi | null {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return null;
  try {
    // Node's resolution order: node_modules of this module's directory, then each parent's.
    let koffiDir: string | null = null;
    for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
      const candidate = join(d, 'node_modules', 'koffi');
      try {
        koffiDir = realpathSync(candidate);
        break;
      } catch {
        // Not here: try the parent.
      }
      if (dirname(d) === d) return null;
    }
    const version = (JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')) as { version?: unknown }).version;
    const interp = elfInterpreter(process.execPath);
    if (interp === null) return null;
    const libc = interp.includes('ld-musl-') ? 'musl' : 'linux';
    const file = realpathSync(join(koffiDir, '..', '@koromix', `koffi-linux-${process.arch}`, `${libc}_${process.arch}`, 'koffi.node'));
    // Registered in require's cache under the path koffi's loader resolves,
    // so it finds this instance rather than loading the file a second time;
    // process.dlopen skips the ~4 ms require() spends resolving it cold.
    let m = require.cache[file];
    if (!m) {
      const fresh = new Module(file);
      fresh.filename = file;
      process.dlopen(fresh, file);
      fresh.loaded = true;
      require.cache[file] = m = fresh;
    }
    const native = m.exports as Koffi;
    return native.version === version && typeof native.load === 'function' ? native : null;
  } catch {
    return null;
  }
}

function lib(): Bound {
  if (bound) return bound;
  const koffi: Koffi = koffiDirect() ?? require('koffi');
  const libc = koffi.load('libc.so.6');
  const nr = SYSCALLS[process.arch];
  if (!nr) throw new BpfError('KERNEL_UNSUPPORTED', `bpf-ts does not know the bpf() syscall number on ${process.arch} (supported: ${Object.keys(SYSCALLS).join(', ')})`);
  // syscall(2) is variadic in C, but for integer/pointer arguments the
  // fixed-arity prototypes below are call-compatible and much cheaper in koffi.
  bound = {
    koffi,
    libc,
    bpf: libc.func('long syscall(long nr, int cmd, void *attr, unsigned int size)'),
    perfEventOpen: libc.func('long syscall(long nr, void *attr, int pid, int cpu, int group_fd, unsigned long flags)'),
    close: libc.func('int close(int fd)'),
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    bind: libc.func('int bind(int fd, void *addr, unsigned int len)'),
    listen: libc.func('int listen(int fd, int backlog)'),
    connect: libc.func('int connect(int fd, void *addr, unsigned int len)'),
    sendto: libc.func('long sendto(int fd, void *buf, size_t len, int flags, void *addr, unsigned int alen)'),
    recvfrom: libc.func('long recvfrom(int fd, _Out_ void *buf, size_t len, int flags, void *addr, void *alen)'),
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, void *val, unsigned int len)'),
    getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Inout_ void *val, _Inout_ void *len)'),
    getsockname: libc.func('int getsockname(int fd, _Inout_ void *addr, _Inout_ void *len)'),
    setns: libc.func('int setns(int fd, int nstype)'),
    statfs: libc.func('int statfs(const char *path, _Out_ void *buf)'),
    getrlimit: libc.func('int getrlimit(int resource, _Out_ void *rlim)'),
    setrlimit: libc.func('int setrlimit(int resource, void *rlim)'),
    ioctl: libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)'),
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)'),
    ifIndexToName: libc.func('char *if_indextoname(unsigned int index, _Out_ uint8_t *buf)'),
    fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
    nrBpf: nr.bpf,
    nrPerf: nr.perfEventOpen,
  };
  return bound;
}

function errno(): number {
  return lib().koffi.errno();
}

/** Map a -1/NULL-style libc result to -errno. */
function ret(r: number | bigint): number {
  const n = Number(r);
  return n < 0 ? -errno() : n;
}

/** bpf(2). Returns the result or -errno. */
export function bpf(cmd: number, attr: Uint8Array, size: number = attr.byteLength): number {
  const l = lib();
  return ret(l.bpf(l.nrBpf, cmd, attr, size));
}

/** perf_event_open(2). Returns an fd or -errno. */
export function perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number {
  const l = lib();
  return ret(l.perfEventOpen(l.nrPerf, attr, pid, cpu, groupFd, flags));
}

export function close(fd: number): number {
  return ret(lib().close(fd));
}

/** socket(2) type and flag, and the send/recv flag, the socket callers share. */
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40;

export function socket(domain: number, type: number, protocol: number): number {
  return ret(lib().socket(domain, type, protocol));
}

export function bind(fd: number, addr: Uint8Array): number {
  return ret(lib().bind(fd, addr, addr.byteLength));
}

export function listen(fd: number, backlog: number): number {
  return ret(lib().listen(fd, backlog));
}

/** connect(2), blocking unless the socket is not. */
export function connect(fd: number, addr: Uint8Array): number {
  return ret(lib().connect(fd, addr, addr.byteLength));
}

export function sendto(fd: number, buf: Uint8Array, flags: number, addr: Uint8Array | null): number {
  return ret(lib().sendto(fd, buf, buf.byteLength, flags, addr, addr ? addr.byteLength : 0));
}

/** recvfrom(2) into `buf`; returns the byte count or -errno. */
export function recv(fd: number, buf: Uint8Array, flags: number): number {
  return ret(lib().recvfrom(fd, buf, buf.byteLength, flags, null, null));
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  return ret(lib().setsockopt(fd, level, name, value, value.byteLength));
}

/** getsockopt(2) into `value`; returns the length the kernel wrote, or -errno. */
export function getsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(value.byteLength);
  const r = ret(lib().getsockopt(fd, level, name, value, len));
  return r < 0 ? r : len.readUInt32LE(0);
}

/** getsockname(2) into `addr`; returns 0 or -errno. */
export function getsockname(fd: number, addr: Uint8Array): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(addr.byteLength);
  return ret(lib().getsockname(fd, addr, len));
}

export function setns(fd: number, nstype: number): number {
  return ret(lib().setns(fd, nstype));
}

/** statfs(2): the filesystem magic (f_type) of `path`, or -errno. */
export function fsMagic(path: string): number {
  const buf = Buffer.alloc(256); // struct statfs is 120 bytes on 64-bit
  const r = ret(lib().statfs(path, buf));
  if (r < 0) return r;
  return process.arch === 'ia32' || process.arch === 'arm' ? buf.readUInt32LE(0) : Number(buf.readBigUInt64LE(0));
}

const RLIMIT_MEMLOCK = 8;

/** Current RLIMIT_MEMLOCK soft and hard limits (bigint; 2^64-1 is infinity). */
export function getMemlock(): { cur: bigint; max: bigint } | number {
  const buf = Buffer.alloc(16);
  const r = ret(lib().getrlimit(RLIMIT_MEMLOCK, buf));
  if (r < 0) return r;
  return { cur: buf.readBigUInt64LE(0), max: buf.readBigUInt64LE(8) };
}

export function setMemlock(cur: bigint, max: bigint): number {
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(cur, 0);
  buf.writeBigUInt64LE(max, 8);
  return ret(lib().setrlimit(RLIMIT_MEMLOCK, buf));
}

export function ioctl(fd: number, request: number, arg: number): number {
  return ret(lib().ioctl(fd, request, arg));
}

/** A mapping made by mmap(2): `buffer` views the shared memory directly. */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  readonly buffer: ArrayBuffer;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** mmap(2) of `length` bytes of `fd` at `offset` (at address `at`, for MAP_FIXED_NOREPLACE); returns the mapping or -errno. */
export function mmap(length: number, prot: number, flags: number, fd: number, offset: number, at: bigint | null = null): Mapping | number {
  const l = lib();
  const p = l.mmap(at, length, prot, flags, fd, offset);
  // MAP_FAILED is (void *)-1.
  const addr = p === null ? 0n : l.koffi.address(p);
  if (addr === 0n || addr === 0xffffffffffffffffn) return -errno();
  return { address: addr, length, buffer: l.koffi.view(addr, length) };
}

export function munmap(m: Mapping): number {
  return ret(lib().munmap(m.address, m.length));
}

const MAP_PRIVATE = 2;
const MAP_FIXED = 0x10;
/** MAP_FIXED that fails (EEXIST) rather than replace whatever is mapped there. */
export const MAP_FIXED_NOREPLACE = 0x100000;
const MAP_ANONYMOUS = 0x20;

/** Private zeroed memory (mmap MAP_PRIVATE|MAP_ANONYMOUS, read-write); the mapping or -errno. */
export function mmapAnonymous(length: number): Mapping | number {
  return mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/**
 * Replace the pages of `m` in place with private zeroed memory (mmap
 * MAP_FIXED|MAP_ANONYMOUS over the same range): whatever `m` mapped (a BPF
 * map) is released, while the address range, and so every ArrayBuffer over
 * it, stays valid to touch. Returns 0 or -errno.
 */
export function remapAnonymous(m: Mapping): number {
  const l = lib();
  const p = l.mmap(m.address, m.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
  const addr = p === null ? 0n : l.koffi.address(p);
  return addr === m.address ? 0 : -errno();
}

/** if_nametoindex(3) in the calling thread's network namespace; 0 when absent. */
export function ifNameToIndex(name: string): number {
  return lib().ifNameToIndex(name) >>> 0;
}

/** if_indextoname(3); null when there is no such interface. */
export function ifIndexToName(index: number): string | null {
  const buf = Buffer.alloc(16);
  const p = lib().ifIndexToName(index, buf);
  if (p === null) return null;
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? 16 : end).toString();
}

/**
 * Readiness callbacks on the libuv loop (koffi.node.poll): no thread blocks.
 * `onError` gets libuv's negative errno when polling itself fails. The fd
 * must stay open until close(): libuv registers it with epoll lazily.
 */
export function poll(fd: number, onReadable: () => void, onError?: (status: number) => void): { close(): void } {
  // koffi calls back with (status, { readable, writable, disconnect }).
  const handle = lib().koffi.node.poll(fd, { readable: true }, ((status: number, ev: { readable: boolean }) => {
    if (status < 0) onError?.(status);
    else if (ev?.readable) onReadable();
  }) as never);
  return { close: () => handle.close() };
}

const F_DUPFD_CLOEXEC = 1030;

/** A close-on-exec duplicate of `fd` (fcntl F_DUPFD_CLOEXEC), or -errno. */
export function dupCloexec(fd: number): number {
  return ret(lib().fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/**
 * Memory outside the JS heap. bpf() attrs carry raw pointers (keys, values,
 * paths, info structs) and V8 may move small on-heap typed arrays, so anything
 * the kernel reaches through a pointer lives here: `address` is stable and
 * `bytes` views the same memory without copying.
 */
export interface NativeBuffer {
  readonly address: bigint;
  readonly bytes: Buffer;
}

// The memory is freed once nothing references the ArrayBuffer viewing it, so a
// NativeBuffer (or any subarray of `bytes`) keeps its memory alive (a small
// block keeps its whole slab alive).
const nativeFree = new FinalizationRegistry<unknown>((ptr) => lib().koffi.free(ptr));

/** Blocks up to this size come from a shared slab; larger ones get their own allocation. */
const SMALL_BLOCK = 1024;
const SLAB_SIZE = 16384;
/**
 * The slab small blocks are cut from. A native allocation and its view cost
 * ~1.5 µs (more than many a syscall they serve); a slice of a slab ~0.1 µs.
 * Blocks are 8-byte aligned and never reused: a slab is freed, as Node's
 * Buffer pool is, once no block cut from it is referenced.
 */
let slab: { ab: ArrayBuffer; base: bigint; used: number } | undefined;

/** Zero-filled native memory of `length` bytes (at least 1). */
export function allocNative(length: number): NativeBuffer {
  const l = lib();
  const n = Math.max(1, length);
  if (n > SMALL_BLOCK) {
    const ptr = l.koffi.alloc('uint8_t', n);
    const ab = l.koffi.view(ptr, n);
    nativeFree.register(ab, ptr);
    const bytes = Buffer.from(ab, 0, n);
    bytes.fill(0);
    return { address: l.koffi.address(ptr), bytes };
  }
  const size = (n + 7) & ~7;
  if (!slab || slab.used + size > SLAB_SIZE) {
    const ptr = l.koffi.alloc('uint8_t', SLAB_SIZE);
    const ab = l.koffi.view(ptr, SLAB_SIZE);
    nativeFree.register(ab, ptr);
    slab = { ab, base: l.koffi.address(ptr), used: 0 };
  }
  const offset = slab.used;
  slab.used += size;
  const bytes = Buffer.from(slab.ab, offset, n);
  bytes.fill(0);
  return { address: slab.base + BigInt(offset), bytes };
}

/** A native copy of `data`; a string becomes NUL-terminated UTF-8 (a C string the kernel can read). */
export function nativeCopy(data: Uint8Array | string): NativeBuffer {
  const b = typeof data === 'string' ? Buffer.from(data + '\0', 'utf8') : data;
  const n = allocNative(b.byteLength);
  n.bytes.set(b);
  return n;
}

// --- namespaces and mounts (netns, testenv) ---
// Bound separately from `lib()` so additions here never touch its table.

interface NsBound {
  unshare: Fn;
  mount: Fn;
  umount2: Fn;
}

let nsBound: NsBound | undefined;

function nsLib(): NsBound {
  if (nsBound) return nsBound;
  const libc = lib().libc;
  nsBound = {
    unshare: libc.func('int unshare(int flags)'),
    mount: libc.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: libc.func('int umount2(const char *target, int flags)'),
  };
  return nsBound;
}

/** unshare(2): moves the calling thread into new namespaces. Returns 0 or -errno. */
export function unshare(flags: number): number {
  return ret(nsLib().unshare(flags));
}

/** mount(2). Returns 0 or -errno. */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): number {
  return ret(nsLib().mount(source, target, fstype, flags, data));
}

/** umount2(2). Returns 0 or -errno. */
export function umount2(target: string, flags: number): number {
  return ret(nsLib().umount2(target, flags));
}

// --- memory geometry (event readers) ---

let pageSizeCache = 0;

/** sysconf(_SC_PAGESIZE): ring buffers and perf buffers are laid out in pages. */
export function pageSize(): number {
  if (pageSizeCache) return pageSizeCache;
  const sysconf = lib().libc.func('long sysconf(int name)') as Fn;
  const SC_PAGESIZE = 30;
  pageSizeCache = Number(sysconf(SC_PAGESIZE));
  return pageSizeCache;
}

// --- bpf() on native memory by address: the map-element hot path ---
// For a Buffer passed as `void *`, koffi runs several N-API type checks per
// call (~100 ns, a third of a hash-map lookup); an integer address costs it a
// single conversion.

let bpfAtFn: Fn | undefined;
let nrBpfAt = 0;

function bindBpfAt(): Fn {
  const l = lib();
  nrBpfAt = l.nrBpf;
  bpfAtFn = l.libc.func('long syscall(long nr, int cmd, uintptr_t attr, unsigned int size)') as Fn;
  return bpfAtFn;
}

/**
 * bpf(2) with `attr` given by address. Only for memory from allocNative()
 * (Number(address) + offset) that the caller keeps referenced across the
 * call. Returns the result or -errno.
 */
export function bpfAt(cmd: number, attr: number, size: number): number {
  // `long` results in the safe-integer range come back as Numbers: no ret() conversion on the hot path.
  const r: number = (bpfAtFn ?? bindBpfAt())(nrBpfAt, cmd, attr, size);
  return r < 0 ? -errno() : r;
}

/** True once koffi is loaded (callers pick a syscall path only when it costs no load). */
export function ffiLoaded(): boolean {
  return bound !== undefined;
}
