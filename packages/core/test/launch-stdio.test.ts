// launchServer() over stdio against the credential fixture: exact values in env and
// file, a private environment, restarts before expiry, requests in flight, crashes.
import { statSync } from 'node:fs';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, memoryStore, type ServerEvent } from '../src/index.js';
import { type LaunchedServer, launchServer } from '../src/sdk-v1.js';
import { sha256 } from './fixtures/credential-server.js';
import { options, testProvider, unattendedUser } from './helpers.js';
import {
  canaryToken,
  childPids,
  eventually,
  fixtureRecipe,
  launchTmp,
  leakWatch,
  plainCredentials,
  processGone,
  report,
} from './launch-helpers.js';

let auth: TestAuthServer;
let tmp: Awaited<ReturnType<typeof launchTmp>>;
const open = new Set<LaunchedServer>();

/** Launches and remembers the handle, so afterEach closes it even when a test fails. */
async function launch(...args: Parameters<typeof launchServer>): Promise<LaunchedServer> {
  const server = await launchServer(args[0], args[1], { tmpDir: tmp.dir, ...args[2] });
  open.add(server);
  return server;
}

beforeAll(async () => {
  auth = await startAuthServer({ accessTokenTtl: 600 });
  tmp = await launchTmp();
});
afterAll(async () => {
  await auth?.close();
  await tmp?.remove();
});
afterEach(async () => {
  for (const server of open) await server.close();
  open.clear();
  expect(childPids(), 'child processes left behind').toEqual([]);
  expect(tmp.launchDirs(), 'launch directories left behind').toEqual([]);
});

