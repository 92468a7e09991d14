import { ConfigError, redactUrl, type AdapterOptions, type ConfigIssue } from '@tq/core/adapter';

/** Settings of one @tq/postgres broker or result backend, from its URL and adapter options. */
export interface PostgresOptions {
  /** The URL node-postgres connects with: tq's own query parameters removed. */
  readonly connectionString: string;
  /** The URL with its password hidden, for logs and errors. */
  readonly redacted: string;
  /** Schema of tq's tables (created when missing). Default 'tq'. */
  readonly schema: string;
  /** Prefix of every table and NOTIFY channel name, to keep several tq setups in one schema. Default ''. */
  readonly tablePrefix: string;
  /** How long a claimed message stays invisible unless extended (Redis's visibility timeout). Default 30 000. */
  readonly leaseMs: number;
  /** A consumer re-checks its queue this often even without a NOTIFY (a lost notification costs this much). Default 5 000. */
  readonly pollIntervalMs: number;
  /** Longest one query may take before its connection is dropped as dead (node-postgres query_timeout). Default 15 000. */
  readonly queryTimeoutMs: number;
  /** Longest a new connection may take to open. Default 10 000. */
  readonly connectTimeoutMs: number;
  /** The LISTEN connection is pinged this often; a ping unanswered within queryTimeoutMs reconnects it. Default 5 000. */
  readonly pingIntervalMs: number;
  /** Connections in the pool. Default 10. */
  readonly poolSize: number;
  /** Result backend: table of the task records. Default 'django_celery_results_taskresult' (django-celery-results' layout). */
  readonly resultsTable: string;
  /** Result backend: records older than their TTL are deleted in batches of this many. Default 1 000. */
  readonly cleanupBatch: number;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

const integerParams = {
  lease_ms: 'leaseMs',
  poll_interval_ms: 'pollIntervalMs',
  query_timeout_ms: 'queryTimeoutMs',
  connect_timeout_ms: 'connectTimeoutMs',
  ping_interval_ms: 'pingIntervalMs',
  pool_size: 'poolSize',
  cleanup_batch: 'cleanupBatch',
} as const;

const defaults = {
  schema: 'tq',
  tablePrefix: '',
  leaseMs: 30_000,
  pollIntervalMs: 5_000,
  queryTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 5_000,
  poolSize: 10,
  resultsTable: 'django_celery_results_taskresult',
  cleanupBatch: 1_000,
};

/**
 * postgres://user:pass@host:5432/db?schema=tq&table_prefix=&lease_ms=30000&poll_interval_ms=5000
 *   &query_timeout_ms=15000&connect_timeout_ms=10000&ping_interval_ms=5000&pool_size=10
 *   &results_table=django_celery_results_taskresult&cleanup_batch=1000
 * Other query parameters (sslmode, application_name, …) go to node-postgres unchanged.
 * Adapter options of the same names (camelCase) override the URL.
 */
export function parsePostgresOptions(url: URL, adapterOptions: AdapterOptions = {}): PostgresOptions {
  const issues: ConfigIssue[] = [];
  const stripped = new URL(url.href);
  const values: Record<string, unknown> = { ...defaults };
  for (const [param, key] of Object.entries(integerParams)) {
    const raw = stripped.searchParams.get(param);
    stripped.searchParams.delete(param);
    const given = adapterOptions[key] ?? raw;
    if (given === undefined || given === null) continue;
    const value = Number(given);
    if (!Number.isInteger(value) || value <= 0) issues.push({ path: `brokerUrl.${param}`, message: `must be a positive integer, got "${String(given)}"` });
    else values[key] = value;
  }
  for (const [param, key] of [['schema', 'schema'], ['table_prefix', 'tablePrefix'], ['results_table', 'resultsTable']] as const) {
    const raw = stripped.searchParams.get(param);
    stripped.searchParams.delete(param);
    const given = adapterOptions[key] ?? raw;
    if (given === undefined || given === null) continue;
    const value = String(given);
    const valid = key === 'tablePrefix' ? value === '' || identifier.test(value) : identifier.test(value);
    if (!valid || value.length > 40) issues.push({ path: `brokerUrl.${param}`, message: `must be a lower-case SQL identifier (a-z, 0-9, _) of at most 40 characters, got "${value}"` });
    else values[key] = value;
  }
  if (issues.length) throw new ConfigError(issues);
  // node-postgres reads "postgres:" and "postgresql:" alike.
  const connectionString = stripped.href;
  return { ...(values as Omit<PostgresOptions, 'connectionString' | 'redacted'>), connectionString, redacted: redactUrl(url) };
}
