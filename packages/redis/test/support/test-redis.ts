/** Shared helpers: the test server URL, a key prefix unique to a test file, and its cleanup. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBroker, RedisResultBackend, parseRedisOptions } from '../../src/index.js';

export const baseUrl = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

export function uniqueName(label: string): string {
  return `tqr-${label}-${randomUUID().slice(0, 8)}`;
}

/** A URL on the test database whose keys all carry `prefix` (kombu's global_keyprefix). */
export function urlWith(prefix: string, params: Record<string, string> = {}): URL {
  const url = new URL(baseUrl);
  if (prefix) url.searchParams.set('global_keyprefix', prefix);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

export async function openBroker(url: URL): Promise<RedisBroker> {
  const broker = new RedisBroker(parseRedisOptions(url));
  await broker.connect();
  return broker;
}

export async function openBackend(url: URL): Promise<RedisResultBackend> {
  const backend = new RedisResultBackend(parseRedisOptions(url));
  await backend.connect();
  return backend;
}

export function rawClient(): Redis {
  return new Redis(baseUrl);
}

/** Deletes every key starting with `prefix` (SCAN, never FLUSHDB: the server is shared). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== '0');
}

export async function first<T>(iterable: AsyncIterable<T>): Promise<T> {
  for await (const item of iterable) return item;
  throw new Error('iteration ended without an item');
}
