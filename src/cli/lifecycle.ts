// How a CLI process ends. Every way out — the command returning, an
// exception, SIGINT/SIGTERM/SIGHUP/SIGQUIT, a closed stdout or stderr
// (EPIPE), an uncaught error in a callback — runs the same cleanup, once.
//
// A command registers what it must undo with guard() *before* it makes the
// change (the guard copes with a half-made state), and releases it when it
// is done. Signals are JavaScript events, delivered between ticks, so a
// synchronous attach and the guard that undoes it can never be split by one.
//
// The process-level hooks (signal and stream handlers, process.exit) are
// wired only for the real CLI process: main.ts calls wireProcessExitPaths()
// when it writes to the process's own stdio. run() called in-process (the
// tests) still runs guards on exceptions, but never exits the process.
//
// Exit codes: a signal exits 128+signo after the cleanup (130 SIGINT, 143
// SIGTERM, 129 SIGHUP, 131 SIGQUIT), as a shell reports a process the signal
// killed. A closed stdout ends the command quietly: 141 (128+SIGPIPE) when it
// interrupted a command that still had something to undo (run, demo), else
// the command's own status (0 for read-only commands).

import { BpfError } from '../errors.js';

export const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
export type ExitSignal = (typeof EXIT_SIGNALS)[number];
/** Why cleanup ran: a signal, a closed pipe, an error, or the command ending by itself. */
export type ExitReason = ExitSignal | 'EPIPE' | 'error' | 'done' | 'duration';

const { constants } = process.getBuiltinModule('node:os');

export const signalExitCode = (s: ExitSignal | 'SIGPIPE'): number => 128 + constants.signals[s];
export const CLOSED_PIPE_EXIT_CODE = signalExitCode('SIGPIPE');

interface Entry {
  label: string;
  fn: (reason: ExitReason) => void;
}

/** Registered cleanups, newest last; each runs at most once. */
const pending: Entry[] = [];

export interface Guard extends Disposable {
  /** Run the cleanup now (if it has not run) and forget it. */
  release(reason?: ExitReason): void;
}

/**
 * Register `fn` to undo what the caller is about to do. It runs exactly once:
 * on release(), or on whichever exit path comes first.
 */
export function guard(label: string, fn: (reason: ExitReason) => void): Guard {
  const entry: Entry = { label, fn };
  pending.push(entry);
  armSignals();
  const release = (reason: ExitReason = 'done') => runEntry(entry, reason);
  return { release, [Symbol.dispose]: () => release('done') };
}

/**
 * The foreground part of `run`: `start` (which attaches), then `tick` every
 * `interval` seconds until `duration` seconds have passed, then `cleanup`
 * released with 'duration'; without a duration, until a signal or a closed
 * pipe ends the process (after the cleanups). A throw releases `cleanup`
 * with 'error' and goes on up. Returns the exit code.
 */
export async function foreground(cleanup: Guard, o: { interval: number; duration?: number; tick: () => void }, start: () => void | Promise<void>): Promise<number> {
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    await start();
    await new Promise<void>((resolve) => {
      timer = setInterval(o.tick, o.interval * 1000);
      if (o.duration !== undefined) setTimeout(resolve, o.duration * 1000);
    });
    clearInterval(timer);
    cleanup.release('duration');
    return 0;
  } catch (e) {
    clearInterval(timer);
    cleanup.release('error');
    throw e;
  }
}

/** Cleanups still registered (a command in the middle of something). */
export function pendingCleanups(): number {
  return pending.length;
}

const errLine = (line: string): void => writeStderr(line + '\n');

