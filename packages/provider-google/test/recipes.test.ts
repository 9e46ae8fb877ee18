// The recipes with logins from the fake Google: the real server-gdrive from npm, and the
// exact files and environment the Gmail server and workspace-mcp (neither installable
// here) would get.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  authenticate,
  isLatchkeyError,
  type McpServerSpec,
  memoryStore,
  type ServerEvent,
  type Session,
  spawnDescription,
} from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GMAIL_PACKAGE,
  type GoogleProviderOptions,
  gdriveServer,
  gmailServer,
  googleScope,
  workspaceServer,
} from '../src/index.js';
import {
  type FakeGoogle,
  startFakeGoogle,
  startTokenExchangeProxy,
} from './fixtures/fake-google.js';
import type { WorkspaceReport } from './fixtures/workspace-stand-in.js';
import {
  childPids,
  failOnSecretOutput,
  fakeGoogleProvider,
  leakWatch,
  options,
  serverBin,
  unattendedUser,
} from './helpers.js';

const require = createRequire(import.meta.url);
const run = promisify(execFile);
const ADA = 'ada.lovelace@gmail.com';
const DECLINER = 'no.drive@gmail.com';
const DRIVE = googleScope('drive.readonly');
const GDRIVE_ENTRY = serverBin('@modelcontextprotocol/server-gdrive', 'mcp-server-gdrive');
const STAND_IN = fileURLToPath(new URL('./fixtures/workspace-stand-in.ts', import.meta.url));
const READER = fileURLToPath(new URL('./fixtures/read-workspace-credentials.py', import.meta.url));
const TSX = pathToFileURL(require.resolve('tsx')).href;
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;

let fake: FakeGoogle;
let tmp: string;
const open = new Set<LaunchedServer>();
failOnSecretOutput(() => fake?.secrets() ?? []);

beforeAll(async () => {
  fake = await startFakeGoogle({
    users: [
      { sub: '110248495921238986420', email: ADA, name: 'Ada Lovelace' },
      { sub: '118364710293847561029', email: DECLINER, declines: [DRIVE] },
    ],
  });
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-google-test-'));
});
afterAll(async () => {
  await fake?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  for (const server of open) await server.close();
  open.clear();
  expect(childPids(), 'child processes left behind').toEqual([]);
  expect(launchDirs(), 'launch directories left behind').toEqual([]);
});

/** The launch directories under the test's temporary directory. */
function launchDirs(): string[] {
  const root = readdirSync(tmp).find((name) => name.startsWith('latchkey-'));
  return root ? readdirSync(join(tmp, root)) : [];
}

/** Signs in to the fake; `also` are further scopes to ask for (a recipe's, as full values). */
async function signIn(
  extra: Partial<GoogleProviderOptions> = {},
  more: { account?: string; also?: readonly string[] } = {},
): Promise<Session> {
  return authenticate(
    fakeGoogleProvider(fake, extra),
    options({
      store: memoryStore(),
      openUrl: unattendedUser().openUrl,
      ...(more.account ? { account: more.account } : {}),
      ...(more.also ? { scopes: more.also } : {}),
    }),
  );
}

async function launch(spec: McpServerSpec, session: Session, onEvent?: (e: ServerEvent) => void) {
  const server = await launchServer(spec, session, {
    tmpDir: tmp,
    ...(onEvent ? { onEvent } : {}),
  });
  open.add(server);
  return server;
}

const mode = (path: string) => statSync(path).mode & 0o777;
const readJson = (path: string) =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const sha256 = (value: string | undefined) =>
  value === undefined ? null : createHash('sha256').update(value).digest('hex');

/** The value of a secret field, compared without ever printing it; the field is then dropped. */
function takeSecret(
  object: Record<string, unknown>,
  field: string,
  expected: string | undefined,
): boolean {
  const value = object[field];
  delete object[field];
  return value === expected;
}

