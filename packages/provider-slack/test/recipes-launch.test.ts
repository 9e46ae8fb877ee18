// The recipes launch the real Slack MCP servers from npm, with this Node, offline.
// server-slack starts with the bot token and the team id. slack-mcp-server (a Go binary
// on npm) checks its token with auth.test before it starts; it reaches the local Slack
// through a CONNECT proxy on 127.0.0.1 that ends TLS with a certificate the test makes
// (SLACK_MCP_PROXY, SLACK_MCP_SERVER_CA), so nothing leaves 127.0.0.1.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  authenticate,
  type Credentials,
  isLatchkeyError,
  type McpServerSpec,
  memoryStore,
  Secret,
  type ServerEvent,
} from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
import { leftoverProcesses } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SLACK_MCP_SERVER_USER_SCOPES,
  SLACK_SERVER_BOT_SCOPES,
  slackMcpServer,
  slackProvider,
  slackServer,
} from '../src/index.js';
import { type FakeSlack, PASSWORD, startFakeSlack } from './fixtures/fake-slack.js';
import { captureOutput, consentingUser, freePort, leaked } from './fixtures/helpers.js';
import { type SlackTlsProxy, startSlackTlsProxy } from './fixtures/tls-proxy.js';

const require = createRequire(import.meta.url);
const output = captureOutput();

function bin(pkg: string, name: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = require(manifest).bin as Record<string, string>;
  return join(dirname(manifest), bins[name] as string);
}

const run = (pkg: string, name: string) => ({ command: process.execPath, args: [bin(pkg, name)] });
const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36';

let slack: FakeSlack;
let proxy: SlackTlsProxy;
let tmp: string;
let home: string;
const open = new Set<LaunchedServer>();

beforeAll(async () => {
  slack = await startFakeSlack();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-slack-launch-'));
  home = join(tmp, 'home');
  await mkdir(home, { mode: 0o700 });
  await mkdir(join(tmp, 'launch'), { mode: 0o700 });
  proxy = await startSlackTlsProxy(slack.server, tmp);
});

afterAll(async () => {
  await proxy?.close();
  await slack?.close();
  await rm(tmp, { recursive: true, force: true });
  expect(leaked(slack?.issued ?? [], output())).toEqual([]);
});

afterEach(async () => {
  for (const server of open) await server.close();
  open.clear();
  expect(await leftoverProcesses(/server-slack|slack-mcp-server/)).toEqual([]);
  // No launch directory (with credential files) is left behind.
  const root = join(tmp, 'launch', `latchkey-${process.getuid?.() ?? 'user'}`);
  expect(await readdir(root).catch(() => [])).toEqual([]);
  // Nothing asked the proxy for anything but Slack.
  expect(proxy.refused).toEqual([]);
});

async function launch(
  spec: McpServerSpec,
  credentials: Parameters<typeof launchServer>[1],
  events: ServerEvent[],
) {
  const server = await launchServer(spec, credentials, {
    tmpDir: join(tmp, 'launch'),
    onEvent: (e) => events.push(e),
    // Where slack-mcp-server keeps its cache, and the way to the local Slack.
    env: {
      HOME: home,
      XDG_CACHE_HOME: join(home, '.cache'),
      SLACK_MCP_PROXY: proxy.url,
      SLACK_MCP_SERVER_CA: proxy.caFile,
    },
    startTimeoutMs: 30_000,
  });
  open.add(server);
  return server;
}

/**
 * Signs in at the local Slack: a bot login (client secret, bot scopes), a PKCE user
 * login, or, with `rotation`, both tokens of an app with token rotation whose tokens
 * live `rotation.lifetime` seconds.
 */
async function signIn(options: { bot: boolean; rotation?: { lifetime: number } }) {
  const port = await freePort();
  const rotating = options.rotation !== undefined;
  slack.app = {
    clientId: '1111.2222',
    ...(options.bot || rotating ? { clientSecret: 'fake-slack-client-secret-0123456789' } : {}),
    redirectUri: `http://127.0.0.1:${port}/slack/callback`,
    rotation: rotating,
    ...(options.rotation ? { tokenLifetime: options.rotation.lifetime } : {}),
    team: 'T0AAA111',
  };
  const provider = rotating
    ? slackProvider({
        clientId: '1111.2222',
        clientSecret: 'fake-slack-client-secret-0123456789',
        botScopes: SLACK_SERVER_BOT_SCOPES,
        userScopes: SLACK_MCP_SERVER_USER_SCOPES,
        redirectPort: port,
        baseUrl: slack.url,
      })
    : options.bot
      ? slackProvider({
          clientId: '1111.2222',
          clientSecret: 'fake-slack-client-secret-0123456789',
          botScopes: SLACK_SERVER_BOT_SCOPES,
          redirectPort: port,
          baseUrl: slack.url,
        })
      : slackProvider({
          clientId: '1111.2222',
          pkce: true,
          userScopes: SLACK_MCP_SERVER_USER_SCOPES,
          redirectPort: port,
          baseUrl: slack.url,
        });
  return authenticate(provider, { store: memoryStore(), openUrl: consentingUser().openUrl });
}

