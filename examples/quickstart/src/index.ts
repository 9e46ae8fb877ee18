// Quickstart: sign in to an OAuth server, keep the login, run an MCP server with it
// while the token is refreshed under it, refresh, log out.
//
// It runs against an authorization server embedded in this program (oidc-provider on
// 127.0.0.1), so it needs no account anywhere. With a desktop, your browser opens on
// its login page (any user name and password work). Without one, or with
// `--unattended`, a scripted user completes the sign-in. Access tokens live 10 s here,
// so the refresh that reaches the MCP server happens while you watch.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  authenticate,
  type Credentials,
  defineProvider,
  defineServer,
  fileStore,
  type LatchkeyEvent,
  openSystemBrowser,
  type ServerEvent,
} from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
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

/** Resolves on the first event of `type`; rejects after `ms`. */
function nextEvent(server: LaunchedServer, type: ServerEvent['type'], ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event within ${ms} ms`)), ms);
    const stop = server.onEvent((event) => {
      if (event.type !== type) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

const server = await startAuthServer({
  accessTokenTtl: 10,
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

  // 5. Run an MCP server with the login. The recipe says how the token reaches it:
  //    here a file (0600, in a private 0700 directory) named by an environment variable.
  const whoami = defineServer({
    id: 'whoami',
    name: 'Demo whoami server',
    transport: {
      kind: 'stdio',
      command: process.execPath,
      args: [
        '--import',
        import.meta.resolve('tsx'),
        fileURLToPath(new URL('./demo-server.ts', import.meta.url)),
      ],
    },
    credentials: ['accessToken'],
    refresh: 'restart',
    inject: (credentials, context) => ({
      files: { token: credentials.accessToken },
      env: { DEMO_TOKEN_FILE: context.path('token') },
    }),
  });
  console.log('\nLaunching an MCP server with the login:');
  const launched = await launchServer(whoami, session, {
    onEvent: (event) => {
      if (event.type !== 'server_stderr') console.log(`  · ${event.type.replaceAll('_', ' ')}`);
    },
  });
  const askWhoami = async () => {
    const result = await launched.client.callTool({ name: 'whoami' });
    return (result.content as { text: string }[])[0]?.text;
  };
  console.log(
    `the server got token ${await askWhoami()}; the session holds ${fingerprint(session.current())}`,
  );

  // Halfway through the token's 10 s, Latchkey refreshes it, rewrites the file and
  // restarts the server, before the old token expires. The same client keeps working.
  const oldExpiry = session.current().expiresAt ?? 0;
  console.log('\nWaiting for the token to come close to expiry...');
  await nextEvent(launched, 'server_credentials_updated', 30_000);
  const margin = ((oldExpiry - Date.now()) / 1000).toFixed(1);
  console.log(
    `the server got token ${await askWhoami()}; the session holds ${fingerprint(session.current())}`,
  );
  console.log(`(the server restarted ${margin} s before the old token expired)`);
  await launched.close();

  // 6. fresh() returns valid credentials, refreshing ahead of expiry. Force one now.
  console.log('\nForcing a refresh:');
  const after = await session.refresh();
  console.log(`access token fingerprint: ${fingerprint(before)} -> ${fingerprint(after)}`);
  console.log(
    `refresh token rotated: ${before.refreshToken?.reveal() !== after.refreshToken?.reveal()}`,
  );
  console.log(`expires at: ${new Date(after.expiresAt ?? 0).toISOString()}`);

  // 7. Log out: revoke at the server, then delete locally.
  const result = await session.logout();
  console.log(`\nLogged out (revoked at the server: ${result.revoked}).`);
  console.log('\nDemo finished.');
} finally {
  await server.close();
  await rm(directory, { recursive: true, force: true });
}
