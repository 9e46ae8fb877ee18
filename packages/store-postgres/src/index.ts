/**
 * A Latchkey `CredentialStore` in PostgreSQL: one encrypted row per login, shared by
 * every process and machine of a host app, refreshing once across all of them with
 * advisory locks and `LISTEN`/`NOTIFY`.
 *
 * @module @latchkey/store-postgres
 */

export type { EncryptionKey, KeyWrapper } from './envelope.js';
export type { PostgresStoreOptions } from './options.js';
export { type PostgresStore, postgresStore } from './postgres-store.js';
export { SCHEMA_VERSION, schemaSql } from './schema.js';
