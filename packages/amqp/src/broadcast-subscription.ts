import type { Channel, ChannelModel } from 'amqplib';
import { ClosedError, DeliveryBuffer } from '@tq/core/adapter';
import type { AmqpSession } from './amqp-session.js';

const retryDelayMs = 200;

/**
 * Broadcast channels are fanout exchanges (as kombu's pidbox mailboxes are): not durable,
 * deleted with their last binding. Declared before every broadcast so one sent with no
 * subscriber is dropped, not refused.
 */
export async function declareBroadcastExchange(channel: Channel, name: string): Promise<void> {
  await channel.assertExchange(name, 'fanout', { durable: false, autoDelete: true });
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
  readonly #onGone: () => void;
  #channel: Channel | undefined;
  #active = true;

  constructor(session: AmqpSession, exchange: string, signal: AbortSignal, onGone: () => void) {
    this.#session = session;
    this.#exchange = exchange;
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
      await declareBroadcastExchange(channel, this.#exchange);
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await channel.bindQueue(queue, this.#exchange, '');
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
