import { AdapterNotInstalledError, ConfigError, TqError, UnknownSchemeError } from '../errors.js';
import type { TqAdapter } from './descriptor.js';
import { loadAdapters, type AdapterEntry } from './named.js';
import { schemeOf } from './url.js';

/** First-party adapters by scheme, loaded on demand so users install only what they use. */
export const firstPartyAdapters: Readonly<Record<string, string>> = {
  redis: '@tq/redis',
  rediss: '@tq/redis',
  'redis+sentinel': '@tq/redis',
  amqp: '@tq/amqp',
  amqps: '@tq/amqp',
  rpc: '@tq/amqp',
  nats: '@tq/nats',
  tls: '@tq/nats',
  kafka: '@tq/kafka',
  'kafka+ssl': '@tq/kafka',
};

/** tq's own adapters that are loaded by name (they bring a SQL driver): named in the unknown-scheme error. */
const adaptersLoadedByName: Readonly<Record<string, string>> = {
  postgres: '@tq/postgres',
  postgresql: '@tq/postgres',
  mysql: '@tq/mysql',
  mariadb: '@tq/mysql',
};

export type AdapterLoader = (packageName: string) => Promise<unknown>;

const defaultLoader: AdapterLoader = (packageName) => import(packageName);

function isTqAdapter(value: unknown): value is TqAdapter {
  return value !== null && typeof value === 'object' && typeof (value as TqAdapter).name === 'string' && Array.isArray((value as TqAdapter).schemes);
}

/**
 * Finds the adapter for a URL: descriptors passed by the user first, then the built-in
 * memory adapter, then the first-party package for the scheme (dynamic import).
 */
export async function resolveAdapter(
  url: URL | string,
  options: { adapters?: readonly AdapterEntry[]; builtin?: readonly TqAdapter[]; load?: AdapterLoader } = {},
): Promise<TqAdapter> {
  const scheme = typeof url === 'string' ? rawScheme(url) : schemeOf(url);
  // Named packages (tq.config.json "adapters", $TQ_ADAPTERS, --adapter) are imported here.
  const candidates = [...(await loadAdapters(options.adapters ?? [], options.load)), ...(options.builtin ?? [])];
  const found = candidates.find((a) => a.schemes.includes(scheme));
  if (found) return found;
  const packageName = firstPartyAdapters[scheme];
  if (!packageName) {
    const known = [...new Set([...candidates.flatMap((a) => a.schemes), ...Object.keys(firstPartyAdapters)])].sort();
    throw new UnknownSchemeError(scheme, known, nearest(scheme, known), adaptersLoadedByName[scheme]);
  }
  let loaded: unknown;
  try {
    loaded = await (options.load ?? defaultLoader)(packageName);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((cause as Error).message).includes(packageName)) {
      throw new AdapterNotInstalledError(scheme, packageName, { cause });
    }
    throw new TqError('TQ_ADAPTER_NOT_INSTALLED', `loading ${packageName} failed: ${(cause as Error).message}`, { cause });
  }
  const adapter = (loaded as { default?: unknown }).default ?? loaded;
  if (!isTqAdapter(adapter)) {
    throw new ConfigError([{ path: 'broker', message: `${packageName} does not default-export a tq adapter descriptor` }]);
  }
  return adapter;
}

/** The scheme of a URL string the WHATWG parser may reject (several hosts): 'kafka' of 'kafka://a,b'. */
export function rawScheme(raw: string): string {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(raw.trim());
  if (!match) throw new ConfigError([{ path: 'broker', message: `not a URL (expected scheme://…, e.g. redis://localhost:6379/0)` }]);
  return match[1]!.toLowerCase();
}

/** The known name closest to `name` (edit distance <= 2), for "did you mean" hints. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
