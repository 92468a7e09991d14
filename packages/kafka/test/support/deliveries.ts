import type { Broker, BrokerMessage, Delivery } from '@tq/core/adapter';
import { randomUUID } from 'node:crypto';

export function uniqueQueue(label: string): string {
  return `tqk-${label}-${randomUUID().slice(0, 8)}`;
}

export function taskMessage(id: string, extra: Record<string, string> = {}): BrokerMessage {
  return {
    body: new TextEncoder().encode(JSON.stringify([[id], {}, {}])),
    headers: { lang: 'py', task: 'tq.test', id, retries: 0, eta: null, ...extra },
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id, deliveryMode: 2 },
  };
}

export const idOf = (delivery: Delivery): string => String(delivery.message.headers.id);

/** A consumer that reads on demand, so a test controls exactly how many deliveries it holds. */
export class Reader {
  readonly #controller = new AbortController();
  readonly #iterator: AsyncIterator<Delivery>;
  #pending: Promise<IteratorResult<Delivery>> | undefined;

  constructor(broker: Broker, queue: string, prefetch: number) {
    this.#iterator = broker.consume(queue, { prefetch, signal: this.#controller.signal })[Symbol.asyncIterator]();
  }

  /** The next delivery, or undefined if none arrives within `ms`. */
  async poll(ms: number): Promise<Delivery | undefined> {
    this.#pending ??= this.#iterator.next();
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.#pending, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
    clearTimeout(timer);
    if (result === 'timeout') return undefined;
    this.#pending = undefined;
    return result.done ? undefined : result.value;
  }

  async take(count: number, ms = 20_000): Promise<Delivery[]> {
    const deadline = Date.now() + ms;
    const out: Delivery[] = [];
    while (out.length < count) {
      const delivery = await this.poll(Math.max(1, deadline - Date.now()));
      if (!delivery) throw new Error(`got ${out.length} of ${count} deliveries within ${ms} ms`);
      out.push(delivery);
    }
    return out;
  }

  stop(): void {
    this.#controller.abort();
  }
}

/** Retries `check` until it passes or `ms` elapse (for state the broker updates in the background). */
export async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