describe('server-slack (@modelcontextprotocol/server-slack)', () => {
  it('starts with the bot token and team id of a Slack OAuth login: 8 tools', async () => {
    const session = await signIn({ bot: true });
    const events: ServerEvent[] = [];
    const server = await launch(
      slackServer(run('@modelcontextprotocol/server-slack', 'mcp-server-slack')),
      session,
      events,
    );
    const { tools } = await server.client.listTools();
    expect(tools).toHaveLength(8);
    expect(tools.map((t) => t.name)).toContain('slack_list_channels');
    expect(
      events.some(
        (e) => e.type === 'server_stderr' && e.line.includes('Slack MCP Server running on stdio'),
      ),
    ).toBe(true);
    expect(leaked(slack.issued, events)).toEqual([]);
  });

  it('is refused a user-token login before anything starts', async () => {
    const session = await signIn({ bot: false });
    const error = await launchServer(
      slackServer(run('@modelcontextprotocol/server-slack', 'mcp-server-slack')),
      session,
      { tmpDir: join(tmp, 'launch') },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INSUFFICIENT_SCOPE')).toBe(true);
  });
});

// The npm package slack-mcp-server only picks a per-platform binary package; the
// repository installs the linux-x64 one (an optional dependency) and runs it directly.
const slackMcpBinary = (() => {
  try {
    const manifest = require.resolve('slack-mcp-server-linux-amd64/package.json');
    return join(dirname(manifest), 'bin', 'slack-mcp-server-linux-amd64');
  } catch {
    return undefined;
  }
})();

describe.skipIf(slackMcpBinary === undefined)(
  'slack-mcp-server (npm, Go binary; linux-x64 only)',
  () => {
    const recipe = () => slackMcpServer({ command: slackMcpBinary as string });

    it('starts with the xoxp user token of a PKCE login, passes auth.test and serves tools', async () => {
      const session = await signIn({ bot: false });
      slack.authTests.length = 0;
      slack.apiCalls.length = 0;
      const events: ServerEvent[] = [];
      const server = await launch(recipe(), session, events);
      const { tools } = await server.client.listTools();
      expect(tools.map((t) => t.name)).toContain('channels_list');
      // Its startup check reached the local Slack, with the user token.
      expect(slack.authTests.length).toBeGreaterThan(0);
      expect(slack.authTests.every((call) => call.kind === 'user' && call.ok)).toBe(true);
      expect(proxy.connects.every((c) => /slack\.com:443$/.test(c))).toBe(true);
      const listed = await server.client.callTool({
        name: 'channels_list',
        arguments: { channel_types: 'public_channel' },
      });
      expect(JSON.stringify(listed.content)).toContain('C0GENERAL1');
      expect(leaked(slack.issued, events)).toEqual([]);
    });

    it('a rotating user token that expired is refreshed before the server gets it', async () => {
      // Bot and user scopes with token rotation: two tokens, each with its own refresh token.
      const session = await signIn({ bot: true, rotation: { lifetime: 3 } });
      const first = session.current();
      // Both tokens expire; what Slack issues from now on lives for 12 hours.
      await new Promise((r) => setTimeout(r, (first.expiresAt as number) - Date.now() + 300));
      slack.app = { ...slack.app, tokenLifetime: 43_200 };
      const stale = await fetch(`${slack.url}/api/auth.test`, {
        method: 'POST',
        headers: { authorization: `Bearer ${first.secrets.userToken?.reveal()}` },
      });
      expect(await stale.json()).toMatchObject({ ok: false, error: 'token_expired' });

      slack.authTests.length = 0;
      const events: ServerEvent[] = [];
      const server = await launch(recipe(), session, events);
      const { tools } = await server.client.listTools();
      expect(tools.map((t) => t.name)).toContain('channels_list');
      // The server checked a user token with auth.test, and Slack took it.
      expect(slack.authTests.length).toBeGreaterThan(0);
      expect(slack.authTests.every((call) => call.kind === 'user' && call.ok)).toBe(true);
      const now = session.current();
      expect(now.secrets.userToken?.reveal()).not.toBe(first.secrets.userToken?.reveal());
      expect(now.linkedTokens?.userToken?.expiresAt).toBeGreaterThan(Date.now() + 43_000_000);
      expect(leaked(slack.issued, events)).toEqual([]);
    });

    it('gets xoxc, xoxd and the browser user agent from a browser session (what 1.3.0 sends, recorded)', async () => {
      // A browser sign-in at the local Slack, as the browser provider stores it.
      const signin = await fetch(`${slack.url}/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: 'ada@example.com', password: PASSWORD }).toString(),
        redirect: 'manual',
      });
      await signin.body?.cancel();
      const browser = slack.lastBrowserSession();
      const credentials: Credentials = {
        providerId: 'slack-browser',
        account: 'T0AAA111',
        tokenType: 'bearer',
        accessToken: new Secret(browser?.tokens.T0AAA111 as string),
        scopes: [],
        secrets: { d: new Secret(browser?.cookie as string) },
        metadata: { teamId: 'T0AAA111', userAgent: USER_AGENT },
        obtainedAt: Date.now(),
      };
      slack.authTests.length = 0;
      const events: ServerEvent[] = [];
      const result = await launch(recipe(), credentials, events).then(
        async (server) => ({ tools: (await server.client.listTools()).tools }),
        (error: unknown) => ({ error }),
      );
      // It sent the xoxc token (form field) with the browser's User-Agent to auth.test...
      const first = slack.authTests[0];
      expect(first).toMatchObject({ kind: 'client', tokenIn: 'form', userAgent: USER_AGENT });
      if (first?.cookie) {
        expect('tools' in result && result.tools.map((t) => t.name)).toContain('channels_list');
      } else {
        // ...but slack-mcp-server 1.3.0 sent no d cookie through SLACK_MCP_PROXY here, so
        // the local Slack (like Slack) refused the xoxc token and the server exited.
        expect('error' in result && isLatchkeyError(result.error, 'SERVER_EXITED')).toBe(true);
      }
      expect(leaked(slack.issued, events, result)).toEqual([]);
    });
  },
);
