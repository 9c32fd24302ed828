// A push queue consumed with `for await`: readers push records as the event
// loop reports readiness; iteration waits without blocking the loop.

import * as ffi from '../sys/ffi.js';

export interface EventRecord {
  /** The record bytes (a copy: safe to keep). */
  data: Buffer;
  /** CPU whose buffer held it (perf event arrays); null for ring buffers, which are shared. */
  cpu: number | null;
  /** Records the kernel dropped before this one because the buffer was full (perf only). */
  lost: number;
}

interface Waiter<T> {
  resolve(r: IteratorResult<T>): void;
  reject(e: unknown): void;
}

const DONE = { value: undefined, done: true } as const;

export class EventStream<T> implements AsyncIterable<T> {
  // A queue with a moving head: shift() on a long array copies it.
  #queue: T[] = [];
  #head = 0;
  readonly #waiters: Waiter<T>[] = [];
  readonly #onStop: (() => void) | undefined;
  #ended = false;
  #error: { e: unknown } | null = null;

  /** @param onStop runs when a consumer leaves the loop early (break, return, throw). */
  constructor(onStop?: () => void) {
    this.#onStop = onStop;
  }

  push(item: T): void {
    if (this.#ended) return;
    const w = this.#waiters.shift();
    if (w) w.resolve({ value: item, done: false });
    else this.#queue.push(item);
  }

  /** No more records: queued ones are still delivered, then next() is done. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w.resolve(DONE);
  }

  /** End with an error: queued records first, then next() rejects once with `e`, then is done. */
  fail(e: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiters = this.#waiters.splice(0);
    if (waiters.length) {
      waiters[0]!.reject(e);
      for (const w of waiters.slice(1)) w.resolve(DONE);
    } else this.#error = { e };
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Records pushed and not yet taken. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head]!;
      (this.#queue as (T | undefined)[])[this.#head++] = undefined;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#error) {
      const { e } = this.#error;
      this.#error = null;
      return Promise.reject(e);
    }
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The consumer is done (break out of `for await`, an exception in its body): stop the source. */
  #stop(): IteratorResult<T> {
    this.#onStop?.();
    this.end();
    this.#queue = [];
    this.#head = 0;
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: async () => this.#stop(),
      throw: async (e?: unknown) => {
        this.#stop();
        throw e;
      },
    };
  }
}

/**
 * `for await` over a socket whose fd polls readable (an AF_XDP or packet
 * socket): `drain` pushes what is waiting each time koffi's poll reports the
 * fd, and once on the next turn for what came before. An error from `drain`
 * or from polling fails the stream and closes the owner; so does leaving
 * the loop. The owner closes `poll` before its fd.
 */
export function pollStream<T>(fd: number, drain: (push: (item: T) => void) => void, owner: { close(): void; pollError(status: number): unknown }): { stream: EventStream<T>; poll: { close(): void } } {
  const stream = new EventStream<T>(() => owner.close());
  const pump = () => {
    try {
      drain((item) => stream.push(item));
    } catch (e) {
      // Never throw into koffi's callback.
      stream.fail(e);
      owner.close();
    }
  };
  const poll = ffi.poll(fd, pump, (status) => {
    stream.fail(owner.pollError(status));
    owner.close();
  });
  setImmediate(pump);
  return { stream, poll };
}
