import { randomUUID } from 'node:crypto';
import { RuntimeBackend, type ResultBackendCapabilities } from '@tq/core/adapter';
import { afterEach } from 'vitest';
import { resolveOptions, type BackendFactory, type ConformanceOptions, type ResolvedConformanceOptions } from '../options.js';
import { withTimeout } from './timing.js';

const probed = new WeakMap<BackendFactory, ResultBackendCapabilities>();

function probeCapabilities(factory: BackendFactory, url: URL): ResultBackendCapabilities {
  let capabilities = probed.get(factory);
  if (!capabilities) {
    const probe = factory(url);
    capabilities = probe.capabilities;
    probed.set(factory, capabilities);
    void Promise.resolve()
      .then(() => probe.close())
      .catch(() => undefined);
  }
  return capabilities;
}

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

  constructor(factory: BackendFactory, options: ConformanceOptions) {
    this.#factory = factory;
    this.options = resolveOptions(options);
    this.capabilities = probeCapabilities(factory, this.options.url);
    afterEach(() => this.cleanup(), 60_000);
  }

  /** A fresh client (its own connections), wrapped in core's runtime guard. */
  backend(): RuntimeBackend {
    const backend = new RuntimeBackend(this.#factory(this.options.url), { retry: this.options.retry, name: 'result backend under test' });
    this.#backends.push(backend);
    return backend;
  }

  /** A task id no other test uses (a UUID, as Celery's), forgotten after the test. */
  taskId(): string {
    const id = randomUUID();
    this.#taskIds.push(id);
    return id;
  }

  async cleanup(): Promise<void> {
    const backends = this.#backends.splice(0);
    const ids = this.#taskIds.splice(0);
    if (ids.length > 0) {
      // A client of its own: the test may have closed all of its clients.
      const cleaner = new RuntimeBackend(this.#factory(this.options.url), { retry: this.options.retry });
      backends.push(cleaner);
      await Promise.all(ids.map((id) => cleaner.forget(id).catch(() => undefined)));
    }
    const closing = await Promise.allSettled(backends.map((b) => withTimeout(b.close(), 10_000, 'closing a result backend')));
    const failed = closing.find((r) => r.status === 'rejected');
    if (failed) throw new Error('backend.close() failed after the test', { cause: (failed as PromiseRejectedResult).reason });
  }
}
