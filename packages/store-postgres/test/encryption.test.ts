import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { LatchkeyError } from '@latchkey/core';
import { startPostgres, type TestPostgres } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyWrapper, postgresStore } from '../src/index.js';
import { everythingOf, expectCode, freshSchema, newKey, thrown } from './helpers.js';

const CANARY = `canary-secret-${randomBytes(8).toString('hex')}`;
const REFRESH_CANARY = `canary-refresh-${randomBytes(8).toString('hex')}`;
const secretValue = () => ({ accessToken: CANARY, refreshToken: REFRESH_CANARY, expiresAt: 1 });

let server: TestPostgres;
const errors: unknown[] = [];
const keys: Buffer[] = [];

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** A store on a fresh schema (or the one given), recording the key for the leak check. */
function storeWith(
  encryption: Parameters<typeof postgresStore>[0]['encryption'],
  schema: string,
  extra = {},
) {
  if (encryption instanceof Uint8Array) keys.push(Buffer.from(encryption));
  return postgresStore({ connectionString: server.connectionString, schema, encryption, ...extra });
}

async function rawRow(schema: string, key: string) {
  const [row] = await server.query<{
    version: string;
    value: Buffer;
    data_key: Buffer;
    key_id: string;
    text: string;
  }>(
    `SELECT version::text, value, data_key, key_id, row_to_json(t)::text AS text FROM "${schema}".latchkey_credentials t WHERE key = $1`,
    [key],
  );
  return row;
}

async function failure(fn: () => unknown) {
  const error = await thrown(fn);
  errors.push(error);
  return error;
}

