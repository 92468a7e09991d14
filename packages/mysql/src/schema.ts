import type mysql from 'mysql2/promise';

/** One schema version: statements run once, in order. Never edit a released one: add the next. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly statements: readonly string[];
}

/** The table of applied versions beside `table` (MySQL names stop at 64 characters). */
export function migrationsTableOf(table: string): string {
  return `${table.slice(0, 53)}_migrations`;
}

/**
 * Brings the results table to the latest version. MySQL commits DDL at once, so a transaction
 * cannot make this atomic: a named lock (GET_LOCK, per database and table) lets one process
 * migrate while the others wait and then find nothing to do; each version is recorded right
 * after its statements, which are written to be safe to run again (IF NOT EXISTS) should a
 * process die between the two.
 */
export async function migrate(pool: mysql.Pool, table: string, migrations: readonly Migration[], lockWaitSeconds: number): Promise<void> {
  const versions = `\`${migrationsTableOf(table)}\``;
  const connection = await pool.getConnection();
  const lock = `tq-migrate:${table}`.slice(0, 64);
  try {
    const [locked] = await connection.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(CONCAT(DATABASE(), ?), ?) AS locked', [lock, lockWaitSeconds]);
    if (locked[0]?.['locked'] !== 1) throw new Error(`another process held the migration lock of ${table} for over ${lockWaitSeconds} s`);
    try {
      await connection.query(`CREATE TABLE IF NOT EXISTS ${versions} (version int NOT NULL PRIMARY KEY, description varchar(255) NOT NULL, applied_at datetime(6) NOT NULL)`);
      const [rows] = await connection.query<mysql.RowDataPacket[]>(`SELECT COALESCE(MAX(version), 0) AS version FROM ${versions}`);
      const current = Number(rows[0]?.['version'] ?? 0);
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        for (const statement of migration.statements) await connection.query(statement);
        await connection.query(`INSERT INTO ${versions} (version, description, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))`, [migration.version, migration.description]);
      }
    } finally {
      await connection.query('SELECT RELEASE_LOCK(CONCAT(DATABASE(), ?))', [lock]).catch(() => undefined);
    }
  } finally {
    connection.release();
  }
}
