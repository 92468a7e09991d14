import {
  BrokerConnectionError,
  withDeadline,
  brokerCapabilities,
  ClosedError,
  redactText,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type Delivery,
  type Logger,
  type QueueStats,
} from '@tq/core/adapter';
import { Kafka, logLevel, Partitioners, type Admin, type IHeaders, type LogEntry, type Producer, type TopicMessages } from 'kafkajs';
import { delayGroupFor, DelayForwarder, nextHop } from './delay-topics.js';
import { toTqError } from './errors.js';
import { commitAsMember } from './group-commit.js';
import { livenessSocketFactory } from './liveness.js';
import { encodeHeaders } from './headers.js';
import type { KafkaOptions } from './options.js';
import { PublishBatcher } from './publish-batcher.js';
import { QueueConsumer, type ConsumerHost } from './queue-consumer.js';
import { GroupMembers, kafkaQueueStats } from './queue-stats.js';
import { groupForQueue, topicForQueue } from './topics.js';

/**
 * A tq broker on Kafka: queue q is topic topicForQueue(q), consumed by group `${groupIdPrefix}q`.
 * Publishing is acks=all (idempotent by default); consuming commits only completed work.
 * See src/index.ts for the capability summary and docs/brokers/kafka.md for the details.
 */
export class KafkaBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly options: KafkaOptions;
  #kafka: Kafka | undefined;
  #producer: Producer | undefined;
  #admin: Admin | undefined;
  #batcher: PublishBatcher | undefined;
  readonly #topics = new Map<string, Promise<void>>();
  readonly #consumers = new Set<QueueConsumer>();
  /** One delay forwarder per consumed queue topic (delay-topics.ts). */
  readonly #forwarders = new Map<string, DelayForwarder>();
  readonly #groupMembers = new GroupMembers();
  #closed = false;

  constructor(options: KafkaOptions) {
    this.options = options;
    this.capabilities = brokerCapabilities({
      // Delay topics, forwarded by each queue's consumers (delay-topics.ts); with delayTopics=false
      // the worker holds ETA tasks in memory until due.
      delayedDelivery: options.delayTopics,
      maxPriority: 0,
      broadcast: false,
      redeliversUnacked: true,
      // The "handed out" mark is committed with the offsets every commitIntervalMs (offset-tracker.ts).
      flagsRedeliveryAfterCut: false,
      redeliveryWindowMs: null,
      deadLetter: true,
      // Kafka orders within a partition only.
      fifo: options.partitions === 1 && options.topicCreation !== 'auto',
      maxMessageBytes: options.maxMessageBytes,
      purge: true,
      // From the queue group's offsets and tq's commit metadata (queue-stats.ts).
      queueStats: true,
      // reject(true) appends a copy at the end of the topic.
      requeueInPlace: false,
    });
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('kafka broker');
    const { options } = this;
    const kafka = new Kafka({
      brokers: [...options.brokers],
      clientId: options.clientId,
      ssl: options.ssl,
      ...(options.sasl ? { sasl: options.sasl } : {}),
      socketFactory: livenessSocketFactory(options.socketFactory, options.requestTimeoutMs),
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      // A few quick retries inside kafkajs; longer outages surface as BrokerConnectionError and core retries.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
      logLevel: logLevel.ERROR,
      logCreator: redactingLogCreator(options.logger),
    });
    const producer = kafka.producer({
      idempotent: options.idempotent,
      // Idempotence needs one request in flight; without it, one in flight still keeps order.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: options.topicCreation === 'auto',
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const admin = kafka.admin();
    try {
      await Promise.all([producer.connect(), admin.connect()]);
    } catch (error) {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      throw toTqError(error, options.idempotent ? 'connecting (with an idempotent producer; set idempotent=false for clusters without InitProducerId)' : 'connecting');
    }
    this.#kafka = kafka;
    this.#producer = producer;
    this.#admin = admin;
    this.#batcher = new PublishBatcher((batch) => this.#send(batch), options.lingerMs);
  }

  async #send(topicMessages: TopicMessages[]): Promise<void> {
    const producer = this.#producer;
    if (!producer) throw new ClosedError('kafka broker');
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
    } catch (error) {
      throw toTqError(error, 'publishing');
    }
  }

  /**
   * Bounded by requestTimeoutMs as a whole: kafkajs retries a timed-out request by itself, so a
   * silent broker would otherwise hold a publish for several request timeouts.
   */
  publish(queue: string, message: BrokerMessage): Promise<void> {
    const batcher = this.#open().batcher;
    const topic = topicForQueue(queue);
    const { requestTimeoutMs } = this.options;
    const publishing = (async () => {
      const body = message.body;
      const value = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (this.options.delayTopics && message.notBefore !== undefined && message.notBefore > Date.now()) {
        const hop = nextHop(topic, message.notBefore, Date.now());
        await Promise.all([this.ensureTopic(topic), this.ensureTopic(hop.topic)]);
        await batcher.add(hop.topic, { value, headers: encodeHeaders(message, hop.headers) });
        return;
      }
      await this.ensureTopic(topic);
      await batcher.add(topic, { value, headers: encodeHeaders(message) });
    })();
    return withDeadline(publishing, requestTimeoutMs, () => new BrokerConnectionError(`kafka: publishing to ${topic} got no answer within ${requestTimeoutMs} ms (requestTimeoutMs)`));
  }

  consume(queue: string, options: ConsumeOptions): AsyncIterable<Delivery> {
    this.#open();
    const topic = topicForQueue(queue);
    const group = groupForQueue(queue, this.options.groupIdPrefix);
    const consumer = new QueueConsumer(this.#host(), topic, group, options);
    this.#consumers.add(consumer);
    consumer.start();
    this.#startForwarder(topic, group);
    return consumer.buffer;
  }

  /** A queue's consumers forward its due delayed records too; a failed start is retried by the next consume. */
  #startForwarder(topic: string, group: string): void {
    if (!this.options.delayTopics) return;
    const { kafka, admin, batcher } = this.#open();
    let forwarder = this.#forwarders.get(topic);
    if (!forwarder) {
      const host = { kafka, admin, options: this.options, ensureTopic: (t: string) => this.ensureTopic(t), append: (t: string, value: Buffer | null, headers: IHeaders) => batcher.add(t, { value, headers }) };
      forwarder = new DelayForwarder(host, topic, delayGroupFor(group));
      this.#forwarders.set(topic, forwarder);
    }
    forwarder.start().catch((error: unknown) => this.options.logger?.error(`kafka: the delay forwarder of ${topic} stopped: ${(error as Error).message}`));
  }

  /**
   * Skips every message the queue's consumer group has not taken yet: commits the end of each
   * partition as the group's offset (Kafka cannot delete single records; DeleteRecords would
   * also cut other readers of the topic, and the mock cluster lacks it). Commits need a group
   * member, so a short-lived consumer joins the group to write them: purging while workers run
   * makes the group rebalance once, and their unfinished deliveries come back.
   */
  async purge(queue: string): Promise<number> {
    const { kafka, admin } = this.#open();
    const topic = topicForQueue(queue);
    const groupId = groupForQueue(queue, this.options.groupIdPrefix);
    try {
      await this.ensureTopic(topic);
      const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const committedByPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let count = 0n;
      for (const { partition, high, low } of ends) {
        const from = committedByPartition.get(partition) ?? -1n;
        const start = from >= BigInt(low) ? from : BigInt(low);
        if (BigInt(high) > start) count += BigInt(high) - start;
      }
      if (count === 0n) return 0;
      await commitAsMember(kafka, this.options, groupId, topic, ends.map(({ partition, high }) => ({ topic, partition, offset: high })));
      return Number(count);
    } catch (error) {
      throw toTqError(error, `purging ${topic}`);
    }
  }

  /**
   * Ready and unacked from the queue group's lag and tq's commit metadata, dead from the
   * dead-letter topic's, consumers from DescribeGroups (queue-stats.ts). No delayed count, no
   * age of the oldest record (it would mean fetching a record).
   */
  async queueStats(queue: string): Promise<QueueStats> {
    const { admin } = this.#open();
    const topic = topicForQueue(queue);
    const { groupIdPrefix, deadLetterSuffix } = this.options;
    try {
      return await kafkaQueueStats(
        admin,
        { topic, groupId: groupForQueue(queue, groupIdPrefix), deadTopic: `${topic}${deadLetterSuffix}`, deadGroupId: groupForQueue(`${queue}${deadLetterSuffix}`, groupIdPrefix) },
        this.#groupMembers,
      );
    } catch (error) {
      throw toTqError(error, `counting ${topic}`);
    }
  }

  /** Creates `topic` once per broker instance, as options.topicCreation says. */
  ensureTopic(topic: string): Promise<void> {
    let ready = this.#topics.get(topic);
    if (!ready) {
      ready = this.#createTopic(topic);
      this.#topics.set(topic, ready);
      ready.catch(() => this.#topics.delete(topic));
    }
    return ready;
  }

  async #createTopic(topic: string): Promise<void> {
    const { options } = this;
    if (options.createTopic) return options.createTopic(topic, options.partitions);
    if (options.topicCreation !== 'admin') return;
    const { admin } = this.#open();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor }],
        waitForLeaders: true,
      });
    } catch (error) {
      if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
      const inner = (error as { errors?: { type?: string }[] }).errors;
      if (inner?.length && inner.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) return;
      throw toTqError(error, `creating topic ${topic} (pre-create it, or set topicCreation=none|auto)`);
    }
  }

  #host(): ConsumerHost {
    const { kafka, admin } = this.#open();
    return {
      kafka,
      admin,
      options: this.options,
      ensureTopic: (topic) => this.ensureTopic(topic),
      republish: (topic, value, headers: IHeaders) => this.#open().batcher.add(topic, { value, headers }),
      forget: (consumer) => this.#consumers.delete(consumer),
    };
  }

  #open(): { kafka: Kafka; admin: Admin; batcher: PublishBatcher } {
    if (this.#closed) throw new ClosedError('kafka broker');
    if (!this.#kafka || !this.#admin || !this.#batcher) throw new ClosedError('kafka broker (not connected)');
    return { kafka: this.#kafka, admin: this.#admin, batcher: this.#batcher };
  }

  /** Commits finished work, leaves every group (unsettled deliveries go to other consumers), disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...[...this.#consumers].map((consumer) => consumer.close()), ...[...this.#forwarders.values()].map((forwarder) => forwarder.stop())]);
    await this.#batcher?.drain();
    await Promise.allSettled([this.#producer?.disconnect(), this.#admin?.disconnect()]);
  }
}

/** kafkajs logs through this: errors only, credentials redacted, on stderr. */
function redactingLogCreator(logger: Logger | undefined) {
  return () =>
    ({ namespace, log }: LogEntry) => {
      const { message, ...extra } = log;
      const detail = extra.error ? ` (${redactText(String(extra.error))})` : '';
      const line = `kafka ${namespace}: ${redactText(String(message))}${detail}`;
      if (logger) logger.error(line);
      else process.stderr.write(`[tq:${line}]\n`);
    };
}
