import type { Channel, ChannelModel } from 'amqplib';
import { bindDelayTarget, declareDelayLevels } from './delay-levels.js';
import type { AmqpOptions } from './options.js';

/** The queue that rejected messages reach when deadLetter is on with the default exchange. */
export function deadLetterQueueName(queue: string): string {
  return `${queue}.dead`;
}

/**
 * x-arguments of a task queue, from the options (empty by default, as Celery declares).
 * With deadLetter=1, "<queue>.dead" queues are dead-letter queues themselves: no DLX of their
 * own, so declaring one to consume from it matches the declaration made for its queue.
 */
export function taskQueueArguments(queue: string, options: AmqpOptions): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (options.queueType === 'quorum') args['x-queue-type'] = 'quorum';
  if (options.maxPriority > 0) args['x-max-priority'] = options.maxPriority;
  const isDeadLetterQueue = options.deadLetterExchange === '' && queue.endsWith('.dead');
  if (options.deadLetterExchange !== null && !isDeadLetterQueue) {
    args['x-dead-letter-exchange'] = options.deadLetterExchange;
    if (options.deadLetterExchange === '') args['x-dead-letter-routing-key'] = deadLetterQueueName(queue);
  }
  return args;
}

/**
 * Declares task queues the way Celery (kombu) declares `Queue(name, Exchange(name), name)`:
 * a durable direct exchange named like the queue, a durable queue, and a binding with the
 * queue name as routing key. Declarations are cached per connection, so they are replayed
 * on a new connection (topology recovery) and cost one round trip per queue otherwise.
 * Declaring runs on its own channel: a PRECONDITION_FAILED closes only that channel.
 */
export class Topology {
  readonly #options: AmqpOptions;
  #connection: ChannelModel | undefined;
  #declared = new Map<string, Promise<void>>();
  #channel: Promise<Channel> | undefined;
  #steps = 0;

  /** Declaration round trips answered so far: a publish waiting on declarations watches it move. */
  get steps(): number {
    return this.#steps;
  }

  constructor(options: AmqpOptions) {
    this.#options = options;
  }

  #forConnection(connection: ChannelModel): void {
    if (this.#connection === connection) return;
    this.#connection = connection;
    this.#declared = new Map();
    this.#channel = undefined;
  }

  /** A channel for declarations and purges on `connection`, re-opened after a channel error. */
  channel(connection: ChannelModel): Promise<Channel> {
    this.#forConnection(connection);
    if (!this.#channel) {
      const opening = connection.createChannel().then((channel) => {
        channel.on('error', () => undefined);
        channel.on('close', () => {
          if (this.#channel === opening) this.#channel = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.#channel === opening) this.#channel = undefined;
      });
      this.#channel = opening;
    }
    return this.#channel;
  }

  /** Declares `queue` (once per connection): exchange, queue, binding, and the dead-letter queue. */
  declareQueue(connection: ChannelModel, queue: string): Promise<void> {
    this.#forConnection(connection);
    let declared = this.#declared.get(queue);
    if (!declared) {
      declared = this.#declare(connection, queue);
      const cache = this.#declared;
      cache.set(queue, declared);
      declared.catch(() => cache.delete(queue));
    }
    return declared;
  }

  async #declare(connection: ChannelModel, queue: string): Promise<void> {
    const channel = await this.channel(connection);
    this.#steps++;
    const durable = true;
    await channel.assertExchange(queue, 'direct', { durable, autoDelete: false });
    this.#steps++;
    await channel.assertQueue(queue, { durable, autoDelete: false, exclusive: false, arguments: taskQueueArguments(queue, this.#options) });
    this.#steps++;
    await channel.bindQueue(queue, queue, queue);
    this.#steps++;
    if (this.#options.deadLetterExchange === '' && !queue.endsWith('.dead')) {
      const dead = deadLetterQueueName(queue);
      await channel.assertQueue(dead, { durable, autoDelete: false, exclusive: false, arguments: taskQueueArguments(dead, this.#options) });
    }
  }

  /** Declares `queue`, the delay cascade and the queue's binding at its end (once per connection). */
  declareDelayed(connection: ChannelModel, queue: string): Promise<void> {
    this.#forConnection(connection);
    const key = `\0delay\0${queue}`;
    let declared = this.#declared.get(key);
    if (!declared) {
      declared = (async () => {
        await this.declareQueue(connection, queue);
        let levels = this.#declared.get('\0delay');
        if (!levels) {
          levels = this.channel(connection).then((channel) => declareDelayLevels(channel, () => this.#steps++));
          const cache = this.#declared;
          cache.set('\0delay', levels);
          levels.catch(() => cache.delete('\0delay'));
        }
        await levels;
        this.#steps++;
        await bindDelayTarget(await this.channel(connection), queue);
      })();
      const cache = this.#declared;
      cache.set(key, declared);
      declared.catch(() => cache.delete(key));
    }
    return declared;
  }

  /** Forget the cached declaration (after the queue was deleted, for instance). */
  forget(queue: string): void {
    this.#declared.delete(queue);
  }
}
