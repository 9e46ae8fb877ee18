import {
  type CredentialStore,
  type JsonObject,
  LatchkeyError,
  type LockOptions,
} from '@latchkey/core';
import {
  createKeyedMutex,
  formatSeconds,
  type LockOptionsWithCheck,
  resolveLockTimeout,
  SETTLED_WHILE_WAITING,
  throwIfAborted,
} from '@latchkey/core/store';
import pg from 'pg';
import {
  advisoryLockId,
  createLockConnection,
  type HeldAdvisoryLock,
  isHeld,
  type LockConnection,
  lockChannel,
  type StoredRow,
  writeNotice,
} from './advisory-locks.js';
import { databaseError, unavailableError } from './database-errors.js';
import { OpenFailure, openValue, type SealedValue, sealValue } from './envelope.js';
import { type PostgresStoreOptions, resolveOptions } from './options.js';
import { checkSchema, migrate, tableNames, tableSchema } from './schema.js';

/**
 * A `CredentialStore` of `@latchkey/core` in PostgreSQL, with `close()`.
 *
 * @see {@link postgresStore} for how it keeps, encrypts and locks logins.
 */
export type PostgresStore = CredentialStore & {
  /**
   * Ends the store's lock connection, and its pool when it made one from
   * `connectionString` (a host's `pool` is left open). Later calls fail with
   * `STORE_UNAVAILABLE`.
   */
  close(): Promise<void>;
};

/** A row and the JSON text it decrypts to. */
interface Opened {
  row: StoredRow;
  text: string;
}

/** A row a notification carried, and the row the waiter saw at its last attempt at the lock. */
interface Notified {
  row: StoredRow;
  before: StoredRow | null | undefined;
}

/** What this store holds of one key's lock. */
interface HeldKey {
  readonly lock: HeldAdvisoryLock;
  readonly lockId: string;
  /** The row version a read under the lock saw (`'0'`: no row); `undefined` before any read. */
  seen: string | undefined;
  /** The row read with the lock, for the first `get` of the key under it (`null`: no row). */
  prefetched: StoredRow | null | undefined;
  /** The value (ciphertext) of the row at version `seen` (`null`: no row), for the write notice. */
  seenValue: Buffer | null | undefined;
}

// Btree index entries are limited to about 2,700 bytes; keys stay well under it.
const MAX_KEY_BYTES = 2048;
const LOCK_POLL_MS = [200, 300] as const;
const LOCK_IDLE_MS = 1_000;
// How the lock connection shows in pg_stat_activity, unless the host's settings name one.
const LOCK_APPLICATION_NAME = 'latchkey-store-postgres locks';

