// Recipes read the provider's OAuth client through InjectContext.client, never from
// copies kept in every stored login.
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialKey, credentialsToRecord } from '../src/credentials.js';
import {
  authenticate,
  defineProvider,
  defineServer,
  isLatchkeyError,
  memoryStore,
  spawnDescription,
} from '../src/index.js';
import { canaryToken, launchTmp, plainCredentials } from './launch-helpers.js';

const CLIENT_SECRET = canaryToken('client-secret');

let tmp: Awaited<ReturnType<typeof launchTmp>>;
beforeAll(async () => {
  tmp = await launchTmp();
});
afterAll(async () => {
  await tmp?.remove();
});

function provider(withSecret: boolean) {
  return defineProvider({
    id: 'acme',
    strategy: {
      kind: 'oauth',
      issuer: 'https://auth.acme.example',
      endpoints: {
        authorization: 'https://auth.acme.example/authorize',
        token: 'https://auth.acme.example/token',
      },
      clientId: 'acme-client',
      ...(withSecret ? { clientSecret: CLIENT_SECRET } : {}),
    },
  });
}

const recipe = defineServer({
  id: 'refreshes-itself',
  transport: { kind: 'stdio', command: process.execPath, args: ['-e', ''] },
  credentials: ['accessToken', 'client.clientId', 'client.clientSecret'],
  refresh: 'self',
  inject: (credentials, context) => ({
    env: {
      TOKEN: credentials.accessToken,
      CLIENT_ID: context.client?.clientId ?? 'none',
      CLIENT_SECRET: context.client?.clientSecret ?? 'none',
    },
  }),
});

/** A session of `p` from a stored login, without any request to the service. */
async function storedSession(p: ReturnType<typeof provider>, token: string) {
  const store = memoryStore();
  await store.set(
    credentialKey(p.id, 'ada'),
    credentialsToRecord({ ...plainCredentials(token), providerId: p.id, account: 'ada' }),
  );
  return authenticate(p, { store, interactive: false });
}

describe('the provider client reaches recipes through InjectContext.client', () => {
  it("hands the session provider's client id and secret to inject, masked when printed", async () => {
    const token = canaryToken();
    const session = await storedSession(provider(true), token);
    const description = await spawnDescription(recipe, session, { tmpDir: tmp.dir });
    try {
      expect(description.env.CLIENT_ID).toBe('acme-client');
      expect(description.env.CLIENT_SECRET).toBe(CLIENT_SECRET);
      const printed = `${inspect(description)} ${JSON.stringify(description)}`;
      expect(printed).not.toContain(CLIENT_SECRET);
      expect(printed).not.toContain(token);
      // The stored login holds no copy of the client.
      expect(JSON.stringify(credentialsToRecord(session.current()))).not.toContain(CLIENT_SECRET);
    } finally {
      await description.dispose();
    }
  });

  it('fails with MISSING_CREDENTIAL naming client.clientSecret when the provider has none', async () => {
    const session = await storedSession(provider(false), canaryToken());
    const error = await spawnDescription(recipe, session, { tmpDir: tmp.dir }).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL'), String(error)).toBe(true);
    expect((error as Error).message).toContain('"client.clientSecret"');
    expect((error as Error).message).not.toContain('"client.clientId"');
  });

  it('has no client for plain credentials unless the host passes one', async () => {
    const token = canaryToken();
    const error = await spawnDescription(recipe, plainCredentials(token), {
      tmpDir: tmp.dir,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL'), String(error)).toBe(true);
    expect((error as Error).message).toContain('"client.clientId", "client.clientSecret"');
    expect((error as Error).message).toContain('client option');

    const description = await spawnDescription(recipe, plainCredentials(token), {
      tmpDir: tmp.dir,
      client: { clientId: 'host-client', clientSecret: CLIENT_SECRET },
    });
    try {
      expect(description.env.CLIENT_ID).toBe('host-client');
      expect(description.env.CLIENT_SECRET).toBe(CLIENT_SECRET);
      expect(inspect(description)).not.toContain(CLIENT_SECRET);
    } finally {
      await description.dispose();
    }
  });

  it("lets the host's client option take the place of the provider's", async () => {
    const session = await storedSession(provider(false), canaryToken());
    const description = await spawnDescription(recipe, session, {
      tmpDir: tmp.dir,
      client: { clientId: 'acme-client', clientSecret: CLIENT_SECRET },
    });
    try {
      expect(description.env.CLIENT_SECRET).toBe(CLIENT_SECRET);
    } finally {
      await description.dispose();
    }
  });

  it('refuses a client field that does not exist, naming the ones that do', () => {
    let error: unknown;
    try {
      defineServer({ ...recipe, credentials: ['client.secret' as never] });
    } catch (e) {
      error = e;
    }
    expect(isLatchkeyError(error, 'SERVER_CONFIG'), String(error)).toBe(true);
    expect((error as Error).message).toContain('client.clientSecret');
  });
});
