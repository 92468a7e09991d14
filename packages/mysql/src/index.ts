/**
 * @tq/mysql — MySQL 8 / MariaDB 10.5+ result backend for tq (mysql2).
 *
 * URL: mysql://user[:password]@host[:3306]/database[?param=…]   (mariadb:// too)
 *   results_table=django_celery_results_taskresult   min_poll_ms=50  max_poll_ms=1000
 *   cleanup_batch=1000  pool_size=10  connect_timeout_ms=10000  query_timeout_ms=15000
 *
 * Capabilities: watch (polling with backoff: MySQL has no LISTEN/NOTIFY), expiry (rows past
 * their TTL are invisible at once and deleted in bounded batches, once a minute per client).
 *
 * Layout: django-celery-results' TaskResult table (so a Django admin with that app lists tq's
 * tasks) plus tq's columns queue, retries, date_started, expires_at and record (the exact
 * bytes core stored). Created when missing. One row per task, upserted at each state change.
 *
 * Guarantees: store resolves once the row is committed (InnoDB, autocommit). A watcher sees
 * the latest record within max_poll_ms; intermediate states replaced between two polls are
 * not seen (fetch always returns the latest).
 */
import type { AdapterOptions, TqAdapter } from '@tq/core/adapter';
import { MysqlResultBackend } from './mysql-result-backend.js';
import { parseMysqlOptions } from './options.js';

export { MysqlResultBackend, createTableStatement, resultMigrations } from './mysql-result-backend.js';
export { migrationsTableOf } from './schema.js';
export { parseMysqlOptions, type MysqlOptions } from './options.js';
export { isTransientMysqlError } from './errors.js';

export const mysqlAdapter: TqAdapter = {
  name: 'mysql',
  schemes: ['mysql', 'mariadb'],
  createResultBackend(url: URL, options: AdapterOptions) {
    return new MysqlResultBackend(parseMysqlOptions(url, options), options);
  },
};

export default mysqlAdapter;
