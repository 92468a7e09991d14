import { Redis, type RedisOptions as IoredisOptions } from 'ioredis';
import type { RedisOptions } from './options.js';
import { toTqError, type ErrorContext } from './errors.js';

export type { Redis } from 'ioredis';

/** What a connection is for: it decides how long a command waits for a lost connection to return. */
export type ConnectionRole =
  /** Commands (publish, ack, results): fail after a few reconnect attempts so core's retry policy decides. */
  | 'command'
  /** A consumer's BRPOP or a pub/sub subscriber: waits for the server to come back, however long. */
  | 'blocking';

function ioredisOptions(options: RedisOptions, role: ConnectionRole, name: string): IoredisOptions {
  const common: IoredisOptions = {
    username: options.username,
    password: options.password,
    db: options.db,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs,
    connectionName: name,
    // Reconnect with backoff up to 2 s; ioredis resends unanswered commands after a reconnect.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    maxRetriesPerRequest: role === 'command' ? 3 : null,
    enableAutoPipelining: role === 'command',
  };
  if (options.sentinel) {
    const s = options.sentinel;
    return {
      ...common,
      sentinels: s.sentinels.map((a) => ({ host: a.host, port: a.port })),
      name: s.masterName,
      sentinelPassword: s.password,
      ...(options.tls ? { tls: options.tls, sentinelTLS: options.tls, enableTLSForSentinelMode: s.tls } : {}),
    };
  }
  return { ...common, host: options.host, port: options.port, ...(options.tls ? { tls: options.tls } : {}) };
}

/**
 * Opens a connection and waits until it is ready. On failure the client is torn down (ioredis
 * would otherwise keep retrying in the background) and a typed error is thrown.
 */
export async function openConnection(options: RedisOptions, role: ConnectionRole, name: string, context: ErrorContext, signal?: AbortSignal): Promise<Redis> {
  const client = new Redis(ioredisOptions(options, role, name));
  // Errors also surface through the commands that fail; without a listener ioredis logs them.
  client.on('error', () => undefined);
  const abort = () => client.disconnect();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    throw toTqError(error, context);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/** Closes politely (QUIT) when connected, otherwise drops the socket. Never throws. */
export async function closeConnection(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}
