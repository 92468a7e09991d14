import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { ClosedError, ConfigError, DeliveryBuffer, type BrokerMessage, type ConsumeOptions, type Delivery, InFlightSet } from '@tq/core/adapter';
import type { AmqpSession } from './amqp-session.js';
import { toTqError } from './errors.js';
import { toBrokerMessage } from './message-codec.js';
import type { Topology } from './topology.js';

const retryInitialDelayMs = 100;
const retryMaxDelayMs = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One consumer of a task queue on its own channel: manual acks, basic.qos(prefetch) so the
 * broker never hands it more than `prefetch` unacked messages, and recovery: when its channel
 * dies (connection lost, consumer cancelled, channel error) it waits for the session to
 * reconnect, re-declares the queue and consumes again. Deliveries of a dead channel are
 * abandoned: RabbitMQ redelivers them, and their ack/reject becomes a no-op (an ack on the
 * new channel would hit the wrong delivery tag).
 */
export class AmqpConsumer {
  readonly buffer: DeliveryBuffer<Delivery>;
  readonly #session: AmqpSession;
  readonly #topology: Topology;
  readonly #queue: string;
  readonly #prefetch: number;
  readonly #onGone: () => void;
  readonly #outstanding = new InFlightSet<AmqpDelivery>();
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  /** #run owns recovery while it attaches; a channel closing meanwhile must not start a second run. */
  #attaching = false;
  #active = true;

  constructor(session: AmqpSession, topology: Topology, queue: string, options: ConsumeOptions, onGone: () => void) {
    this.#session = session;
    this.#topology = topology;
    this.#queue = queue;
    this.#prefetch = Math.max(1, Math.floor(options.prefetch));
    this.#onGone = onGone;
    this.buffer = new DeliveryBuffer<Delivery>({ signal: options.signal, onClose: () => this.#stop() });
  }

  /** Attaches in the background; errors that retrying cannot fix end the iteration with them. */
  start(): void {
    void this.#run();
  }

  async #run(): Promise<void> {
    for (let attempt = 0; this.#active; attempt++) {
      let connection: ChannelModel;
      try {
        connection = await this.#session.whenOpen();
      } catch (error) {
        // Closed: the stream ends. Never connected (consume before connect): say so.
        if (error instanceof ClosedError) this.buffer.end();
        else this.buffer.fail(error);
        return;
      }
      this.#attaching = true;
      try {
        await this.#attach(connection);
        return;
      } catch (error) {
        const failure = toTqError(error, this.#session.endpoint, `consume from queue "${this.#queue}"`);
        if (failure instanceof ConfigError) {
          this.buffer.fail(failure);
          return;
        }
        await sleep(Math.min(retryMaxDelayMs, retryInitialDelayMs * 2 ** attempt));
      } finally {
        this.#attaching = false;
      }
    }
  }

  async #attach(connection: ChannelModel): Promise<void> {
    await this.#topology.declareQueue(connection, this.#queue);
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => this.#onChannelClosed(channel));
    this.#channel = channel;
    try {
      await channel.prefetch(this.#prefetch, false);
      const { consumerTag } = await channel.consume(this.#queue, (message) => this.#onMessage(channel, message), { noAck: false });
      this.#consumerTag = consumerTag;
    } catch (error) {
      if (this.#channel === channel) this.#channel = undefined;
      await channel.close().catch(() => undefined);
      throw error;
    }
    if (!this.#active) this.#finishIfIdle();
  }

  #onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The server cancelled us (queue deleted): recover on a fresh channel, re-declaring.
      this.#topology.forget(this.#queue);
      void channel.close().catch(() => undefined);
      return;
    }
    if (!this.#active || this.buffer.ended || channel !== this.#channel) {
      safely(() => channel.reject(message, true));
      return;
    }
    const delivery = new AmqpDelivery(message, channel, (d) => this.#settled(d));
    this.#outstanding.add(delivery);
    this.buffer.push(delivery);
  }

  #settled(delivery: AmqpDelivery): void {
    this.#outstanding.delete(delivery);
    if (!this.#active) this.#finishIfIdle();
  }

  #onChannelClosed(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#consumerTag = undefined;
    // Unread deliveries belong to the dead channel: drop them, the broker redelivers them.
    this.buffer.drainUnread();
    for (const delivery of this.#outstanding) delivery.abandon();
    this.#outstanding.clear();
    if (this.#active && !this.#attaching) void this.#run();
  }

  /** The reader stopped: cancel, give unread deliveries back, close once read ones are settled. */
  #stop(): void {
    if (!this.#active) return;
    this.#active = false;
    const channel = this.#channel;
    if (channel && this.#consumerTag !== undefined) void channel.cancel(this.#consumerTag).catch(() => undefined);
    for (const unread of this.buffer.drainUnread()) void unread.reject(true);
    this.#onGone();
    this.#finishIfIdle();
  }

  #finishIfIdle(): void {
    if (this.#outstanding.size > 0) return;
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) void channel.close().catch(() => undefined);
  }

  /** The broker is closing: end the iteration; the connection's close returns unacked messages. */
  disconnect(): void {
    this.buffer.end();
    this.#active = false;
    for (const delivery of this.#outstanding) delivery.abandon();
    this.#outstanding.clear();
    this.#onGone();
  }
}

/** Runs an amqplib call that throws IllegalOperationError on a closed channel; closed = no-op. */
function safely(call: () => void): void {
  try {
    call();
  } catch {
    // The channel is closed: the broker has already returned the message to its queue.
  }
}

class AmqpDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly #raw: ConsumeMessage;
  readonly #channel: Channel;
  readonly #onSettled: (delivery: AmqpDelivery) => void;
  #settled = false;
  /** Made on first read of `lost`: most deliveries are settled without anyone asking. */
  #lost: AbortController | undefined;

  constructor(raw: ConsumeMessage, channel: Channel, onSettled: (delivery: AmqpDelivery) => void) {
    this.#raw = raw;
    this.#channel = channel;
    this.#onSettled = onSettled;
    this.message = toBrokerMessage(raw);
    this.redelivered = raw.fields.redelivered;
  }

  async ack(): Promise<void> {
    this.#finish(() => this.#channel.ack(this.#raw));
  }

  async reject(requeue: boolean): Promise<void> {
    this.#finish(() => this.#channel.reject(this.#raw, requeue));
  }

  get lost(): AbortSignal {
    this.#lost ??= new AbortController();
    return this.#lost.signal;
  }

  /** Its channel died: the broker redelivers it; a later ack/reject is a no-op. */
  abandon(): void {
    this.#settled = true;
    this.#lost?.abort();
  }

  #finish(call: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    safely(call);
    this.#onSettled(this);
  }
}
