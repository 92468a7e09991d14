import pg from 'pg';
import type { Logger } from '@tq/core/adapter';
import type { PostgresOptions } from './options.js';

/** A pool whose every query is bounded (query_timeout) and whose dead connections are dropped. */
export function createPool(options: PostgresOptions, logger: Logger | undefined, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // Client-side: a query on a silent connection fails instead of hanging, and pg-pool
    // destroys a client released with an error, so the next query opens a fresh connection.
    query_timeout: options.queryTimeoutMs,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    application_name: name,
  });
  // An idle connection that dies (server restart, cut) is removed by the pool; without a
  // listener Node would throw the 'error' event.
  pool.on('error', (error) => logger?.warn(`postgres: an idle connection to ${options.redacted} failed: ${error.message}`));
  return pool;
}

/** Ends the pool, but never waits longer than `boundMs`: sockets of a silent server are destroyed. */
export async function endPool(pool: pg.Pool, boundMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = pool.end().catch(() => undefined);
  const timedOut = await Promise.race([ended.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), boundMs)))]);
  clearTimeout(timer);
  if (timedOut) for (const client of poolClients(pool)) destroyClient(client);
}

/** Ends one client within `boundMs`, destroying its socket when the server does not answer. */
export async function endClient(client: pg.Client, boundMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = client.end().catch(() => undefined);
  const timedOut = await Promise.race([ended.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), boundMs)))]);
  clearTimeout(timer);
  if (timedOut) destroyClient(client);
}

function poolClients(pool: pg.Pool): pg.Client[] {
  return ((pool as unknown as { _clients?: pg.Client[] })._clients ?? []).slice();
}

function destroyClient(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
  stream?.destroy?.();
}
