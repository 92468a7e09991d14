import type { App } from '../app.js';
import { resolveAdapter } from '../adapters/resolve.js';
import { parseUrl } from '../adapters/url.js';
import type { ResultBackend } from '../backend/result-backend.js';
import { RuntimeBackend } from '../backend/runtime-backend.js';
import { ConfigError } from '../errors.js';
import memoryAdapter from '../memory/index.js';

/** Where beat keeps its lease, tick state and runtime schedules: a result backend with compareAndSet. */
export interface CoordinationStore {
  readonly backend: RuntimeBackend;
  /** Closes the store when beat opened it itself (not the app's own backend). */
  close(): Promise<void>;
}

/**
 * The store for `app`'s beat: `store` when given (a URL or a result backend), else the app's
 * result backend when it has compareAndSet, else a result backend opened on the broker's URL
 * (redis://, nats:// and postgres:// brokers carry one), so beat works with no extra setting on those.
 */
export async function openCoordinationStore(app: App, store?: string | ResultBackend): Promise<CoordinationStore> {
  if (store !== undefined && typeof store !== 'string') return owned(new RuntimeBackend(store, { retry: app.config.publishRetry, name: 'beat store' }));
  if (store === undefined) {
    const backend = await app.backend();
    if (backend?.capabilities.compareAndSet) return { backend, close: async () => undefined };
  }
  const url = store ?? (typeof app.config.broker === 'string' ? app.config.broker : undefined);
  const adapter = url ? await resolveAdapter(url, { adapters: app.config.adapters, builtin: [memoryAdapter] }) : undefined;
  if (!url || !adapter?.createResultBackend) {
    throw new ConfigError([{ path: 'beat.store', message: 'tq beat needs a store with compare-and-set (redis://, nats://, postgres:// or memory://): set resultBackend to one, or pass store' }]);
  }
  const inner = adapter.createResultBackend(adapter.parseUrl ? adapter.parseUrl(url) : parseUrl(url, 'beat.store'), { logger: app.logger });
  if (!inner.capabilities.compareAndSet) {
    throw new ConfigError([{ path: 'beat.store', message: `the ${adapter.name} adapter keeps no compare-and-set records: give beat a redis://, nats://, postgres:// or memory:// store` }]);
  }
  const backend = new RuntimeBackend(inner, { retry: app.config.publishRetry, name: 'beat store' });
  await backend.connect();
  return owned(backend);
}

function owned(backend: RuntimeBackend): CoordinationStore {
  return { backend, close: () => backend.close() };
}
