import type { Logger } from '@tq/core/adapter';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigError, loggerOf, redactUrl, schemeOf, unknownUrlParameters, type AdapterOptions, type ConfigIssue } from '@tq/core/adapter';
import { DEFAULT_PRIORITY_STEPS } from './keys.js';

/** Where and how to reach Redis, and the kombu transport options that shape the key layout. */
export interface RedisOptions {
  /** Host of the server, or of the first Sentinel. Default '127.0.0.1'. */
  readonly host: string;
  /** Default 6379 (26379 for redis+sentinel://). */
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Database number, the URL path ("/1"). Default 0. */
  readonly db: number;
  /** TLS options for the data connection; undefined = plain TCP. rediss:// turns it on. */
  readonly tls: TlsOptions | undefined;
  /** Set for redis+sentinel:// URLs: the master is discovered through these Sentinels. */
  readonly sentinel: SentinelOptions | undefined;
  /**
   * An unacked delivery older than this returns to its queue (kombu's visibility_timeout).
   * Core extends a lease while its task runs, so a dead worker's tasks return after this long.
   * Default 30_000 (kombu's is 1 hour: match it when Python workers share the queues).
   */
  readonly visibilityTimeoutMs: number;
  /**
   * An unacked delivery taken by another client (a Python Celery worker: kombu never extends a
   * lease, and holds ETA tasks unacked until due) returns to its queue only after this long, so
   * tq's short visibilityTimeoutMs never re-runs a task a live Python worker holds. Default
   * 3_600_000 (kombu's visibility_timeout), and never less than visibilityTimeoutMs.
   * URL: ?foreign_visibility_timeout=<seconds>.
   */
  readonly foreignVisibilityTimeoutMs: number;
  /**
   * Hold countdown/ETA messages in Redis (a sorted set per queue, moved into the queue when due
   * by every connected tq process). Default true. false (URL ?delayed_delivery=false): publish
   * them into the queue at once with their eta header, the kombu way, for fleets where only
   * Python workers consume and no tq process stays connected. See docs/brokers/redis.md.
   */
  readonly delayedDelivery: boolean;
  /** kombu's priority_steps: one list per step. Must match the Python side. Default [0, 3, 6, 9]. */
  readonly prioritySteps: readonly number[];
  /** kombu's global_keyprefix, prepended to every key. Default ''. */
  readonly keyPrefix: string;
  /** How long a connect may take before it fails. Default 10_000. */
  readonly connectTimeoutMs: number;
  /**
   * Liveness: a command whose reply has not come within this long fails with
   * BrokerConnectionError, and the connection is dropped and reopened (a half-open or frozen
   * server answers nothing and sends no FIN). A consumer's blocking wait gets this long on top
   * of its own 5 s server-side timeout. URL: ?socket_timeout=<seconds> (kombu's name).
   * Default 10_000: a silent server is noticed within 10 s by commands, 15 s by consumers.
   */
  readonly socketTimeoutMs: number;
  /** TCP keep-alive: first probe after this long idle, for idle connections (pub/sub). Default 10_000. */
  readonly keepAliveMs: number;
  /** Result backend: default record lifetime (Celery's result_expires). Default 86_400_000 (1 day). */
  readonly resultTtlMs: number;
  /** The URL with its password hidden, for messages. */
  readonly displayUrl: string;
  /** The app's logger (redacting), for what the adapter drops or moves aside on its own. */
  readonly logger?: Logger;
}

export interface SentinelOptions {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The monitored master's name (kombu's master_name). */
  readonly masterName: string;
  readonly password: string | undefined;
  readonly tls: boolean;
}

/**
 * What may be passed as `brokerOptions` / `resultBackendOptions` for a redis URL. Each field
 * overrides the URL; TLS material (ca/cert/key buffers) can only be given here.
 */
export interface RedisAdapterOptions {
  readonly tls?: TlsOptions;
  readonly sentinelPassword?: string;
  readonly visibilityTimeoutMs?: number;
  readonly foreignVisibilityTimeoutMs?: number;
  readonly delayedDelivery?: boolean;
  readonly prioritySteps?: readonly number[];
  readonly keyPrefix?: string;
  readonly connectTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
  readonly keepAliveMs?: number;
  readonly resultTtlMs?: number;
}