/**
 * Creates a credential store in a PostgreSQL table, shared safely by every process and
 * machine that uses the database.
 *
 * Each key is one row (`key`, `version`, `value`, `data_key`, `key_id`, `updated_at`).
 * Values are encrypted with envelope encryption: a fresh random data key per write
 * encrypts the JSON value (AES-256-GCM, bound to the schema, table and key, so a row's
 * ciphertext moved to another key does not decrypt), and the host's key-encryption key
 * (`encryption`: 32 bytes, or a KMS hook) wraps the data key, stored with its key id.
 * A row that does not decrypt fails with `STORE_CORRUPT` and is left as it is.
 *
 * The table is created or migrated once per store, before its first operation, in a
 * transaction holding a transaction-level advisory lock. `lock(key, fn)` excludes other
 * callers in this process (first in, first out) and then other processes with a
 * session-level advisory lock taken on a connection of the store's own (never one of
 * the pool, so reads and writes inside `fn` never wait for a pool slot). Waiters retry
 * when the holder's `NOTIFY` says it unlocked, and every 200–300 ms in case the holder's
 * connection died (the server then releases its locks, but sends no `NOTIFY`). A write
 * under the lock also sends a `NOTIFY` as it commits, with the row as stored (ciphertext
 * and wrapped data key) and an HMAC from the row's data key that binds it to its version
 * and the value it replaced; a session waiting for that refresh decrypts it, as the
 * successor of the row it read when it tried for the lock, instead of reading the row
 * again. The lock is taken in the same round trip as a read of the row, which
 * the first `get` of the key under the lock returns. While the lock is held, a `set` or
 * `delete` of the key through this store after a `get` only applies when the row is
 * still at the version that `get` read, so a holder whose lock was lost with its
 * connection never overwrites another's change: it fails with `STORE_CONFLICT`. The
 * store keeps no per-call context (no `AsyncLocalStorage`, which would turn on promise
 * hooks for the whole process): every `set` and `delete` of a held key through this
 * store counts as the holder's, from `fn` or not, and a `lock()` of the same key inside
 * `fn` waits for itself until `STORE_LOCKED`. Change a login with its lock held (as
 * sessions and `logout()` do), not beside it.
 *
 * A database that cannot be reached fails the call with `STORE_UNAVAILABLE`, and no
 * login is ever removed for it. Keys must be at most 2,048 bytes in UTF-8, without NUL
 * characters or unpaired surrogates.
 *
 * @example
 * ```ts
 * import { authenticate } from '@latchkey/core';
 * import { postgresStore } from '@latchkey/store-postgres';
 * import { Pool } from 'pg';
 *
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const store = postgresStore({ pool, encryption: process.env.LATCHKEY_KEY! });
 * const session = await authenticate(provider, { store });
 * ```
 *
 * @see {@link https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS} for advisory locks.
 * @see {@link https://www.postgresql.org/docs/current/sql-notify.html} for `LISTEN` and `NOTIFY`.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const resolved = resolveOptions(options);
  const { keyring } = resolved;
  const names = tableNames(resolved.table, resolved.schema);
  const { qualified, table } = names;
  const owned = resolved.pool === undefined;
  const pool =
    resolved.pool ??
    new pg.Pool({
      connectionString: resolved.connectionString,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      allowExitOnIdle: true,
    });
  // An idle connection's error would end the process without a listener; the pool drops it.
  if (owned) pool.on('error', () => {});
  const mutex = createKeyedMutex();
  // The locks this store holds, by key. The mutex lets one caller at a time hold a key's
  // lock here, and while it does, every set and delete of that key through this store is
  // the holder's (it checks the version read under the lock, and sends the write's
  // NOTIFY); reads only move that version forward. From the release on, they are plain
  // again. No AsyncLocalStorage: on Node 20 it turns on promise hooks, which slow every
  // promise of the host's process.
  const holders = new Map<string, HeldKey>();
  let closed = false;

  const closedError = () => unavailableError('run', 'the store was closed with close()');

  // Known once the table is there: the schema it is in, which rows and lock ids are bound
  // to whether the options name it or the search_path finds it, and the lock connection.
  let bound: { schema: string; channel: string; locks: LockConnection } | undefined;
  let opened: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (closed) return Promise.reject(closedError());
    opened ??= (async () => {
      await (resolved.migrate ? migrate(pool, names) : checkSchema(pool, names));
      const schema = await tableSchema(pool, names);
      const channel = lockChannel(schema, table);
      bound ??= {
        schema,
        channel,
        locks: createLockConnection({
          newClient: () =>
            new pg.Client({
              application_name: LOCK_APPLICATION_NAME,
              ...(pool.options as pg.ClientConfig),
              keepAlive: true,
            }),
          channel,
          pollMs: LOCK_POLL_MS,
          idleMs: LOCK_IDLE_MS,
        }),
      };
    })();
    opened.catch(() => {
      opened = undefined;
    });
    return opened;
  };
  /** What {@link ready} found; call only after it resolved. */
  const context = () => bound as { schema: string; channel: string; locks: LockConnection };
  const bindTo = () => `${context().schema}.${table}`;

  const query = async <R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
    action: string,
  ): Promise<R[]> => {
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw databaseError(error, action);
    }
  };

  const selectRow = `SELECT version, value, data_key, key_id FROM ${qualified} WHERE key = `;

  /** The lock on `key` that this store holds, if any. */
  const heldKey = (key: string): HeldKey | undefined => holders.get(key);

  /**
   * What a read of a held key found, as the version a later write checks. A read only
   * moves it forward: a read that began before a write through this store and answered
   * after it (one outside `fn`, as a session's lookup is) must not turn the next write
   * into a false `STORE_CONFLICT`. Only writes set it outright.
   */
  const noteRead = (held: HeldKey, version: string, value: Buffer | null) => {
    if (held.seen !== undefined && (version === '0' || BigInt(version) <= BigInt(held.seen))) {
      return;
    }
    held.seen = version;
    held.seenValue = value;
  };

  const corrupt = (key: string, problem: string) =>
    new LatchkeyError(
      'STORE_CORRUPT',
      `The credential ${show(key)} in the PostgreSQL table ${qualified} cannot be read: ${problem}. The row was left untouched. Open the store with the encryption key it was written with (an earlier one goes in previousKeys), or delete the row to drop that login and sign in again.`,
    );

  const conflict = (key: string) =>
    new LatchkeyError(
      'STORE_CONFLICT',
      `The credential ${show(key)} in the PostgreSQL table ${qualified} changed since it was read under its lock (another process wrote it: this process's lock was lost with its connection, or the other wrote without the lock). Nothing was overwritten. Read it again and retry.`,
    );

  const lost = (key: string) =>
    unavailableError(
      `write the credential ${show(key)}`,
      `its lock was lost with the lock connection while it was held, and no read under the lock tells whether another process changed it since; nothing was written`,
    );

  /**
   * The JSON text of a notified row, when it is the row the waiter saw at its last
   * attempt, or its successor that the tag vouches for; `undefined`: read the row.
   */
  const openNotified = async (
    key: string,
    { row, before }: Notified,
  ): Promise<Opened | undefined> => {
    if (before === undefined) return undefined;
    const same =
      before !== null &&
      String(before.version) === String(row.version) &&
      before.value.equals(row.value);
    if (!same) {
      const successor = before === null ? '1' : String(BigInt(before.version) + 1n);
      if (String(row.version) !== successor || row.notice_tag === undefined) return undefined;
    }
    return openValue(
      keyring,
      bindTo(),
      key,
      sealedOf(row),
      same
        ? undefined
        : {
            version: String(row.version),
            previous: before?.value ?? null,
            tag: row.notice_tag as Buffer,
          },
    ).then(
      (text) => ({ row, text }),
      () => undefined,
    );
  };

  /** The key's row and its JSON text: the one read with the lock, else read now; `undefined`: no row. */
  const readRow = async (key: string, held: HeldKey | undefined): Promise<Opened | undefined> => {
    let row: StoredRow | undefined;
    if (held?.prefetched !== undefined) {
      row = held.prefetched ?? undefined;
      held.prefetched = undefined;
    } else {
      [row] = await query<StoredRow>(`${selectRow}$1`, [key], `read the credential ${show(key)}`);
    }
    if (row === undefined) return undefined;
    try {
      return { row, text: await openValue(keyring, bindTo(), key, sealedOf(row)) };
    } catch (error) {
      if (error instanceof OpenFailure) throw corrupt(key, error.message);
      throw error;
    }
  };

  /**
   * A get of `key`; with `notified`, the row a write under the lock sent to this waiter,
   * which it returns unread when it is the row the waiter saw at its last attempt at the
   * lock or that row's successor (see openNotified).
   */
  const getValue = async (key: string, notified?: Notified): Promise<JsonObject | undefined> => {
    assertKey(key);
    await ready();
    const held = heldKey(key);
    const opened =
      (notified ? await openNotified(key, notified) : undefined) ?? (await readRow(key, held));
    if (opened === undefined) {
      if (held) noteRead(held, '0', null);
      return undefined;
    }
    const { row, text } = opened;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw corrupt(key, 'it does not hold JSON');
    }
    if (!isJsonObject(value)) throw corrupt(key, 'it does not hold a JSON object');
    if (held) noteRead(held, String(row.version), row.value);
    return value;
  };

  const store = {
    get(key: string): Promise<JsonObject | undefined> {
      return getValue(key);
    },

    async set(key: string, value: JsonObject): Promise<void> {
      assertKey(key);
      const json = jsonText(value);
      await ready();
      const held = heldKey(key);
      // Under the lock after a read, the version this write makes and the value it
      // replaces are known: the row's notification can vouch for it.
      const notice =
        held?.seen === undefined || held.seenValue === undefined
          ? undefined
          : {
              version: held.seen === '0' ? '1' : String(BigInt(held.seen) + 1n),
              previous: held.seenValue,
            };
      const sealed = await sealValue(keyring, bindTo(), key, json, notice);
      const params = [key, sealed.value, sealed.dataKey, sealed.keyId];
      const action = `write the credential ${show(key)}`;
      if (held) held.prefetched = undefined;
      // Under the lock, the write wakes the processes waiting for it when it commits, and
      // hands them the new row (see writeNotice).
      const payload = held ? writeNotice(held.lockId, sealed) : undefined;
      const write = (statement: string, values: unknown[]) =>
        payload
          ? query<{ version: string }>(
              `WITH w AS (${statement} RETURNING version)
               SELECT version::text AS version,
                 pg_notify($${values.length + 1}::text, $${values.length + 2}::text || version::text || $${values.length + 3}::text)
               FROM w`,
              [...values, context().channel, payload.head, payload.tail],
              action,
            )
          : query<{ version: string }>(
              `${statement} RETURNING version::text AS version`,
              values,
              action,
            );
      let rows: { version: string }[];
      if (held?.seen === undefined) {
        if (held?.lock.lost) throw lost(key);
        rows = await write(
          `INSERT INTO ${qualified} AS t (key, version, value, data_key, key_id, updated_at)
           VALUES ($1, 1, $2, $3, $4, now())
           ON CONFLICT (key) DO UPDATE SET version = t.version + 1, value = EXCLUDED.value,
             data_key = EXCLUDED.data_key, key_id = EXCLUDED.key_id, updated_at = now()`,
          params,
        );
      } else if (held.seen === '0') {
        // Read as missing under the lock: written only if it is still missing.
        rows = await write(
          `INSERT INTO ${qualified} (key, version, value, data_key, key_id, updated_at)
           VALUES ($1, 1, $2, $3, $4, now())
           ON CONFLICT (key) DO NOTHING`,
          params,
        );
      } else {
        rows = await write(
          `UPDATE ${qualified} SET version = version + 1, value = $2, data_key = $3, key_id = $4,
             updated_at = now()
           WHERE key = $1 AND version = $5::bigint`,
          [...params, held.seen],
        );
      }
      const written = rows[0];
      if (written === undefined) throw conflict(key);
      if (held) {
        held.seen = written.version;
        held.seenValue = sealed.value;
      }
    },

    async delete(key: string): Promise<void> {
      assertKey(key);
      await ready();
      const action = `delete the credential ${show(key)}`;
      const held = heldKey(key);
      if (held) held.prefetched = undefined;
      if (held?.seen === undefined) {
        if (held?.lock.lost) throw lost(key);
        await query(`DELETE FROM ${qualified} WHERE key = $1`, [key], action);
      } else {
        // The snapshot of the outer SELECT is taken before the DELETE: `current` is the
        // row's version whether or not this statement removed it.
        const [outcome] = await query<{ deleted: number; current: string | null }>(
          `WITH gone AS (DELETE FROM ${qualified} WHERE key = $1 AND version = $2::bigint RETURNING 1)
           SELECT (SELECT count(*) FROM gone)::int AS deleted,
                  (SELECT version::text FROM ${qualified} WHERE key = $1) AS current`,
          [key, held.seen],
          action,
        );
        if (outcome?.deleted === 0 && outcome.current !== null) throw conflict(key);
      }
      if (held) {
        held.seen = '0';
        held.seenValue = null;
      }
    },

    async list(prefix?: string): Promise<string[]> {
      if (prefix !== undefined && typeof prefix !== 'string') {
        throw new TypeError('The prefix given to list() must be a string');
      }
      const start = prefix ?? '';
      // No stored key holds these: nothing can start with them.
      if (start.includes('\0') || /\p{Cs}/u.test(start)) return [];
      await ready();
      const action = `list the credentials${start === '' ? '' : ` under ${show(start)}`}`;
      let rows: { key: string }[];
      if (start === '') {
        rows = await query(`SELECT key FROM ${qualified}`, [], action);
      } else {
        // The key column sorts by code point ("C"), so a prefix's keys are one index range.
        const upper = rangeEnd(start);
        rows = await query(
          upper === undefined
            ? `SELECT key FROM ${qualified} WHERE key >= $1::text COLLATE "C"`
            : `SELECT key FROM ${qualified} WHERE key >= $1::text COLLATE "C" AND key < $2::text COLLATE "C"`,
          upper === undefined ? [start] : [start, upper],
          action,
        );
      }
      // Sorted as JavaScript sorts strings (UTF-16 code units), whatever the database's collation.
      return rows
        .map((row) => row.key)
        .filter((key) => key.startsWith(start))
        .sort();
    },

    async lock<T>(key: string, fn: () => Promise<T>, lockOptions?: LockOptions): Promise<T> {
      assertKey(key);
      if (typeof fn !== 'function') throw new TypeError('lock() needs a function to run');
      const timeoutMs = resolveLockTimeout(lockOptions);
      const signal = lockOptions?.signal;
      throwIfAborted(signal);
      const deadline = Date.now() + timeoutMs;
      await ready();
      const { schema, locks } = context();
      const lockId = advisoryLockId(schema, table, key);
      const timedOut = () =>
        new LatchkeyError(
          'STORE_LOCKED',
          `Timed out after ${formatSeconds(timeoutMs)} waiting for the lock on the credential ${show(key)} in the PostgreSQL table ${qualified}: another process, or another operation in this process, holds it. A holder whose database connection ended loses the lock at once; if this keeps happening, look for a process that holds it while stuck, or give lock() a longer timeoutMs.`,
        );
      const releaseHere = await mutex.acquire(lockId, {
        timeoutMs,
        signal,
        onTimeout: timedOut,
      });
      try {
        const got = await locks.acquire({
          lockId,
          deadline,
          signal,
          timedOut,
          // On the lock connection, which has none of the pool's session settings: the
          // table by the schema it was found in.
          read: `SELECT version, value, data_key, key_id FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)} WHERE key = ${pg.escapeLiteral(key)}`,
          settled: settledCheck<T>(lockOptions, (notified) => getValue(key, notified)),
        });
        if (!isHeld(got)) return got.settled;
        const entry: HeldKey = {
          lock: got,
          lockId,
          seen: undefined,
          prefetched: got.row,
          seenValue: undefined,
        };
        holders.set(key, entry);
        try {
          return await fn();
        } finally {
          if (holders.get(key) === entry) holders.delete(key);
          await got.release();
        }
      } finally {
        releaseHere();
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await bound?.locks.close();
      if (owned) await pool.end().catch(() => {});
    },
  } satisfies PostgresStore;
  return store;
}

