/**
 * Turns a push-style client (amqplib's consume callback, kafkajs eachMessage, a subscription)
 * into the pull-style AsyncIterable that `Broker.consume` returns, so no adapter writes its
 * own back-pressure queue. When more than `highWaterMark` items wait unread, `onPause` is
 * called once; `onResume` once they are read down to half of it.
 */
export interface DeliveryBufferOptions {
  readonly signal?: AbortSignal;
  readonly highWaterMark?: number;
  readonly onPause?: () => void;
  readonly onResume?: () => void;
  /** Called once when the consumer stops reading (abort, break, end or error). */
  readonly onClose?: () => void;
}

export class DeliveryBuffer<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: unknown;
  #paused = false;
  #closed = false;
  readonly #options: DeliveryBufferOptions;

  constructor(options: DeliveryBufferOptions = {}) {
    this.#options = options;
    const { signal } = options;
    if (signal) {
      if (signal.aborted) this.end();
      else signal.addEventListener('abort', () => this.end(), { once: true });
    }
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds an item; false (item not taken) once the buffer has ended: the adapter must give it back. */
  push(item: T): boolean {
    if (this.#ended) return false;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
      return true;
    }
    this.#items.push(item);
    const hwm = this.#options.highWaterMark;
    if (hwm !== undefined && !this.#paused && this.#items.length >= hwm) {
      this.#paused = true;
      this.#options.onPause?.();
    }
    return true;
  }

  /** No more items: readers drain what is buffered, then finish. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settleWaiter();
  }

  /** Readers drain what is buffered, then the iteration throws `error`. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#error = error;
    this.end();
  }

  /** Items pushed but never read (after the reader stopped): the adapter must return them. */
  drainUnread(): T[] {
    return this.#items.splice(0);
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    if (this.#error !== undefined) waiter.reject(this.#error);
    else waiter.resolve({ value: undefined, done: true });
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.onClose?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined) {
          const hwm = this.#options.highWaterMark;
          if (this.#paused && hwm !== undefined && this.#items.length <= Math.floor(hwm / 2)) {
            this.#paused = false;
            this.#options.onResume?.();
          }
          return Promise.resolve({ value: item, done: false });
        }
        if (this.#ended) {
          this.#close();
          if (this.#error !== undefined) {
            const error = this.#error;
            this.#error = undefined;
            return Promise.reject(error);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.#waiter = { resolve, reject };
        });
      },
      return: () => {
        this.end();
        this.#close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
