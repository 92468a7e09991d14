import { existsSync, readFileSync } from 'node:fs';
import { adaptersFromEnv, isTqAdapter } from './adapters/named.js';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AdapterOptions, TqAdapter } from './adapters/descriptor.js';
import { defaultRetryPolicy, type RetryPolicy } from './adapters/retry-policy.js';
import type { ResultBackend } from './backend/result-backend.js';
import type { Broker } from './broker/broker.js';
import { unknownConfigKeys } from './config-keys.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Logger, LogLevel } from './logger.js';
import type { Serializer } from './serializer/serializer.js';
import { scheduleIssues, type ScheduleDefinition } from './schedule/schedule-entry.js';
import type { Outbox } from './producer/transactional.js';

/** Everything an app needs; producers and workers share one (see loadConfigFile). */
export interface TqConfig {
  /** Broker URL or instance. Default: $TQ_BROKER_URL, else 'memory://'. */
  readonly broker?: string | Broker;
  /**
   * Result backend URL or instance; null disables results. Default: $TQ_RESULT_BACKEND, else
   * 'memory://' when the broker is memory://, else none (results are not stored).
   */
  readonly resultBackend?: string | ResultBackend | null;
  /**
   * Third-party adapters, tried before the first-party ones: descriptors, or names of packages
   * that default-export one (imported on first use; the only form tq.config.json can hold).
   * $TQ_ADAPTERS (comma-separated names) and `tq … --adapter PKG` add to this list.
   */
  readonly adapters?: readonly (TqAdapter | string)[];
  readonly brokerOptions?: AdapterOptions;
  readonly resultBackendOptions?: AdapterOptions;
  /** Queue for tasks with no route. Default 'celery' (Celery's default, for interop). */
  readonly defaultQueue?: string;
  /** Task name (or glob like 'reports.*') → queue. */
  readonly routes?: Readonly<Record<string, string>>;
  /** Serializer for outgoing messages ('json' or a registered content type). Default 'json'. */
  readonly serializer?: string;
  /** Extra serializers beyond JSON. */
  readonly serializers?: readonly Serializer[];
  /** Content types (or short names) a worker will decode. Default ['json']. Checked before decoding. */
  readonly accept?: readonly string[];
  /** Result time to live. Default 1 day (Celery's result_expires). */
  readonly resultTtlMs?: number;
  /** Retry policy for publishing and backend calls on connection errors. */
  readonly publishRetry?: RetryPolicy;
  /** Largest serialized task body accepted by producers and workers, bytes. Default 10 MiB. */
  readonly maxPayloadBytes?: number;
  /**
   * Celery's result_extended: result records also carry the task's name, args, kwargs, worker,
   * retries and queue, so `AsyncResult.name` and friends work in Python. Default false.
   */
  readonly resultExtended?: boolean;
  /** Written into the 'origin' header and used as the worker hostname. Default os.hostname(). */
  readonly hostname?: string;
  readonly logger?: Logger;
  readonly logLevel?: LogLevel;
  /**
   * Messages no worker should run again (malformed, unknown task, forbidden content type,
   * oversized, poison) go to `<queue><suffix>` with the reason in headers. null = the broker's
   * own reject(false) (dead-lettered where supported, else dropped). Default '.dead'.
   */
  readonly deadLetterSuffix?: string | null;
  /** Send Celery-format task-sent events from producers (needs a broadcast-capable broker). Default false. */
  readonly sendSentEvent?: boolean;
  /** Periodic tasks run by `tq beat` / `tq worker --beat`, by name (see docs/scheduling.md). */
  readonly schedules?: Readonly<Record<string, ScheduleDefinition>>;
  /**
   * Outbox for `sendTask(…, { transaction })` on a broker outside the database (see
   * producer/transactional.ts): tasks are written to it in the caller's transaction and relayed
   * by the app's workers. Default none.
   */
  readonly outbox?: Outbox;
}

export interface ResolvedConfig {
  readonly broker: string | Broker;
  readonly resultBackend: string | ResultBackend | null;
  readonly adapters: readonly (TqAdapter | string)[];
  readonly brokerOptions: AdapterOptions;
  readonly resultBackendOptions: AdapterOptions;
  readonly defaultQueue: string;
  readonly routes: Readonly<Record<string, string>>;
  readonly serializer: string;
  readonly serializers: readonly Serializer[];
  readonly accept: readonly string[];
  readonly resultTtlMs: number;
  readonly publishRetry: RetryPolicy;
  readonly maxPayloadBytes: number;
  readonly resultExtended: boolean;
  readonly hostname: string;
  readonly logger: Logger | undefined;
  readonly logLevel: LogLevel;
  readonly deadLetterSuffix: string | null;
  readonly sendSentEvent: boolean;
  readonly schedules: Readonly<Record<string, ScheduleDefinition>>;
  readonly outbox: Outbox | undefined;
}

/** The largest message body a worker takes (maxPayloadBytes), compressed or once decompressed: 10 MiB. */
export const defaultMaxPayloadBytes = 10 * 1024 * 1024;

const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Reads the shared config file: $TQ_CONFIG, else ./tq.config.json when present. JSON with
 * any plain TqConfig fields (broker, resultBackend, defaultQueue, routes, accept, …).
 */
