import { startPostgres, type TestPostgres } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, killAll, newKey, startChild } from './helpers.js';

let server: TestPostgres;
const PROCESSES = 8;

beforeAll(async () => {
  server = await startPostgres();
  process.env.LATCHKEY_TEST_KEY = newKey().toString('base64');
});
afterAll(async () => {
  await server?.stop();
});

/** Starts PROCESSES children on `database`, lets them make their first call at once, returns their last lines. */
async function migrateTogether(connection: string, schema: string) {
  const children: Child[] = [];
  try {
    for (let i = 0; i < PROCESSES; i += 1)
      children.push(startChild(['migrate', connection, schema]));
    await Promise.all(children.map((c) => c.next('ready')));
    for (const child of children) child.send('go');
    const outcomes = await Promise.all(
      children.map(async (c) => {
        const code = await c.exited;
        return { code, lines: c.lines };
      }),
    );
    return outcomes;
  } finally {
    await killAll(children);
  }
}

describe('migration', () => {
  for (const [name, schema] of [
    ['the search_path schema', '-'],
    ['a schema that does not exist yet', 'tenant_one'],
  ] as const) {
    it(`${PROCESSES} processes starting at once on an empty database migrate it once (${name})`, async () => {
      const database = `empty_${schema === '-' ? 'public' : schema}`;
      const connection = await server.createDatabase(database);
      const outcomes = await migrateTogether(connection, schema);
      for (const outcome of outcomes) {
        expect(outcome, JSON.stringify(outcome)).toMatchObject({ code: 0 });
        expect(outcome.lines.at(-1)).toEqual({ event: 'done', keys: [] });
      }
      const qualify = (table: string) => (schema === '-' ? table : `"${schema}".${table}`);
      const versions = await server.query(
        `SELECT table_name, version FROM ${qualify('latchkey_migrations')}`,
        [],
        database,
      );
      expect(versions).toEqual([{ table_name: 'latchkey_credentials', version: 1 }]);
      const columns = await server.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'latchkey_credentials' ORDER BY ordinal_position`,
        [],
        database,
      );
      expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
        'key text',
        'version bigint',
        'value bytea',
        'data_key bytea',
        'key_id text',
        'updated_at timestamp with time zone',
      ]);
    }, 60_000);
  }
});
