/**
 * The kit on MariaDB/MySQL (@tq/mysql is a result backend only: the app suite carries its
 * messages on memory://). The table is this run's own and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { migrationsTableOf } from '@tq/mysql';
import mysql from 'mysql2/promise';
import { runConformance } from '../harness/run-conformance.js';

const table = `tqc_int_${randomBytes(4).toString('hex')}`;

await runConformance({
  broker: 'mysql',
  packageName: '@tq/mysql',
  load: () => import('@tq/mysql'),
  configure: ({ url }) => {
    const withParams = new URL(url);
    withParams.searchParams.set('results_table', table);
    return { url: withParams.href };
  },
  cleanup: async ({ url }) => {
    const parsed = new URL(url);
    const connection = await mysql.createConnection({
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username) || 'root',
      password: decodeURIComponent(parsed.password),
      database: parsed.pathname.slice(1),
    });
    try {
      await connection.query(`DROP TABLE IF EXISTS \`${table}\`, \`${migrationsTableOf(table)}\``);
    } finally {
      await connection.end();
    }
  },
});
