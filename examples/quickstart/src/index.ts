// Quickstart: sign in to an OAuth server, keep the login, refresh it.
//
// It runs against an authorization server embedded in this program (oidc-provider on
// 127.0.0.1), so it needs no account anywhere. With a desktop, your browser opens on
// its login page (any user name and password work). Without one, or with
// `--unattended`, a scripted user completes the sign-in.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  authenticate,
  type Credentials,
  defineProvider,
  fileStore,
  type LatchkeyEvent,
  openSystemBrowser,
} from '@latchkey/core';
import { completeAuthorization, startAuthServer } from '@latchkey/testkit';

const hasDisplay =
  process.platform === 'darwin' ||
  process.platform === 'win32' ||
  Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const unattended =
  process.argv.includes('--unattended') || !hasDisplay || process.env.CI === 'true';

/** A short, safe fingerprint of a token: enough to see it change, useless to an attacker. */
function fingerprint(credentials: Credentials): string {
  return createHash('sha256').update(credentials.accessToken.reveal()).digest('hex').slice(0, 12);
}

function describeEvent(event: LatchkeyEvent): string {
  switch (event.type) {
    case 'authorization_url_opened':
      return `opening the sign-in page (${new URL(event.url).origin})`;
    case 'waiting_for_callback':
      return `waiting for the browser to come back to ${event.redirectUri}`;
    case 'token_refreshed':
      return `token refreshed, valid until ${new Date(event.expiresAt ?? 0).toISOString()}`;
    default:
      return event.type.replaceAll('_', ' ');
  }
}

const server = await startAuthServer({
  accessTokenTtl: 120,
  interaction: unattended ? 'auto' : 'form',
});
const directory = await mkdtemp(join(tmpdir(), 'latchkey-quickstart-'));

try {
  // 1. A provider is plain data: where the server is, who the client is, what to ask for.
  const provider = defineProvider({
    id: 'demo',
    name: 'Demo authorization server',
    strategy: {
      kind: 'oauth',
      issuer: server.issuer,
      clientId: server.clients.public.clientId,
      scopes: ['openid', 'email', 'read'],
    },
  });

  // 2. A file store keeps the login between runs (0600 file in a 0700 directory).
  const store = fileStore({ directory });

  // 3. Sign in. The browser opens once; the user comes back to a listener on 127.0.0.1.
  console.log(`Signing in to ${server.issuer} (${unattended ? 'unattended' : 'in your browser'})`);
  const session = await authenticate(provider, {
    store,
    openUrl: unattended
      ? (url) => {
          void completeAuthorization(url).catch((error: unknown) => console.error(error));
        }
      : openSystemBrowser,
    onEvent: (event) => console.log(`  · ${describeEvent(event)}`),
    timeoutMs: 120_000,
  });

  console.log('\nSigned in. The session, as it prints (secrets are redacted by construction):');
  console.log(JSON.stringify(session, null, 2));
  const before = session.current();
  console.log(`access token fingerprint: ${fingerprint(before)}`);
  console.log(
    `stored in ${store.path} (mode ${((await stat(store.path)).mode & 0o777).toString(8)})`,
  );

  // 4. A second authenticate() reuses the stored login: no browser, no token request.
  const again = await authenticate(provider, { store, interactive: false });
  console.log(`\nSecond authenticate(): reused ${again.account}, no browser opened.`);

  // 5. fresh() returns valid credentials, refreshing ahead of expiry. Force one now.
  console.log('\nForcing a refresh:');
  const after = await session.refresh();
  console.log(`access token fingerprint: ${fingerprint(before)} -> ${fingerprint(after)}`);
  console.log(
    `refresh token rotated: ${before.refreshToken?.reveal() !== after.refreshToken?.reveal()}`,
  );
  console.log(`expires at: ${new Date(after.expiresAt ?? 0).toISOString()}`);

  // 6. Log out: revoke at the server, then delete locally.
  const result = await session.logout();
  console.log(`\nLogged out (revoked at the server: ${result.revoked}).`);
  console.log('\nDemo finished.');
} finally {
  await server.close();
  await rm(directory, { recursive: true, force: true });
}
