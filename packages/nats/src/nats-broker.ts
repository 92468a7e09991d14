import { notBeforeHeader } from './delayed-nak.js';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos, nuid, type NatsConnection } from '@nats-io/transport-node';
import {
  brokerCapabilities,
  ClosedError,
  DeliveryBuffer,
  loggerOf,
  type AdapterOptions,
  type BroadcastBinding,
  type BroadcastRoute,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type QueueStats,
  type Consumer as TqConsumer,
} from '@tq/core/adapter';
import { openConnection } from './connection.js';
import { warnIfMemoryStorage } from './persistence-check.js';
import { toTqError } from './errors.js';
import { WriteBatch } from './write-batch.js';
import { encodeHeaders } from './headers.js';
import { livenessBoundMs, type NatsBrokerOptions } from './options.js';
import { QueueConsumer } from './queue-consumer.js';
import { Subjects } from './subjects.js';

// JetStream API error codes tq reacts to.
const streamNotFound = 10059;
const consumerNameExists = 10148;
const consumerNotFound = 10014;
const consumerAlreadyExists = 10105;

interface Connected {
  readonly nc: NatsConnection;
  readonly writes: WriteBatch;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/**
 * Broker over a JetStream work-queue stream. See index.ts for the layout and guarantees.
 */
export class NatsBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly subjects: Subjects;
  readonly #options: NatsBrokerOptions;
  readonly #adapterOptions: AdapterOptions;
  readonly #consumers = new Set<QueueConsumer>();
  readonly #durables = new Map<string, Promise<Consumer>>();
  /**
   * Nats-Msg-Id per message object while its publish is unconfirmed: core's retry of a failed
   * publish passes the same object, so a first attempt that did reach the stream (its PubAck
   * lost) is dropped as a duplicate. Cleared on success, so a deliberate re-publish is new.
   */
  readonly #pendingIds = new WeakMap<BrokerMessage, string>();
  #connected: Connected | undefined;
  #closed = false;

  constructor(options: NatsBrokerOptions, adapterOptions: AdapterOptions = {}) {
    this.#options = options;
    this.#adapterOptions = adapterOptions;
    this.subjects = new Subjects(options.stream, options.subjectPrefix);
    this.capabilities = brokerCapabilities({
      // The consumer naks a message before its Tq-Not-Before with that delay: delayed-nak.ts.
      delayedDelivery: true,
      maxPriority: 0,
      broadcast: true,
      redeliversUnacked: true,
      redeliveryWindowMs: options.ackWaitMs,
      deadLetter: true,
      fifo: true,
      maxMessageBytes: options.maxMessageBytes,
      purge: true,
      // A delayed message sits on its queue's subject (Tq-Not-Before, delayed-nak.ts): the purge by subject takes it.
      purgeDelayed: true,
      queueStats: true,
      // Nats-Msg-Id: JetStream drops a repeat within the stream's duplicate_window (publish()).
      publishDeduplicationMs: options.duplicateWindowMs,
    });
  }

