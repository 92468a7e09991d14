import { randomUUID } from 'node:crypto';
import { RuntimeBackend, type ResultBackendCapabilities, type StoreOptions } from '@tq/core/adapter';
import { afterEach } from 'vitest';
import { proxyTarget, resolveOptions, type BackendFactory, type ConformanceOptions, type ResolvedConformanceOptions } from '../options.js';
import { FaultProxy } from './fault-proxy.js';
import { probeCapabilities } from './probe-capabilities.js';
import { eventually, withTimeout } from './timing.js';

const probed = new WeakMap<BackendFactory, ResultBackendCapabilities>();

/**
 * Fresh result backend clients and unique task ids per test; after each test every id used is
 * forgotten and every client closed. Create it inside a `describe` block.
 */
export class BackendHarness {
  readonly options: ResolvedConformanceOptions;
  readonly capabilities: ResultBackendCapabilities;
  readonly #factory: BackendFactory;
  #backends: RuntimeBackend[] = [];
  #taskIds: string[] = [];
  #proxies: FaultProxy[] = [];

  constructor(factory: BackendFactory, options: ConformanceOptions) {
    this.#factory = factory;
    this.options = resolveOptions(options);
    this.capabilities = probeCapabilities(probed, factory, this.options.url, { watch: false, expiry: false });
    afterEach(() => this.cleanup(), 60_000);
  }

  /** A fresh client (its own connections), wrapped in core's runtime guard. */
  backend(url: URL = this.options.url, retry = this.options.retry): RuntimeBackend {
    const backend = new RuntimeBackend(this.#factory(url), { retry, name: 'result backend under test' });
    this.#backends.push(backend);
    return backend;
  }

  /** The fault proxy can sit between a client and the backend's server. */
  get canProxy(): boolean {
    return this.options.proxyUrl !== undefined && proxyTarget(this.options.url) !== undefined;
  }

  /** A fault proxy to the backend's server and the URL that goes through it; closed after the test. */
  async proxy(): Promise<{ proxy: FaultProxy; url: URL }> {
    const mapUrl = this.options.proxyUrl;
    const target = proxyTarget(this.options.url);
    if (!mapUrl || !target) throw new Error('the fault proxy is not available for this backend URL (set proxyUrl)');
    const proxy = await FaultProxy.start(target);
    this.#proxies.push(proxy);
    return { proxy, url: mapUrl(this.options.url, proxy.port) };
  }

  /**
   * Options that make a record stored by any client reach `reader`. Key-value backends need
   * none; reply-queue backends (rpc://, those with replyAddress) deliver to the reply address
   * the producer wrote into the task message, so the record is addressed to `reader`'s.
   */
  async to(reader: RuntimeBackend, taskId: string, extra: StoreOptions = {}): Promise<StoreOptions> {
    if (!reader.inner.replyAddress) return extra;
    await reader.connect();
    return { ...extra, replyTo: await reader.inner.replyAddress(), correlationId: taskId };
  }

  /**
   * Resolves once `reader` fetches exactly `bytes` for `taskId`. Key-value backends must show
   * a completed store at once (one read); reply-queue backends receive records asynchronously,
   * so the read is retried for up to timeouts.deliveryMs.
   */
  async expectRecord(reader: RuntimeBackend, taskId: string, bytes: Uint8Array, what = `record of ${taskId}`): Promise<void> {
    const check = async () => {
      const read = await reader.fetch(taskId);
      if (read === null) throw new Error(`${what}: fetch returned null`);
      if (!Buffer.from(read).equals(Buffer.from(bytes))) {
        throw new Error(`${what}: fetched ${Buffer.from(read).toString('utf8').slice(0, 200)}, expected ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`);
      }
    };
    if (reader.inner.replyAddress) await eventually(check, { timeoutMs: this.options.timeouts.deliveryMs });
    else await check();
  }

  /** A task id no other test uses (a UUID, as Celery's), forgotten after the test. */
  taskId(): string {
    const id = randomUUID();
    this.#taskIds.push(id);
    return id;
  }

  async cleanup(): Promise<void> {
    for (const proxy of this.#proxies.splice(0)) proxy.setMode('forward');
    const backends = this.#backends.splice(0);
    const ids = this.#taskIds.splice(0);
    if (ids.length > 0) {
      // A client of its own: the test may have closed all of its clients.
      const cleaner = new RuntimeBackend(this.#factory(this.options.url), { retry: this.options.retry });
      backends.push(cleaner);
      await Promise.all(ids.map((id) => cleaner.forget(id).catch(() => undefined)));
    }
    const closing = await Promise.allSettled(backends.map((b) => withTimeout(b.close(), 10_000, 'closing a result backend')));
    await Promise.all(this.#proxies.splice(0).map((proxy) => proxy.close()));
    const failed = closing.find((r) => r.status === 'rejected');
    if (failed) throw new Error('backend.close() failed after the test', { cause: (failed as PromiseRejectedResult).reason });
  }
}
