/**
 * @tq/postgres — PostgreSQL broker and result backend for tq (node-postgres).
 *
 * URL: postgres://[user[:password]@]host[:5432]/database[?param=…]   (postgresql:// too)
 *   schema=tq  table_prefix=        where tq's tables live (created and migrated by the adapter)
 *   lease_ms=30000                  how long a claimed message stays invisible unless extended
 *   poll_interval_ms=5000           a consumer re-checks its queue this often without a NOTIFY
 *   query_timeout_ms=15000  connect_timeout_ms=10000  ping_interval_ms=5000  pool_size=10
 *   results_table=django_celery_results_taskresult  cleanup_batch=1000   (result backend)
 *   Other parameters (sslmode, application_name, …) go to node-postgres.
 *
 * Capabilities (broker): delayed delivery (a not-before column), priorities 0..9 (higher
 * first), broadcast (LISTEN/NOTIFY; bodies over NOTIFY's 8 kB limit through a table), leases
 * of lease_ms with extend(), redelivery after the lease (redelivered flagged), dead letters
 * ("<queue>.dead" in the same table), purge, queue stats, FIFO per priority.
 *
 * Layout: one table "<schema>"."<prefix>messages"; a consumer claims visible rows with
 * FOR UPDATE SKIP LOCKED and leases them (visible_at = now() + lease); ack deletes the row.
 * Publishing NOTIFYs "<schema>.<prefix>queue" with the queue name at commit, which wakes the
 * consumers of that queue; an idle consumer otherwise sleeps until the next not-before/lease
 * end it knows of, or poll_interval_ms.
 *
 * Guarantees: at-least-once. publish resolves once the INSERT has committed. A delivery not
 * acked within lease_ms (and not extended) becomes visible again, flagged redelivered; close()
 * and a stopped consumer give back their leases at once. A consumer whose connection dies
 * holds its leases until they expire (lease_ms). Not-before times are compared with the
 * database clock.
 *
 * Transactional enqueue: sendTask(…, { transaction: client }) inserts through the caller's
 * client (publishInTransaction); PostgresOutbox does the same for any other broker, relayed by
 * the app's workers (at-least-once, in id order, stable task id).
 *
 * Result backend: one row per task in django-celery-results' TaskResult layout (+ queue,
 * retries, date_started, expires_at, record), upserted with a NOTIFY for watchers; TTL expiry
 * with bounded cleanup. See docs/backends-sql.md.
 */
import type { AdapterOptions, TqAdapter } from '@tq/core/adapter';
import { parsePostgresOptions } from './options.js';
import { PostgresBroker } from './postgres-broker.js';
import { PostgresResultBackend } from './postgres-result-backend.js';

export { PostgresBroker } from './postgres-broker.js';
export { PostgresOutbox, type Queryable } from './outbox.js';
export { PostgresResultBackend, ResultNames, resultMigrations } from './postgres-result-backend.js';
export { parsePostgresOptions, type PostgresOptions } from './options.js';
export { PostgresNames, brokerMigrations, type Migration } from './schema.js';
export { isTransientPostgresError } from './errors.js';

export const postgresAdapter: TqAdapter = {
  name: 'postgres',
  schemes: ['postgres', 'postgresql'],
  createBroker(url: URL, options: AdapterOptions) {
    return new PostgresBroker(parsePostgresOptions(url, options), options);
  },
  createResultBackend(url: URL, options: AdapterOptions) {
    return new PostgresResultBackend(parsePostgresOptions(url, options), options);
  },
};

export default postgresAdapter;