  /** The live connection, for tests and tools (e.g. to inspect the stream). */
  get connection(): NatsConnection | undefined {
    return this.#connected?.nc;
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('nats broker');
    if (this.#connected) return;
    const nc = await openConnection(this.#options, this.#adapterOptions, false);
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      await this.#ensureStreams(jsm);
      this.#connected = { nc, js, jsm, writes: new WriteBatch(nc, livenessBoundMs(this.#options)) };
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw toTqError(error, `preparing stream ${this.#options.stream} on ${this.#options.redacted}`, { connecting: true });
    }
  }

  #live(): Connected {
    if (this.#closed) throw new ClosedError('nats broker');
    if (!this.#connected) throw new ClosedError('nats broker (not connected)');
    return this.#connected;
  }

  async #ensureStreams(jsm: JetStreamManager): Promise<void> {
    const { replicas, duplicateWindowMs } = this.#options;
    const work: Partial<StreamConfig> & { name: string } = {
      name: this.subjects.stream,
      subjects: [this.subjects.queueWildcard],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      duplicate_window: nanos(duplicateWindowMs),
    };
    const dead: Partial<StreamConfig> & { name: string } = {
      name: this.subjects.deadLetterStream,
      subjects: [this.subjects.deadLetterWildcard],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      duplicate_window: nanos(duplicateWindowMs),
    };
    for (const config of [work, dead]) {
      try {
        warnIfMemoryStorage(await jsm.streams.info(config.name), this.#options.redacted, loggerOf(this.#adapterOptions));
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === streamNotFound)) throw error;
        // Created by whoever gets there first; an identical concurrent create succeeds too.
        await jsm.streams.add(config);
      }
    }
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    const { js, writes } = this.#live();
    // A deduplicationId is the message id JetStream drops repeats of within duplicateWindowMs;
    // otherwise one id per message object, so retries of one publish are not enqueued twice.
    let msgID = message.deduplicationId !== undefined ? `once:${message.deduplicationId}` : this.#pendingIds.get(message);
    if (msgID === undefined) {
      const taskId = message.headers['id'];
      msgID = typeof taskId === 'string' ? `${taskId}:${nuid.next()}` : nuid.next();
      this.#pendingIds.set(message, msgID);
    }
    const route = this.subjects.route(queue);
    try {
      const headers = encodeHeaders(message.headers, message.properties);
      if (message.notBefore !== undefined && message.notBefore > Date.now()) headers.append(notBeforeHeader, String(message.notBefore));
      await writes.run(() =>
        js.publish(route.subject, message.body, { headers, msgID, expect: { streamName: route.stream } }),
      );
      this.#pendingIds.delete(message);
    } catch (error) {
      throw toTqError(error, `publishing to queue "${queue}"`, { payloadBytes: message.body.byteLength, maxPayload: this.capabilities.maxMessageBytes ?? undefined });
    }
  }

