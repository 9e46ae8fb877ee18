import { startPostgres, type TestPostgres } from '@latchkey/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresStoreOptions, postgresStore, schemaSql } from '../src/index.js';
import { expectCode, freshSchema, newKey, thrown } from './helpers.js';

const connectionString = 'postgres://nobody@127.0.0.1:1/none';
const key = newKey();

/** The error postgresStore() throws for `options`. */
function configError(options: unknown): Error {
  try {
    postgresStore(options as PostgresStoreOptions);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`postgresStore(${JSON.stringify(options)}) did not throw`);
}

describe('postgresStore() options', () => {
  it('throws TypeError for options that are not an object', () => {
    for (const bad of [undefined, null, 'postgres://x', 42, []]) {
      const error = configError(bad);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/options object/);
    }
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'neither pool nor connectionString',
      { encryption: key },
      /`pool` or `connectionString` is required/,
    ],
    [
      'both pool and connectionString',
      { pool: new pg.Pool(), connectionString, encryption: key },
      /both given/,
    ],
    [
      'an empty connectionString',
      { connectionString: ' ', encryption: key },
      /`connectionString` must be/,
    ],
    [
      'a connectionString that is no string',
      { connectionString: 5, encryption: key },
      /`connectionString`/,
    ],
    ['a pool that is no pg.Pool', { pool: {}, encryption: key }, /`pool` must be a pg.Pool/],
    ['no encryption key', { connectionString }, /`encryption` is required/],
    [
      'a 16-byte key',
      { connectionString, encryption: newKey().subarray(0, 16) },
      /`encryption`.*16 long/,
    ],
    [
      'a key that is not random',
      { connectionString, encryption: new Uint8Array(32) },
      /not random/,
    ],
    [
      'a base64 text of 24 bytes',
      { connectionString, encryption: newKey().subarray(0, 24).toString('base64') },
      /decodes to 24 bytes/,
    ],
    [
      'a text that is not base64',
      { connectionString, encryption: 'not base64 at all!' },
      /not base64/,
    ],
    ['a number as key', { connectionString, encryption: 42 }, /`encryption`.*got number/],
    [
      'a hook without keyId',
      { connectionString, encryption: { wrap: async () => key, unwrap: async () => key } },
      /`encryption.keyId`/,
    ],
    [
      'a hook without unwrap',
      { connectionString, encryption: { keyId: 'k1', wrap: async () => key } },
      /`encryption.unwrap` must be a function/,
    ],
    [
      'a previous key that is wrong',
      { connectionString, encryption: key, previousKeys: [key, 'short'] },
      /`previousKeys\[1\]`/,
    ],
    [
      'previousKeys that is not an array',
      { connectionString, encryption: key, previousKeys: key },
      /`previousKeys` must be an array/,
    ],
    [
      'a table with a quote',
      { connectionString, encryption: key, table: 'a"b' },
      /`table`.*"a\\"b"/,
    ],
    ['a table in capitals', { connectionString, encryption: key, table: 'Logins' }, /`table`/],
    ['a table too long', { connectionString, encryption: key, table: 'x'.repeat(64) }, /`table`/],
    ['a table named pg_*', { connectionString, encryption: key, table: 'pg_logins' }, /`table`/],
    ['an empty schema', { connectionString, encryption: key, schema: '' }, /`schema`/],
    ['a schema with a dot', { connectionString, encryption: key, schema: 'a.b' }, /`schema`/],
    [
      'migrate that is not a boolean',
      { connectionString, encryption: key, migrate: 'yes' },
      /`migrate`/,
    ],
    [
      'a misspelt option',
      { connectionString, encryption: key, tabel: 'x' },
      /`tabel` is not known/,
    ],
  ];
  for (const [name, options, message] of cases) {
    it(`throws STORE_CONFIG for ${name}`, () => {
      const error = configError(options);
      expectCode(error, 'STORE_CONFIG');
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/^postgresStore\(\) option/);
    });
  }

  it('never shows a key it refuses', () => {
    const short = newKey().subarray(0, 31);
    for (const bad of [short, short.toString('base64'), `${key.toString('base64')}AAAA`]) {
      const error = configError({ connectionString, encryption: bad });
      expectCode(error, 'STORE_CONFIG');
      const text = typeof bad === 'string' ? bad : bad.toString('base64');
      expect(error.message).not.toContain(text);
      expect(error.message).not.toContain(Buffer.from(short).toString('hex'));
    }
  });

  it('accepts a key as bytes, base64, base64url and a hook', async () => {
    const hook = {
      keyId: 'kms/1',
      wrap: async (k: Uint8Array) => k,
      unwrap: async (k: Uint8Array) => k,
    };
    for (const encryption of [
      key,
      new Uint8Array(key),
      key.toString('base64'),
      key.toString('base64url'),
      hook,
    ]) {
      const store = postgresStore({ connectionString, encryption });
      await store.close();
    }
  });

  it('throws TypeError for keys the table cannot hold', async () => {
    const store = postgresStore({ connectionString, encryption: key });
    try {
      for (const bad of ['a\0b', 'lone \ud800 surrogate', 'x'.repeat(2049), 'é'.repeat(1025)]) {
        const error = await thrown(() => store.get(bad));
        expect(error).toBeInstanceOf(TypeError);
      }
      expect(await thrown(() => store.get(42 as unknown as string))).toBeInstanceOf(TypeError);
      expect(
        await thrown(() => store.set('k', [] as unknown as Record<string, never>)),
      ).toBeInstanceOf(TypeError);
      expect(await thrown(() => store.list(5 as unknown as string))).toBeInstanceOf(TypeError);
      expect(await thrown(() => store.lock('k', async () => {}, { timeoutMs: -1 }))).toBeInstanceOf(
        TypeError,
      );
      expect(
        await thrown(() => store.lock('k', undefined as unknown as () => Promise<void>)),
      ).toBeInstanceOf(TypeError);
    } finally {
      await store.close();
    }
  });

  it('checks schemaSql() options the same way', async () => {
    const error = await thrown(() => schemaSql({ table: 'Bad' }));
    expectCode(error, 'STORE_CONFIG');
    expect((error as Error).message).toMatch(/^schemaSql\(\) option `table`/);
    expect(await thrown(() => schemaSql(null as unknown as object))).toBeInstanceOf(TypeError);
  });
});

