// One process of the store-postgres get/set benchmark, loading the built
// @latchkey/store-postgres (and pg) only. Opens postgresStore({ schema }) on a table the
// parent filled, reads the login under <key>, then times <calls> rounds of get() and set()
// (a token rotation: the same record with a new access token) of that login, after a few
// untimed warm-up rounds (the pool's connection, the prepared plans). Prints one JSON line.
// Arguments: connectionString encryptionKey schema key calls
import { randomBytes } from 'node:crypto';
import { postgresStore } from '@latchkey/store-postgres';

const [connectionString, encryption, schema, key, callsArg] = process.argv.slice(2);
const WARM_UP = 20;
const store = postgresStore({ connectionString, encryption, schema });
try {
  const record = await store.get(key);
  if (record === undefined) throw new Error(`no login under ${key}`);
  const get = [];
  const set = [];
  for (let i = 0; i < WARM_UP + Number(callsArg); i += 1) {
    const next = { ...record, accessToken: randomBytes(96).toString('base64url') };
    let t0 = performance.now();
    await store.set(key, next);
    const setMs = performance.now() - t0;
    t0 = performance.now();
    const read = await store.get(key);
    const getMs = performance.now() - t0;
    if (read?.accessToken !== next.accessToken) throw new Error('get() did not return the set()');
    if (i >= WARM_UP) {
      set.push(setMs);
      get.push(getMs);
    }
  }
  await store.close();
  process.stdout.write(`${JSON.stringify({ get, set })}\n`);
} catch (error) {
  await store.close().catch(() => {});
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exit(1);
}