/**
 * The check core's sessions pass through the lock options, when they pass one; run with
 * the row a write under the lock sent, when one came, as what its read of the key returns
 * (through `read`, see getValue).
 */
function settledCheck<T>(
  options: LockOptions | undefined,
  read: (notified: Notified) => Promise<JsonObject | undefined>,
):
  | ((
      notified: StoredRow | undefined,
      before: StoredRow | null | undefined,
    ) => Promise<T | undefined>)
  | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const check = (options as LockOptionsWithCheck<T>)[SETTLED_WHILE_WAITING];
  if (typeof check !== 'function') return undefined;
  return async (notified, before) => {
    try {
      return (
        (await (notified ? check(() => read({ row: notified, before })) : check())) ?? undefined
      );
    } catch {
      return undefined;
    }
  };
}

/**
 * The smallest string above every string that starts with `prefix`, in code point order:
 * `prefix` with its last code point one higher (skipping the surrogate range), or
 * `undefined` when every code point is already the highest.
 */
function rangeEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

function sealedOf(row: StoredRow): SealedValue {
  return { value: row.value, dataKey: row.data_key, keyId: row.key_id };
}

function show(key: string): string {
  return JSON.stringify(key);
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError('A credential store key must be a string');
  if (key.includes('\0')) {
    throw new TypeError(
      'A postgresStore() key cannot hold the NUL character (PostgreSQL text cannot)',
    );
  }
  if (/\p{Cs}/u.test(key)) {
    throw new TypeError(
      'A postgresStore() key must be well-formed Unicode (no unpaired surrogates)',
    );
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new TypeError(
      `A postgresStore() key must be at most ${MAX_KEY_BYTES} bytes in UTF-8; this one has ${bytes}`,
    );
  }
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON text of a value, a snapshot taken at call time. */
function jsonText(value: unknown): string {
  if (!isJsonObject(value)) throw new TypeError('A credential store value must be a JSON object');
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError('A credential store value must be a JSON object', { cause: error });
  }
  if (!text.startsWith('{')) throw new TypeError('A credential store value must be a JSON object');
  return text;
}
