import { createHash } from 'node:crypto';
import { cancelledError, throwIfAborted } from '@latchkey/core/store';
import type pg from 'pg';
import { databaseError, unavailableError } from './database-errors.js';

/** A row of the table as the store reads it. */
export interface StoredRow {
  version: string | number | bigint;
  value: Buffer;
  data_key: Buffer;
  key_id: string;
  /** Of a row from a notification: the tag that vouches for it at its version. */
  notice_tag?: Buffer;
}

/** One advisory lock held on the lock connection. */
export interface HeldAdvisoryLock {
  /** Whether the connection that held it ended: the server released the lock with it. */
  readonly lost: boolean;
  /**
   * The key's row as it was once the lock was taken (`null`: no row), when the wait
   * asked for it with `read`; read in the same round trip as the lock.
   */
  readonly row: StoredRow | null | undefined;
  /** Unlocks and tells the waiters (`NOTIFY`). Never throws; calling it again does nothing. */
  release(): Promise<void>;
}

/** What {@link LockConnection.acquire} needs to know about one wait. */
export interface AdvisoryWait<T> {
  /** The advisory lock id, a signed 64-bit integer in decimal. */
  lockId: string;
  /** When to give up, as a `Date.now()` time. */
  deadline: number;
  signal: AbortSignal | undefined;
  /** Builds the `STORE_LOCKED` error. */
  timedOut: () => Error;
  /**
   * A `SELECT` of the key's row (its SQL, with the key as a literal), run in the same
   * round trip as each attempt at the lock, in a statement of its own: it sees every
   * write committed before the lock was taken.
   */
  read?: string | undefined;
  /**
   * Run after each wait, with the row that a write under the lock sent in its `NOTIFY`
   * (see {@link writeNotice}) when one came, and the row as `read` found it at the last
   * attempt at the lock (`null`: no row): a value ends the wait without the lock.
   */
  settled?:
    | ((
        notified: StoredRow | undefined,
        before: StoredRow | null | undefined,
      ) => Promise<T | undefined>)
    | undefined;
}

/**
 * The store's dedicated connection for session-level advisory locks: one `pg.Client`,
 * never from the pool, that `LISTEN`s on the table's channel so that waiters retry as
 * soon as a holder anywhere sends `NOTIFY` after unlocking.
 */
export interface LockConnection {
  /** Takes the lock, or resolves with what `settled` gave; rejects with `STORE_LOCKED`, `AUTH_CANCELLED` or `STORE_UNAVAILABLE`. */
  acquire<T>(wait: AdvisoryWait<T>): Promise<HeldAdvisoryLock | { settled: T }>;
  /** Ends the connection; waiters fail with `STORE_UNAVAILABLE`. */
  close(): Promise<void>;
}

/** Options of {@link createLockConnection}. */
export interface LockConnectionOptions {
  /** Makes a new, unconnected client with the store's connection settings. */
  newClient: () => pg.Client;
  /** The `LISTEN`/`NOTIFY` channel of the table. */
  channel: string;
  /** The fallback poll while waiting, for a holder whose connection died (no `NOTIFY` then): a random delay in this range, in ms. */
  pollMs: readonly [number, number];
  /** How long the connection stays open with nothing held or waited for, in ms. */
  idleMs: number;
}

// A NOTIFY payload must be shorter than 8,000 bytes; a longer row wakes waiters without it.
const MAX_PAYLOAD_BYTES = 7_900;

/**
 * What a write under the lock sends with `pg_notify` when it commits, as SQL text that
 * PostgreSQL completes with the row's new version: `<lockId> <version> <value> <data key>
 * <tag> <key id>`, the bytes in base64. That is the row as the table holds it (ciphertext
 * and wrapped data key, never plaintext) and the tag that vouches for it at that version,
 * so waiters in other processes take the new value from the notification instead of
 * reading the row again. Without a tag (the version was not known in advance), or for a
 * row too large for a payload, it sends `<lockId> <version>` only, and waiters read it.
 */
export function writeNotice(
  lockId: string,
  sealed: { value: Buffer; dataKey: Buffer; keyId: string; noticeTag?: Buffer | undefined },
): { head: string; tail: string } {
  if (sealed.noticeTag === undefined) return { head: `${lockId} `, tail: '' };
  const tail = ` ${sealed.value.toString('base64')} ${sealed.dataKey.toString('base64')} ${sealed.noticeTag.toString('base64')} ${sealed.keyId}`;
  // The head, a space and a version of up to 19 digits go before the tail.
  const fits = lockId.length + 21 + Buffer.byteLength(tail, 'utf8') <= MAX_PAYLOAD_BYTES;
  return { head: `${lockId} `, tail: fits ? tail : '' };
}

