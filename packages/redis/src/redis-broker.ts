import { randomUUID } from 'node:crypto';
import type { Broker, BrokerMessage, ConsumeOptions, Consumer } from '@tq/core/adapter';
import { brokerCapabilities, ClosedError, DeliveryBuffer, MomentBatch, type BrokerCapabilities } from '@tq/core/adapter';
import { closeConnection, openConnection, type Redis } from './connection.js';
import { encodeEnvelope } from './envelope.js';
import { translated, type ErrorContext } from './errors.js';
import { RedisKeys, priorityStep } from './keys.js';
import type { RedisOptions } from './options.js';
import { DEFAULT_WIRE_PRIORITY, MAX_PRIORITY, toWirePriority } from './priority.js';
import { RedisConsumer } from './redis-consumer.js';
import type { RedisDelivery } from './redis-delivery.js';
import { UnackedStore } from './unacked-store.js';

/**
 * Largest body accepted. Redis caps a string at 512 MB (proto-max-bulk-len) and kombu stores
 * the body base64-encoded (4/3 larger) inside a JSON envelope, so 256 MiB leaves headroom.
 */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/**
 * A Broker over kombu's Redis transport layout (see index.ts for the key layout and guarantees).
 * One command connection for publish/ack/bookkeeping (the publishes of one moment share one LPUSH), one blocking connection
 * per consumer for BRPOP, one subscriber connection for broadcasts.
 */
