import type { Message, TopicMessages } from 'kafkajs';

/** Kafka rejects record batches above message.max.bytes (1 048 588 by default): keep each request under it. */
const maxBatchBytes = 900_000;

interface Pending {
  readonly topic: string;
  readonly message: Message;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces publishes made while a produce request is in flight into the next request, so many
 * concurrent `publish` calls cost a few round trips instead of one each, and a lone publish is
 * sent at once. Every caller's promise settles with its own request's outcome.
 */
export class PublishBatcher {
  readonly #send: (batch: TopicMessages[]) => Promise<void>;
  readonly #lingerMs: number;
  #queue: Pending[] = [];
  #inFlight = false;
  #timer: NodeJS.Immediate | NodeJS.Timeout | undefined;

  constructor(send: (batch: TopicMessages[]) => Promise<void>, lingerMs = 0) {
    this.#send = send;
    this.#lingerMs = lingerMs;
  }

  add(topic: string, message: Message): Promise<void> {
    const bytes = (message.value?.length ?? 0) + 256;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ topic, message, bytes, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer) return;
    const flush = () => {
      this.#timer = undefined;
      void this.#flush();
    };
    this.#timer = this.#lingerMs > 0 ? setTimeout(flush, this.#lingerMs) : setImmediate(flush);
  }

  async #flush(): Promise<void> {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#inFlight = true;
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length && (count === 0 || bytes + this.#queue[count]!.bytes <= maxBatchBytes)) bytes += this.#queue[count++]!.bytes;
    const chunk = this.#queue.splice(0, count);
    const byTopic = new Map<string, Message[]>();
    for (const item of chunk) {
      let list = byTopic.get(item.topic);
      if (!list) byTopic.set(item.topic, (list = []));
      list.push(item.message);
    }
    try {
      await this.#send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
      for (const item of chunk) item.resolve();
    } catch (error) {
      for (const item of chunk) item.reject(error);
    } finally {
      this.#inFlight = false;
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  /** Fails everything not yet sent (the broker is closing). */
  failPending(error: unknown): void {
    for (const item of this.#queue.splice(0)) item.reject(error);
  }

  /** Resolves once nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight || this.#queue.length > 0 || this.#timer) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
