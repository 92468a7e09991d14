/**
 * memory:// — the embedded default broker and result backend, inside one process.
 *
 * URL: memory://[name][?maxMessageBytes=N&resultTtlMs=N&visibilityTimeoutMs=N&delayedDelivery=false&chordJoin=false].
 * chordJoin=false (result backend) emulates a backend without an atomic chord join (chords use celery.chord_unlock).
 * visibilityTimeoutMs and delayedDelivery=false emulate brokers with a redelivery window or no delay. Instances opened on the same name
 * share queues and results (like connections to one server); different names are isolated.
 * Capabilities: delayed delivery, priority 0..9, broadcast, redelivery of unacked messages
 * when an instance closes, dead-lettering to "<queue>.dead", purge. Nothing survives the process.
 */
import type { TqAdapter } from '../adapters/descriptor.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryHub } from './memory-hub.js';
import { MemoryResultBackend, MemoryResultStore } from './memory-result-backend.js';

export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.js';
export { MemoryHub } from './memory-hub.js';
export { MemoryResultBackend, MemoryResultStore } from './memory-result-backend.js';

function numberParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  return raw === null ? undefined : Number(raw);
}

/** A memory adapter with its own namespace of hubs; tests create one each for isolation. */
export function createMemoryAdapter(): TqAdapter {
  const hubs = new Map<string, MemoryHub>();
  const stores = new Map<string, MemoryResultStore>();
  const keyOf = (url: URL) => url.host + url.pathname;
  return {
    name: 'memory',
    schemes: ['memory'],
    createBroker(url) {
      const key = keyOf(url);
      let hub = hubs.get(key);
      if (!hub) hubs.set(key, (hub = new MemoryHub()));
      return new MemoryBroker(hub, {
        maxMessageBytes: numberParam(url, 'maxMessageBytes') ?? null,
        redeliveryWindowMs: numberParam(url, 'visibilityTimeoutMs') ?? null,
        delayedDelivery: url.searchParams.get('delayedDelivery') !== 'false',
        ...(url.searchParams.get('publishDeduplication') === 'false' ? { publishDeduplicationMs: null } : {}),
      });
    },
    createResultBackend(url) {
      const key = keyOf(url);
      let store = stores.get(key);
      if (!store) stores.set(key, (store = new MemoryResultStore()));
      const ttl = numberParam(url, 'resultTtlMs');
      return new MemoryResultBackend(store, {
        ...(ttl === undefined ? {} : { defaultTtlMs: ttl }),
        ...(url.searchParams.get('chordJoin') === 'false' ? { chordJoin: false } : {}),
      });
    },
  };
}

/** The process-wide memory adapter used for memory:// URLs. */
const memoryAdapter: TqAdapter = createMemoryAdapter();
export default memoryAdapter;