describe('gdriveServer() with the real @modelcontextprotocol/server-gdrive', () => {
  it('starts only with the injected token file (exact shape, 0600); a forced refresh rewrites it and restarts', async () => {
    const session = await signIn({ scopes: ['drive.readonly'] });
    const watch = leakWatch();
    const spec = gdriveServer({ command: process.execPath, args: [GDRIVE_ENTRY] });
    const server = await launch(spec, session, watch.onEvent);
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['search']);

    const dir = server.dir as string;
    const file = join(dir, 'gdrive-token.json');
    expect(mode(dir)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    const check = (c = session.current()) => {
      const content = readJson(file);
      // No expiry_date: without a refresh token, google-auth-library would refuse the
      // token in its last five minutes instead of using it.
      expect(Object.keys(content)).toEqual(['access_token', 'scope', 'token_type']);
      expect(takeSecret(content, 'access_token', c.accessToken.reveal())).toBe(true);
      expect(content).toEqual({ scope: c.scopes.join(' '), token_type: 'Bearer' });
    };
    check();
    expect(readJson(file).scope).toContain(DRIVE);
    const firstPid = server.pid;

    const restarted = new Promise<void>((resolve) =>
      server.onEvent((e) => {
        if (e.type === 'server_started' && e.generation === 2) resolve();
      }),
    );
    const next = await session.refresh();
    await restarted;
    check(next);
    expect(server.pid).not.toBe(firstPid);
    expect((await server.client.listTools()).tools).toHaveLength(1);
    watch.record(server);
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('the default command, npx with the pinned package, runs the installed server', async () => {
    const session = await signIn({ scopes: ['drive.readonly'] });
    const server = await launch(gdriveServer(), session);
    expect((await server.client.listTools()).tools.map((t) => t.name)).toEqual(['search']);
  });

  it('a user who unchecked Drive on the consent screen: INSUFFICIENT_SCOPE at launch, nothing spawned', async () => {
    const session = await signIn({ scopes: ['drive.readonly'] }, { account: DECLINER });
    expect(session.current().scopes).not.toContain(DRIVE);
    const error = await launch(
      gdriveServer({ command: process.execPath, args: [GDRIVE_ENTRY] }),
      session,
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INSUFFICIENT_SCOPE')).toBe(true);
    expect((error as Error).message).toContain(DRIVE);
    expect(childPids()).toEqual([]);
  });

  it('a login granted the wider drive scope launches the recipe that needs drive.readonly', async () => {
    // This user declines drive.readonly itself, so only the wider scope is granted.
    const session = await signIn({ scopes: ['drive'] }, { account: DECLINER });
    expect(session.current().scopes).not.toContain(DRIVE);
    expect(session.current().scopes).toContain('https://www.googleapis.com/auth/drive');
    const server = await launch(
      gdriveServer({ command: process.execPath, args: [GDRIVE_ENTRY] }),
      session,
    );
    expect((await server.client.listTools()).tools.map((t) => t.name)).toEqual(['search']);
  });
});

describe('gmailServer(): the files @gongrzhe/server-gmail-autoauth-mcp reads', () => {
  it('the installed-app client file and the token file, exactly, 0600, named by the environment', async () => {
    const session = await signIn({ scopes: ['gmail.modify', 'gmail.settings.basic'] });
    const c = session.current();
    const description = await spawnDescription(gmailServer(), session, { tmpDir: tmp });
    try {
      expect(description.command).toBe('npx');
      expect(description.args).toEqual(['-y', GMAIL_PACKAGE]);
      expect(description.refresh).toBe('restart');
      const clientPath = join(description.dir, 'gcp-oauth.keys.json');
      const tokenPath = join(description.dir, 'credentials.json');
      expect(description.env.GMAIL_OAUTH_PATH).toBe(clientPath);
      expect(description.env.GMAIL_CREDENTIALS_PATH).toBe(tokenPath);
      expect([...description.files].sort()).toEqual([tokenPath, clientPath].sort());
      expect(mode(clientPath)).toBe(0o600);
      expect(mode(tokenPath)).toBe(0o600);

      const client = readJson(clientPath);
      const installed = client.installed as Record<string, unknown>;
      expect(Object.keys(client)).toEqual(['installed']);
      expect(Object.keys(installed)).toEqual([
        'client_id',
        'client_secret',
        'redirect_uris',
        'auth_uri',
        'token_uri',
      ]);
      expect(takeSecret(installed, 'client_secret', fake.client.clientSecret)).toBe(true);
      expect(installed).toEqual({
        client_id: fake.client.clientId,
        redirect_uris: ['http://localhost'],
        auth_uri: 'https://accounts.google.com/o/oauth2/v2/auth',
        token_uri: 'https://oauth2.googleapis.com/token',
      });

      const token = readJson(tokenPath);
      expect(Object.keys(token)).toEqual([
        'access_token',
        'refresh_token',
        'scope',
        'token_type',
        'expiry_date',
      ]);
      expect(takeSecret(token, 'access_token', c.accessToken.reveal())).toBe(true);
      expect(takeSecret(token, 'refresh_token', c.refreshToken?.reveal())).toBe(true);
      expect(token).toEqual({
        scope: c.scopes.join(' '),
        token_type: 'Bearer',
        expiry_date: c.expiresAt,
      });
      expect(token.scope).toContain(googleScope('gmail.settings.basic'));
      const watch = leakWatch();
      watch.record(description);
      watch.record(JSON.stringify(description));
      expect(watch.leaks(fake.secrets())).toBe(0);
    } finally {
      await description.dispose();
    }
    expect(existsSync(description.dir)).toBe(false);
  });

  it('through a token-exchange proxy: no client secret and no refresh token in the files', async () => {
    const proxy = await startTokenExchangeProxy(fake.endpoints.token, fake.client);
    try {
      const session = await signIn({
        tokenExchange: proxy.url,
        scopes: ['gmail.modify', 'gmail.settings.basic'],
      });
      const description = await spawnDescription(gmailServer(), session, { tmpDir: tmp });
      try {
        const installed = readJson(join(description.dir, 'gcp-oauth.keys.json'))
          .installed as object;
        expect(Object.keys(installed)).toEqual([
          'client_id',
          'redirect_uris',
          'auth_uri',
          'token_uri',
        ]);
        const token = readJson(join(description.dir, 'credentials.json'));
        expect(Object.keys(token)).toEqual(['access_token', 'scope', 'token_type']);
      } finally {
        await description.dispose();
      }
    } finally {
      await proxy.close();
    }
  });
});

describe('workspaceServer(): what workspace-mcp reads', () => {
  const recipe = workspaceServer({ tools: ['gmail', 'drive'] });

  it('<email>.json in WORKSPACE_MCP_CREDENTIALS_DIR and the environment, in the documented format', async () => {
    const session = await signIn({ scopes: [] }, { also: recipe.scopes });
    const c = session.current();
    const description = await spawnDescription(recipe, session, { tmpDir: tmp });
    try {
      expect(description.command).toBe('uvx');
      expect(description.args).toEqual([
        'workspace-mcp',
        '--single-user',
        '--tools',
        'gmail',
        'drive',
      ]);
      expect(description.refresh).toBe('self');
      const file = join(description.dir, `${ADA}.json`);
      expect(description.files).toEqual([file]);
      expect(mode(file)).toBe(0o600);
      const env = { ...description.env };
      expect(takeSecret(env, 'GOOGLE_OAUTH_CLIENT_SECRET', fake.client.clientSecret)).toBe(true);
      expect(env).toMatchObject({
        GOOGLE_OAUTH_CLIENT_ID: fake.client.clientId,
        USER_GOOGLE_EMAIL: ADA,
        WORKSPACE_MCP_CREDENTIALS_DIR: description.dir,
      });

      const content = readJson(file);
      expect(Object.keys(content)).toEqual([
        'token',
        'refresh_token',
        'token_uri',
        'client_id',
        'client_secret',
        'scopes',
        'expiry',
      ]);
      expect(takeSecret(content, 'token', c.accessToken.reveal())).toBe(true);
      expect(takeSecret(content, 'refresh_token', c.refreshToken?.reveal())).toBe(true);
      expect(takeSecret(content, 'client_secret', fake.client.clientSecret)).toBe(true);
      const expiry = new Date(Math.floor((c.expiresAt as number) / 1000) * 1000)
        .toISOString()
        .slice(0, 19);
      expect(content).toEqual({
        token_uri: 'https://oauth2.googleapis.com/token',
        client_id: fake.client.clientId,
        scopes: [...c.scopes],
        expiry,
      });
      expect(content.expiry).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      for (const scope of recipe.scopes) expect(content.scopes).toContain(scope);
    } finally {
      await description.dispose();
    }
  });

  it.skipIf(!HAS_PYTHON)(
    "Python reads the file as workspace-mcp's credential store does: naive UTC expiry, refreshable",
    async () => {
      const session = await signIn({ scopes: [] }, { also: recipe.scopes });
      const c = session.current();
      const description = await spawnDescription(recipe, session, { tmpDir: tmp });
      try {
        const { stdout } = await run('python3', [READER], {
          env: description.env,
          timeout: 20_000,
        });
        const read = JSON.parse(stdout) as Record<string, unknown>;
        expect(read).toEqual({
          users: [ADA],
          mode: '0o600',
          keys: [
            'token',
            'refresh_token',
            'token_uri',
            'client_id',
            'client_secret',
            'scopes',
            'expiry',
          ],
          expiry: new Date(Math.floor((c.expiresAt as number) / 1000) * 1000)
            .toISOString()
            .slice(0, 19),
          naive: true,
          can_refresh: true,
          token_uri: 'https://oauth2.googleapis.com/token',
          client_id: fake.client.clientId,
          client_id_matches_env: true,
          client_secret_matches_env: true,
          scopes: [...c.scopes],
          token: sha256(c.accessToken.reveal()),
          refresh_token: sha256(c.refreshToken?.reveal()),
          client_secret: sha256(fake.client.clientSecret),
        });
      } finally {
        await description.dispose();
      }
    },
  );

  it('launched (a stand-in for workspace-mcp): self-refreshing, so a refresh neither rewrites its file nor restarts it', async () => {
    const session = await signIn({ scopes: [] }, { also: recipe.scopes });
    const watch = leakWatch();
    const standIn = workspaceServer({
      tools: ['gmail', 'drive'],
      command: process.execPath,
      args: ['--import', TSX, STAND_IN],
    });
    const server = await launch(standIn, session, watch.onEvent);
    const report = async () => {
      const result = (await server.client.callTool({ name: 'report' })) as CallToolResult;
      const first = result.content[0];
      return JSON.parse(first?.type === 'text' ? first.text : '{}') as WorkspaceReport;
    };
    const before = await report();
    expect(before.args).toEqual(['--single-user', '--tools', 'gmail', 'drive']);
    expect(before.users).toEqual([ADA]);
    expect(before.token).toBe(sha256(session.current().accessToken.reveal()));
    expect(before.envNames).toEqual(
      expect.arrayContaining([
        'GOOGLE_OAUTH_CLIENT_ID',
        'GOOGLE_OAUTH_CLIENT_SECRET',
        'USER_GOOGLE_EMAIL',
        'WORKSPACE_MCP_CREDENTIALS_DIR',
      ]),
    );
    const fileBefore = readFileSync(join(server.dir as string, `${ADA}.json`), 'utf8');

    await session.refresh();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await report()).pid).toBe(before.pid);
    expect(readFileSync(join(server.dir as string, `${ADA}.json`), 'utf8') === fileBefore).toBe(
      true,
    );
    expect(watch.events.map((e) => e.type)).not.toContain('server_restarting');
    watch.record(server);
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('through a token-exchange proxy: MISSING_CREDENTIAL naming the client secret it needs to refresh', async () => {
    const proxy = await startTokenExchangeProxy(fake.endpoints.token, fake.client);
    try {
      const session = await signIn(
        { tokenExchange: proxy.url, scopes: [] },
        { also: recipe.scopes },
      );
      const error = await spawnDescription(recipe, session, { tmpDir: tmp }).catch(
        (e: unknown) => e,
      );
      expect(isLatchkeyError(error, 'MISSING_CREDENTIAL')).toBe(true);
      expect((error as Error).message).toContain('"client.clientSecret"');
      // The client id is there: the provider has a client, only without a secret.
      expect((error as Error).message).not.toContain('client.clientId');
    } finally {
      await proxy.close();
    }
  });

  it('a login without the workspace scopes: INSUFFICIENT_SCOPE naming them', async () => {
    // Otherwise Google reports the scopes granted in the tests before (include_granted_scopes).
    fake.revokeAll();
    const session = await signIn({ scopes: ['drive.readonly'] });
    const error = await spawnDescription(recipe, session, { tmpDir: tmp }).catch((e: unknown) => e);
    if (!(error instanceof Error)) await (error as { dispose(): Promise<void> }).dispose();
    expect(isLatchkeyError(error, 'INSUFFICIENT_SCOPE')).toBe(true);
    expect((error as Error).message).toContain(googleScope('profile'));
  });
});
