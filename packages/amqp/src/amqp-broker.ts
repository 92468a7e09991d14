import type { ChannelModel } from 'amqplib';
import {
  BrokerConnectionError,
  brokerCapabilities,
  ClosedError,
  type BroadcastBinding,
  type BroadcastRoute,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type QueueStats,
  type Delivery,
  withIdleDeadline,
} from '@tq/core/adapter';
import { AmqpConsumer } from './amqp-consumer.js';
import { AmqpSession } from './amqp-session.js';
import { delayRoutingKey, entryExchange } from './delay-levels.js';
import { ConfirmPublisher } from './confirm-publisher.js';
import { BroadcastSubscription, declareBroadcastExchange } from './broadcast-subscription.js';
import { toTqError } from './errors.js';
import { toPublishOptions } from './message-codec.js';
import type { AmqpOptions } from './options.js';
import { deadLetterQueueName, Topology } from './topology.js';

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
  /** Broadcast exchanges declared on each connection (a new connection declares again). */
  readonly #declaredExchanges = new WeakMap<ChannelModel, Set<string>>();

  constructor(options: AmqpOptions) {
    this.#options = options;
    this.#session = new AmqpSession(options, 'AMQP broker');
    this.#topology = new Topology(options);
    this.capabilities = brokerCapabilities({
      // TTL queue cascade, durable, no plugin: see delay-levels.ts.
      delayedDelivery: true,
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
      queueStats: true,
    });
  }

  /** The endpoint as printed in errors: no password. */
  get endpoint(): string {
    return this.#session.endpoint;
  }

  /** The connection's name on the server (rabbitmqctl list_connections user_provided_name). */
  get connectionName(): string {
    return this.#session.connectionName;
  }

  connect(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#session.connect(options?.signal);
  }

  async #connection(): Promise<ChannelModel> {
    return this.#session.whenOpen(this.#options.connectTimeoutMs);
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    const what = `publish to queue "${queue}"`;
    await this.#onLiveConnection(what, async (connection) => {
      const delayMs = message.notBefore === undefined ? 0 : message.notBefore - Date.now();
      if (delayMs > 0) {
        // Through the TTL cascade (delay-levels.ts); it ends in this queue.
        await this.#declared(what, this.#topology.declareDelayed(connection, queue));
        await this.#confirmed(what, this.#publisher.publish(connection, entryExchange(delayMs), delayRoutingKey(delayMs, queue), message.body, toPublishOptions(message)));
        return;
      }
      await this.#declared(what, this.#topology.declareQueue(connection, queue));
      // The default exchange, routing key = queue name: what Celery 5 does for its task queues.
      await this.#confirmed(what, this.#publisher.publish(connection, '', queue, message.body, toPublishOptions(message)));
    });
  }

  /**
   * A publish fails when the broker confirms nothing for confirmTimeout while it waits (a
   * silent broker never answers, and heartbeats take up to 3 intervals to notice): the caller
   * learns within the bound. A publish at the end of a long line of confirms still coming in
   * (a burst of thousands on a busy broker) waits its turn.
   */
  #confirmed(what: string, publishing: Promise<void>): Promise<void> {
    const timeoutMs = this.#options.confirmTimeoutMs;
    return withIdleDeadline(
      publishing,
      timeoutMs,
      () => this.#publisher.answers,
      () => new BrokerConnectionError(`${what} on ${this.#session.endpoint} failed: no publisher confirm within ${timeoutMs} ms (confirmTimeout)`),
    );
  }

  /**
   * Declarations before a publish fail when the broker leaves one unanswered for confirmTimeout;
   * the delay cascade's first declaration is a hundred round trips and may take longer in all.
   */
  #declared(what: string, declaring: Promise<void>): Promise<void> {
    const timeoutMs = this.#options.confirmTimeoutMs;
    return withIdleDeadline(
      declaring,
      timeoutMs,
      () => this.#topology.steps,
      () => new BrokerConnectionError(`${what} on ${this.#session.endpoint} failed: a declaration had no answer within ${timeoutMs} ms (confirmTimeout)`),
    );
  }

  /**
   * Runs `operation` on the live connection. If that connection died under it (a cut the
   * session had not noticed yet), runs it once more on the next connection, waiting up to
   * connectTimeout for it: a message whose confirm was lost may then be queued twice, which
   * at-least-once delivery allows.
   */
  async #onLiveConnection<T>(what: string, operation: (connection: ChannelModel) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let connection: ChannelModel | undefined;
      try {
        connection = await this.#connection();
        return await operation(connection);
      } catch (error) {
        const failure = toTqError(error, this.#session.endpoint, what);
        const connectionDied = connection !== undefined && this.#session.connection !== connection && !this.#session.closed;
        if (attempt > 0 || !connectionDied || !(failure instanceof BrokerConnectionError)) throw failure;
      }
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
    return this.#onLiveConnection(`purge queue "${queue}"`, async (connection) => {
      await this.#topology.declareQueue(connection, queue);
      const { messageCount } = await (await this.#topology.channel(connection)).purgeQueue(queue);
      return messageCount;
    });
  }

  /**
   * Ready messages and consumers from a passive declare (queue.declare-ok), on a channel of its
   * own since a missing queue (404, counted as empty) closes it. AMQP does not report unacked
   * counts (the management API does).
   */
  async queueStats(queue: string): Promise<QueueStats> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    return this.#onLiveConnection(`count queue "${queue}"`, async (connection) => {
      const check = async (name: string) => {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        try {
          return await channel.checkQueue(name);
        } catch (error) {
          if ((error as { code?: unknown }).code === 404) return { messageCount: 0, consumerCount: 0 };
          throw error;
        } finally {
          await channel.close().catch(() => undefined);
        }
      };
      const [main, dead] = await Promise.all([check(queue), this.#options.deadLetterExchange === '' ? check(deadLetterQueueName(queue)) : null]);
      return { ready: main.messageCount, unacked: null, dead: dead ? dead.messageCount : null, consumers: main.consumerCount };
    });
  }

  /** A broadcast channel's exchange is declared once per connection (it outlives its subscribers). */
  async broadcast(channelName: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    const kind = route?.kind ?? 'fanout';
    const what = `broadcast on "${channelName}"`;
    await this.#confirmed(
      what,
      this.#onLiveConnection(what, async (connection) => {
        let declared = this.#declaredExchanges.get(connection);
        if (!declared?.has(channelName)) {
          await declareBroadcastExchange(connection, channelName, kind);
          if (!declared) this.#declaredExchanges.set(connection, (declared = new Set()));
          declared.add(channelName);
        }
        try {
          await this.#publisher.publish(connection, channelName, kind === 'fanout' ? '' : (route?.routingKey ?? ''), body, {
            deliveryMode: 1,
            contentType: 'application/json',
            contentEncoding: 'utf-8',
            priority: 0,
            ...(route?.headers ? { headers: route.headers } : {}),
          });
        } catch (error) {
          declared.delete(channelName); // deleted under us (404): declare it again next time
          throw error;
        }
      }),
    );
  }

  subscribe(channelName: string, signal: AbortSignal, binding: BroadcastBinding = {}): AsyncIterable<Uint8Array> {
    if (this.#session.closed) throw new ClosedError('AMQP broker');
    const subscription: BroadcastSubscription = new BroadcastSubscription(this.#session, channelName, binding, signal, () => this.#consumers.delete(subscription));
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
