import type { Channel, ChannelModel } from 'amqplib';
import { ClosedError, ConfigError, DeliveryBuffer, type BroadcastBinding, type BroadcastKind } from '@tq/core/adapter';
import type { AmqpSession } from './amqp-session.js';

const retryDelayMs = 200;
const PRECONDITION_FAILED = 406;
const noop = () => undefined;

/**
 * Broadcast channels are exchanges, declared exactly as Celery declares its own, because every
 * Celery worker and client declares them too and RabbitMQ refuses a declaration that differs:
 * fanout and direct channels (celery.pidbox, reply.celery.pidbox) are not durable and not
 * auto-deleted; topic channels (celeryev) are durable. The exchange outlives its subscribers,
 * so a broadcast with none is dropped, not refused.
 */
export async function declareBroadcastExchange(connection: ChannelModel, name: string, kind: BroadcastKind): Promise<void> {
  // Its own channel: a PRECONDITION_FAILED closes only that one.
  const channel = await connection.createChannel();
  channel.on('error', noop);
  try {
    try {
      await channel.assertExchange(name, kind, { durable: kind === 'topic', autoDelete: false });
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== PRECONDITION_FAILED) throw error;
    }
    await replaceForeignExchange(connection, name, kind);
  } finally {
    await channel.close().catch(noop);
  }
}

/**
 * tq before 0.2 declared "celeryev" as an auto-deleted fanout; Python Celery workers then died
 * at start-up with PRECONDITION_FAILED. An unused exchange declared otherwise is replaced
 * (broadcasts are transient: nothing is lost); one still bound to subscribers is reported
 * with what to do.
 */
async function replaceForeignExchange(connection: ChannelModel, name: string, kind: BroadcastKind): Promise<void> {
  const channel = await connection.createChannel();
  channel.on('error', noop);
  try {
    await channel.deleteExchange(name, { ifUnused: true });
    await channel.assertExchange(name, kind, { durable: kind === 'topic', autoDelete: false });
  } catch (cause) {
    const message =
      `exchange "${name}" exists on this vhost declared otherwise than Celery declares it (${kind}), and queues are bound to it ` +
      `(subscribers of an older tq): stop them, or delete the exchange (management UI, or rabbitmqadmin delete exchange name=${name})`;
    throw new ConfigError([{ path: 'broker', message }], { cause });
  } finally {
    await channel.close().catch(noop);
  }
}

/** A direct subscriber's queue has the name peers expect (kombu's "<key>.<exchange>"); others are server-named. */
function queueName(exchange: string, binding: BroadcastBinding): string {
  if (binding.kind !== 'direct') return '';
  return binding.queue ?? `${binding.pattern ?? ''}.${exchange}`;
}

/**
 * One subscriber of a broadcast channel: an exclusive, server-named queue bound to the
 * fanout exchange, consumed without acks (broadcasts are not persisted). Re-created after a
 * reconnect; broadcasts sent while it was disconnected are lost, by design.
 */
export class BroadcastSubscription {
  readonly buffer: DeliveryBuffer<Uint8Array>;
  readonly #session: AmqpSession;
  readonly #exchange: string;
  readonly #binding: BroadcastBinding;
  readonly #onGone: () => void;
  #channel: Channel | undefined;
  #active = true;

  constructor(session: AmqpSession, exchange: string, binding: BroadcastBinding, signal: AbortSignal, onGone: () => void) {
    this.#session = session;
    this.#exchange = exchange;
    this.#binding = binding;
    this.#onGone = onGone;
    this.buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: () => this.#stop() });
  }

  start(): void {
    void this.#run();
  }

  async #run(): Promise<void> {
    while (this.#active) {
      let connection: ChannelModel;
      try {
        connection = await this.#session.whenOpen();
      } catch (error) {
        if (error instanceof ClosedError) this.buffer.end();
        else this.buffer.fail(error);
        return;
      }
      try {
        await this.#attach(connection);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  async #attach(connection: ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      const kind = this.#binding.kind ?? 'fanout';
      await declareBroadcastExchange(connection, this.#exchange, kind);
      const { queue } = await channel.assertQueue(queueName(this.#exchange, this.#binding), {
        exclusive: true,
        autoDelete: true,
        durable: false,
        // Events nobody reads for 5 s are stale: the message TTL Celery's event receivers set.
        ...(kind === 'topic' ? { messageTtl: 5000 } : {}),
      });
      await channel.bindQueue(queue, this.#exchange, kind === 'fanout' ? '' : (this.#binding.pattern ?? (kind === 'topic' ? '#' : '')));
      await channel.consume(
        queue,
        (message) => {
          if (message) this.buffer.push(new Uint8Array(message.content));
        },
        { noAck: true },
      );
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    if (!this.#active) {
      await channel.close().catch(() => undefined);
      return;
    }
    this.#channel = channel;
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      if (this.#active) void this.#run();
    });
  }

  #stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#onGone();
    const channel = this.#channel;
    this.#channel = undefined;
    // Closing the channel deletes the exclusive queue (and the exchange with its last binding).
    if (channel) void channel.close().catch(() => undefined);
  }

  disconnect(): void {
    this.buffer.end();
    this.#stop();
  }
}
