import type pg from 'pg';
import type { PostgresOptions } from './options.js';

/** Quoted, schema-qualified names of tq's tables and its NOTIFY channels. */
export class PostgresNames {
  readonly schema: string;
  readonly messages: string;
  readonly broadcasts: string;
  readonly migrations: string;
  /** Deduplication ids of recent publishes (BrokerMessage.deduplicationId), each with its expiry. */
  readonly published: string;
  /** NOTIFY channel: payload = the queue that has a new or returned message. */
  readonly queueChannel: string;
  /** NOTIFY channel of broadcasts (see broadcasts.ts). */
  readonly broadcastChannel: string;

  constructor(options: Pick<PostgresOptions, 'schema' | 'tablePrefix'>) {
    const { schema, tablePrefix: p } = options;
    this.schema = `"${schema}"`;
    this.messages = `"${schema}"."${p}messages"`;
    this.broadcasts = `"${schema}"."${p}broadcasts"`;
    this.migrations = `"${schema}"."${p}migrations"`;
    this.published = `"${schema}"."${p}published"`;
    this.queueChannel = `${schema}.${p}queue`;
    this.broadcastChannel = `${schema}.${p}broadcast`;
  }
}

/** One schema version: statements run in one transaction, once. Never edit a released one: add the next. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(): string[];
}

export const brokerMigrations = (n: PostgresNames): readonly Migration[] => [
  {
    version: 1,
    description: 'messages (leases, priorities, not-before) and broadcasts over 8 kB',
    statements: () => [
      `CREATE TABLE ${n.messages} (
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        priority smallint NOT NULL DEFAULT 0,
        -- When the message may be claimed next: its not-before time, then the end of its lease.
        visible_at timestamptz NOT NULL DEFAULT now(),
        -- The broker instance holding the lease (NULL: ready or delayed).
        lease_owner uuid,
        -- Times claimed; the lease is fenced on it, and > 1 means redelivered.
        deliveries integer NOT NULL DEFAULT 0,
        task_id text,
        headers json NOT NULL,
        properties json NOT NULL,
        body bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX ON ${n.messages} (queue, priority DESC, id)`,
      `CREATE INDEX ON ${n.messages} (queue, visible_at)`,
      `CREATE TABLE ${n.broadcasts} (
        id bigserial PRIMARY KEY,
        body bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX ON ${n.broadcasts} (created_at)`,
    ],
  },
  {
    version: 2,
    description: 'deduplication ids of recent publishes (publishDeduplicationMs)',
    statements: () => [
      `CREATE TABLE ${n.published} (
        id text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      )`,
      `CREATE INDEX ON ${n.published} (expires_at)`,
    ],
  },
];

/**
 * Brings the schema to the latest version. Safe when several processes start at once: the
 * whole check-and-apply runs under a transaction-scoped advisory lock keyed on the schema and
 * prefix, so one process migrates and the others then find nothing to do. A lock on the schema
 * alone is taken first: the broker's, the result backend's and the outbox's migrations each
 * create the schema, and two concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
 */
export async function migrate(pool: pg.Pool, schema: string, lockKey: string, migrations: readonly Migration[], migrationsTable: string): Promise<void> {
  const client = await pool.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    // Always the schema's lock first, then the component's: one order, no deadlock.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tq-schema:${schema}`]);
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${migrationsTable} (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${migrationsTable}`);
    const current = rows[0]?.version ?? 0;
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements()) await client.query(statement);
      await client.query(`INSERT INTO ${migrationsTable} (version, description) VALUES ($1, $2)`, [migration.version, migration.description]);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failed instanceof Error ? failed : undefined);
  }
}
