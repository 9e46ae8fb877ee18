// launchServer() with real MCP servers from npm (devDependencies), run with this Node,
// offline. Their recipes live here until the provider packages ship them.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  defineServer,
  type McpServerSpec,
  memoryStore,
  Secret,
} from '../src/index.js';
import { type LaunchedServer, launchServer } from '../src/sdk-v1.js';
import { options, testProvider, unattendedUser } from './helpers.js';
import {
  canaryToken,
  childPids,
  launchTmp,
  leakWatch,
  plainCredentials,
  processGone,
  serverBin,
} from './launch-helpers.js';

const DRIVE_READONLY = 'https://www.googleapis.com/auth/drive.readonly';

/** server-everything: needs no credentials. */
const everything = defineServer({
  id: 'everything',
  name: 'Everything',
  transport: {
    kind: 'stdio',
    command: process.execPath,
    args: [serverBin('@modelcontextprotocol/server-everything', 'mcp-server-everything'), 'stdio'],
  },
});

/**
 * server-gdrive: reads a google-auth-library token file at `GDRIVE_CREDENTIALS_PATH`
 * and exits without it; it never refreshes, so Latchkey rewrites the file and restarts it.
 */
const gdrive = defineServer({
  id: 'gdrive',
  name: 'Google Drive',
  transport: {
    kind: 'stdio',
    command: process.execPath,
    args: [serverBin('@modelcontextprotocol/server-gdrive', 'mcp-server-gdrive')],
  },
  credentials: ['accessToken', 'expiresAt'],
  scopes: [DRIVE_READONLY],
  refresh: 'restart',
  inject: (credentials, context) => ({
    files: {
      'gdrive-token.json': new Secret(
        JSON.stringify({
          access_token: credentials.accessToken.reveal(),
          ...(credentials.refreshToken ? { refresh_token: credentials.refreshToken.reveal() } : {}),
          scope: credentials.scopes.join(' '),
          token_type: 'Bearer',
          expiry_date: credentials.expiresAt,
        }),
      ),
    },
    env: { GDRIVE_CREDENTIALS_PATH: context.path('gdrive-token.json') },
  }),
});

/** server-slack: a bot token and the team id in the environment. */
const slack = defineServer({
  id: 'slack',
  name: 'Slack',
  transport: {
    kind: 'stdio',
    command: process.execPath,
    args: [serverBin('@modelcontextprotocol/server-slack', 'mcp-server-slack')],
  },
  provider: 'slack',
  credentials: ['accessToken', 'metadata.team'],
  inject: (credentials) => ({
    env: {
      SLACK_BOT_TOKEN: credentials.accessToken,
      SLACK_TEAM_ID: String(credentials.metadata.team),
    },
  }),
});

let auth: TestAuthServer;
let tmp: Awaited<ReturnType<typeof launchTmp>>;
const open = new Set<LaunchedServer>();

async function launch(
  spec: McpServerSpec,
  ...rest: [Parameters<typeof launchServer>[1], Parameters<typeof launchServer>[2]?]
): Promise<LaunchedServer> {
  const server = await launchServer(spec, rest[0], { tmpDir: tmp.dir, ...rest[1] });
  open.add(server);
  return server;
}

beforeAll(async () => {
  auth = await startAuthServer({ accessTokenTtl: 600, extraScopes: [DRIVE_READONLY] });
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

describe('real MCP servers from npm', () => {
  it('server-everything: lists its 13 tools, calls one, closes without leftovers', async () => {
    process.env.LATCHKEY_HOST_ONLY = 'not for servers';
    const server = await launch(everything, plainCredentials(canaryToken()), {
      env: { FROM_HOST: 'explicitly' },
    }).finally(() => {
      delete process.env.LATCHKEY_HOST_ONLY;
    });
    const pid = server.pid;
    const { tools } = await server.client.listTools();
    expect(tools).toHaveLength(13);
    const echoed = await server.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(JSON.stringify(echoed.content)).toContain('hello');
    // Its get-env tool shows the environment it got: the safe defaults and the host's explicit values.
    const env = JSON.stringify((await server.client.callTool({ name: 'get-env' })).content);
    expect(env).toContain('FROM_HOST');
    expect(env).toContain('PATH');
    expect(env).not.toContain('LATCHKEY_HOST_ONLY');
    await server.close();
    await processGone(pid);
    expect(childPids()).toEqual([]);
    expect(tmp.launchDirs()).toEqual([]);
  });

  it('server-gdrive: starts only with the injected token file; a refresh rewrites it and restarts', async () => {
    const session = await authenticate(
      testProvider(auth, { scopes: ['openid', 'email', DRIVE_READONLY] }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    const watch = leakWatch();
    const server = await launch(gdrive, session, { onEvent: watch.onEvent });
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['search']);

    const file = join(server.dir as string, 'gdrive-token.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const first = session.current();
    expect(read().access_token === first.accessToken.reveal()).toBe(true);
    expect(read().expiry_date).toBe(first.expiresAt);
    expect(read().scope).toContain(DRIVE_READONLY);
    const firstPid = server.pid;

    const restarted = new Promise<void>((resolve) =>
      server.onEvent((e) => {
        if (e.type === 'server_started' && e.generation === 2) resolve();
      }),
    );
    const next = await session.refresh();
    await restarted;
    expect(read().access_token === next.accessToken.reveal()).toBe(true);
    expect(read().refresh_token === next.refreshToken?.reveal()).toBe(true);
    expect(server.pid).not.toBe(firstPid);
    await processGone(firstPid);
    expect((await server.client.listTools()).tools).toHaveLength(1);
    expect(
      watch.leaks([first.accessToken.reveal(), next.accessToken.reveal()].filter(Boolean)),
    ).toEqual([]);
  });

  it('server-gdrive without the file exits during startup: SERVER_EXITED with its stderr', async () => {
    const broken = defineServer({ ...gdrive, id: 'gdrive-no-file', inject: () => ({}) });
    const session = await authenticate(
      testProvider(auth, { scopes: ['openid', 'email', DRIVE_READONLY] }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    const error = await launch(broken, session, {
      env: { GDRIVE_CREDENTIALS_PATH: join(tmp.dir, 'missing.json') },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SERVER_EXITED' });
    expect((error as Error).message).toContain('gdrive-no-file');
  });

  it('server-slack: bot token and team id through the environment', async () => {
    const botToken = canaryToken('xoxb');
    const watch = leakWatch();
    const server = await launch(
      slack,
      plainCredentials(botToken, {
        providerId: 'slack',
        account: 'T0123ABCD',
        metadata: { team: 'T0123ABCD' },
      }),
      { onEvent: watch.onEvent },
    );
    const { tools } = await server.client.listTools();
    expect(tools).toHaveLength(8);
    expect(tools.map((t) => t.name)).toContain('slack_list_channels');
    expect(watch.stderr().join('\n')).toContain('Slack MCP Server running on stdio');
    watch.record(server);
    expect(watch.leaks([botToken])).toEqual([]);
  });
});
