import { Lifecycle } from '../adapters/lifecycle.js';
import { defaultRetryPolicy, type RetryPolicy } from '../adapters/retry-policy.js';
import { PayloadTooLargeError, UnsupportedError } from '../errors.js';
import type { BroadcastBinding, BroadcastRoute, Broker, BrokerMessage, ConsumeOptions, Consumer, DelayedMessage, Delivery, ListDelayedOptions, QueueStats } from './broker.js';
import type { BrokerCapabilities } from './capabilities.js';

/**
 * Core's guard around any Broker: connects lazily and once, refuses use after close, closes
 * once, enforces the declared size limit, and retries connection-class publish failures per
 * the retry policy (a publish either resolves, meaning the broker has it, or rejects: never a
 * silent drop).
 */
export class RuntimeBroker implements Broker {
  readonly inner: Broker;
  readonly #lifecycle: Lifecycle;
  readonly #retry: RetryPolicy;

  constructor(inner: Broker, options: { retry?: RetryPolicy; name?: string } = {}) {
    this.inner = inner;
    this.#retry = options.retry ?? defaultRetryPolicy;
    this.#lifecycle = new Lifecycle(
      options.name ?? 'broker',
      (signal) => inner.connect(signal ? { signal } : undefined),
      () => inner.close(),
    );
  }

  get capabilities(): BrokerCapabilities {
    return this.inner.capabilities;
  }

  connect(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#lifecycle.connect(options?.signal);
  }

  publish(queue: string, message: BrokerMessage): Promise<void> {
    const limit = this.inner.capabilities.maxMessageBytes;
    if (limit !== null && message.body.byteLength > limit) return Promise.reject(new PayloadTooLargeError(message.body.byteLength, limit));
    return this.#lifecycle.run(() => this.inner.publish(queue, message), this.#retry);
  }

  /**
   * Connects on first read; a prefetch change made before then is applied once consuming. Reads
   * go straight to the adapter's iterator (no generator in between: this runs once per message).
   */
  consume(queue: string, options: ConsumeOptions): Consumer {
    let inner: Consumer | undefined;
    let prefetch: number | undefined;
    const open = async (): Promise<AsyncIterator<Delivery>> => {
      await this.connect();
      inner = this.inner.consume(queue, options);
      if (prefetch !== undefined) inner.setPrefetch?.(prefetch);
      return inner[Symbol.asyncIterator]();
    };
    return {
      setPrefetch: (value: number) => {
        prefetch = value;
        inner?.setPrefetch?.(value);
      },
      [Symbol.asyncIterator](): AsyncIterator<Delivery> {
        let iterator: AsyncIterator<Delivery> | undefined;
        let opening: Promise<AsyncIterator<Delivery>> | undefined;
        return {
          next: () => (iterator ? iterator.next() : (opening ??= open()).then((it) => (iterator = it).next())),
          return: async (value?: unknown) => {
            const it = iterator ?? (await opening?.catch(() => undefined));
            await it?.return?.(value);
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  async purge(queue: string): Promise<number> {
    if (!this.inner.purge) throw new UnsupportedError(`this broker cannot purge queues`);
    await this.connect();
    return this.inner.purge(queue);
  }

  async listDelayed(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]> {
    if (!this.inner.listDelayed) throw new UnsupportedError('this broker cannot list the delayed messages it holds (capabilities.listDelayed)');
    await this.connect();
    return this.inner.listDelayed(queue, options);
  }

  async queueStats(queue: string): Promise<QueueStats> {
    if (!this.inner.queueStats) throw new UnsupportedError('this broker cannot count its queues (capabilities.queueStats)');
    await this.connect();
    return this.inner.queueStats(queue);
  }

  async broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    if (!this.inner.broadcast) throw new UnsupportedError('this broker has no broadcast channel');
    await this.connect();
    await this.inner.broadcast(channel, body, route);
  }

  async *subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    if (!this.inner.subscribe) throw new UnsupportedError('this broker has no broadcast channel');
    await this.connect();
    yield* this.inner.subscribe(channel, signal, binding);
  }

  get closed(): boolean {
    return this.#lifecycle.closed;
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }
}
