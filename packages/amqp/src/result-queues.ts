import type { Channel, ChannelModel } from 'amqplib';
import type { ConfirmPublisher } from './confirm-publisher.js';

/** The queue that holds the record of a task stored without reply_to. */
export function resultQueueName(taskId: string): string {
  return `celery-task-meta-${taskId}`;
}

/**
 * Records stored without a reply_to, readable by any client: one queue per task id that
 * keeps only its newest message (x-max-length 1, drop-head) and deletes itself after
 * `queueExpiresMs` unused (x-expires); each message expires after the record's ttl. This is
 * the layout of Celery's pre-5.0 amqp:// result backend, not of rpc://, which drops such
 * records. Reading peeks: basic.get, then requeue; a reader that races another reader on
 * the same task may see null once and find the record on its next poll.
 */
export class ResultQueues {
  readonly #publisher: ConfirmPublisher;
  readonly #queueExpiresMs: number;
  // Reads get their own channel: a get on a missing queue (404) closes its channel, and that
  // must not fail a store or forget running at the same time.
  readonly #channels: Record<'read' | 'write', { connection: ChannelModel; channel: Promise<Channel> } | undefined> = { read: undefined, write: undefined };

  constructor(publisher: ConfirmPublisher, queueExpiresMs: number) {
    this.#publisher = publisher;
    this.#queueExpiresMs = queueExpiresMs;
  }

  /** The read or write channel on `connection`, re-opened after a 404 or any error closed it. */
  #channel(connection: ChannelModel, role: 'read' | 'write'): Promise<Channel> {
    const current = this.#channels[role];
    if (current?.connection === connection) return current.channel;
    const opening = connection.createChannel().then((channel) => {
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.#channels[role]?.channel === opening) this.#channels[role] = undefined;
      });
      return channel;
    });
    opening.catch(() => {
      if (this.#channels[role]?.channel === opening) this.#channels[role] = undefined;
    });
    this.#channels[role] = { connection, channel: opening };
    return opening;
  }

  async store(connection: ChannelModel, taskId: string, record: Uint8Array, ttlMs: number): Promise<void> {
    const queue = resultQueueName(taskId);
    const channel = await this.#channel(connection, 'write');
    // Declared on every store: the queue may have expired or been forgotten meanwhile.
    await channel.assertQueue(queue, {
      durable: true,
      autoDelete: false,
      arguments: { 'x-max-length': 1, 'x-overflow': 'drop-head', 'x-expires': this.#queueExpiresMs },
    });
    await this.#publisher.publish(connection, '', queue, record, {
      correlationId: taskId,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      ...(ttlMs > 0 ? { expiration: String(ttlMs) } : {}),
    });
  }

  async fetch(connection: ChannelModel, taskId: string): Promise<Uint8Array | null> {
    const queue = resultQueueName(taskId);
    for (let attempt = 0; ; attempt++) {
      const channel = await this.#channel(connection, 'read');
      let message;
      try {
        message = await channel.get(queue, { noAck: false });
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return null;
        // Another read's 404 closed the shared read channel under this one: once more.
        if (attempt === 0 && this.#channels.read?.channel === undefined) continue;
        throw error;
      }
      if (message === false) return null;
      const bytes = new Uint8Array(message.content);
      // Requeue: the record stays for other readers (and goes back in front of nothing newer).
      channel.reject(message, true);
      return bytes;
    }
  }

  async forget(connection: ChannelModel, taskId: string): Promise<void> {
    const channel = await this.#channel(connection, 'write');
    try {
      await channel.deleteQueue(resultQueueName(taskId));
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) throw error;
    }
  }
}