/** A stand-in for a KMS: AES-256-GCM under a key this process never gives the store. */
function fakeKms(keyId: string) {
  const master = randomBytes(32);
  const calls = { wrap: 0, unwrap: [] as string[] };
  const hook: KeyWrapper = {
    keyId,
    async wrap(dataKey) {
      calls.wrap += 1;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', master, iv);
      const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    async unwrap(wrapped, id) {
      calls.unwrap.push(id);
      const bytes = Buffer.from(wrapped);
      const decipher = createDecipheriv('aes-256-gcm', master, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
    },
  };
  return { hook, calls };
}

describe('envelope encryption', () => {
  it('keeps no plaintext in the row: not the value, not the data key, not the host key', async () => {
    const schema = freshSchema('enc');
    const key = newKey();
    const store = storeWith(key, schema);
    try {
      await store.set('credentials/test/alice', secretValue());
      const row = await rawRow(schema, 'credentials/test/alice');
      expect(row).toBeDefined();
      for (const canary of [CANARY, REFRESH_CANARY]) {
        for (const column of [row!.value, row!.data_key]) {
          expect(column.includes(Buffer.from(canary))).toBe(false);
        }
        expect(row!.text).not.toContain(canary);
        expect(row!.text).not.toContain(Buffer.from(canary).toString('hex'));
      }
      expect(row!.text).not.toContain(key.toString('hex'));
      expect(row!.data_key.includes(key)).toBe(false);
      expect(row!.key_id).toMatch(/^kek:[0-9a-f]{16}$/);
      expect(row!.version).toBe('1');
      // Every write has a fresh data key (and IVs): the same value never looks the same.
      await store.set('credentials/test/alice', secretValue());
      const again = await rawRow(schema, 'credentials/test/alice');
      expect(again!.version).toBe('2');
      expect(again!.value.equals(row!.value)).toBe(false);
      expect(again!.data_key.equals(row!.data_key)).toBe(false);
      expect(await store.get('credentials/test/alice')).toEqual(secretValue());
    } finally {
      await store.close();
    }
  });

  it('fails with STORE_CORRUPT under a wrong key and leaves the row as it was', async () => {
    const schema = freshSchema('enc');
    const right = storeWith(newKey(), schema);
    const wrong = storeWith(newKey(), schema);
    try {
      await right.set('k', secretValue());
      const before = await rawRow(schema, 'k');
      const error = await failure(() => wrong.get('k'));
      expectCode(error, 'STORE_CORRUPT');
      expect((error as Error).message).toMatch(
        /"k".*neither the encryption key given nor one of previousKeys.*left untouched/,
      );
      // Listing and other keys still work; nothing was removed or rewritten.
      expect(await wrong.list()).toEqual(['k']);
      await wrong.set('other', { v: 1 });
      expect(await rawRow(schema, 'k')).toEqual(before);
      expect(await right.get('k')).toEqual(secretValue());
    } finally {
      await right.close();
      await wrong.close();
    }
  });

  it('fails with STORE_CORRUPT for a ciphertext moved to another key or table, or changed', async () => {
    const schema = freshSchema('enc');
    const other = freshSchema('enc');
    const key = newKey();
    const store = storeWith(key, schema);
    const elsewhere = storeWith(key, other);
    try {
      await store.set('a', secretValue());
      await store.set('b', { harmless: true });
      await elsewhere.set('a', { harmless: true });
      const table = `"${schema}".latchkey_credentials`;
      // Row a's ciphertext and wrapped data key copied over row b.
      await server.query(
        `UPDATE ${table} AS b SET value = a.value, data_key = a.data_key, key_id = a.key_id FROM ${table} AS a WHERE a.key = 'a' AND b.key = 'b'`,
      );
      const moved = await failure(() => store.get('b'));
      expectCode(moved, 'STORE_CORRUPT');
      expect((moved as Error).message).toMatch(/copied from another key or table/);
      // Row a copied to the same key of another store's table (same host key).
      await server.query(
        `UPDATE "${other}".latchkey_credentials AS o SET value = a.value, data_key = a.data_key FROM ${table} AS a WHERE a.key = 'a' AND o.key = 'a'`,
      );
      expectCode(await failure(() => elsewhere.get('a')), 'STORE_CORRUPT');
      expect(await store.get('a')).toEqual(secretValue());

      // One byte changed in the value, then in the wrapped data key.
      await server.query(
        `UPDATE ${table} SET value = set_byte(value, 20, get_byte(value, 20) # 1) WHERE key = 'a'`,
      );
      expectCode(await failure(() => store.get('a')), 'STORE_CORRUPT');
      await store.set('a', secretValue());
      await server.query(
        `UPDATE ${table} SET data_key = set_byte(data_key, 30, get_byte(data_key, 30) # 1) WHERE key = 'a'`,
      );
      const unwrapped = await failure(() => store.get('a'));
      expectCode(unwrapped, 'STORE_CORRUPT');
      expect((unwrapped as Error).message).toMatch(/data key cannot be unwrapped/);
      await server.query(`UPDATE ${table} SET value = '\\x00' WHERE key = 'b'`);
      expectCode(await failure(() => store.get('b')), 'STORE_CORRUPT');
    } finally {
      await store.close();
      await elsewhere.close();
    }
  });

  it('reads rows of a rotated key through previousKeys, and rewraps them when written', async () => {
    const schema = freshSchema('rot');
    const oldKey = newKey();
    const newerKey = newKey();
    const before = storeWith(oldKey, schema);
    await before.set('old', { v: 'old' });
    await before.set('kept', { v: 'kept' });
    await before.close();
    const oldId = (await rawRow(schema, 'old'))!.key_id;

    const rotated = storeWith(newerKey, schema, { previousKeys: [oldKey.toString('base64')] });
    try {
      expect(await rotated.get('old')).toEqual({ v: 'old' });
      await rotated.set('old', { v: 'rewritten' });
      await rotated.set('new', { v: 'new' });
      const newId = (await rawRow(schema, 'new'))!.key_id;
      expect(newId).not.toBe(oldId);
      expect((await rawRow(schema, 'old'))!.key_id).toBe(newId);
      expect((await rawRow(schema, 'kept'))!.key_id).toBe(oldId);
    } finally {
      await rotated.close();
    }
    // Once the old key is dropped, rows it still wraps fail clearly; the others read.
    const only = storeWith(newerKey, schema);
    try {
      expect(await only.get('old')).toEqual({ v: 'rewritten' });
      const error = await failure(() => only.get('kept'));
      expectCode(error, 'STORE_CORRUPT');
      expect((error as Error).message).toContain(oldId);
      expect((error as Error).message).toMatch(/previousKeys/);
    } finally {
      await only.close();
    }
  });

  it('wraps data keys through a KMS hook, and rotates to another hook', async () => {
    const schema = freshSchema('kms');
    const first = fakeKms('kms/key-1');
    const store = storeWith(first.hook, schema);
    try {
      await store.set('k', secretValue());
      expect(first.calls.wrap).toBe(1);
      expect(await store.get('k')).toEqual(secretValue());
      expect(first.calls.unwrap).toEqual(['kms/key-1']);
      expect((await rawRow(schema, 'k'))!.key_id).toBe('kms/key-1');
    } finally {
      await store.close();
    }
    const second = fakeKms('kms/key-2');
    const rotated = storeWith(second.hook, schema, { previousKeys: [first.hook] });
    try {
      expect(await rotated.get('k')).toEqual(secretValue());
      expect(first.calls.unwrap).toEqual(['kms/key-1', 'kms/key-1']);
      expect(second.calls.unwrap).toEqual([]);
      await rotated.set('k', { v: 2 });
      expect(second.calls.wrap).toBe(1);
      expect((await rawRow(schema, 'k'))!.key_id).toBe('kms/key-2');
      expect(await rotated.get('k')).toEqual({ v: 2 });
      expect(second.calls.unwrap).toEqual(['kms/key-2']);
    } finally {
      await rotated.close();
    }
  });

  it('reports a failing hook as STORE_UNAVAILABLE, or with the LatchkeyError it threw', async () => {
    const schema = freshSchema('kms');
    const kms = fakeKms('kms/flaky');
    let mode: 'ok' | 'down' | 'damaged' | 'short' = 'ok';
    const hook: KeyWrapper = {
      keyId: 'kms/flaky',
      wrap: async (dataKey) => {
        if (mode === 'down') throw new Error('connect ECONNREFUSED kms.internal');
        return kms.hook.wrap(dataKey);
      },
      unwrap: async (wrapped, id) => {
        if (mode === 'down') throw new Error('connect ECONNREFUSED kms.internal');
        if (mode === 'damaged')
          throw new LatchkeyError('STORE_CORRUPT', 'The KMS refused the wrapped key.');
        if (mode === 'short') return new Uint8Array(8);
        return kms.hook.unwrap(wrapped, id);
      },
    };
    const store = storeWith(hook, schema);
    try {
      await store.set('k', secretValue());
      mode = 'down';
      const down = await failure(() => store.get('k'));
      expectCode(down, 'STORE_UNAVAILABLE');
      expect((down as Error).message).toMatch(/hook's unwrap\(\) failed for key id "kms\/flaky"/);
      expectCode(await failure(() => store.set('k', { v: 2 })), 'STORE_UNAVAILABLE');
      mode = 'damaged';
      expect(((await failure(() => store.get('k'))) as Error).message).toBe(
        'The KMS refused the wrapped key.',
      );
      mode = 'short';
      expectCode(await failure(() => store.get('k')), 'STORE_CORRUPT');
      mode = 'ok';
      expect(await store.get('k')).toEqual(secretValue());
    } finally {
      await store.close();
    }
  });

  it('never shows a secret value or a key in any error it raised', () => {
    expect(errors.length).toBeGreaterThan(8);
    const text = errors.map(everythingOf).join('\n');
    for (const secret of [CANARY, REFRESH_CANARY]) expect(text).not.toContain(secret);
    for (const key of keys) {
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        expect(text).not.toContain(key.toString(encoding));
      }
    }
  });
});
