import { DeliveryBuffer } from '@tq/core/adapter';
import { closeConnection, type Redis } from './connection.js';

/** Receives what is PUBLISHed on one channel. */
export interface ChannelListener {
  push(message: Buffer): void;
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
  #connection: Promise<Redis> | undefined;

  constructor(openConnection: () => Promise<Redis>) {
    this.#open = openConnection;
  }

  /** Adds `listener` to `name`; `subscribed` resolves once a PUBLISH on it reaches the listener. */
  listen(name: string, listener: ChannelListener): { readonly subscribed: Promise<unknown>; remove(): void } {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = { listeners: new Set(), subscribed: this.#subscriber().then((s) => s.subscribe(name)) };
      this.#channels.set(name, channel);
    }
    const current = channel;
    current.listeners.add(listener);
    return {
      subscribed: current.subscribed,
      remove: () => {
        current.listeners.delete(listener);
        if (current.listeners.size === 0 && this.#channels.get(name) === current) {
          this.#channels.delete(name);
          void this.#connection?.then((s) => s.unsubscribe(name)).catch(() => undefined);
        }
      },
    };
  }

  /** The SUBSCRIBE of `name` while some listener listens to it, else undefined. */
  subscribed(name: string): Promise<unknown> | undefined {
    return this.#channels.get(name)?.subscribed;
  }

  /** Every message PUBLISHed on `name` from now until `signal` aborts (subscribed at once, not on first read). */
  subscribe(name: string, signal: AbortSignal): DeliveryBuffer<Uint8Array> {
    const listening = this.listen(name, { push: (message) => buffer.push(new Uint8Array(message)), end: () => buffer.end() });
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: listening.remove });
    listening.subscribed.catch((error: unknown) => buffer.fail(error));
    return buffer;
  }

  #subscriber(): Promise<Redis> {
    this.#connection ??= this.#open().then((subscriber) => {
      subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        for (const listener of this.#channels.get(channel.toString())?.listeners ?? []) listener.push(message);
      });
      return subscriber;
    });
    return this.#connection;
  }

  /** Ends every listener and closes the subscriber connection, if one was opened. */
  async close(): Promise<void> {
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    for (const channel of channels) for (const listener of channel.listeners) listener.end();
    const subscriber = await this.#connection?.catch(() => undefined);
    if (subscriber) await closeConnection(subscriber);
  }
}
