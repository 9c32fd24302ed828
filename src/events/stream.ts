// A push queue consumed with `for await`: readers push records as the event
// loop reports readiness; iteration waits without blocking the loop.

export interface EventRecord {
  /** The record bytes (a copy: safe to keep). */
  data: Buffer;
  /** CPU whose buffer held it (perf event arrays); null for ring buffers, which are shared. */
  cpu: number | null;
  /** Records the kernel dropped before this one because the buffer was full (perf only). */
  lost: number;
}

export class EventStream<T> implements AsyncIterable<T> {
  readonly #queue: T[] = [];
  readonly #waiters: ((r: IteratorResult<T>) => void)[] = [];
  #ended = false;

  push(item: T): void {
    if (this.#ended) return;
    const w = this.#waiters.shift();
    if (w) w({ value: item, done: false });
    else this.#queue.push(item);
  }

  /** No more records: pending and future next() calls finish. */
  end(): void {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#queue.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next(), return: async () => ({ value: undefined, done: true }) };
  }
}
