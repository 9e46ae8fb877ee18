import { LatchkeyError } from '@latchkey/core';
import type pg from 'pg';
import { databaseError, errorCode } from './database-errors.js';
import { checkIdentifier, DEFAULT_TABLE } from './options.js';

/** The schema version of the store's table that this release reads and writes. */
export const SCHEMA_VERSION = 1;

/** The table that records, per credentials table, the schema version it was migrated to. */
export const MIGRATIONS_TABLE = 'latchkey_migrations';

// One transaction-level advisory lock serializes every migration of every Latchkey
// table in a database. It is the first 8 bytes of sha256("@latchkey/store-postgres
// migrations"), as a signed 64-bit integer.
const MIGRATION_LOCK_ID = '-7339595650712485085';

/** Quoted, schema-qualified names of the store's tables. */
export interface TableNames {
  /** The table name alone, as given (what row ciphertexts are bound to). */
  readonly table: string;
  readonly schema: string | undefined;
  /** `"schema"."table"` or `"table"`. */
  readonly qualified: string;
  /** The migrations table, in the same schema. */
  readonly migrations: string;
}

/** The names of the store's tables for `table` in `schema`. */
export function tableNames(table: string, schema: string | undefined): TableNames {
  const qualify = (name: string) => (schema === undefined ? `"${name}"` : `"${schema}"."${name}"`);
  return { table, schema, qualified: qualify(table), migrations: qualify(MIGRATIONS_TABLE) };
}

/**
 * The statement of each schema version, in order: version `i + 1` is element `i`. A row
 * (a login of a few kilobytes, whose ciphertext does not compress) stays in the table's
 * own page up to 8,160 bytes instead of going to TOAST from 2 KB on.
 */
function migrations(names: TableNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${names.qualified} (
  key text COLLATE "C" PRIMARY KEY,
  version bigint NOT NULL,
  value bytea NOT NULL,
  data_key bytea NOT NULL,
  key_id text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
) WITH (toast_tuple_target = 8160)`,
  ];
}

function migrationsTableSql(names: TableNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.migrations} (
  table_name text PRIMARY KEY,
  version integer NOT NULL,
  migrated_at timestamptz NOT NULL DEFAULT now()
)`;
}

function recordSql(names: TableNames): string {
  return `INSERT INTO ${names.migrations} (table_name, version) VALUES ('${names.table}', ${SCHEMA_VERSION})
ON CONFLICT (table_name) DO UPDATE SET version = GREATEST(${names.migrations}.version, EXCLUDED.version), migrated_at = now()`;
}

/**
 * The SQL that creates the store's table (and the small `latchkey_migrations` table that
 * records its schema version), for hosts that run migrations with their own tool and
 * give the store `migrate: false`. It is idempotent and takes the same
 * transaction-level advisory lock as the store's own migration, so run it inside a
 * transaction.
 *
 * @see {@link https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS} for `pg_advisory_xact_lock`.
 */
export function schemaSql(options: { table?: string; schema?: string } = {}): string {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('schemaSql() options must be an object: { table?, schema? }');
  }
  const table = checkIdentifier(
    options.table ?? DEFAULT_TABLE,
    'table',
    DEFAULT_TABLE,
    'schemaSql()',
  );
  const schema =
    options.schema === undefined
      ? undefined
      : checkIdentifier(options.schema, 'schema', 'latchkey', 'schemaSql()');
  const names = tableNames(table, schema);
  return [
    `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`,
    ...(schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${schema}"`]),
    migrationsTableSql(names),
    ...migrations(names),
    recordSql(names),
  ]
    .map((statement) => `${statement};\n`)
    .join('\n');
}

/** The version the migrations table records for the store's table; 0 when none (or no migrations table). */
async function recordedVersion(db: pg.Pool | pg.PoolClient, names: TableNames): Promise<number> {
  try {
    const { rows } = await db.query<{ version: number }>(
      `SELECT version FROM ${names.migrations} WHERE table_name = $1`,
      [names.table],
    );
    return rows[0]?.version ?? 0;
  } catch (error) {
    if (errorCode(error) === '42P01') return 0; // No migrations table yet.
    throw error;
  }
}

function tooNew(names: TableNames, version: number): LatchkeyError {
  return new LatchkeyError(
    'STORE_CONFIG',
    `The credential table ${names.qualified} is at schema version ${version}, written by a newer release of @latchkey/store-postgres than this one (which knows version ${SCHEMA_VERSION}). It was left untouched: upgrade @latchkey/store-postgres in this app.`,
  );
}

/**
 * Brings the store's table to {@link SCHEMA_VERSION}: in one transaction holding
 * `pg_advisory_xact_lock`, so that many processes starting at once on an empty database
 * migrate it once. Does nothing (one query) when it is already there.
 *
 * @see {@link https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS} for advisory locks.
 */
export async function migrate(pool: pg.Pool, names: TableNames): Promise<void> {
  try {
    const found = await recordedVersion(pool, names);
    if (found === SCHEMA_VERSION) return;
    if (found > SCHEMA_VERSION) throw tooNew(names, found);
    const client = await pool.connect();
    let failed = false;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
      if (names.schema !== undefined) {
        const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
          names.schema,
        ]);
        if (rowCount === 0) await client.query(`CREATE SCHEMA "${names.schema}"`);
      }
      await client.query(migrationsTableSql(names));
      const version = await recordedVersion(client, names);
      if (version > SCHEMA_VERSION) throw tooNew(names, version);
      for (const statement of migrations(names).slice(version)) await client.query(statement);
      await client.query(recordSql(names));
      await client.query('COMMIT');
    } catch (error) {
      failed = true;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A connection that failed midway is not given back to the pool.
      client.release(failed ? true : undefined);
    }
  } catch (error) {
    throw databaseError(error, `create or migrate its table ${names.qualified}`);
  }
}

/** Checks, for `migrate: false`, that the table is at the version this release needs. */
export async function checkSchema(pool: pg.Pool, names: TableNames): Promise<void> {
  let version: number;
  try {
    version = await recordedVersion(pool, names);
  } catch (error) {
    throw databaseError(error, `read the schema version of ${names.qualified}`);
  }
  if (version > SCHEMA_VERSION) throw tooNew(names, version);
  if (version < SCHEMA_VERSION) {
    throw new LatchkeyError(
      'STORE_CONFIG',
      `The credential table ${names.qualified} is ${version === 0 ? 'not set up' : `at schema version ${version}`}, and this release needs version ${SCHEMA_VERSION}. The store was given \`migrate: false\`: run the SQL of schemaSql() with your migrations, or let the store migrate (\`migrate: true\`).`,
    );
  }
}

/**
 * The schema the store's table is in: the one the options name, or the one the
 * connection's `search_path` finds it in.
 */
export async function tableSchema(pool: pg.Pool, names: TableNames): Promise<string> {
  let rows: { schema: string }[];
  try {
    ({ rows } = await pool.query<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid = to_regclass($1)`,
      [names.qualified],
    ));
  } catch (error) {
    throw databaseError(error, `find its table ${names.qualified}`);
  }
  const schema = rows[0]?.schema;
  if (schema === undefined) {
    throw new LatchkeyError(
      'STORE_CONFIG',
      `The credential table ${names.qualified} is recorded as migrated, but the connection cannot see it. Check the \`schema\` option and the database user's search_path.`,
    );
  }
  return schema;
}