function runEntry(entry: Entry, reason: ExitReason, report: (line: string) => void = errLine): boolean {
  const i = pending.indexOf(entry);
  if (i < 0) return true;
  pending.splice(i, 1);
  try {
    entry.fn(reason);
    return true;
  } catch (e) {
    report(`bpf-ts: cleanup (${entry.label}) failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    return false;
  }
}

/** Run every pending cleanup, newest first; false when one of them failed (each failure is one line on stderr). */
export function runCleanups(reason: ExitReason, report: (line: string) => void = errLine): boolean {
  let ok = true;
  while (pending.length) ok = runEntry(pending[pending.length - 1]!, reason, report) && ok;
  return ok;
}

// ------------------------------------------------------------ the process

let wired = false;
let armed = false;
let finishing = false;
let debug = false;

// Output is written straight to fds 1 and 2 with write(2). process.stdout and
// process.stderr are streams whose set-up loads Node's stream and net modules
// (~4 ms of a short command's start-up), and on Linux they write
// synchronously anyway. An fd a parent left non-blocking may refuse a write
// (EAGAIN) when its pipe is full: from then on that fd goes through Node's
// stream, which waits for it.
type StdFd = 1 | 2;
type OutMode = 'direct' | 'stream' | 'broken';
const outMode: Record<StdFd, OutMode> = { 1: 'direct', 2: 'direct' };
const { writeSync } = process.getBuiltinModule('node:fs');

const stdStream = (fd: StdFd): NodeJS.WriteStream => (fd === 1 ? process.stdout : process.stderr);

function writeFd(fd: StdFd, s: string): void {
  if (outMode[fd] === 'stream') {
    stdStream(fd).write(s);
    return;
  }
  if (outMode[fd] === 'broken') return;
  let rest: Buffer | undefined;
  try {
    const n = writeSync(fd, s);
    if (n === s.length && n === Buffer.byteLength(s)) return;
    // A short write (a signal, a non-blocking fd): the remaining bytes.
    rest = Buffer.from(s).subarray(n);
    while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'EAGAIN') return onOutputError(fd, err);
    outMode[fd] = 'stream';
    const stream = stdStream(fd);
    stream.on('error', (e2: NodeJS.ErrnoException) => onOutputError(fd, e2));
    stream.write(rest ?? s);
  }
}

/** Write to stdout unless it is gone (closed pipe): output then goes nowhere, quietly. */
export function writeStdout(s: string): void {
  writeFd(1, s);
}

export function writeStderr(s: string): void {
  writeFd(2, s);
}

/** Clean up and leave with `code`. Re-entrant calls (an error while cleaning up) only exit. */
function finish(reason: ExitReason, code: number): never {
  if (!finishing) {
    finishing = true;
    runCleanups(reason);
  }
  process.exit(code);
}

/** Signal handlers go in with the first guard: until then the default action (dying) is right. */
function armSignals(): void {
  if (!wired || armed) return;
  armed = true;
  for (const s of EXIT_SIGNALS) process.on(s, () => finish(s, signalExitCode(s)));
}

function onOutputError(fd: StdFd, e: NodeJS.ErrnoException): void {
  outMode[fd] = 'broken';
  if (e.code === 'EPIPE') {
    const interrupted = pending.length > 0;
    finish('EPIPE', interrupted ? CLOSED_PIPE_EXIT_CODE : typeof process.exitCode === 'number' ? process.exitCode : 0);
  }
  // Anything else (EIO from a hung-up terminal, ENOSPC): the output is gone too.
  if (fd === 1) errLine(`bpf-ts: cannot write output: ${e.code ?? e.message}`);
  finish('error', 1);
}

function onUncaught(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  errLine(`bpf-ts: ${e instanceof BpfError ? '' : 'internal error: '}${message.split('\n')[0]}`);
  if (debug && e instanceof Error && e.stack) errLine(e.stack);
  finish('error', 1);
}

/**
 * Route every way out of the real CLI process through the cleanups: closed
 * or failing stdout/stderr, uncaught exceptions and unhandled rejections, and
 * (once a command registers a guard) SIGINT, SIGTERM, SIGHUP and SIGQUIT.
 */
export function wireProcessExitPaths(opts: { debug?: boolean } = {}): void {
  debug = opts.debug === true;
  if (wired) return;
  wired = true;
  process.on('uncaughtException', onUncaught);
  // process.exit() from anywhere still undoes what is pending.
  process.on('exit', () => {
    if (!finishing) {
      finishing = true;
      runCleanups('done');
    }
  });
  if (pending.length) armSignals();
}
