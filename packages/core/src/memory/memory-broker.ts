import type { BroadcastBinding, BroadcastRoute, Broker, BrokerMessage, ConsumeOptions, Consumer, DelayedMessage, Delivery, ListDelayedOptions, QueueStats } from '../broker/broker.js';
import { brokerCapabilities, type BrokerCapabilities } from '../broker/capabilities.js';
import { DeliveryBuffer } from '../broker/delivery-buffer.js';
import { topicMatches } from '../broker/topic-pattern.js';
import { ClosedError } from '../errors.js';
import type { HubConsumer, MemoryHub } from './memory-hub.js';
import type { StoredMessage } from './memory-queue.js';

export interface MemoryBrokerOptions {
  /** Largest body accepted, in bytes; null = none. */
  readonly maxMessageBytes?: number | null;
  /** Queue that `reject(false)` moves messages to: `${queue}${suffix}`. Default '.dead'. */
  readonly deadLetterSuffix?: string;
  /**
   * Redeliver an unacked delivery after this many ms unless Delivery.extend() is called,
   * like Redis' visibility timeout or JetStream's AckWait. Default: none.
   */
  readonly redeliveryWindowMs?: number | null;
  /** Honour BrokerMessage.notBefore. Default true; false emulates brokers that cannot delay. */
  readonly delayedDelivery?: boolean;
  /** How long a BrokerMessage.deduplicationId is remembered (capabilities.publishDeduplicationMs). Default 10 min; null emulates brokers that cannot drop repeats. */
  readonly publishDeduplicationMs?: number | null;
}

/**
 * A broker inside this process, with real broker semantics: prefetch bounds unacked
 * deliveries per consumer, unacked deliveries return when their consumer's broker closes
 * (a "connection" dying), reject(false) dead-letters, countdown and priority are honoured.
 * Several MemoryBroker instances on one hub behave like several connections to one server.
 */
