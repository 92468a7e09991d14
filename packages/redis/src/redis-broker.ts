import { randomUUID } from 'node:crypto';
import type { BroadcastBinding, BroadcastRoute, Broker, BrokerMessage, ConsumeOptions, Consumer, DelayedMessage, ListDelayedOptions, QueueStats } from '@tq/core/adapter';
import { brokerCapabilities, ClosedError, InFlightSet, MomentBatch, type BrokerCapabilities } from '@tq/core/adapter';
import { RedisBroadcasts } from './broadcasts.js';
import { MAX_COMMAND_BYTES } from './command-size.js';
import { closeConnection, openConnection, type Redis } from './connection.js';
import { addDelayed, delayedKey, delayedMember, delayedQueuesKey, DueMover, listDelayed, moveDue, type DelayedEntry } from './delayed-set.js';
import { encodeEnvelope } from './envelope.js';
import { translated, type ErrorContext } from './errors.js';
import { RedisKeys, priorityStep } from './keys.js';
import { warnIfNotPersistent } from './persistence-check.js';
import { PubSubChannels } from './pub-sub.js';
import { PUBLISH_DEDUPLICATION_MS, publishedKey, publishOnce, type OnceTarget } from './publish-once.js';
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
  readonly #outstanding = new InFlightSet<RedisDelivery>();
  readonly #pubSub: PubSubChannels;
  readonly #broadcasts: RedisBroadcasts;
  readonly #publishes = new MomentBatch<{ queue: string; payload: string }>((list, items) => this.#push(list, items), {
    maxItems: 500,
    maxBytes: MAX_COMMAND_BYTES,
    sizeOf: (item) => item.payload.length,
  });
  /** The delayed publishes of one moment to one queue: one script call (ZADD of them all + SADD). */
  readonly #delayedPublishes = new MomentBatch<DelayedEntry>(
    (queue, entries) => translated(this.#context, () => addDelayed(this.#open().commands, this.#keys, queue, entries)),
    { maxItems: 500, maxBytes: MAX_COMMAND_BYTES, sizeOf: (entry) => entry.member.length },
  );
  #commands: Redis | undefined;
  #store: UnackedStore | undefined;
  #restoreTimer: NodeJS.Timeout | undefined;
  readonly #dueMover = new DueMover(
    () => this.#open().commands.smembers(delayedQueuesKey(this.#keys)),
    (queue) => moveDue(this.#open().commands, this.#keys, this.options.prioritySteps, queue),
  );
  #closed = false;

  constructor(options: RedisOptions) {
    this.options = options;
    this.#keys = new RedisKeys(options.keyPrefix, options.db);
    this.#context = { displayUrl: options.displayUrl };
    this.#pubSub = new PubSubChannels(() => openConnection(options, 'blocking', 'tq:broadcast', this.#context));
    this.#broadcasts = new RedisBroadcasts({
      keys: this.#keys,
      context: this.#context,
      pubSub: this.#pubSub,
      commands: () => this.#open().commands,
      openBlocking: () => openConnection(options, 'blocking', 'tq:broadcast:direct', this.#context),
    });
    this.capabilities = brokerCapabilities({
      // A sorted set per queue and a due-mover run by every consuming worker: delayed-set.ts.
      delayedDelivery: options.delayedDelivery,
      maxPriority: MAX_PRIORITY,
      broadcast: true,
      redeliversUnacked: true,
      redeliveryWindowMs: options.visibilityTimeoutMs,
      deadLetter: true,
      // One consumer on one priority step is FIFO (LPUSH + BRPOP); priorities reorder across steps.
      fifo: true,
      maxMessageBytes: MAX_BODY_BYTES,
      purge: true,
      // The delayed set is per queue: purge deletes it, listDelayed reads it (delayed-set.ts).
      purgeDelayed: options.delayedDelivery,
      listDelayed: options.delayedDelivery,
      queueStats: true,
      // A key per deduplicated publish, set in the same script as the push: publish-once.ts.
      publishDeduplicationMs: PUBLISH_DEDUPLICATION_MS,
    });
  }

  async connect(options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#closed) throw new ClosedError('redis broker');
    if (this.#commands) return;
    const commands = await openConnection(this.options, 'command', 'tq:broker', this.#context, options?.signal);
    this.#commands = commands;
    this.#store = new UnackedStore(commands, this.#keys, this.options.prioritySteps, this.options.visibilityTimeoutMs, this.options.foreignVisibilityTimeoutMs);
    void warnIfNotPersistent(commands, this.options.displayUrl, this.options.logger);
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
    if (message.notBefore !== undefined && message.notBefore > Date.now()) {
      const member = delayedMember(this.options.prioritySteps, wirePriority ?? DEFAULT_WIRE_PRIORITY, payload);
      if (message.deduplicationId !== undefined) {
        await this.#publishOnce(message.deduplicationId, { registry: delayedQueuesKey(this.#keys), delayedSet: delayedKey(this.#keys, queue), member, notBefore: message.notBefore, queue });
      } else {
        await this.#delayedPublishes.add(queue, { notBefore: message.notBefore, member });
      }
      this.#dueMover.start();
      this.#dueMover.nudge(message.notBefore);
      return;
    }
    const list = this.#keys.queue(queue, priorityStep(this.options.prioritySteps, wirePriority ?? DEFAULT_WIRE_PRIORITY));
    if (message.deduplicationId !== undefined) await this.#publishOnce(message.deduplicationId, { list, payload }, queue);
    else await this.#publishes.add(list, { queue, payload });
  }

  /** A deduplicated publish: its own script call, outside the moment's batched LPUSH. */
  async #publishOnce(id: string, target: OnceTarget, declareQueue?: string): Promise<void> {
    const { commands } = this.#open();
    await translated(this.#context, () => Promise.all([declareQueue === undefined ? undefined : this.#declare(commands, declareQueue), publishOnce(commands, publishedKey(this.#keys.prefix, id), target)]));
    if (declareQueue !== undefined) this.#declared.add(declareQueue);
  }

  /** One LPUSH per list for every publish of the moment: FIFO holds, as LPUSH pushes its values in order. */
  async #push(list: string, items: readonly { queue: string; payload: string }[]): Promise<void> {
    const { commands } = this.#open();
    const queue = items[0]!.queue;
    const payloads = items.map((item) => item.payload);
    await translated(this.#context, () => Promise.all([this.#declare(commands, queue), commands.lpush(list, ...payloads)]));
    this.#declared.add(queue);
  }

  /**
   * Declares `queue` once per connection, as kombu's producer does (Python tools list queues from
   * these sets): the SADD of its binding, or nothing once declared. Sent before the push it goes
   * with, on the one pipelined connection, so the binding lands first.
   */
  #declare(commands: Redis, queue: string): Promise<number> | undefined {
    return this.#declared.has(queue) ? undefined : commands.sadd(this.#keys.binding(queue), RedisKeys.bindingMember(queue, '', queue));
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
      closing: () => this.#closed,
    });
    this.#consumers.add(consumer);
    this.#startRestorer(store);
    if (this.capabilities.delayedDelivery) this.#dueMover.start();
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

  /** The soonest delayed messages of `queue` (its sorted set), not moved. */
  async listDelayed(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]> {
    const { commands } = this.#open();
    return translated(this.#context, () => listDelayed(commands, this.#keys, queue, options.limit));
  }

  /**
   * Ready, delayed and dead-lettered counts: LLEN of every priority list of the queue and of its
   * dead letters, and ZCARD of its delayed set, in one round trip. Unacked deliveries sit in kombu's shared `unacked` hash, not
   * per queue, and Redis does not count consumers of a list: both are null.
   */
  async queueStats(queue: string): Promise<QueueStats> {
    const { commands } = this.#open();
    return translated(this.#context, async () => {
      const transaction = commands.multi();
      for (const name of [queue, `${queue}${this.#deadLetterSuffix}`]) {
        for (const step of this.options.prioritySteps) transaction.llen(this.#keys.queue(name, step));
      }
      transaction.zcard(delayedKey(this.#keys, queue));
      const counts = ((await transaction.exec()) ?? []).map(([, n]) => Number(n ?? 0));
      const steps = this.options.prioritySteps.length;
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      const delayed = counts[2 * steps]!;
      return { ready: sum(counts.slice(0, steps)), unacked: null, dead: sum(counts.slice(steps, 2 * steps)), consumers: null, delayed };
    });
  }

  /**
   * Every waiting message: the priority lists and the delayed set (countdown/ETA messages not yet
   * due), in one transaction, so a message the due-mover moves meanwhile is counted once.
   */
  async purge(queue: string): Promise<number> {
    const { commands } = this.#open();
    return translated(this.#context, async () => {
      const transaction = commands.multi();
      for (const step of this.options.prioritySteps) {
        const list = this.#keys.queue(queue, step);
        transaction.llen(list).del(list);
      }
      const delayed = delayedKey(this.#keys, queue);
      transaction.zcard(delayed).del(delayed).srem(delayedQueuesKey(this.#keys), queue);
      const results = (await transaction.exec()) ?? [];
      const counts = results.slice(0, 2 * this.options.prioritySteps.length + 2).filter((_, i) => i % 2 === 0);
      return counts.reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
    });
  }

  broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    this.#open();
    return this.#broadcasts.broadcast(channel, body, route);
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    this.#open();
    return this.#broadcasts.subscribe(channel, signal, binding);
  }

  /** Stops every consumer and returns its unacked deliveries to the front of their queues (kombu's restore_at_shutdown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restoreTimer) clearInterval(this.#restoreTimer);
    this.#dueMover.stop();
    const consumers = [...this.#consumers];
    await Promise.all(consumers.map((c) => c.stop()));
    // Deliveries handed out, read or not, whose consumer may already have ended.
    await Promise.all([...this.#outstanding].map((d) => d.settle('restore').catch(() => undefined)));
    this.#broadcasts.close();
    await this.#pubSub.close();
    if (this.#commands) await closeConnection(this.#commands, this.options.socketTimeoutMs);
  }
}
