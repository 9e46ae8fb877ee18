import { LatchkeyError } from '@latchkey/core';
import type pg from 'pg';
import {
  type EncryptionKey,
  hookWrappingKey,
  type Keyring,
  type KeyWrapper,
  rawWrappingKey,
  type WrappingKey,
} from './envelope.js';

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The host's own `pg.Pool`; the store never ends it. Give this or `connectionString`.
   * The store also opens one connection of its own with the pool's settings, for its
   * advisory locks (see {@link PostgresStore}).
   */
  pool?: pg.Pool;
  /** A PostgreSQL connection string; the store then owns a `pg.Pool`, ended by `close()`. */
  connectionString?: string;
  /**
   * The table that holds the logins, one row per key. A plain lowercase SQL identifier
   * (`a`–`z`, digits, `_`, at most 63 characters). Default `latchkey_credentials`.
   */
  table?: string;
  /** The schema of the table (made when missing). Default: the first schema on the connection's `search_path`. */
  schema?: string;
  /**
   * The key-encryption key: every row gets a fresh data key, which encrypts its value
   * and is stored wrapped by this key. Required.
   */
  encryption: EncryptionKey;
  /**
   * Keys that wrapped rows earlier, for reading them after the `encryption` key was
   * rotated; each row is wrapped by the current key again the next time it is written.
   */
  previousKeys?: readonly EncryptionKey[];
  /**
   * Whether the store creates and migrates its table itself before its first operation
   * (default `true`). With `false`, run {@link schemaSql} with your own migrations; the
   * store then only checks that the table is at the schema version it needs.
   */
  migrate?: boolean;
}

/** The checked options. */
export interface ResolvedOptions {
  pool: pg.Pool | undefined;
  connectionString: string | undefined;
  table: string;
  schema: string | undefined;
  keyring: Keyring;
  migrate: boolean;
}

/** The table used when the options name none. */
export const DEFAULT_TABLE = 'latchkey_credentials';

const KNOWN = new Set([
  'pool',
  'connectionString',
  'table',
  'schema',
  'encryption',
  'previousKeys',
  'migrate',
]);
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function configError(message: string, fn = 'postgresStore()'): LatchkeyError {
  return new LatchkeyError('STORE_CONFIG', `${fn} option ${message}`);
}

/** Checks a table or schema name: a plain lowercase identifier, so it needs no quoting rules of its own. */
export function checkIdentifier(
  value: unknown,
  option: string,
  example: string,
  fn = 'postgresStore()',
): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.startsWith('pg_')) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value;
    throw configError(
      `\`${option}\` must be a plain lowercase SQL identifier (letters a-z, digits and _, starting with a letter or _, not pg_, at most 63 characters), like "${example}"; got ${shown}.`,
      fn,
    );
  }
  return value;
}

/** Decodes a base64 (or base64url) text; `undefined` when it is not one. */
function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (BASE64.test(trimmed)) return Buffer.from(trimmed, 'base64');
  if (BASE64URL.test(trimmed)) return Buffer.from(trimmed, 'base64url');
  return undefined;
}

function isHook(value: unknown): value is KeyWrapper {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    ('wrap' in value || 'unwrap' in value || 'keyId' in value)
  );
}

