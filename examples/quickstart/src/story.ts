// The quickstart's story: sign in to an OAuth server, keep the login, run an MCP server
// with it while the token is refreshed under it, refresh again, log out. Every line goes
// to `log`; no secret is ever printed, only short fingerprints and comparisons.
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
  type Secret,
  type ServerEvent,
} from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
import { completeAuthorization, startAuthServer } from '@latchkey/testkit';

/** Options of {@link quickstart}. */
export interface QuickstartOptions {
  /** A scripted user completes the sign-in, instead of the user in the system browser. */
  unattended: boolean;
  /** Where each line of the story goes. Default `console.log`. */
  log?: (line: string) => void;
}

/** A short, safe fingerprint of a token: enough to see it change, useless to an attacker. */
export function fingerprint(token: Secret): string {
  return createHash('sha256').update(token.reveal()).digest('hex').slice(0, 12);
}

/** An epoch-milliseconds time as an ISO 8601 date, or `never` without one. */
function iso(epochMs: number | undefined): string {
  return epochMs === undefined ? 'never' : new Date(epochMs).toISOString();
}

/** How each token of `next` compares with the same token of `previous`. */
export function compareTokens(previous: Credentials, next: Credentials): string[] {
  const tokens = [
    ['access token', previous.accessToken, next.accessToken],
    ['refresh token', previous.refreshToken, next.refreshToken],
    ['ID token', previous.idToken, next.idToken],
  ] as const;
  return tokens.flatMap(([name, before, after]) => {
    if (!after) return before ? [`${name}: none now (the previous one is gone)`] : [];
    if (!before) return [`${name}: new ${fingerprint(after)} (there was none before)`];
    return before.reveal() === after.reveal()
      ? [`${name}: ${fingerprint(after)}, the same as the previous one`]
      : [
          `${name}: new ${fingerprint(after)} (differs from the previous one, ${fingerprint(before)})`,
        ];
  });
}

function describeEvent(event: LatchkeyEvent): string {
  switch (event.type) {
    case 'authorization_url_opened':
      return `opening the sign-in page (${new URL(event.url).origin})`;
    case 'waiting_for_callback':
      return `waiting for the browser to come back to ${event.redirectUri}`;
    case 'token_refreshed':
      return `token refreshed, valid until ${iso(event.expiresAt)}`;
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

/** Runs the quickstart against an authorization server it starts, and stops it at the end. */
export async function quickstart(options: QuickstartOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { unattended } = options;
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
    log(`Signing in to ${server.issuer} (${unattended ? 'unattended' : 'in your browser'})`);
    const session = await authenticate(provider, {
      store,
      openUrl: unattended
        ? (url) => {
            void completeAuthorization(url).catch((error: unknown) => console.error(error));
          }
        : openSystemBrowser,
      onEvent: (event) => log(`  · ${describeEvent(event)}`),
      timeoutMs: 120_000,
    });

    log('\nSigned in. The session, as it prints (secrets are redacted by construction):');
    log(
      JSON.stringify(
        session,
        (key, value: unknown) =>
          key === 'expiresAt' && typeof value === 'number' ? iso(value) : value,
        2,
      ),
    );
    log(`access token fingerprint: ${fingerprint(session.current().accessToken)}`);
    log(`stored in ${store.path} (mode ${((await stat(store.path)).mode & 0o777).toString(8)})`);

    // Every new set of credentials is compared with the one just before it.
    let previous = session.current();
    const stopComparing = session.onChange((next) => {
      log(`  new credentials, valid until ${iso(next.expiresAt)}:`);
      for (const line of compareTokens(previous, next)) log(`    ${line}`);
      previous = next;
    });

    // 4. A second authenticate() reuses the stored login: no browser, no token request.
    const again = await authenticate(provider, { store, interactive: false });
    log(`\nSecond authenticate(): reused ${again.account}, no browser opened.`);

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
    log('\nLaunching an MCP server with the login:');
    const launched = await launchServer(whoami, session, {
      onEvent: (event) => {
        if (event.type !== 'server_stderr') log(`  · ${event.type.replaceAll('_', ' ')}`);
      },
    });
    const askWhoami = async () => {
      const result = await launched.client.callTool({ name: 'whoami' });
      return (result.content as { text: string }[])[0]?.text;
    };
    log(
      `the server got token ${await askWhoami()}; the session holds ${fingerprint(session.current().accessToken)}`,
    );

    // Halfway through the token's 10 s, Latchkey refreshes it, rewrites the file and
    // restarts the server, before the old token expires. The same client keeps working.
    const oldExpiry = session.current().expiresAt ?? 0;
    log(`\nWaiting for the token to come close to expiry (${iso(oldExpiry)})...`);
    await nextEvent(launched, 'server_credentials_updated', 30_000);
    const restartedAt = Date.now();
    log(
      `the server got token ${await askWhoami()}; the session holds ${fingerprint(session.current().accessToken)}`,
    );
    log(
      `(the server restarted at ${iso(restartedAt)}, ${((oldExpiry - restartedAt) / 1000).toFixed(1)} s before the old token expired)`,
    );
    await launched.close();

    // 6. fresh() returns valid credentials, refreshing ahead of expiry. Force one now.
    log('\nForcing a refresh:');
    const after = await session.refresh();
    log(`expires at: ${iso(after.expiresAt)}`);
    stopComparing();

    // 7. Log out: revoke at the server, then delete locally.
    const result = await session.logout();
    log(`\nLogged out (revoked at the server: ${result.revoked}).`);
    log('\nDemo finished.');
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}