export class RedisBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly options: RedisOptions;
  readonly #keys: RedisKeys;
  readonly #context: ErrorContext;
  readonly #deadLetterSuffix = '.dead';
  readonly #declared = new Set<string>();
  readonly #consumers = new Set<RedisConsumer>();
  readonly #outstanding = new Set<RedisDelivery>();
  readonly #subscriptions = new Map<string, Set<DeliveryBuffer<Uint8Array>>>();
  readonly #publishes = new MomentBatch<{ queue: string; payload: string }>((list, items) => this.#push(list, items), { maxItems: 500 });
  #commands: Redis | undefined;
  #subscriber: Promise<Redis> | undefined;
  #store: UnackedStore | undefined;
  #restoreTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RedisOptions) {
    this.options = options;
    this.#keys = new RedisKeys(options.keyPrefix, options.db);
    this.#context = { displayUrl: options.displayUrl };
    this.capabilities = brokerCapabilities({
      delayedDelivery: false,
      maxPriority: MAX_PRIORITY,
      broadcast: true,
      redeliversUnacked: true,
      redeliveryWindowMs: options.visibilityTimeoutMs,
      deadLetter: true,
      // One consumer on one priority step is FIFO (LPUSH + BRPOP); priorities reorder across steps.
      fifo: true,
      maxMessageBytes: MAX_BODY_BYTES,
      purge: true,
    });
  }

  async connect(options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#closed) throw new ClosedError('redis broker');
    if (this.#commands) return;
    const commands = await openConnection(this.options, 'command', 'tq:broker', this.#context, options?.signal);
    this.#commands = commands;
    this.#store = new UnackedStore(commands, this.#keys, this.options.prioritySteps, this.options.visibilityTimeoutMs);
  }

  #open(): { commands: Redis; store: UnackedStore } {
    if (this.#closed) throw new ClosedError('redis broker');
    if (!this.#commands || !this.#store) throw new ClosedError('redis broker (not connected)');
    return { commands: this.#commands, store: this.#store };
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    this.#open();
    const priority = message.properties.priority;
    const wirePriority = priority === undefined ? undefined : toWirePriority(priority);
    const payload = encodeEnvelope(message, { exchange: '', routingKey: queue, deliveryTag: randomUUID(), wirePriority });
    const list = this.#keys.queue(queue, priorityStep(this.options.prioritySteps, wirePriority ?? DEFAULT_WIRE_PRIORITY));
    await this.#publishes.add(list, { queue, payload });
  }

  /** One LPUSH per list for every publish of the moment: FIFO holds, as LPUSH pushes its values in order. */
  async #push(list: string, items: readonly { queue: string; payload: string }[]): Promise<void> {
    const { commands } = this.#open();
    const queue = items[0]!.queue;
    const payloads = items.map((item) => item.payload);
    await translated(this.#context, async () => {
      // Declare once per connection, as kombu's producer does: Python tools list queues from these
      // sets. Both commands are pipelined on the one connection, so the binding lands first.
      if (!this.#declared.has(queue)) await Promise.all([commands.sadd(this.#keys.binding(queue), RedisKeys.bindingMember(queue, '', queue)), commands.lpush(list, ...payloads)]);
      else await commands.lpush(list, ...payloads);
    });
    this.#declared.add(queue);
  }

  consume(queue: string, options: ConsumeOptions): Consumer {
    const { commands, store } = this.#open();
    const consumer = new RedisConsumer(queue, options.prefetch, options.signal, {
      options: this.options,
      keys: this.#keys,
      store,
      commands,
      context: this.#context,
      deadLetterSuffix: this.#deadLetterSuffix,
      outstanding: this.#outstanding,
    });
    this.#consumers.add(consumer);
    this.#startRestorer(store);
    const deliveries = consumer.deliveries(() => this.#consumers.delete(consumer));
    return { [Symbol.asyncIterator]: () => deliveries, setPrefetch: (prefetch) => consumer.setPrefetch(prefetch) };
  }

  /**
   * Runs kombu's restore_visible while this broker consumes: deliveries whose consumer died
   * (no ack, no extend within the visibility timeout) go back to their queue.
   */
  #startRestorer(store: UnackedStore): void {
    if (this.#restoreTimer) return;
    const restore = () => void store.restoreExpired().catch(() => undefined);
    const interval = Math.min(10_000, Math.max(100, Math.floor(this.options.visibilityTimeoutMs / 4)));
    this.#restoreTimer = setInterval(restore, interval);
    this.#restoreTimer.unref();
    restore();
  }

  /** Restores expired deliveries now (what the timer does), e.g. before consuming in a script. */
  async restoreExpired(): Promise<number> {
    const { store } = this.#open();
    return translated(this.#context, () => store.restoreExpired());
  }

  async purge(queue: string): Promise<number> {
    const { commands } = this.#open();
    return translated(this.#context, async () => {
      const transaction = commands.multi();
      for (const step of this.options.prioritySteps) {
        const list = this.#keys.queue(queue, step);
        transaction.llen(list).del(list);
      }
      const results = (await transaction.exec()) ?? [];
      return results.filter((_, i) => i % 2 === 0).reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
    });
  }

  async broadcast(channel: string, body: Uint8Array): Promise<void> {
    const { commands } = this.#open();
    await translated(this.#context, () => commands.publish(this.#keys.broadcastChannel(channel), Buffer.from(body)));
  }

  subscribe(channel: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    this.#open();
    const name = this.#keys.broadcastChannel(channel);
    let buffers = this.#subscriptions.get(name);
    const first = !buffers;
    if (!buffers) this.#subscriptions.set(name, (buffers = new Set()));
    const set = buffers;
    const buffer: DeliveryBuffer<Uint8Array> = new DeliveryBuffer({
      signal,
      onClose: () => {
        set.delete(buffer);
        if (set.size === 0 && this.#subscriptions.get(name) === set) {
          this.#subscriptions.delete(name);
          void this.#subscriber?.then((s) => s.unsubscribe(name)).catch(() => undefined);
        }
      },
    });
    set.add(buffer);
    if (first) {
      // Subscribe now, not on first read, so a broadcast sent right after subscribe() arrives.
      this.#subscriberConnection()
        .then((s) => s.subscribe(name))
        .catch((error: unknown) => buffer.fail(error));
    }
    return buffer;
  }

  #subscriberConnection(): Promise<Redis> {
    this.#subscriber ??= openConnection(this.options, 'blocking', 'tq:broadcast', this.#context).then((subscriber) => {
      subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        for (const buffer of this.#subscriptions.get(channel.toString()) ?? []) buffer.push(new Uint8Array(message));
      });
      return subscriber;
    });
    return this.#subscriber;
  }

  /** Stops every consumer and returns its unacked deliveries to the front of their queues (kombu's restore_at_shutdown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restoreTimer) clearInterval(this.#restoreTimer);
    const consumers = [...this.#consumers];
    await Promise.all(consumers.map((c) => c.stop()));
    // Deliveries handed out, read or not, whose consumer may already have ended.
    await Promise.all([...this.#outstanding].map((d) => d.settle('restore').catch(() => undefined)));
    for (const buffers of this.#subscriptions.values()) for (const buffer of buffers) buffer.end();
    this.#subscriptions.clear();
    const subscriber = await this.#subscriber?.catch(() => undefined);
    if (subscriber) await closeConnection(subscriber);
    if (this.#commands) await closeConnection(this.#commands);
  }
}