/** The row of a `NOTIFY` payload, when it holds one (see {@link writeNotice}). */
function parseNotice(payload: string): StoredRow | undefined {
  const parts = payload.split(' ');
  if (parts.length < 6) return undefined;
  const [, version, value, dataKey, tag] = parts as [string, string, string, string, string];
  if (!/^\d{1,19}$/.test(version)) return undefined;
  return {
    version,
    value: Buffer.from(value, 'base64'),
    data_key: Buffer.from(dataKey, 'base64'),
    notice_tag: Buffer.from(tag, 'base64'),
    key_id: parts.slice(5).join(' '),
  };
}

/**
 * The advisory lock id of `key` in a table: the first 64 bits of a SHA-256 of schema,
 * table and key, as PostgreSQL's signed `bigint`.
 */
export function advisoryLockId(schema: string | undefined, table: string, key: string): string {
  return createHash('sha256')
    .update(`latchkey-store-postgres/lock\0${schema ?? ''}\0${table}\0${key}`, 'utf8')
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/** The `LISTEN`/`NOTIFY` channel of a table: short, lowercase, the same in every process. */
export function lockChannel(schema: string | undefined, table: string): string {
  const digest = createHash('sha256')
    .update(`latchkey-store-postgres/channel\0${schema ?? ''}\0${table}`, 'utf8')
    .digest('hex');
  return `latchkey_${digest.slice(0, 16)}`;
}

interface Holding {
  lost: boolean;
  client: pg.Client;
}

/**
 * Creates the {@link LockConnection} of a store. The connection opens on the first
 * `acquire()`, and closes once nothing has been held or waited for during `idleMs`, so
 * that it never keeps a process alive; the next `acquire()` opens it again, which is
 * also how it recovers after the database restarted.
 *
 * @see {@link https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS} for session-level advisory locks.
 * @see {@link https://www.postgresql.org/docs/current/sql-notify.html} for `NOTIFY`, and {@link https://www.postgresql.org/docs/current/sql-listen.html} for `LISTEN`.
 */
export function createLockConnection(options: LockConnectionOptions): LockConnection {
  const { channel } = options;
  let client: pg.Client | undefined;
  let opening: Promise<pg.Client> | undefined;
  let closed = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const holdings = new Set<Holding>();
  // Per lock id, the wake-up of every wait in this process.
  const waiters = new Map<string, Set<(row?: StoredRow) => void>>();
  let waiting = 0;

  const wakeAll = () => {
    for (const set of waiters.values()) for (const wake of set) wake();
  };

  /** Forgets a client that failed or ended; what it held was released by the server. */
  const drop = (lostClient: pg.Client) => {
    if (client === lostClient) client = undefined;
    for (const holding of holdings) if (holding.client === lostClient) holding.lost = true;
    lostClient.end().catch(() => {});
    wakeAll();
  };

  const closedError = () => unavailableError('take a lock', 'the store was closed with close()');

  const open = (): Promise<pg.Client> => {
    if (closed) return Promise.reject(closedError());
    if (client) return Promise.resolve(client);
    opening ??= (async () => {
      const fresh = options.newClient();
      // Without a listener, an error of an idle connection would end the process.
      fresh.on('error', () => drop(fresh));
      fresh.on('end', () => drop(fresh));
      fresh.on('notification', (message) => {
        if (message.channel !== channel || message.payload === undefined) return;
        const payload = message.payload;
        const space = payload.indexOf(' ');
        const set = waiters.get(space === -1 ? payload : payload.slice(0, space));
        // Decoded only when a wait in this process is for that lock.
        if (!set) return;
        const row = parseNotice(payload);
        for (const wake of set) wake(row);
      });
      try {
        await fresh.connect();
        // The read that goes with the lock takes a snapshot of its own only in READ
        // COMMITTED, whatever the database's or role's default.
        await fresh.query(
          `SET default_transaction_isolation TO 'read committed'; LISTEN "${channel}"`,
        );
      } catch (error) {
        fresh.end().catch(() => {});
        throw databaseError(error, 'open its lock connection');
      }
      if (closed) {
        fresh.end().catch(() => {});
        throw closedError();
      }
      client = fresh;
      return fresh;
    })().finally(() => {
      opening = undefined;
    });
    return opening;
  };

  const idleCheck = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (holdings.size > 0 || waiting > 0 || client === undefined) return;
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (holdings.size === 0 && waiting === 0 && client !== undefined) {
        const idle = client;
        client = undefined;
        idle.end().catch(() => {});
      }
    }, options.idleMs);
    idleTimer.unref();
  };

  const unlock = async (holding: Holding, lockId: string) => {
    holdings.delete(holding);
    try {
      if (holding.lost || holding.client !== client) return;
      try {
        // The NOTIFY goes out when this statement commits, after the unlock took effect.
        await holding.client.query('SELECT pg_advisory_unlock($1::bigint), pg_notify($2, $3)', [
          lockId,
          channel,
          lockId,
        ]);
      } catch {
        // Ending the connection is what releases the lock then.
        drop(holding.client);
      }
    } finally {
      idleCheck();
    }
  };

  const held = (
    holding: Holding,
    lockId: string,
    row: StoredRow | null | undefined,
  ): HeldAdvisoryLock => {
    let released: Promise<void> | undefined;
    return {
      get lost() {
        return holding.lost;
      },
      row,
      release: () => {
        released ??= unlock(holding, lockId);
        return released;
      },
    };
  };

  const connection: LockConnection = {
    async acquire<T>(wait: AdvisoryWait<T>) {
      const { lockId, signal } = wait;
      waiting += 1;
      clearTimeout(idleTimer);
      let woken = false;
      // The row the last write under the lock sent, until a check used it.
      let notified: StoredRow | undefined;
      // The row as the last failed attempt read it.
      let before: StoredRow | null | undefined;
      let wake: (() => void) | undefined;
      const onWake = (row?: StoredRow) => {
        woken = true;
        if (row) notified = row;
        wake?.();
      };
      let set = waiters.get(lockId);
      if (!set) {
        set = new Set();
        waiters.set(lockId, set);
      }
      set.add(onWake);
      try {
        for (;;) {
          throwIfAborted(signal);
          const active = await open();
          woken = false;
          let locked: boolean;
          let row: StoredRow | null | undefined;
          try {
            if (wait.read === undefined) {
              const { rows } = await active.query<{ locked: boolean }>(
                'SELECT pg_try_advisory_lock($1::bigint) AS locked',
                [lockId],
              );
              locked = rows[0]?.locked === true;
            } else {
              // Two statements in one simple query: the read takes its snapshot after the
              // lock was taken. (The lock id is a decimal integer of this module's.)
              const results = (await active.query(
                `SELECT pg_try_advisory_lock(${BigInt(lockId)}::bigint) AS locked; ${wait.read}`,
              )) as unknown as pg.QueryResult[];
              locked = results[0]?.rows[0]?.locked === true;
              row = (results[1]?.rows[0] as StoredRow | undefined) ?? null;
            }
          } catch (error) {
            drop(active);
            throw databaseError(error, 'take a lock');
          }
          before = row;
          if (locked) {
            const holding: Holding = { lost: client !== active, client: active };
            holdings.add(holding);
            const lock = held(holding, lockId, row);
            if (signal?.aborted) {
              await lock.release();
              throw cancelledError(signal);
            }
            return lock;
          }
          const remaining = wait.deadline - Date.now();
          if (remaining <= 0) throw wait.timedOut();
          // A NOTIFY that came while the attempt was under way means: try again at once.
          if (!woken) {
            const [low, high] = options.pollMs;
            const pause = Math.min(remaining, low + Math.random() * (high - low));
            await new Promise<void>((resolve, reject) => {
              const done = () => {
                clearTimeout(timer);
                signal?.removeEventListener('abort', onAbort);
                wake = undefined;
              };
              const onAbort = () => {
                done();
                reject(cancelledError(signal));
              };
              const timer = setTimeout(() => {
                done();
                resolve();
              }, pause);
              wake = () => {
                done();
                resolve();
              };
              signal?.addEventListener('abort', onAbort, { once: true });
            });
          }
          if (closed) throw closedError();
          if (wait.settled) {
            const row = notified;
            notified = undefined;
            const value = await wait.settled(row, before);
            if (value !== undefined) return { settled: value };
          }
          if (Date.now() >= wait.deadline) throw wait.timedOut();
        }
      } finally {
        set.delete(onWake);
        if (set.size === 0) waiters.delete(lockId);
        waiting -= 1;
        idleCheck();
      }
    },
    async close() {
      closed = true;
      clearTimeout(idleTimer);
      const open = client;
      client = undefined;
      for (const holding of holdings) holding.lost = true;
      wakeAll();
      if (open) await open.end().catch(() => {});
    },
  };
  return connection;
}

/** Whether a value from {@link LockConnection.acquire} is the lock (not a settled value). */
export function isHeld<T>(value: HeldAdvisoryLock | { settled: T }): value is HeldAdvisoryLock {
  return !('settled' in value);
}
