import { Redis, type RedisOptions as IoredisOptions } from 'ioredis';
import { ConfigError, withDeadline } from '@tq/core/adapter';
import type { RedisOptions } from './options.js';
import { toTqError, type ErrorContext } from './errors.js';

export type { Redis } from 'ioredis';

/**
 * The consumer's blocking wait's server-side timeout: long enough not to poll, short enough to
 * notice messages on the lower priority lists when the main list stays empty.
 */
export const BLOCK_SECONDS = 5;

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
    // Liveness (a half-open connection or a frozen server sends nothing, not even a FIN):
    // - socketTimeout: a connection owing a reply that receives nothing for this long is
    //   destroyed, and ioredis reconnects. A consumer's BLMOVE legitimately stays silent for
    //   BLOCK_SECONDS, so its connection gets that on top.
    // - commandTimeout (commands only: it would cut a blocking wait short): the caller gets an
    //   error after socketTimeoutMs, also while the command waits in the offline queue.
    // - blockingTimeout: a client-side deadline on blocking reads (BLMOVE's own timeout plus
    //   socketTimeoutMs): the consumer loop moves on even if the socket never reports.
    // - keepAlive: TCP probes on idle connections (a pub/sub subscriber owes no reply).
    socketTimeout: role === 'command' ? options.socketTimeoutMs : BLOCK_SECONDS * 1000 + options.socketTimeoutMs,
    ...(role === 'command' ? { commandTimeout: options.socketTimeoutMs } : { blockingTimeout: options.socketTimeoutMs, blockingTimeoutGrace: options.socketTimeoutMs }),
    keepAlive: options.keepAliveMs,
    // No auto-pipelining: ioredis 6.0.0 throws an uncaught TypeError from its auto-pipeline callback
    // ("results[i] is not iterable") when a connection closes with a batch in flight. Commands are
    // still pipelined on the socket (written without waiting for earlier replies).
    enableAutoPipelining: false,
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
  // ioredis reports why a connect failed (WRONGPASS, TLS, no master) only as an 'error' event;
  // connect() itself rejects with a bare "Connection is closed". Keep the informative one.
  let reported: unknown;
  client.on('error', (error: unknown) => (reported = error));
  let timer: NodeJS.Timeout | undefined;
  const abort = () => client.disconnect();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    // Sentinel lookups retry on their own schedule, not bounded by connectTimeout: bound the whole attempt.
    const deadline = new Promise<never>((_, reject) => {
      // Over TLS, a port that speaks plain Redis never completes the handshake: it looks like this too.
      const hint = options.tls ? ' (rediss:// — does this port serve TLS? a plain Redis port needs redis://)' : '';
      timer = setTimeout(() => reject(new Error(`connect ETIMEDOUT: no usable server within ${options.connectTimeoutMs} ms${hint}`)), options.connectTimeoutMs);
    });
    await Promise.race([client.connect(), deadline]);
    if (options.db !== 0) await selectedDatabase(client, options.db, () => reported);
    return client;
  } catch (error) {
    client.disconnect();
    if (error instanceof ConfigError) throw error;
    throw toTqError(reported ?? error, { ...context, connecting: true });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', abort);
  }
}

/**
 * ioredis reports a failed SELECT (a database the server does not have) only as an 'error'
 * event and goes on in database 0, where tasks would silently land. A PING after the connect is
 * answered after the SELECT, so by then its error, if any, has been reported.
 */
async function selectedDatabase(client: Redis, db: number, reported: () => unknown): Promise<void> {
  await client.ping();
  const error = reported();
  if (error instanceof Error && /DB index|invalid DB/i.test(error.message)) {
    throw new ConfigError([{ path: 'url', message: `database ${db} does not exist on this Redis server (${error.message}); use a number below its "databases" setting (16 by default), e.g. redis://host:6379/0` }]);
  }
}

/**
 * Closes politely (QUIT) when connected, otherwise drops the socket. Never throws. A QUIT that
 * gets no reply within `timeoutMs` (a silent server) is given up: the socket is dropped.
 * Default: the connection's own socketTimeoutMs (see ioredisOptions), else 5 s.
 */
export async function closeConnection(client: Redis, timeoutMs?: number): Promise<void> {
  if (client.status === 'ready') {
    const { commandTimeout, blockingTimeoutGrace } = client.options;
    const limit = timeoutMs ?? commandTimeout ?? blockingTimeoutGrace ?? 5_000;
    try {
      await withDeadline(client.quit(), limit, () => new Error('QUIT got no reply'));
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}