  consume(queue: string, options: ConsumeOptions): TqConsumer {
    const { nc, js, jsm, writes } = this.#live();
    const route = this.subjects.route(queue);
    // The dead-letter stream keeps messages (limits retention): an ack there must delete the
    // message, or a replayed/purged dead letter would stay counted; and reading dead letters
    // again and again (tq dead list) must never move them on as "delivered too often".
    const deadLetters = route.stream === this.subjects.deadLetterStream;
    const consumer: QueueConsumer = new QueueConsumer(queue, options.prefetch, options.signal, {
      nc,
      writes,
      js,
      subjects: this.subjects,
      maxDeliver: deadLetters ? Number.POSITIVE_INFINITY : this.#options.maxDeliver,
      ...(deadLetters ? { deleteOnAck: (seq: number) => deleteIfPresent(jsm, route.stream, seq) } : {}),
      // Short pulls on dead letters: a reader (tq dead list) gives back what it only looked at
      // once its pull ends, so the next reader must not wait the full pull expiry for them.
      pullExpiresMs: deadLetters ? Math.min(this.#options.pullExpiresMs, 1_000) : this.#options.pullExpiresMs,
      ...(loggerOf(this.#adapterOptions) ? { logger: loggerOf(this.#adapterOptions)! } : {}),
      consumerFor: (q, refresh) => this.#durable(q, refresh),
      onStop: () => this.#consumers.delete(consumer),
    });
    this.#consumers.add(consumer);
    return {
      setPrefetch: (prefetch) => consumer.setPrefetch(prefetch),
      [Symbol.asyncIterator]: () => consumer.buffer[Symbol.asyncIterator](),
    };
  }

  /** The queue's durable pull consumer, created once per broker (idempotent at the server). */
  #durable(queue: string, refresh = false): Promise<Consumer> {
    let found = refresh ? undefined : this.#durables.get(queue);
    if (!found) {
      found = this.#createDurable(queue);
      this.#durables.set(queue, found);
      found.catch(() => this.#durables.delete(queue));
    }
    return found;
  }

  async #createDurable(queue: string): Promise<Consumer> {
    const { js, jsm } = this.#live();
    const { stream, subject, consumer: name } = this.subjects.route(queue);
    const config: Partial<ConsumerConfig> = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#options.ackWaitMs),
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      // Each worker bounds its own unacked count (prefetch); the shared consumer must not.
      max_ack_pending: -1,
      // Enforced by the adapter (see QueueConsumer), so the server never strands a message.
      max_deliver: -1,
    };
    try {
      await jsm.consumers.add(stream, config);
    } catch (error) {
      const code = error instanceof JetStreamApiError ? error.code : 0;
      if (code !== consumerNameExists && code !== consumerAlreadyExists) throw error;
      // Exists with another AckWait (a changed URL): align it; the filter cannot change.
      await jsm.consumers.update(stream, name, { ack_wait: config.ack_wait!, max_ack_pending: -1, max_deliver: -1 });
    }
    return js.consumers.get(stream, name);
  }

  /**
   * From JetStream's own counts: the queue's durable consumer gives pending (ready) and
   * ack-pending (unacked); before any worker made it, the messages on the queue's subject are
   * all ready. Dead letters: the messages on its subject in the dead-letter stream.
   */
  async queueStats(queue: string): Promise<QueueStats> {
    const { jsm } = this.#live();
    const onSubject = async (route: { stream: string; subject: string }): Promise<number> => {
      const info = await jsm.streams.info(route.stream, { subjects_filter: route.subject });
      return info.state.subjects?.[route.subject] ?? 0;
    };
    try {
      const route = this.subjects.route(queue);
      const dead = await onSubject(this.subjects.route(this.subjects.deadLetterQueue(queue)));
      // The first message left on the subject is the oldest not yet acked (work-queue retention).
      const oldestAgeMs = await jsm.streams.getMessage(route.stream, { next_by_subj: route.subject, seq: 0 } as unknown as { seq: number }).then(
        (message) => (message ? Math.max(0, Date.now() - message.time.getTime()) : null),
        () => null,
      );
      try {
        const consumer = await jsm.consumers.info(route.stream, route.consumer);
        return { ready: consumer.num_pending, unacked: consumer.num_ack_pending, dead, consumers: null, oldestAgeMs };
      } catch (error) {
        if (!(error instanceof JetStreamApiError) || error.code !== consumerNotFound) throw error;
        return { ready: await onSubject(route), unacked: 0, dead, consumers: null, oldestAgeMs };
      }
    } catch (error) {
      throw toTqError(error, `counting queue "${queue}"`);
    }
  }

  async purge(queue: string): Promise<number> {
    const { jsm } = this.#live();
    try {
      const { stream, subject } = this.subjects.route(queue);
      const response = await jsm.streams.purge(stream, { filter: subject });
      return response.purged;
    } catch (error) {
      throw toTqError(error, `purging queue "${queue}"`);
    }
  }

  async broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    const { nc, writes } = this.#live();
    try {
      const keyed = route?.kind === 'topic' || route?.kind === 'direct';
      nc.publish(keyed ? this.subjects.topicBroadcast(channel, route.routingKey ?? '') : this.subjects.broadcast(channel), body);
      await writes.flush();
    } catch (error) {
      throw toTqError(error, `broadcasting on "${channel}"`);
    }
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    const { nc } = this.#live();
    // Direct channels are topics bound by the exact key: core NATS has no queue to wait in, so a
    // subscriber reads what is published after it subscribed (remote-control replies are).
    const { subject, filter } =
      binding?.kind === 'topic' ? this.subjects.topicSubscription(channel, binding.pattern ?? '#')
      : binding?.kind === 'direct' ? { subject: this.subjects.topicBroadcast(channel, binding.pattern ?? ''), filter: undefined }
      : { subject: this.subjects.broadcast(channel), filter: undefined };
    const subscription = nc.subscribe(subject);
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: () => subscription.unsubscribe() });
    void (async () => {
      try {
        for await (const msg of subscription) if (!filter || filter(msg.subject)) buffer.push(msg.data);
        buffer.end();
      } catch (error) {
        buffer.fail(toTqError(error, `subscribing to "${channel}"`));
      }
    })();
    return buffer;
  }

  /** Unacked deliveries are nak'ed (back to the queue at once, not after AckWait), then the connection closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connected = this.#connected;
    await Promise.allSettled([...this.#consumers].map((c) => c.abandonAll()));
    this.#consumers.clear();
    if (!connected) return;
    try {
      await connected.writes.flush();
    } catch {
      // Already disconnected: the server redelivers after AckWait instead.
    }
    await connected.nc.close().catch(() => undefined);
  }
}

/** Deletes one message from a stream; one already gone (purged meanwhile) is fine. */
async function deleteIfPresent(jsm: JetStreamManager, stream: string, seq: number): Promise<void> {
  try {
    await jsm.streams.deleteMessage(stream, seq, false);
  } catch (error) {
    if (!/no message found/i.test(String((error as Error)?.message ?? error))) throw error;
  }
}
