import { storeContractCases } from '@latchkey/core/testing';
import { startPostgres, type TestPostgres } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresStore } from '../src/index.js';
import { freshSchema, newKey } from './helpers.js';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describe('postgresStore: CredentialStore contract', () => {
  // A fresh schema (so a fresh table) per case, on the one server of this file.
  const make = async () => {
    const schema = freshSchema('contract');
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: newKey(),
    });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await server.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  };
  for (const c of storeContractCases(make)) it(c.name, c.run, 20_000);
});

describe('postgresStore: the contract with the default table in the public schema', () => {
  const make = async () => {
    const store = postgresStore({
      connectionString: server.connectionString,
      encryption: newKey(),
    });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await server.query('DROP TABLE IF EXISTS latchkey_credentials, latchkey_migrations');
      },
    };
  };
  const [roundTrip, , , , listing] = storeContractCases(make);
  it(roundTrip!.name, roundTrip!.run);
  it(listing!.name, listing!.run);
});
