import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';

/**
 * Publishes on a confirm channel (one per connection, re-opened after it dies) and resolves
 * only when the broker confirms the message: a publish that resolves is in the queue (or,
 * for an unroutable message, knowingly dropped by the broker, as with Celery).
 */
export class ConfirmPublisher {
  #current: { connection: ChannelModel; channel: Promise<ConfirmChannel> } | undefined;
  /**
   * Mandatory messages the broker returned (no queue to route them to), by routing key and
   * correlation id, not yet matched to their publish: RabbitMQ sends basic.return before the
   * basic.ack of the same message, so the confirm callback finds its return counted here.
   */
  readonly #returned = new Map<string, number>();
  #answers = 0;

  /** Confirms (acks and nacks) received so far: a publish waiting in a long line watches it move. */
  get answers(): number {
    return this.#answers;
  }

  #channel(connection: ChannelModel): Promise<ConfirmChannel> {
    if (this.#current?.connection !== connection) {
      const opening = connection.createConfirmChannel().then((channel) => {
        // Without an 'error' listener a channel error would crash the process; 'close' follows.
        channel.on('error', () => undefined);
        channel.on('return', (message: { fields: { routingKey: string }; properties: { correlationId?: unknown } }) => {
          const key = returnKey(message.fields.routingKey, message.properties.correlationId);
          this.#returned.set(key, (this.#returned.get(key) ?? 0) + 1);
        });
        channel.on('close', () => {
          if (this.#current?.channel === opening) this.#current = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.#current?.channel === opening) this.#current = undefined;
      });
      this.#current = { connection, channel: opening };
    }
    return this.#current.channel;
  }

  async publish(connection: ChannelModel, exchange: string, routingKey: string, body: Uint8Array, options: Options.Publish): Promise<void> {
    const channel = await this.#channel(connection);
    const content = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    await new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, content, options, (error: unknown) => {
        this.#answers++;
        if (error) reject(error);
        else resolve();
      });
    });
  }

  /**
   * Publishes with `mandatory` and resolves 'returned' when the broker confirmed it but had no
   * queue to route it to (it was dropped), 'routed' when it is in a queue.
   */
  async publishMandatory(connection: ChannelModel, exchange: string, routingKey: string, body: Uint8Array, options: Options.Publish): Promise<'routed' | 'returned'> {
    await this.publish(connection, exchange, routingKey, body, { ...options, mandatory: true });
    const key = returnKey(routingKey, options.correlationId);
    const returned = this.#returned.get(key) ?? 0;
    if (returned === 0) return 'routed';
    if (returned === 1) this.#returned.delete(key);
    else this.#returned.set(key, returned - 1);
    return 'returned';
  }
}

function returnKey(routingKey: string, correlationId: unknown): string {
  return `${routingKey}\0${typeof correlationId === 'string' ? correlationId : ''}`;
}
