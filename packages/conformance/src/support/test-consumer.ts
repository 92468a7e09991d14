import type { Broker, Consumer, Delivery } from '@tq/core/adapter';
import { sleep, withTimeout } from './timing.js';

/**
 * Pull-one-at-a-time view of `broker.consume`, for tests that need to say "the next delivery
 * arrives within N ms" or "nothing arrives for N ms" without losing a delivery in between.
 */
export class TestConsumer {
  readonly queue: string;
  readonly #controller = new AbortController();
  readonly #iterator: AsyncIterator<Delivery>;
  #pending: Promise<IteratorResult<Delivery>> | undefined;
  #received = 0;

  /** The consumer as the broker returned it (for its optional setPrefetch). */
  readonly consumer: Consumer;

  constructor(broker: Broker, queue: string, prefetch: number) {
    this.queue = queue;
    this.consumer = broker.consume(queue, { prefetch, signal: this.#controller.signal });
    this.#iterator = this.consumer[Symbol.asyncIterator]();
  }

  /** Deliveries handed out so far. */
  get received(): number {
    return this.#received;
  }

  #pull(): Promise<IteratorResult<Delivery>> {
    this.#pending ??= this.#iterator.next();
    return this.#pending;
  }

  /** The next delivery; fails if none arrives within `timeoutMs` or the stream ends. */
  async next(timeoutMs: number): Promise<Delivery> {
    const result = await withTimeout(this.#pull(), timeoutMs, `waiting for delivery #${this.#received + 1} on ${this.queue}`);
    this.#pending = undefined;
    if (result.done) throw new Error(`the consumer on ${this.queue} ended after ${this.#received} deliveries`);
    this.#received++;
    return result.value;
  }

  /** Reads `n` deliveries in order. */
  async take(n: number, timeoutMs: number): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    const deadline = Date.now() + timeoutMs;
    while (deliveries.length < n) {
      deliveries.push(await this.next(Math.max(1, deadline - Date.now())));
    }
    return deliveries;
  }

  /**
   * Resolves to the delivery that arrived within `ms`, or undefined when none did. A delivery
   * that arrives later is kept for the next call, never lost.
   */
  async poll(ms: number): Promise<Delivery | undefined> {
    const pending = this.#pull();
    const winner = await Promise.race([pending.then(() => 'delivery' as const), sleep(ms).then(() => 'quiet' as const)]);
    if (winner === 'quiet') return undefined;
    const result = await pending;
    this.#pending = undefined;
    if (result.done) return undefined;
    this.#received++;
    return result.value;
  }

  /** Stop consuming (abort the signal). Deliveries already handed out stay with the caller. */
  async stop(): Promise<void> {
    this.#controller.abort();
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) await pending.catch(() => undefined);
    await Promise.resolve(this.#iterator.return?.()).catch(() => undefined);
  }
}
