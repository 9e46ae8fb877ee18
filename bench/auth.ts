// Signs in once against the local test authorization server, as an unattended user.
import {
  type AuthProvider,
  authenticate,
  type CredentialStore,
  defineProvider,
  type Session,
} from '@latchkey/core';
import { completeAuthorization, type TestAuthServer } from '@latchkey/testkit';

/** The provider id the benchmarks use (the cross-process child defines the same one). */
export const PROVIDER_ID = 'bench-as';
export const SCOPES = ['openid', 'email', 'read'];

/** A provider for the test server's public client. */
export function benchProvider(server: TestAuthServer): AuthProvider {
  return defineProvider({
    id: PROVIDER_ID,
    name: 'Bench AS',
    strategy: {
      kind: 'oauth',
      issuer: server.issuer,
      clientId: server.clients.public.clientId,
      scopes: SCOPES,
    },
  });
}

/** Runs the loopback sign-in with a user that follows the authorization URL unattended. */
export async function signIn(server: TestAuthServer, store: CredentialStore): Promise<Session> {
  let outcome: Promise<unknown> | undefined;
  const session = await authenticate(benchProvider(server), {
    store,
    timeoutMs: 20_000,
    openUrl: (url) => {
      outcome = completeAuthorization(url);
      outcome.catch(() => {});
    },
  });
  await outcome;
  return session;
}
