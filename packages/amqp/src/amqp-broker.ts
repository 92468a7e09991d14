import type { ChannelModel } from 'amqplib';
import {
  brokerCapabilities,
  ClosedError,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type Delivery,
} from '@tq/core/adapter';
import { AmqpConsumer } from './amqp-consumer.js';
import { AmqpSession } from './amqp-session.js';
import { ConfirmPublisher } from './confirm-publisher.js';
import { BroadcastSubscription, declareBroadcastExchange } from './broadcast-subscription.js';
import { toTqError } from './errors.js';
import { toPublishOptions } from './message-codec.js';
import type { AmqpOptions } from './options.js';
import { Topology } from './topology.js';

/**
 * RabbitMQ (AMQP 0-9-1) broker with Celery's declarations. Publishing goes through a
 * confirm channel to the default exchange with the queue name as routing key, exactly as
 * Celery 5 sends to its queues; publish() resolves on the broker's confirm. Each consumer
 * has its own channel (see AmqpConsumer). See index.ts for capabilities and guarantees.
 */
export class AmqpBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly #options: AmqpOptions;
  readonly #session: AmqpSession;
  readonly #topology: Topology;
  readonly #consumers = new Set<{ disconnect(): void }>();
  readonly #publisher = new ConfirmPublisher();

  constructor(options: AmqpOptions) {
    this.#options = options;
    this.#session = new AmqpSession(options, 'AMQP broker');
    this.#topology = new Topology(options);
    this.capabilities = brokerCapabilities({
      delayedDelivery: false,
      // Celery's scale stops at 9; x-max-priority above it adds nothing Celery can use.
      maxPriority: Math.min(9, options.maxPriority),
      broadcast: true,
      redeliversUnacked: true,
      // RabbitMQ redelivers only when the channel dies; consumer_timeout (30 min by default)
      // closes a channel that holds a delivery too long, which the consumer then recovers.
      redeliveryWindowMs: null,
      deadLetter: options.deadLetterExchange === '',
      fifo: true,
      maxMessageBytes: null,
      purge: true,
    });
  }

  /** The endpoint as printed in errors: no password. */
  get endpoint(): string {
    return this.#session.endpoint;
  }

  connect(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#session.connect(options?.signal);
  }

  async #connection(): Promise<ChannelModel> {
    return this.#session.whenOpen(this.#options.connectTimeoutMs);
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    try {
      const connection = await this.#connection();
      await this.#topology.declareQueue(connection, queue);
      // The default exchange, routing key = queue name: what Celery 5 does for its task queues.
      await this.#publisher.publish(connection, '', queue, message.body, toPublishOptions(message));
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `publish to queue "${queue}"`);
    }
  }

  consume(queue: string, options: ConsumeOptions): AsyncIterable<Delivery> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    const consumer: AmqpConsumer = new AmqpConsumer(this.#session, this.#topology, queue, options, () => this.#consumers.delete(consumer));
    this.#consumers.add(consumer);
    consumer.start();
    return consumer.buffer;
  }

  async purge(queue: string): Promise<number> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    try {
      const connection = await this.#connection();
      await this.#topology.declareQueue(connection, queue);
      const channel = await this.#topology.channel(connection);
      const { messageCount } = await channel.purgeQueue(queue);
      return messageCount;
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `purge queue "${queue}"`);
    }
  }

  async broadcast(channelName: string, body: Uint8Array): Promise<void> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    try {
      const connection = await this.#connection();
      await declareBroadcastExchange(await this.#topology.channel(connection), channelName);
      await this.#publisher.publish(connection, channelName, '', body, { deliveryMode: 1, contentType: 'application/octet-stream' });
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `broadcast on "${channelName}"`);
    }
  }

  subscribe(channelName: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    const subscription: BroadcastSubscription = new BroadcastSubscription(this.#session, channelName, signal, () => this.#consumers.delete(subscription));
    this.#consumers.add(subscription);
    subscription.start();
    return subscription.buffer;
  }

  /** Ends every consumer and closes the connection: unacked deliveries return to their queues. */
  async close(): Promise<void> {
    for (const consumer of [...this.#consumers]) consumer.disconnect();
    await this.#session.close();
  }
}