export class MemoryBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly #hub: MemoryHub;
  readonly #deadLetterSuffix: string;
  readonly #consumers = new Set<MemoryConsumer>();
  #closed = false;

  constructor(hub: MemoryHub, options: MemoryBrokerOptions = {}) {
    this.#hub = hub;
    this.#deadLetterSuffix = options.deadLetterSuffix ?? '.dead';
    this.capabilities = brokerCapabilities({
      maxPriority: 9,
      broadcast: true,
      redeliversUnacked: true,
      redeliveryWindowMs: options.redeliveryWindowMs ?? null,
      delayedDelivery: options.delayedDelivery ?? true,
      deadLetter: true,
      fifo: true,
      maxMessageBytes: options.maxMessageBytes ?? null,
      purge: true,
      purgeDelayed: true,
      listDelayed: true,
      queueStats: true,
      publishDeduplicationMs: options.publishDeduplicationMs === undefined ? 600_000 : options.publishDeduplicationMs,
    });
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('memory broker');
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    if (this.#closed) throw new ClosedError('memory broker');
    const { deduplicationId, ...kept } = message;
    const window = this.capabilities.publishDeduplicationMs;
    if (deduplicationId !== undefined && window !== null && !this.#hub.firstPublish(deduplicationId, window)) return;
    // Copy the body: the broker owns its bytes, as a network broker would. The deduplication id
    // is not delivered (a consumer that publishes a delivery again must not be deduplicated).
    const stored: StoredMessage = { message: { ...kept, body: new Uint8Array(message.body) }, redelivered: false, publishedAt: Date.now() };
    if (this.capabilities.delayedDelivery && message.notBefore !== undefined && message.notBefore > Date.now()) {
      this.#hub.enqueueAt(queue, stored, message.notBefore);
    } else {
      this.#hub.enqueue(queue, stored);
    }
  }

  consume(queue: string, options: ConsumeOptions): Consumer {
    if (this.#closed) throw new ClosedError('memory broker');
    const consumer = new MemoryConsumer(this.#hub, queue, options, {
      deadLetterSuffix: this.#deadLetterSuffix,
      redeliveryWindowMs: this.capabilities.redeliveryWindowMs,
      onGone: () => this.#consumers.delete(consumer),
    });
    this.#consumers.add(consumer);
    this.#hub.addConsumer(consumer);
    return {
      [Symbol.asyncIterator]: () => {
        const inner = consumer.buffer[Symbol.asyncIterator]();
        return {
          // The visibility window starts when the consumer reads a delivery: until then the
          // broker keeps it (an adapter keeps the leases of deliveries it buffers).
          next: async () => {
            const next = await inner.next();
            if (!next.done) (next.value as MemoryDelivery).startLease();
            return next;
          },
          return: async () => inner.return!(),
        };
      },
      setPrefetch: (prefetch) => consumer.setPrefetch(prefetch),
    };
  }

  async queueStats(queue: string): Promise<QueueStats> {
    const consumers = this.#hub.consumersOf(queue);
    return {
      ready: this.#hub.size(queue),
      unacked: consumers.reduce((sum, consumer) => sum + consumer.unacked, 0),
      dead: this.#hub.size(`${queue}${this.#deadLetterSuffix}`),
      consumers: consumers.length,
      delayed: this.#hub.delayedCount(queue),
      oldestAgeMs: ageOf(this.#hub.oldestPublishedAt(queue)),
    };
  }

  /** Ready and delayed messages alike: a purged countdown task must not turn up later. */
  async purge(queue: string): Promise<number> {
    return this.#hub.queue(queue).clear() + this.#hub.clearDelayed(queue);
  }

  async listDelayed(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]> {
    return this.#hub.delayed(queue, options.limit).map(({ stored, notBefore }) => ({ notBefore, headers: stored.message.headers }));
  }

  async broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    const kind = route?.kind ?? 'fanout';
    const routingKey = route?.routingKey ?? '';
    for (const subscriber of this.#hub.subscribers.get(channel) ?? []) {
      const matches = kind === 'fanout' || (kind === 'direct' ? subscriber.pattern === routingKey : topicMatches(subscriber.pattern, routingKey));
      if (matches) subscriber.buffer.push(new Uint8Array(body));
    }
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    const subscribers = this.#hub.subscribers.get(channel) ?? new Set();
    this.#hub.subscribers.set(channel, subscribers);
    const subscriber = { pattern: binding?.pattern ?? (binding?.kind === 'direct' ? '' : '#'), buffer: new DeliveryBuffer<Uint8Array>({ signal, onClose: () => subscribers.delete(subscriber) }) };
    subscribers.add(subscriber);
    return subscriber.buffer;
  }

  /** Closing is a connection dying: every unacked delivery of this instance returns to its queue. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumer of [...this.#consumers]) consumer.disconnect();
  }
}

class MemoryConsumer implements HubConsumer {
  readonly queue: string;
  readonly buffer: DeliveryBuffer<Delivery>;
  readonly #hub: MemoryHub;
  #prefetch: number;
  readonly #deadLetterQueue: string;
  readonly #unacked = new Set<MemoryDelivery>();
  readonly #onGone: () => void;

  get unacked(): number {
    return this.#unacked.size;
  }

  readonly #redeliveryWindowMs: number | null;
  #active = true;

  constructor(
    hub: MemoryHub,
    queue: string,
    options: ConsumeOptions,
    settings: { deadLetterSuffix: string; redeliveryWindowMs: number | null; onGone: () => void },
  ) {
    this.queue = queue;
    this.#hub = hub;
    this.#prefetch = Math.max(1, options.prefetch);
    this.#deadLetterQueue = `${queue}${settings.deadLetterSuffix}`;
    this.#redeliveryWindowMs = settings.redeliveryWindowMs;
    this.#onGone = settings.onGone;
    this.buffer = new DeliveryBuffer<Delivery>({ signal: options.signal, onClose: () => this.#stop() });
    // Stop taking messages the moment the consumer aborts, not when its reader notices.
    options.signal.addEventListener('abort', () => this.#stop(), { once: true });
  }

  setPrefetch(prefetch: number): void {
    this.#prefetch = Math.max(1, prefetch);
    if (this.#active) this.#hub.dispatch(this.queue);
  }

  hasRoom(): boolean {
    return this.#active && !this.buffer.ended && this.#unacked.size < this.#prefetch;
  }

  offer(stored: StoredMessage): boolean {
    if (!this.hasRoom()) return false;
    const delivery = new MemoryDelivery(stored, (d, outcome) => this.#settle(d, outcome), this.#redeliveryWindowMs);
    if (!this.buffer.push(delivery)) return false;
    this.#unacked.add(delivery);
    return true;
  }

  #settle(delivery: MemoryDelivery, outcome: 'ack' | 'requeue' | 'dead'): void {
    if (!this.#unacked.delete(delivery)) return;
    if (outcome === 'requeue') this.#hub.enqueue(this.queue, { message: delivery.message, redelivered: true }, { front: true });
    else if (outcome === 'dead') this.#hub.enqueue(this.#deadLetterQueue, { message: delivery.message, redelivered: false });
    if (this.#active) this.#hub.dispatch(this.queue);
    else if (this.#unacked.size === 0) this.#onGone();
  }

  /**
   * The reader stopped: deliveries it never read go back at once; read ones stay until settled,
   * or until the broker closes (the consumer stays known to it until then).
   */
  #stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#hub.removeConsumer(this);
    for (const unread of this.buffer.drainUnread()) void unread.reject(true);
    if (this.#unacked.size === 0) this.#onGone();
    this.#hub.dispatch(this.queue);
  }

  /** The connection died: everything unacked returns to the queue. */
  disconnect(): void {
    this.buffer.end();
    this.#stop();
    for (const delivery of [...this.#unacked]) delivery.abandon();
  }
}

class MemoryDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly #settle: (delivery: MemoryDelivery, outcome: 'ack' | 'requeue' | 'dead') => void;
  readonly #windowMs: number | null;
  #expiry: NodeJS.Timeout | undefined;
  #settled = false;
  readonly extend?: () => Promise<void>;

  constructor(stored: StoredMessage, settle: (delivery: MemoryDelivery, outcome: 'ack' | 'requeue' | 'dead') => void, windowMs: number | null) {
    this.message = stored.message;
    this.redelivered = stored.redelivered;
    this.#settle = settle;
    this.#windowMs = windowMs;
    if (windowMs !== null) {
      this.extend = async () => {
        if (!this.#settled) this.#arm();
      };
    }
  }

  startLease(): void {
    if (this.#windowMs !== null && !this.#settled) this.#arm();
  }

  /** The visibility window: an unacked delivery not extended in time goes back to the queue. */
  #arm(): void {
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => this.abandon(), this.#windowMs!);
    this.#expiry.unref();
  }

  async ack(): Promise<void> {
    this.#finish('ack');
  }

  async reject(requeue: boolean): Promise<void> {
    this.#finish(requeue ? 'requeue' : 'dead');
  }

  /** Returned by a dying connection; a later ack/reject from the old owner is a no-op. */
  abandon(): void {
    this.#finish('requeue');
  }

  #finish(outcome: 'ack' | 'requeue' | 'dead'): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#expiry);
    this.#settle(this, outcome);
  }
}

function ageOf(publishedAt: number | null): number | null {
  return publishedAt === null ? null : Math.max(0, Date.now() - publishedAt);
}
