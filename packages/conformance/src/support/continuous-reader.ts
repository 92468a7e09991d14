import type { Broker, Delivery } from '@tq/core/adapter';
import { sleep } from './timing.js';

/**
 * One `consume` stream read to the end, as core's worker reads it: every delivery is acked
 * and recorded. The worker does not re-consume when a stream fails or ends, so across a
 * broker restart the adapter's stream itself must keep going; an error or an early end is
 * kept in `failure`.
 */
export class ContinuousReader {
  readonly received: Delivery[] = [];
  failure: unknown;
  readonly #controller = new AbortController();
  readonly #done: Promise<void>;

  constructor(broker: Broker, queue: string, prefetch = 10) {
    this.#done = this.#run(broker, queue, prefetch);
  }

  async #run(broker: Broker, queue: string, prefetch: number): Promise<void> {
    const { signal } = this.#controller;
    try {
      for await (const delivery of broker.consume(queue, { prefetch, signal })) {
        await delivery.ack();
        this.received.push(delivery);
      }
      if (!signal.aborted) this.failure = new Error('the consume stream ended although its signal was not aborted');
    } catch (error) {
      if (!signal.aborted) this.failure = error;
    }
  }

  /** Resolves once `count` deliveries were received in total; rejects on timeout or stream failure. */
  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.failure !== undefined) {
        throw new Error(`the consume stream failed after ${this.received.length} deliveries: ${String(this.failure)}`, { cause: this.failure });
      }
      if (Date.now() >= deadline) throw new Error(`received ${this.received.length} of ${count} deliveries within ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#done;
  }
}