/** Every query parameter parseRedisOptions reads (kombu's names); core rejects any other. */
export const redisUrlParameters: readonly string[] = [
  'visibility_timeout',
  'foreign_visibility_timeout',
  'delayed_delivery',
  'priority_steps',
  'global_keyprefix',
  'socket_timeout',
  'socket_connect_timeout',
  'result_expires',
  'ssl',
  'ssl_cert_reqs',
  'ssl_ca_certs',
  'ssl_certfile',
  'ssl_keyfile',
  'master_name',
  'sentinels',
];

const defaultPort = 6379;
const defaultSentinelPort = 26379;

/**
 * URL → RedisOptions. Query parameters use kombu's transport option names, so a Celery
 * broker_url works unchanged:
 *
 *   redis://[[username]:password@]host[:port][/db][?visibility_timeout=30&foreign_visibility_timeout=3600&delayed_delivery=true&priority_steps=0,3,6,9&global_keyprefix=p&socket_timeout=10&socket_connect_timeout=10]
 *   rediss://…[?ssl_cert_reqs=required|optional|none&ssl_ca_certs=/ca.pem&ssl_certfile=…&ssl_keyfile=…]
 *   redis+sentinel://[:password@]sentinel1:26379[/db]?master_name=mymaster[&sentinels=s2:26379,s3:26379][&ssl=true]
 *
 * Every problem is reported at once in one ConfigError.
 */
