/**
 * The kit on PostgreSQL: tables in a schema of this run's own (dropped afterwards). Leases are
 * 5 s (the default is 30 s) so the redelivery-window tests are short; the liveness parameters
 * make a silent connection noticed within a few seconds.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runConformance } from '../harness/run-conformance.js';

const schema = `tqc_int_${randomBytes(4).toString('hex')}`;

await runConformance({
  broker: 'postgres',
  packageName: '@tq/postgres',
  load: () => import('@tq/postgres'),
  configure: ({ url }) => {
    const withParams = new URL(url);
    withParams.searchParams.set('schema', schema);
    withParams.searchParams.set('lease_ms', '5000');
    return {
      url: withParams.href,
      liveness: {
        query: { query_timeout_ms: '1500', connect_timeout_ms: '1500', ping_interval_ms: '1000', poll_interval_ms: '1000' },
        detectionMs: 6_000,
      },
      // The application's own client inside BEGIN, as sendTask's { transaction } receives it.
      transactions: async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query('BEGIN');
        const end = async (statement: string) => {
          try {
            await client.query(statement);
          } finally {
            await client.end();
          }
        };
        return { transaction: client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
      },
    };
  },
  cleanup: async ({ url }) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  },
});
