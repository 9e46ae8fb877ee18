import { LatchkeyError } from '@latchkey/core';

// Socket errors that mean the database cannot be reached right now.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// SQLSTATEs of a server going away or not taking connections (class 08 is checked apart).
// https://www.postgresql.org/docs/current/errcodes-appendix.html
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  '53300', // too_many_connections
  '58030', // io_error
]);

// What `pg` and `pg-pool` say when a connection ends or cannot be had in time.
const UNAVAILABLE_MESSAGES =
  /connection terminated|connection ended|not queryable|timeout exceeded when trying to connect|terminating connection|client was closed|server closed the connection/i;

// SQLSTATEs that mean the connection settings or the database user's rights are wrong.
const CONFIG_STATES = new Map([
  ['28000', 'the database refused this user'],
  ['28P01', 'the password was refused'],
  ['3D000', 'the database does not exist'],
  ['42501', 'the database user lacks a privilege the store needs'],
  ['3F000', 'the schema does not exist'],
]);

/** The SQLSTATE or socket error code of `error`, when it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` means the database could not be reached (refused, reset, shut down, timed out). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof LatchkeyError) return error.code === 'STORE_UNAVAILABLE';
  const code = errorCode(error);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code))) return true;
  if (code?.startsWith('08')) return true;
  // An AggregateError of every address tried (a host name with several addresses).
  const errors = (error as { errors?: unknown } | null)?.errors;
  if (Array.isArray(errors) && errors.length > 0 && errors.every(isUnavailable)) return true;
  return error instanceof Error && UNAVAILABLE_MESSAGES.test(error.message);
}

/**
 * The `STORE_UNAVAILABLE` error for a database that cannot be reached while the store
 * tried to `action`.
 */
export function unavailableError(action: string, reason: string, cause?: unknown): LatchkeyError {
  return new LatchkeyError(
    'STORE_UNAVAILABLE',
    `The PostgreSQL credential store could not ${action}: ${reason}. No stored login was removed. Retry once the database is reachable again (check that PostgreSQL runs and that this host can connect to it).`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Turns what `pg` threw while the store tried to `action` into a `LatchkeyError`:
 * `STORE_UNAVAILABLE` for a database out of reach, `STORE_CONFIG` for connection
 * settings or rights that are wrong, `STORE_IO` for any other database error. Messages
 * carry the SQLSTATE and the server's message, never a parameter of the query.
 */
export function databaseError(error: unknown, action: string): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (isUnavailable(error)) {
    return unavailableError(
      action,
      `the database is out of reach (${code ? `${code}: ` : ''}${message})`,
      error,
    );
  }
  const config = code === undefined ? undefined : CONFIG_STATES.get(code);
  if (config !== undefined) {
    return new LatchkeyError(
      'STORE_CONFIG',
      `The PostgreSQL credential store could not ${action}: ${config} (${code}: ${message}). Check the connection settings given as \`pool\` or \`connectionString\`, and the database user's rights on the store's schema and table.`,
      { cause: error },
    );
  }
  return new LatchkeyError(
    'STORE_IO',
    `The PostgreSQL credential store could not ${action} (${code ? `SQLSTATE ${code}: ` : ''}${message}). Nothing was removed. Retry; if it keeps failing, check the database's log.`,
    { cause: error },
  );
}