export function parseRedisOptions(url: URL, adapterOptions: AdapterOptions = {}): RedisOptions {
  const extra = adapterOptions as RedisAdapterOptions;
  const issues: ConfigIssue[] = [];
  const displayUrl = redactUrl(url);
  const scheme = schemeOf(url);
  const query = url.searchParams;
  const issue = (path: string, message: string) => issues.push({ path, message });

  if (!['redis', 'rediss', 'redis+sentinel'].includes(scheme)) issue('url', `unsupported scheme "${scheme}://" for the redis adapter`);
  for (const { parameter, message } of unknownUrlParameters(url, redisUrlParameters)) issue(`url?${parameter}`, message);
  const isSentinel = scheme === 'redis+sentinel';

  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  let port = isSentinel ? defaultSentinelPort : defaultPort;
  if (url.port) {
    port = Number(url.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) issue('url.port', `not a port: ${url.port}`);
  }

  let db = 0;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '') {
    db = Number(path);
    if (!/^\d+$/.test(path)) issue('url.path', `the path must be a database number, got "/${path}"`);
  }

  const decode = (value: string) => (value === '' ? undefined : decodeURIComponent(value));
  const username = decode(url.username);
  const password = decode(url.password);

  const seconds = (name: string): number | undefined => {
    const raw = query.get(name);
    if (raw === null) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      issue(`url?${name}`, `must be a positive number of seconds, got "${raw}"`);
      return undefined;
    }
    return value * 1000;
  };

  const visibilityTimeoutMs = extra.visibilityTimeoutMs ?? seconds('visibility_timeout') ?? 30_000;
  if (!(visibilityTimeoutMs > 0)) issue('visibilityTimeoutMs', 'must be > 0');
  const foreignTimeout = extra.foreignVisibilityTimeoutMs ?? seconds('foreign_visibility_timeout') ?? 3_600_000;
  if (!(foreignTimeout > 0)) issue('foreignVisibilityTimeoutMs', 'must be > 0');
  const foreignVisibilityTimeoutMs = Math.max(foreignTimeout, visibilityTimeoutMs);
  let delayedDelivery = extra.delayedDelivery ?? true;
  const rawDelayed = query.get('delayed_delivery');
  if (extra.delayedDelivery === undefined && rawDelayed !== null) {
    if (['true', '1', 'false', '0'].includes(rawDelayed)) delayedDelivery = rawDelayed === 'true' || rawDelayed === '1';
    else issue('url?delayed_delivery', `must be true or false, got "${rawDelayed}"`);
  }

  let prioritySteps: readonly number[] = DEFAULT_PRIORITY_STEPS;
  const rawSteps = query.get('priority_steps');
  if (extra.prioritySteps) prioritySteps = extra.prioritySteps;
  else if (rawSteps !== null) prioritySteps = rawSteps.split(',').map((s) => Number(s.trim()));
  const stepsValid =
    prioritySteps.length > 0 &&
    prioritySteps[0] === 0 &&
    prioritySteps.every((s, i) => Number.isInteger(s) && s >= 0 && s <= 9 && (i === 0 || s > prioritySteps[i - 1]!));
  if (!stepsValid) issue('prioritySteps', `must be increasing integers 0..9 starting at 0, got [${prioritySteps.join(', ')}]`);

  const keyPrefix = extra.keyPrefix ?? query.get('global_keyprefix') ?? '';
  const connectTimeoutMs = extra.connectTimeoutMs ?? seconds('socket_connect_timeout') ?? 10_000;
  const resultTtlMs = extra.resultTtlMs ?? seconds('result_expires') ?? 86_400_000;
  const socketTimeoutMs = extra.socketTimeoutMs ?? seconds('socket_timeout') ?? 10_000;
  if (!(socketTimeoutMs > 0)) issue('socketTimeoutMs', 'must be > 0');
  const keepAliveMs = extra.keepAliveMs ?? 10_000;
  if (!(keepAliveMs >= 0)) issue('keepAliveMs', 'must be >= 0 (0 turns TCP keep-alive off)');

  const wantsTls = scheme === 'rediss' || (isSentinel && query.get('ssl') === 'true') || extra.tls !== undefined;
  const tls = wantsTls ? tlsOptions(query, extra.tls, issue) : undefined;

  let sentinel: SentinelOptions | undefined;
  if (isSentinel) {
    const masterName = query.get('master_name') ?? '';
    if (!masterName) issue('url?master_name', 'redis+sentinel:// needs ?master_name=<name of the monitored master>');
    const sentinels = [{ host, port }];
    for (const entry of (query.get('sentinels') ?? '').split(',').filter(Boolean)) {
      const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry.trim());
      if (!match) issue('url?sentinels', `not host[:port]: "${entry}"`);
      else sentinels.push({ host: match[1]!, port: match[2] ? Number(match[2]) : defaultSentinelPort });
    }
    sentinel = { sentinels, masterName, password: extra.sentinelPassword, tls: wantsTls };
  }

  if (issues.length > 0) throw new ConfigError(issues.map((i) => ({ ...i, message: `${i.message} (in ${displayUrl})` })));
  return {
    host,
    port,
    username,
    password,
    db,
    tls,
    sentinel,
    visibilityTimeoutMs,
    foreignVisibilityTimeoutMs,
    delayedDelivery,
    prioritySteps,
    keyPrefix,
    connectTimeoutMs,
    socketTimeoutMs,
    keepAliveMs,
    resultTtlMs,
    displayUrl,
    ...(loggerOf(adapterOptions) ? { logger: loggerOf(adapterOptions)! } : {}),
  };
}

function tlsOptions(query: URLSearchParams, given: TlsOptions | undefined, issue: (path: string, message: string) => void): TlsOptions {
  const options: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  const reqs = query.get('ssl_cert_reqs');
  if (reqs !== null) {
    // kombu/redis-py accept CERT_NONE/none etc.; anything but "none" verifies the server.
    const normalized = reqs.toLowerCase().replace(/^cert_/, '');
    if (!['none', 'optional', 'required'].includes(normalized)) issue('url?ssl_cert_reqs', `must be none, optional or required, got "${reqs}"`);
    options.rejectUnauthorized = normalized !== 'none';
  }
  const file = (name: string): Buffer | undefined => {
    const path = query.get(name);
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      issue(`url?${name}`, `cannot read "${path}": ${(cause as Error).message}`);
      return undefined;
    }
  };
  const ca = file('ssl_ca_certs');
  const cert = file('ssl_certfile');
  const key = file('ssl_keyfile');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (key) options.key = key;
  return { ...options, ...given };
}