export function loadConfigFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): TqConfig {
  const explicit = env['TQ_CONFIG'];
  const path = resolve(cwd, explicit ?? 'tq.config.json');
  if (!explicit && !existsSync(path)) return {};
  let text: string;
  let config: TqConfig;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError([{ path: 'TQ_CONFIG', message: `cannot read ${path}: ${(cause as Error).message}` }], { cause });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a JSON object');
    config = parsed as TqConfig;
  } catch (cause) {
    throw new ConfigError([{ path: path, message: `invalid JSON config: ${(cause as Error).message}` }], { cause });
  }
  const unknown = unknownConfigKeys(config, `${path}: `);
  if (unknown.length > 0) throw new ConfigError(unknown);
  return config;
}

/**
 * Defaults < config file < code < environment. The environment wins so a deployment can
 * repoint an app (and `tq worker --broker`) without editing code. Every problem is reported
 * at once in one ConfigError.
 */
export function resolveConfig(config: TqConfig = {}, env: NodeJS.ProcessEnv = process.env, file: TqConfig = loadConfigFile(env)): ResolvedConfig {
  const merged: TqConfig = { ...file, ...config };
  const broker = env['TQ_BROKER_URL'] || merged.broker || 'memory://';
  const envBackend = env['TQ_RESULT_BACKEND'];
  let resultBackend: string | ResultBackend | null;
  if (envBackend !== undefined && envBackend !== '') resultBackend = envBackend === 'none' ? null : envBackend;
  else if (merged.resultBackend !== undefined) resultBackend = merged.resultBackend;
  else resultBackend = typeof broker === 'string' && broker.startsWith('memory:') ? broker : null;

  const issues: ConfigIssue[] = unknownConfigKeys(merged, '');
  // Only the scheme is checked here: adapters may accept URLs the WHATWG parser rejects
  // (several hosts), and parse them themselves when the app opens them.
  const checkUrl = (value: unknown, path: string) => {
    if (typeof value !== 'string') return;
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) {
      issues.push({ path, message: `not a valid URL (expected e.g. redis://host:6379/0): ${value.replace(/\/\/[^@/]*@/, '//***@')}` });
    }
  };
  checkUrl(broker, 'broker');
  checkUrl(resultBackend, 'resultBackend');
  const positive = (value: number | undefined, path: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) issues.push({ path, message: `expected a positive number, got ${value}` });
  };
  positive(merged.resultTtlMs, 'resultTtlMs');
  positive(merged.maxPayloadBytes, 'maxPayloadBytes');
  const defaultQueue = merged.defaultQueue ?? 'celery';
  if (typeof defaultQueue !== 'string' || defaultQueue === '') issues.push({ path: 'defaultQueue', message: 'expected a non-empty string' });
  for (const [pattern, queue] of Object.entries(merged.routes ?? {})) {
    if (typeof queue !== 'string' || queue === '') issues.push({ path: `routes.${pattern}`, message: 'expected a queue name' });
  }
  const logLevel = (env['TQ_LOG_LEVEL'] as LogLevel | undefined) ?? merged.logLevel ?? 'info';
  if (!logLevels.includes(logLevel)) issues.push({ path: 'logLevel', message: `expected one of ${logLevels.join(', ')}` });
  for (const [name, definition] of Object.entries(merged.schedules ?? {})) issues.push(...scheduleIssues(name, definition));
  if (merged.adapters !== undefined && !Array.isArray(merged.adapters)) issues.push({ path: 'adapters', message: 'expected a list of adapter package names (or descriptors in code)' });
  for (const [i, entry] of (Array.isArray(merged.adapters) ? merged.adapters : []).entries()) {
    if (typeof entry === 'string' ? entry.trim() === '' : !isTqAdapter(entry)) issues.push({ path: `adapters[${i}]`, message: 'expected a package name or a tq adapter descriptor ({ name, schemes, … })' });
  }
  if (issues.length) throw new ConfigError(issues);

  return {
    broker,
    resultBackend,
    adapters: [...(merged.adapters ?? []), ...adaptersFromEnv(env)],
    brokerOptions: merged.brokerOptions ?? {},
    resultBackendOptions: merged.resultBackendOptions ?? {},
    defaultQueue,
    routes: merged.routes ?? {},
    serializer: merged.serializer ?? 'json',
    serializers: merged.serializers ?? [],
    accept: merged.accept ?? ['json'],
    resultTtlMs: merged.resultTtlMs ?? 86_400_000,
    publishRetry: merged.publishRetry ?? defaultRetryPolicy,
    maxPayloadBytes: merged.maxPayloadBytes ?? defaultMaxPayloadBytes,
    resultExtended: merged.resultExtended ?? false,
    hostname: merged.hostname ?? hostname(),
    logger: merged.logger,
    logLevel,
    deadLetterSuffix: merged.deadLetterSuffix === undefined ? '.dead' : merged.deadLetterSuffix,
    sendSentEvent: merged.sendSentEvent ?? false,
    schedules: merged.schedules ?? {},
    outbox: merged.outbox,
  };
}

/** The queue for a task: explicit option, then the first matching route, then the default. */
export function routeTask(name: string, routes: Readonly<Record<string, string>>, defaultQueue: string): string {
  const exact = routes[name];
  if (exact) return exact;
  for (const [pattern, queue] of Object.entries(routes)) {
    if (pattern.includes('*') && globToRegExp(pattern).test(name)) return queue;
  }
  return defaultQueue;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
