// A web sign-in started by one instance of an app and finished by another, with the
// pending sign-in and the login in PostgreSQL: the database holds neither in clear, and
// a callback brought by another user or replayed finds nothing.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { authenticate, finishSignIn, startSignIn, userStore } from '@latchkey/core';
import {
  completeAuthorization,
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
  tokenHash,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../src/index.js';
import { freshSchema, newKey, root, testProvider } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/web-sign-in-child.ts', import.meta.url));
const redirectUri = 'http://127.0.0.1:9/platform/callback';
const key = newKey();
let auth: TestAuthServer;
let database: TestPostgres;

beforeAll(async () => {
  [auth, database] = await Promise.all([startAuthServer({ accessTokenTtl: 600 }), startPostgres()]);
});
afterAll(async () => {
  await auth?.close();
  await database?.stop();
});

function run(args: string[]): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', child, ...args],
      {
        cwd: root,
        timeout: 45_000,
        env: { ...process.env, LATCHKEY_TEST_KEY: key.toString('base64') },
      },
      (_error, stdout) => resolve(JSON.parse(stdout.trim() || '{}') as Record<string, string>),
    );
  });
}

describe('a web sign-in across instances on postgresStore', () => {
  it('is started on one instance and finished on another, once, for its user only', async () => {
    const schema = freshSchema('web');
    const common = [database.connectionString, schema, auth.issuer, auth.clients.public.clientId];
    const started = await run(['start', ...common, 'user-1', redirectUri]);
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const state = new URL(started.url as string).searchParams.get('state') as string;
    // The pending row: keyed by a digest of the state, its value sealed.
    const pending = await database.query<{ key: string; value: Buffer }>(
      `SELECT key, value FROM "${schema}".latchkey_credentials`,
    );
    expect(pending).toHaveLength(1);
    expect(pending[0]?.key).toMatch(/^users\/user-1\/signin\//);
    expect(pending[0]?.key).not.toContain(state);
    expect(pending[0]?.value.toString('latin1')).not.toContain('codeVerifier');

    const { finalUrl: callback } = await completeAuthorization(started.url as string, {
      stopAt: redirectUri,
    });
    expect(await run(['finish', ...common, 'user-2', callback])).toMatchObject({
      code: 'STATE_MISMATCH',
    });
    const finished = await run(['finish', ...common, 'user-1', callback]);
    expect(finished).toMatchObject({ account: 'alice@example.test' });
    expect(await run(['finish', ...common, 'user-1', callback])).toMatchObject({
      code: 'STATE_MISMATCH',
    });

    // This process, a third instance, serves the user's later requests from the row.
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    try {
      const provider = testProvider(auth);
      const session = await authenticate(provider, {
        store: userStore(store, 'user-1'),
        interactive: false,
      });
      expect(tokenHash(session.current().accessToken.reveal())).toBe(finished.token);
      expect(await userStore(store, 'user-2').list()).toEqual([]);
      const rows = await database.query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM "${schema}".latchkey_credentials`,
      );
      expect(rows.map((r) => r.key)).toEqual([
        'users/user-1/credentials/test-as/alice%40example.test',
      ]);
      expect(rows[0]?.value.includes(Buffer.from(session.current().accessToken.reveal()))).toBe(
        false,
      );
    } finally {
      await store.close();
    }
  });

  it('keeps two users who sign in to the same account apart, each refreshed on its own', async () => {
    const schema = freshSchema('two');
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    try {
      const provider = testProvider(auth);
      const sessions = [];
      for (const user of ['ann', 'bob']) {
        const { url } = await startSignIn(provider, { store, user, redirectUri });
        const { finalUrl } = await completeAuthorization(url, { stopAt: redirectUri });
        sessions.push(await finishSignIn(provider, { store, user, callbackUrl: finalUrl }));
      }
      const [ann, bob] = sessions as [(typeof sessions)[0], (typeof sessions)[0]];
      expect(ann.account).toBe(bob.account);
      const bobToken = bob.current().accessToken.reveal();
      expect(ann.current().accessToken.reveal()).not.toBe(bobToken);
      await ann.fresh({ minValidityMs: 3_600_000 });
      const bobLater = await authenticate(provider, {
        store: userStore(store, 'bob'),
        interactive: false,
      });
      expect(bobLater.current().accessToken.reveal()).toBe(bobToken);
      const rows = await database.query<{ key: string }>(
        `SELECT key FROM "${schema}".latchkey_credentials ORDER BY key`,
      );
      expect(rows.map((r) => r.key)).toEqual([
        'users/ann/credentials/test-as/alice%40example.test',
        'users/bob/credentials/test-as/alice%40example.test',
      ]);
    } finally {
      await store.close();
    }
  });
});