describe('postgresStore() against a server', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('with migrate: false, fails with STORE_CONFIG until the host ran schemaSql()', async () => {
    const schema = freshSchema('manual');
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      table: 'logins',
      encryption: key,
      migrate: false,
    });
    try {
      const error = await thrown(() => store.get('k'));
      expectCode(error, 'STORE_CONFIG');
      expect((error as Error).message).toMatch(/not set up.*schemaSql\(\)/);
      // The host's own migration: in a transaction, twice (it is idempotent).
      const client = new pg.Client({ connectionString: server.connectionString });
      await client.connect();
      try {
        for (let i = 0; i < 2; i += 1) {
          await client.query('BEGIN');
          await client.query(schemaSql({ schema, table: 'logins' }));
          await client.query('COMMIT');
        }
      } finally {
        await client.end();
      }
      await store.set('k', { v: 1 });
      expect(await store.get('k')).toEqual({ v: 1 });
    } finally {
      await store.close();
    }
  });

  it('refuses a table migrated by a newer release, and leaves it untouched', async () => {
    const schema = freshSchema('newer');
    const first = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    await first.set('k', { v: 1 });
    await first.close();
    await server.query(`UPDATE "${schema}".latchkey_migrations SET version = 99`);
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    try {
      const error = await thrown(() => store.get('k'));
      expectCode(error, 'STORE_CONFIG');
      expect((error as Error).message).toMatch(/schema version 99.*newer release/);
      const rows = await server.query(`SELECT key FROM "${schema}".latchkey_credentials`);
      expect(rows).toEqual([{ key: 'k' }]);
    } finally {
      await store.close();
    }
  });

  it('fails with STORE_CONFIG naming the database when it does not exist', async () => {
    const store = postgresStore({
      connectionString: server.connectionStringFor('no_such_database'),
      encryption: key,
    });
    try {
      const error = await thrown(() => store.get('k'));
      expectCode(error, 'STORE_CONFIG');
      expect((error as Error).message).toMatch(/database does not exist/);
    } finally {
      await store.close();
    }
  });

  it('works on the host pool and leaves it open on close()', async () => {
    const pool = new pg.Pool({ connectionString: server.connectionString });
    const store = postgresStore({ pool, schema: freshSchema('pool'), encryption: key });
    try {
      await store.lock('k', async () => store.set('k', { v: 1 }));
      expect(await store.get('k')).toEqual({ v: 1 });
      await store.close();
      expectCode(await thrown(() => store.get('k')), 'STORE_UNAVAILABLE');
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
