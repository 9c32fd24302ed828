// What the ring buffer and perf buffer readers share: who owns what, and
// the order things end in.
//
// A reader owns every resource its poll callback touches: its own fds (the
// perf events it opened; a dup of the ring buffer's map fd) and its mmaps.
// Closing the map or the whole collection therefore never pulls memory or an
// fd from under a callback: the map tells the reader (BpfMap.onClose), the
// reader hands out what is already in its buffer and ends. Its own close()
// stops polling first (libuv registers an fd with epoll lazily, on the next
// loop turn, and aborts if that fd is gone by then), then unmaps, then
// closes its fds; a close() from inside a consume() callback is finished
// when that consume returns, never while it is still reading the mapping.
// Leaving a `for await` loop (break, return, an exception) closes the reader.

import { BpfError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import * as ffi from '../sys/ffi.js';
import { errnoName } from '../sys/errno.js';
import { type EventRecord, EventStream } from './stream.js';

export abstract class EventReader implements AsyncIterable<EventRecord>, Disposable {
  readonly map: BpfMap;
  readonly #stream = new EventStream<EventRecord>(() => this.close());
  readonly #unhook: () => void;
  #polls: { close(): void }[] = [];
  #started = false;
  #closed = false;
  #released = false;
  /** consume() calls in progress (a callback may consume again). */
  #depth = 0;

  protected constructor(map: BpfMap) {
    if (map.closed) throw new BpfError('CLOSED', `${map.name}: map is closed; load the object again to read its events`);
    this.map = map;
    this.#unhook = map.onClose(() => this.#mapClosing());
  }

  /** "ring buffer events", "perf buffer syn_events": for messages. */
  protected abstract get label(): string;
  /** The fds whose readability means "records waiting" (owned by the reader). */
  protected abstract pollFds(): number[];
  /** Hand every waiting record to `emit`; returns how many. Only called through reading(). */
  protected abstract drain(emit: (rec: EventRecord) => void): number;
  /** Unmap and close what the reader owns. Called once, never while a drain runs. */
  protected abstract release(): void;

  get closed(): boolean {
    return this.#closed;
  }

  /** The error for any read after close(). */
  protected closedError(): BpfError {
    return new BpfError('CLOSED', `${this.label}: reader closed (its map or collection was closed, or the loop over it ended)`);
  }

  /**
   * Run `fn`, which reads the mapping; throws CLOSED after close(). Needed
   * where `fn` runs user code (a callback may close the reader mid-read);
   * a read that calls nothing outside the reader only checks `closed`.
   */
  protected reading<T>(fn: () => T): T {
    if (this.#closed) throw this.closedError();
    this.#depth++;
    try {
      return fn();
    } finally {
      if (--this.#depth === 0 && this.#closed) this.#release();
    }
  }

  /** Records as they arrive, through koffi's poll on the event loop (no busy polling). */
  [Symbol.asyncIterator](): AsyncIterator<EventRecord> {
    if (!this.#started && !this.#closed) {
      this.#started = true;
      const onError = (status: number) => this.#fail(new BpfError('SYSCALL', `${this.label}: polling failed (${errnoName(-status)})`));
      for (const fd of this.pollFds()) this.#polls.push(ffi.poll(fd, () => this.#pump(), onError));
      this.#pump();
      // A perf event's poll reports a wakeup flag that reading clears, not
      // the ring's level, and libuv probes each new fd with a throwaway
      // epoll registration, then adds it for real at the top of the next
      // poll phase: wakeups in between can be swallowed. Drain once more
      // after a whole poll phase has passed, for records written meanwhile.
      setImmediate(() => setImmediate(() => this.#pump()));
    }
    return this.#stream[Symbol.asyncIterator]();
  }

  #pump(): void {
    if (this.#closed || this.#depth > 0) return;
    try {
      this.reading(() => this.drain((rec) => this.#stream.push(rec)));
    } catch (e) {
      // Never throw into koffi's callback: the process would die with it.
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    this.#stream.fail(e);
    this.close();
  }

  /** The map is about to close: deliver what the buffer holds, then end. */
  #mapClosing(): void {
    if (this.#started) this.#pump();
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook();
    // Stop readiness callbacks before anything they read goes away.
    for (const p of this.#polls) p.close();
    this.#polls = [];
    this.#stream.end();
    if (this.#depth === 0) this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