describe('launchServer over stdio', () => {
  it('injects the exact token through env and a 0600 file in a 0700 directory, and cleans up', async () => {
    const token = canaryToken();
    const watch = leakWatch();
    process.env.LATCHKEY_HOST_ONLY = 'not for servers';
    try {
      const server = await launch(fixtureRecipe(), plainCredentials(token), {
        onEvent: watch.onEvent,
        env: { EXPLICIT_FROM_HOST: 'yes' },
      });
      const pid = server.pid;
      expect(pid).toBeGreaterThan(0);
      const dir = server.dir as string;
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const got = report(await server.client.callTool({ name: 'credentials' }));
      expect(got.env).toBe(sha256(token));
      expect(got.file).toBe(sha256(token));
      expect(got.fileMode).toBe('600');
      expect(got.pid).toBe(pid);
      expect(got.envNames).toContain('EXPLICIT_FROM_HOST');
      expect(got.envNames).toContain('PATH');
      expect(got.envNames).not.toContain('LATCHKEY_HOST_ONLY');
      const tools = await server.client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['crash', 'credentials', 'slow']);

      await server.close();
      await processGone(pid);
      expect(tmp.launchDirs()).toEqual([]);
      expect(await server.closed).toBeUndefined();
      expect(watch.events.map((e) => e.type)).toEqual(
        expect.arrayContaining([
          'server_starting',
          'server_started',
          'server_exited',
          'server_closed',
        ]),
      );
      const error = await server.client.listTools().catch((e: unknown) => e);
      expect(isLatchkeyError(error)).toBe(true);
      watch.record(error);
      expect(watch.leaks([token])).toEqual([]);
    } finally {
      delete process.env.LATCHKEY_HOST_ONLY;
    }
  });

  it('restarts with fresh files and env before the old token expires, keeping the client valid', async () => {
    // Long enough that a loaded machine still restarts within the second half of it.
    const short = await startAuthServer({ accessTokenTtl: 10 });
    try {
      const session = await authenticate(
        testProvider(short),
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      );
      const first = session.current();
      const watch = leakWatch();
      const server = await launch(fixtureRecipe(), session, { onEvent: watch.onEvent });
      const client = server.client;
      const before = report(await client.callTool({ name: 'credentials' }));
      expect(before.env).toBe(sha256(first.accessToken.reveal()));

      // The timer refreshes at half the 10 s lifetime and restarts the server.
      const updated = new Promise<ServerEvent>((resolve) =>
        server.onEvent((e) => {
          if (e.type === 'server_credentials_updated') resolve(e);
        }),
      );
      await updated;
      expect(Date.now()).toBeLessThan(first.expiresAt as number);
      const second = session.current();
      expect(second.accessToken.reveal()).not.toBe(first.accessToken.reveal());
      const after = report(await client.callTool({ name: 'credentials' }));
      expect(after.env).toBe(sha256(second.accessToken.reveal()));
      expect(after.file).toBe(sha256(second.accessToken.reveal()));
      expect(after.pid).not.toBe(before.pid);
      expect(server.pid).toBe(after.pid);
      expect(short.counts().token.refresh_token).toBe(1);
      expect(watch.events.map((e) => e.type)).toEqual(
        expect.arrayContaining([
          'server_restarting',
          'server_exited',
          'server_credentials_updated',
        ]),
      );
      expect(
        watch.events.find((e) => e.type === 'server_restarting' && e.reason === 'credentials'),
      ).toBeDefined();
      watch.record(session);
      expect(watch.leaks([first.accessToken.reveal(), second.accessToken.reveal()])).toEqual([]);
    } finally {
      await short.close();
    }
  });

  it('keeps the server running when the refresh before expiry fails, and says why', async () => {
    const short = await startAuthServer({ accessTokenTtl: 6 });
    try {
      const session = await authenticate(
        testProvider(short),
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      );
      const failures: ServerEvent[] = [];
      const server = await launch(fixtureRecipe(), session, {
        onEvent: (e) => {
          if (e.type === 'server_refresh_failed') failures.push(e);
        },
      });
      // The refresh at half-life will be refused.
      await short.revokeGrantsFor('alice');
      await eventually(() => failures.length > 0, 10_000, 'the refresh to fail');
      expect(failures).toEqual([
        { type: 'server_refresh_failed', serverId: 'credential-fixture', code: 'REAUTH_REQUIRED' },
      ]);
      expect(report(await server.client.callTool({ name: 'credentials' })).env).toBe(
        sha256(session.current().accessToken.reveal()),
      );
    } finally {
      await short.close();
    }
  });

  it('stops refreshing once closed', async () => {
    const short = await startAuthServer({ accessTokenTtl: 2 });
    try {
      const session = await authenticate(
        testProvider(short),
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      );
      const server = await launch(fixtureRecipe(), session);
      await server.close();
      const refreshes = short.counts().token.refresh_token ?? 0;
      await new Promise((r) => setTimeout(r, 2_500));
      expect(short.counts().token.refresh_token ?? 0).toBe(refreshes);
    } finally {
      await short.close();
    }
  });

  it('restarts when the session refreshes for any reason, and on request', async () => {
    const session = await authenticate(
      testProvider(auth),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    const server = await launch(fixtureRecipe(), session);
    const firstPid = server.pid;
    const restarted = new Promise<void>((resolve) =>
      server.onEvent((e) => {
        if (e.type === 'server_started' && e.generation === 2) resolve();
      }),
    );
    const next = await session.refresh();
    await restarted;
    expect(report(await server.client.callTool({ name: 'credentials' })).env).toBe(
      sha256(next.accessToken.reveal()),
    );
    await processGone(firstPid);

    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    expect(report(await server.client.callTool({ name: 'credentials' })).file).toBe(
      sha256(next.accessToken.reveal()),
    );
  });

  it('takes new plain credentials from the host and restarts', async () => {
    const [one, two] = [canaryToken(), canaryToken()];
    const server = await launch(fixtureRecipe(), plainCredentials(one));
    await server.updateCredentials(plainCredentials(two));
    expect(report(await server.client.callTool({ name: 'credentials' })).env).toBe(sha256(two));
  });

  it('fails a request in flight during a restart with SERVER_RESTARTED, and then works again', async () => {
    const server = await launch(fixtureRecipe(), plainCredentials(canaryToken()));
    const inFlight = server.client.callTool({ name: 'slow' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    const restart = server.restart();
    // Sent while the server restarts: waits for the new one.
    const during = server.client.callTool({ name: 'credentials' });
    const error = await inFlight;
    expect(isLatchkeyError(error, 'SERVER_RESTARTED')).toBe(true);
    expect((error as Error).message).toContain('Send it again');
    await restart;
    expect(report(await during).pid).toBe(server.pid);
  });

  it('reports a crash as SERVER_EXITED with the last stderr lines, masked, and cleans up', async () => {
    const token = canaryToken();
    const watch = leakWatch();
    const server = await launch(fixtureRecipe(), plainCredentials(token), {
      onEvent: watch.onEvent,
    });
    const pid = server.pid;
    await server.client.callTool({ name: 'crash' });
    const error = await server.closed;
    expect(isLatchkeyError(error, 'SERVER_EXITED')).toBe(true);
    expect(error?.message).toContain('crashing with token [redacted]');
    const later = await server.client.listTools().catch((e: unknown) => e);
    expect(isLatchkeyError(later, 'SERVER_EXITED')).toBe(true);
    await processGone(pid);
    expect(tmp.launchDirs()).toEqual([]);
    expect(watch.events.at(-1)).toEqual({
      type: 'server_closed',
      serverId: 'credential-fixture',
      error: 'SERVER_EXITED',
    });
    watch.record(error);
    watch.record(later);
    expect(watch.leaks([token])).toEqual([]);
  });

  it('restarts a crashed server with backoff when asked to, up to the limit', async () => {
    const watch = leakWatch();
    const server = await launch(fixtureRecipe(), plainCredentials(canaryToken()), {
      onEvent: watch.onEvent,
      restartOnCrash: { maxRestarts: 1, initialDelayMs: 50 },
    });
    const firstPid = server.pid;
    const exited = new Promise<void>((resolve) =>
      server.onEvent((e) => {
        if (e.type === 'server_exited' && !e.expected) resolve();
      }),
    );
    await server.client.callTool({ name: 'crash' });
    await exited;
    // A call made while it restarts waits for the new server.
    const got = report(await server.client.callTool({ name: 'credentials' }));
    expect(got.pid).not.toBe(firstPid);
    expect(
      watch.events.find((e) => e.type === 'server_restarting' && e.reason === 'crash'),
    ).toMatchObject({ delayMs: 50 });

    // The second crash exceeds the limit: the launch ends.
    await server.client.callTool({ name: 'crash' });
    expect(isLatchkeyError(await server.closed, 'SERVER_EXITED')).toBe(true);
  });
});