/** Checks one key-encryption key; `option` names it in messages (never its value). */
function checkKey(value: unknown, option: string): WrappingKey {
  const expected =
    'must be 32 random bytes (a Uint8Array or Buffer, or base64 text of 32 bytes such as `openssl rand -base64 32` prints) or a key-encryption hook { keyId, wrap, unwrap }';
  if (value === undefined || value === null) {
    throw configError(`\`${option}\` is required: it ${expected}.`);
  }
  let bytes: Buffer | undefined;
  if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
    if (bytes.length !== 32) {
      throw configError(`\`${option}\` ${expected}; the bytes given are ${bytes.length} long.`);
    }
  } else if (typeof value === 'string') {
    bytes = decodeBase64(value);
    if (bytes === undefined) {
      throw configError(`\`${option}\` ${expected}; the text given is not base64.`);
    }
    if (bytes.length !== 32) {
      throw configError(
        `\`${option}\` ${expected}; the text given decodes to ${bytes.length} bytes.`,
      );
    }
  } else if (isHook(value)) {
    const hook = value as Partial<KeyWrapper>;
    if (typeof hook.keyId !== 'string' || hook.keyId.trim() === '' || hook.keyId.length > 512) {
      throw configError(
        `\`${option}.keyId\` must be a non-empty string (at most 512 characters) naming the key.`,
      );
    }
    for (const method of ['wrap', 'unwrap'] as const) {
      if (typeof hook[method] !== 'function') {
        throw configError(
          `\`${option}.${method}\` must be a function returning a Promise of a Uint8Array.`,
        );
      }
    }
    const { keyId, wrap, unwrap } = hook as KeyWrapper;
    return hookWrappingKey({
      keyId,
      wrap: (dataKey) => wrap.call(value, dataKey),
      unwrap: (wrapped, id) => unwrap.call(value, wrapped, id),
    });
  } else {
    throw configError(`\`${option}\` ${expected}; got ${typeof value}.`);
  }
  if (bytes.every((byte) => byte === bytes[0])) {
    throw configError(`\`${option}\` ${expected}; the bytes given are all the same, not random.`);
  }
  return rawWrappingKey(bytes);
}

function checkPool(value: unknown): pg.Pool {
  const pool = value as Partial<pg.Pool> | null;
  if (
    typeof pool !== 'object' ||
    pool === null ||
    typeof pool.query !== 'function' ||
    typeof pool.connect !== 'function' ||
    typeof pool.options !== 'object'
  ) {
    throw configError('`pool` must be a pg.Pool (new Pool() from the pg package).');
  }
  return value as pg.Pool;
}

/** Checks every option of {@link postgresStore}, throwing `STORE_CONFIG` naming the first wrong one. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      'postgresStore() needs an options object: { pool or connectionString, encryption, ... }',
    );
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!KNOWN.has(name)) {
      throw configError(
        `\`${name}\` is not known; the options are ${[...KNOWN].map((k) => `\`${k}\``).join(', ')}.`,
      );
    }
  }
  const { pool, connectionString } = given;
  if (pool !== undefined && connectionString !== undefined) {
    throw configError('`pool` and `connectionString` were both given: give one of them.');
  }
  if (pool === undefined && connectionString === undefined) {
    throw configError(
      '`pool` or `connectionString` is required: the host\'s pg.Pool, or a connection string such as "postgres://user@host/db".',
    );
  }
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || connectionString.trim() === '')
  ) {
    throw configError(
      '`connectionString` must be a non-empty string, such as "postgres://user@host/db".',
    );
  }
  const table = checkIdentifier(given.table ?? DEFAULT_TABLE, 'table', DEFAULT_TABLE);
  const schema =
    given.schema === undefined ? undefined : checkIdentifier(given.schema, 'schema', 'latchkey');
  if (given.migrate !== undefined && typeof given.migrate !== 'boolean') {
    throw configError('`migrate` must be true or false.');
  }

  const current = checkKey(given.encryption, 'encryption');
  const byId = new Map<string, WrappingKey>([[current.keyId, current]]);
  const previous = given.previousKeys;
  if (previous !== undefined) {
    if (!Array.isArray(previous)) {
      throw configError(
        '`previousKeys` must be an array of keys of the same kinds as `encryption`.',
      );
    }
    previous.forEach((key, index) => {
      const checked = checkKey(key, `previousKeys[${index}]`);
      if (!byId.has(checked.keyId)) byId.set(checked.keyId, checked);
    });
  }
  return {
    pool: pool === undefined ? undefined : checkPool(pool),
    connectionString: connectionString as string | undefined,
    table,
    schema,
    keyring: { current, byId },
    migrate: (given.migrate as boolean | undefined) ?? true,
  };
}
