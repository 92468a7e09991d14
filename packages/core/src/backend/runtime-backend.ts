import { Lifecycle } from '../adapters/lifecycle.js';
import { UnsupportedError } from '../errors.js';
import { defaultRetryPolicy, type RetryPolicy } from '../adapters/retry-policy.js';
import type { BroadcastBinding, BroadcastRoute } from '../broker/broker.js';
import type { ResultBackend, ResultBackendCapabilities, StoreOptions, VersionedValue } from './result-backend.js';

/** The same guard as RuntimeBroker, for result backends. */
export class RuntimeBackend implements ResultBackend {
  readonly inner: ResultBackend;
  readonly #lifecycle: Lifecycle;
  readonly #retry: RetryPolicy;

  constructor(inner: ResultBackend, options: { retry?: RetryPolicy; name?: string } = {}) {
    this.inner = inner;
    this.#retry = options.retry ?? defaultRetryPolicy;
    this.#lifecycle = new Lifecycle(
      options.name ?? 'result backend',
      (signal) => inner.connect(signal ? { signal } : undefined),
      () => inner.close(),
    );
  }

  get capabilities(): ResultBackendCapabilities {
    return this.inner.capabilities;
  }

  connect(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#lifecycle.connect(options?.signal);
  }

  #call<T>(operation: () => Promise<T>): Promise<T> {
    return this.#lifecycle.run(operation, this.#retry);
  }

  store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    return this.#call(() => this.inner.store(taskId, record, options));
  }

  reserveToken(key: string, perMs: number): Promise<number> {
    const inner = this.inner;
    if (!inner.reserveToken) return Promise.reject(new UnsupportedError('this result backend keeps no cluster-wide rate limits (capabilities.rateLimit)'));
    return this.#call(() => inner.reserveToken!(key, perMs));
  }

  fetch(taskId: string): Promise<Uint8Array | null> {
    return this.#call(() => this.inner.fetch(taskId));
  }

  get claim(): ((key: string, value: string, ttlMs: number) => Promise<string | null>) | undefined {
    const inner = this.inner;
    if (!inner.claim) return undefined;
    return (key, value, ttlMs) => this.#call(() => inner.claim!(key, value, ttlMs));
  }

  get releaseClaim(): ((key: string, value: string) => Promise<void>) | undefined {
    const inner = this.inner;
    if (!inner.releaseClaim) return undefined;
    return (key, value) => this.#call(() => inner.releaseClaim!(key, value));
  }

  get retain(): ((group: string, taskId: string, keep: number | null, maxBytes?: number) => Promise<void>) | undefined {
    const inner = this.inner;
    if (!inner.retain) return undefined;
    return (group, taskId, keep, maxBytes) => this.#call(() => (maxBytes === undefined ? inner.retain!(group, taskId, keep) : inner.retain!(group, taskId, keep, maxBytes)));
  }

  forget(taskId: string): Promise<void> {
    return this.#call(() => this.inner.forget(taskId));
  }

  get watch(): ((taskId: string, signal: AbortSignal) => AsyncIterable<Uint8Array>) | undefined {
    const inner = this.inner;
    if (!inner.watch) return undefined;
    const connect = () => this.connect();
    return async function* (taskId, signal) {
      await connect();
      yield* inner.watch!(taskId, signal);
    };
  }

  async broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    if (!this.inner.broadcast) throw new UnsupportedError('this result backend has no broadcast channel');
    await this.connect();
    await this.inner.broadcast(channel, body, route);
  }

  async *subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    if (!this.inner.subscribe) throw new UnsupportedError('this result backend has no broadcast channel');
    await this.connect();
    yield* this.inner.subscribe(channel, signal, binding);
  }

  getVersioned(key: string): Promise<VersionedValue | null> {
    const inner = this.inner;
    if (!inner.getVersioned) return Promise.reject(new UnsupportedError('this result backend keeps no versioned records (capabilities.compareAndSet)'));
    return this.#call(() => inner.getVersioned!(key));
  }

  /** Not retried on a connection error: a write that may have landed must be re-read, not repeated. */
  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    const inner = this.inner;
    if (!inner.compareAndSet) throw new UnsupportedError('this result backend keeps no versioned records (capabilities.compareAndSet)');
    await this.connect();
    return inner.compareAndSet(key, value, expected);
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }
}
