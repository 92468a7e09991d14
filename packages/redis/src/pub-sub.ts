import { DeliveryBuffer } from '@tq/core/adapter';
import { closeConnection, type Redis } from './connection.js';

/** Receives what is PUBLISHed on one channel. */
export interface ChannelListener {
  /** `channel` is the channel it was PUBLISHed on (for a pattern listener, the one that matched). */
  push(message: Buffer, channel: Buffer): void;
  /** The connection is closing: no more messages. */
  end(): void;
}

interface Channel {
  readonly listeners: Set<ChannelListener>;
  /** Resolves once Redis confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
}

/**
 * The channels one subscriber connection listens to, each shared by its listeners: SUBSCRIBE
 * with the first listener, UNSUBSCRIBE after the last. The broker's broadcasts and the result
 * backend's watches and broadcasts each keep one of these.
 */
export class PubSubChannels {
  readonly #open: () => Promise<Redis>;
  readonly #channels = new Map<string, Channel>();
  readonly #patterns = new Map<string, Channel>();
  #connection: Promise<Redis> | undefined;

  constructor(openConnection: () => Promise<Redis>) {
    this.#open = openConnection;
  }

  /**
   * Adds `listener` to `name`; `subscribed` resolves once a PUBLISH on it reaches the listener.
   * With `pattern`, `name` is a glob PSUBSCRIBEd to (kombu's fanout_patterns).
   */
  listen(name: string, listener: ChannelListener, options: { pattern?: boolean } = {}): { readonly subscribed: Promise<unknown>; remove(): void } {
    const pattern = options.pattern ?? false;
    const channels = pattern ? this.#patterns : this.#channels;
    let channel = channels.get(name);
    if (!channel) {
      channel = { listeners: new Set(), subscribed: this.#subscriber().then((s) => (pattern ? s.psubscribe(name) : s.subscribe(name))) };
      channels.set(name, channel);
    }
    const current = channel;
    current.listeners.add(listener);
    return {
      subscribed: current.subscribed,
      remove: () => {
        current.listeners.delete(listener);
        if (current.listeners.size === 0 && channels.get(name) === current) {
          channels.delete(name);
          void this.#connection?.then((s) => (pattern ? s.punsubscribe(name) : s.unsubscribe(name))).catch(() => undefined);
        }
      },
    };
  }

  /** The SUBSCRIBE of `name` while some listener listens to it, else undefined. */
  subscribed(name: string): Promise<unknown> | undefined {
    return this.#channels.get(name)?.subscribed;
  }

  /**
   * Every message PUBLISHed on `name` (a glob with `pattern`) from now until `signal` aborts
   * (subscribed at once, not on first read), through `decode`: null drops a message.
   */
  subscribe(
    name: string,
    signal: AbortSignal,
    options: { pattern?: boolean; decode?: (message: Buffer, channel: Buffer) => Uint8Array | null } = {},
  ): DeliveryBuffer<Uint8Array> {
    const decode = options.decode ?? ((message: Buffer) => new Uint8Array(message));
    const listening = this.listen(
      name,
      {
        push: (message, channel) => {
          const bytes = decode(message, channel);
          if (bytes) buffer.push(bytes);
        },
        end: () => buffer.end(),
      },
      options,
    );
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: listening.remove });
    listening.subscribed.catch((error: unknown) => buffer.fail(error));
    return buffer;
  }

  #subscriber(): Promise<Redis> {
    this.#connection ??= this.#open().then((subscriber) => {
      subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        for (const listener of this.#channels.get(channel.toString())?.listeners ?? []) listener.push(message, channel);
      });
      subscriber.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, message: Buffer) => {
        for (const listener of this.#patterns.get(pattern.toString())?.listeners ?? []) listener.push(message, channel);
      });
      return subscriber;
    });
    return this.#connection;
  }

  /** Ends every listener and closes the subscriber connection, if one was opened. */
  async close(): Promise<void> {
    const channels = [...this.#channels.values(), ...this.#patterns.values()];
    this.#channels.clear();
    this.#patterns.clear();
    for (const channel of channels) for (const listener of channel.listeners) listener.end();
    const subscriber = await this.#connection?.catch(() => undefined);
    if (subscriber) await closeConnection(subscriber);
  }
}
