import { ConfigError, redactUrl, type AdapterOptions, type ConfigIssue } from '@tq/core/adapter';

export interface MysqlOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly redacted: string;
  /** Default 'django_celery_results_taskresult' (django-celery-results' table). */
  readonly resultsTable: string;
  /** watch() polls from this interval, doubling while nothing changes. Default 50. */
  readonly minPollMs: number;
  /** …up to this interval. Default 1 000. */
  readonly maxPollMs: number;
  /** Expired rows deleted per sweep. Default 1 000. */
  readonly cleanupBatch: number;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** Longest one query may take (a silent server fails it instead of hanging). Default 15 000. */
  readonly queryTimeoutMs: number;
}

const identifier = /^[a-z_][a-z0-9_]*$/;
const integers = {
  min_poll_ms: 'minPollMs',
  max_poll_ms: 'maxPollMs',
  cleanup_batch: 'cleanupBatch',
  pool_size: 'poolSize',
  connect_timeout_ms: 'connectTimeoutMs',
  query_timeout_ms: 'queryTimeoutMs',
} as const;

/**
 * mysql://user:password@host:3306/database?results_table=django_celery_results_taskresult
 *   &min_poll_ms=50&max_poll_ms=1000&cleanup_batch=1000&pool_size=10&connect_timeout_ms=10000&query_timeout_ms=15000
 * (mariadb:// too). Adapter options of the same names (camelCase) override the URL.
 */
export function parseMysqlOptions(url: URL, adapterOptions: AdapterOptions = {}): MysqlOptions {
  const issues: ConfigIssue[] = [];
  const values: Record<string, unknown> = { resultsTable: 'django_celery_results_taskresult', minPollMs: 50, maxPollMs: 1_000, cleanupBatch: 1_000, poolSize: 10, connectTimeoutMs: 10_000, queryTimeoutMs: 15_000 };
  for (const [param, key] of Object.entries(integers)) {
    const given = adapterOptions[key] ?? url.searchParams.get(param);
    if (given === undefined || given === null) continue;
    const value = Number(given);
    if (!Number.isInteger(value) || value <= 0) issues.push({ path: `resultBackend.${param}`, message: `must be a positive integer, got "${String(given)}"` });
    else values[key] = value;
  }
  const table = adapterOptions['resultsTable'] ?? url.searchParams.get('results_table');
  if (table !== undefined && table !== null) {
    if (!identifier.test(String(table)) || String(table).length > 60) issues.push({ path: 'resultBackend.results_table', message: `must be a lower-case SQL identifier, got "${String(table)}"` });
    else values['resultsTable'] = String(table);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) issues.push({ path: 'resultBackend', message: 'the URL must name a database: mysql://user@host:3306/<database>' });
  if (issues.length) throw new ConfigError(issues);
  return {
    ...(values as Pick<MysqlOptions, 'resultsTable' | 'minPollMs' | 'maxPollMs' | 'cleanupBatch' | 'poolSize' | 'connectTimeoutMs' | 'queryTimeoutMs'>),
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username) || 'root',
    password: decodeURIComponent(url.password),
    database,
    redacted: redactUrl(url),
  };
}
