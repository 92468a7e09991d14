import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';

/**
 * Publishes on a confirm channel (one per connection, re-opened after it dies) and resolves
 * only when the broker confirms the message: a publish that resolves is in the queue (or,
 * for an unroutable message, knowingly dropped by the broker, as with Celery).
 */
export class ConfirmPublisher {
  #current: { connection: ChannelModel; channel: Promise<ConfirmChannel> } | undefined;

  #channel(connection: ChannelModel): Promise<ConfirmChannel> {
    if (this.#current?.connection !== connection) {
      const opening = connection.createConfirmChannel().then((channel) => {
        // Without an 'error' listener a channel error would crash the process; 'close' follows.
        channel.on('error', () => undefined);
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
      channel.publish(exchange, routingKey, content, options, (error: unknown) => (error ? reject(error) : resolve()));
    });
  }
}
