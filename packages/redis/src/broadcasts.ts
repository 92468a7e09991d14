import type { BroadcastBinding, BroadcastRoute } from '@tq/core/adapter';
import { DeliveryBuffer } from '@tq/core/adapter';
import { broadcastSubscription, broadcastTopic, decodeBroadcast, encodeBroadcast } from './broadcast-envelope.js';
import { closeConnection, type Redis } from './connection.js';
import { translated, type ErrorContext } from './errors.js';
import { RedisKeys, SEP } from './keys.js';
import type { PubSubChannels } from './pub-sub.js';

/** How long one blocking read of a direct queue waits before it checks whether it was stopped. */
const directPollSeconds = 1;

/**
 * Broadcasts as kombu's Redis transport carries Celery's exchanges, shared by the broker and the
 * result backend (which carries them for brokers without pub/sub, as Kafka):
 * - fanout and topic: PUBLISH of kombu's envelope (see broadcast-envelope.ts);
 * - direct (Celery's reply.celery.pidbox): kombu's virtual direct exchange, a binding set
 *   "_kombu.binding.<exchange>" naming the queues bound with each routing key, and a list per
 *   queue the message is LPUSHed to, so a reply waits for a subscriber that reads late.
 */
export class RedisBroadcasts {
  readonly #keys: RedisKeys;
  readonly #context: ErrorContext;
  readonly #pubSub: PubSubChannels;
  readonly #commands: () => Redis;
  readonly #openBlocking: () => Promise<Redis>;
  readonly #readers = new Set<Redis>();

  constructor(options: { keys: RedisKeys; context: ErrorContext; pubSub: PubSubChannels; commands: () => Redis; openBlocking: () => Promise<Redis> }) {
    this.#keys = options.keys;
    this.#context = options.context;
    this.#pubSub = options.pubSub;
    this.#commands = options.commands;
    this.#openBlocking = options.openBlocking;
  }

  async broadcast(channel: string, body: Uint8Array, route: BroadcastRoute | undefined): Promise<void> {
    const commands = this.#commands();
    const envelope = encodeBroadcast(channel, body, route);
    if (route?.kind !== 'direct') {
      await translated(this.#context, () => commands.publish(broadcastTopic(this.#keys, channel, route), envelope));
      return;
    }
    const routingKey = route.routingKey ?? '';
    await translated(this.#context, async () => {
      const members = await commands.smembers(this.#keys.binding(channel));
      const queues = members.map((member) => member.split(SEP)).filter(([key]) => key === routingKey).map((parts) => parts[2]!);
      // As kombu: a direct message with no queue bound to its key is dropped.
      if (queues.length > 0) await Promise.all(queues.map((queue) => commands.lpush(this.#keys.queue(queue, 0), envelope)));
    });
  }

  subscribe(channel: string, signal: AbortSignal, binding: BroadcastBinding | undefined): AsyncIterable<Uint8Array> {
    if (binding?.kind === 'direct') return this.#subscribeDirect(channel, signal, binding);
    const { name, pattern, decode } = broadcastSubscription(this.#keys, channel, binding);
    return this.#pubSub.subscribe(name, signal, { pattern, decode });
  }

  /** Binds `binding.queue` (default "<key>.<exchange>", kombu's reply queue name) and reads it until aborted. */
  #subscribeDirect(channel: string, signal: AbortSignal, binding: BroadcastBinding): AsyncIterable<Uint8Array> {
    const routingKey = binding.pattern ?? '';
    const queue = binding.queue ?? `${routingKey}.${channel}`;
    const bindingKey = this.#keys.binding(channel);
    const member = RedisKeys.bindingMember(routingKey, '', queue);
    const list = this.#keys.queue(queue, 0);
    // Stops on abort, and when the reader stops reading (break) without aborting.
    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort(), { once: true });
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: () => stop.abort() });
    void (async () => {
      let reader: Redis | undefined;
      try {
        await translated(this.#context, () => this.#commands().sadd(bindingKey, member));
        reader = await this.#openBlocking();
        this.#readers.add(reader);
        // A pending BRPOP ends at once on abort, not at its next timeout.
        const opened = reader;
        if (stop.signal.aborted) opened.disconnect();
        stop.signal.addEventListener('abort', () => opened.disconnect(), { once: true });
        while (!stop.signal.aborted) {
          const popped = await reader.brpopBuffer(list, directPollSeconds);
          if (!popped) continue;
          const body = decodeBroadcast(popped[1]);
          if (body) buffer.push(body);
        }
        buffer.end();
      } catch (error) {
        if (stop.signal.aborted) buffer.end();
        else buffer.fail(error);
      } finally {
        if (reader) {
          this.#readers.delete(reader);
          await closeConnection(reader);
        }
        // Unbind and drop what nobody will read (kombu deletes its auto-delete reply queue too);
        // after close, the commands connection is gone and kombu's queue expiry is all there is.
        try {
          await this.#commands().multi().srem(bindingKey, member).del(list).exec();
        } catch {
          // closed, or the server is away: nothing more to do
        }
      }
    })();
    return buffer;
  }

  /** Stops every direct-queue reader (the pub/sub side closes with its PubSubChannels). */
  close(): void {
    for (const reader of this.#readers) reader.disconnect();
    this.#readers.clear();
  }
}
