// What the Slack providers and recipes are made of, and the mistakes they refuse when
// they are defined, before any browser opens.
import {
  type Credentials,
  isLatchkeyError,
  type OAuthStrategy,
  Secret,
  spawnDescription,
} from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import {
  mapSlackTokenResponse,
  SLACK_MCP_SERVER_USER_SCOPES,
  SLACK_SERVER_BOT_SCOPES,
  slackBrowserProvider,
  slackMcpServer,
  slackProvider,
  slackServer,
  userScope,
} from '../src/index.js';

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected PROVIDER_CONFIG');
}

describe('slackProvider definition', () => {
  it('reads like Slack: comma-separated bot scopes, user_scope, oauth.v2.access, fixed redirect', () => {
    const slack = slackProvider({
      clientId: '1111.2222',
      clientSecret: 'secret',
      botScopes: SLACK_SERVER_BOT_SCOPES,
      userScopes: ['search:read'],
    });
    const s = slack.strategy as OAuthStrategy;
    expect(slack.id).toBe('slack');
    expect(s.issuer).toBe('https://slack.com');
    expect(s.discovery).toBe(false);
    expect(s.endpoints).toEqual({
      authorization: 'https://slack.com/oauth/v2/authorize',
      token: 'https://slack.com/api/oauth.v2.access',
    });
    expect(s.scopeSeparator).toBe(',');
    expect(s.scopes).toEqual(SLACK_SERVER_BOT_SCOPES);
    expect(s.authorizationParams?.({ hasRefreshToken: false, scopes: [] })).toEqual({
      user_scope: 'search:read',
    });
    expect(s.redirect).toEqual({ port: 53682, path: '/slack/callback' });
    expect(s.clientAuthentication.method).toBe('client_secret_basic');
  });

  it('takes other Slack hosts (GovSlack) and a test server for every URL', () => {
    const gov = slackProvider({
      clientId: 'x',
      pkce: true,
      userScopes: ['search:read'],
      baseUrl: 'https://slack-gov.com',
    });
    expect((gov.strategy as OAuthStrategy).endpoints).toEqual({
      authorization: 'https://slack-gov.com/oauth/v2/authorize',
      token: 'https://slack-gov.com/api/oauth.v2.access',
    });
    const local = slackProvider({
      clientId: 'x',
      pkce: true,
      userScopes: ['search:read'],
      baseUrl: 'http://127.0.0.1:4000',
      apiUrl: 'http://127.0.0.1:4001/web-api',
      redirectPort: 4002,
    });
    const s = local.strategy as OAuthStrategy;
    expect(s.endpoints?.token).toBe('http://127.0.0.1:4001/web-api/oauth.v2.access');
    expect(s.redirect.port).toBe(4002);
    expect(s.clientAuthentication.method).toBe('none');
    expect(local.reauthHint).toContain('30 days');
    expect(
      configError(() =>
        slackProvider({
          clientId: 'x',
          pkce: true,
          userScopes: ['a'],
          baseUrl: 'http://slack.example',
        }),
      ),
    ).toContain('baseUrl');
  });

  it('refuses bot scopes for a PKCE app, saying why and what to do instead', () => {
    const message = configError(() =>
      slackProvider({
        clientId: 'x',
        pkce: true,
        botScopes: ['chat:write'],
        userScopes: ['search:read'],
      }),
    );
    expect(message).toContain('botScopes');
    expect(message).toContain('PKCE');
    expect(message).toContain('userScopes only');
  });

  it('needs the client secret (or a proxy holding it) unless PKCE is on', () => {
    expect(
      configError(() => slackProvider({ clientId: 'x', botScopes: ['chat:write'] })),
    ).toContain('clientSecret');
    expect(
      configError(() =>
        slackProvider({ clientId: 'x', pkce: true, clientSecret: 's', userScopes: ['a:b'] }),
      ),
    ).toContain('public client');
    const proxied = slackProvider({
      clientId: 'x',
      tokenExchange: 'https://app.example/slack/token',
      botScopes: ['chat:write'],
    });
    expect((proxied.strategy as OAuthStrategy).tokenExchange?.url).toBe(
      'https://app.example/slack/token',
    );
  });

  it('refuses empty, malformed and comma-joined scopes, and a missing client id', () => {
    expect(configError(() => slackProvider({ clientId: 'x', clientSecret: 's' }))).toContain(
      'at least one',
    );
    expect(
      configError(() => slackProvider({ clientId: 'x', clientSecret: 's', userScopes: ['a,b'] })),
    ).toContain('userScopes[0]');
    expect(
      configError(() => slackProvider({ clientId: '', clientSecret: 's', botScopes: ['a:b'] })),
    ).toContain('clientId');
    expect(() => slackProvider(undefined as never)).toThrow(TypeError);
  });
});

describe('oauth.v2.access answers, mapped', () => {
  it('puts the bot token first, keeps the nested user token aside, and names both scope sets', () => {
    const mapped = mapSlackTokenResponse({
      ok: true,
      access_token: 'xoxb-1',
      token_type: 'bot',
      scope: 'chat:write,channels:read',
      bot_user_id: 'UBOT',
      app_id: 'A1',
      team: { id: 'T1', name: 'Alpha' },
      enterprise: null,
      authed_user: { id: 'U1', scope: 'search:read', access_token: 'xoxp-1', token_type: 'user' },
    });
    expect(mapped.body).toEqual({
      access_token: 'xoxb-1',
      token_type: 'bearer',
      scope: 'chat:write channels:read user:search:read',
    });
    expect(mapped.linkedTokens).toEqual({ userToken: { access_token: 'xoxp-1' } });
    expect(mapped.metadata).toMatchObject({
      tokenKind: 'bot',
      teamId: 'T1',
      teamName: 'Alpha',
      appId: 'A1',
      botUserId: 'UBOT',
      userId: 'U1',
    });
  });

  it('uses the user token when there is no bot token, with its rotation fields', () => {
    const mapped = mapSlackTokenResponse({
      ok: true,
      app_id: 'A1',
      authed_user: {
        id: 'U1',
        scope: 'search:read,channels:history',
        access_token: 'xoxe.xoxp-1',
        token_type: 'user',
        refresh_token: 'xoxe-1-r',
        expires_in: 43200,
      },
      team: { id: 'T1' },
    });
    expect(mapped.body).toEqual({
      access_token: 'xoxe.xoxp-1',
      token_type: 'bearer',
      scope: 'user:search:read user:channels:history',
      refresh_token: 'xoxe-1-r',
      expires_in: 43200,
    });
    expect(mapped.linkedTokens).toBeUndefined();
    expect(mapped.metadata?.tokenKind).toBe('user');
  });

  it('reads a refreshed token from the top level, leaving the scopes held as they are', () => {
    const mapped = mapSlackTokenResponse({
      ok: true,
      token_type: 'user',
      access_token: 'xoxe.xoxp-2',
      refresh_token: 'xoxe-1-s',
      expires_in: 43200,
      scope: 'search:read',
    });
    expect(mapped.body.scope).toBeUndefined();
    expect(mapped.body.refresh_token).toBe('xoxe-1-s');
    expect(mapped.metadata?.tokenKind).toBe('user');
  });

  it('turns ok:false on HTTP 200 into RFC 6749 errors', () => {
    const error = (slack: string) => mapSlackTokenResponse({ ok: false, error: slack }).body.error;
    expect(error('invalid_code')).toBe('invalid_grant');
    expect(error('code_already_used')).toBe('invalid_grant');
    expect(error('invalid_refresh_token')).toBe('invalid_grant');
    expect(error('bad_client_secret')).toBe('invalid_client');
    expect(error('bad_redirect_uri')).toBe('invalid_request');
    expect(error('something_new')).toBe('invalid_request');
    expect(mapSlackTokenResponse({ ok: false, error: 'invalid_code' }).body.error_description).toBe(
      'Slack answered "invalid_code"',
    );
  });
});

describe('slackBrowserProvider definition', () => {
  it('starts at slack.com/signin and allows only Slack hosts', () => {
    const s = slackBrowserProvider().strategy;
    expect(s.kind).toBe('browser');
    if (s.kind !== 'browser') return;
    expect(s.startUrl).toBe('https://slack.com/signin');
    expect(s.allowedHosts).toEqual(['slack.com', '*.slack.com', 'app.slack.com']);
  });

  it('starts at the workspace’s own page when given its name, and on GovSlack', () => {
    const s = slackBrowserProvider({ workspace: 'acme' }).strategy;
    expect(s.kind === 'browser' && s.startUrl).toBe('https://acme.slack.com/');
    const gov = slackBrowserProvider({ baseUrl: 'https://slack-gov.com' }).strategy;
    expect(gov.kind === 'browser' && gov.allowedHosts).toEqual([
      'slack-gov.com',
      '*.slack-gov.com',
      'app.slack-gov.com',
    ]);
    expect(configError(() => slackBrowserProvider({ workspace: 'https://x' }))).toContain(
      'workspace',
    );
  });
});

function credentials(extra: Partial<Credentials>): Credentials {
  return {
    providerId: 'slack',
    account: 'T0AAA111',
    tokenType: 'bearer',
    accessToken: new Secret('xoxb-canary-bot-0123456789'),
    scopes: [],
    secrets: {},
    metadata: {},
    obtainedAt: Date.now(),
    ...extra,
  };
}

describe('recipes', () => {
  it('slackServer: SLACK_BOT_TOKEN, SLACK_TEAM_ID and SLACK_CHANNEL_IDS, the bot scopes declared', async () => {
    const spec = slackServer({ channelIds: ['C01', 'C02'] });
    expect(spec.transport).toMatchObject({
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-slack@2025.4.25'],
    });
    expect(spec.scopes).toEqual(SLACK_SERVER_BOT_SCOPES);
    expect(spec.credentials).toEqual(['accessToken', 'metadata.teamId']);
    const d = await spawnDescription(
      spec,
      credentials({
        scopes: SLACK_SERVER_BOT_SCOPES,
        metadata: { teamId: 'T0AAA111', tokenKind: 'bot' },
      }),
    );
    try {
      expect(d.env.SLACK_BOT_TOKEN).toBe('xoxb-canary-bot-0123456789');
      expect(d.env.SLACK_TEAM_ID).toBe('T0AAA111');
      expect(d.env.SLACK_CHANNEL_IDS).toBe('C01,C02');
      expect(d.refresh).toBe('restart');
    } finally {
      await d.dispose();
    }
  });

  it('a command of the host’s own without args gets no npx arguments, as in the Google recipes', () => {
    expect(slackServer({ command: '/opt/slack/server-slack' }).transport).toMatchObject({
      command: '/opt/slack/server-slack',
      args: [],
    });
    expect(slackMcpServer({ command: '/usr/local/bin/slack-mcp-server' }).transport).toMatchObject({
      command: '/usr/local/bin/slack-mcp-server',
      args: ['--transport', 'stdio'],
    });
    // With args, those are used, and the recipe's own follow them.
    expect(
      slackMcpServer({ command: process.execPath, args: ['/opt/slack-mcp/index.js'] }).transport,
    ).toMatchObject({ args: ['/opt/slack-mcp/index.js', '--transport', 'stdio'] });
  });

  it('slackServer refuses a user token and browser sessions', async () => {
    const user = credentials({
      accessToken: new Secret('xoxp-canary-user-0123456789'),
      scopes: SLACK_SERVER_BOT_SCOPES,
      metadata: { teamId: 'T0AAA111', tokenKind: 'user' },
    });
    await expect(spawnDescription(slackServer(), user)).rejects.toMatchObject({
      code: 'MISSING_CREDENTIAL',
    });
    const browser = credentials({ providerId: 'slack-browser', metadata: { teamId: 'T0AAA111' } });
    await expect(spawnDescription(slackServer(), browser)).rejects.toMatchObject({
      code: 'MISSING_CREDENTIAL',
    });
  });

  it('slackMcpServer: xoxc + xoxd + the browser user agent for a browser session', async () => {
    const spec = slackMcpServer({ customTls: true });
    const d = await spawnDescription(
      spec,
      credentials({
        providerId: 'slack-browser',
        accessToken: new Secret('xoxc-canary-0123456789'),
        secrets: { d: new Secret('xoxd-canary+/=0123456789') },
        metadata: { userAgent: 'Mozilla/5.0 Test', teamId: 'T0AAA111' },
      }),
    );
    try {
      expect(d.args).toEqual(['-y', 'slack-mcp-server@1.3.0', '--transport', 'stdio']);
      expect(d.env.SLACK_MCP_XOXC_TOKEN).toBe('xoxc-canary-0123456789');
      expect(d.env.SLACK_MCP_XOXD_TOKEN).toBe('xoxd-canary+/=0123456789');
      expect(d.env.SLACK_MCP_USER_AGENT).toBe('Mozilla/5.0 Test');
      expect(d.env.SLACK_MCP_CUSTOM_TLS).toBe('1');
      expect(d.env.SLACK_MCP_XOXP_TOKEN).toBeUndefined();
      expect(JSON.stringify(d)).not.toContain('canary');
    } finally {
      await d.dispose();
    }
  });

  it('slackMcpServer: the user token as xoxp, from either place, checking its user scopes', async () => {
    const all = SLACK_MCP_SERVER_USER_SCOPES.map(userScope);
    const nested = credentials({
      scopes: ['chat:write', ...all],
      secrets: { userToken: new Secret('xoxp-nested-0123456789') },
      metadata: { tokenKind: 'bot' },
    });
    const d = await spawnDescription(slackMcpServer(), nested);
    expect(d.env.SLACK_MCP_XOXP_TOKEN).toBe('xoxp-nested-0123456789');
    expect(d.env.SLACK_MCP_XOXC_TOKEN).toBeUndefined();
    await d.dispose();
    const primary = credentials({
      accessToken: new Secret('xoxp-primary-0123456789'),
      scopes: all,
      metadata: { tokenKind: 'user' },
    });
    const e = await spawnDescription(slackMcpServer(), primary);
    expect(e.env.SLACK_MCP_XOXP_TOKEN).toBe('xoxp-primary-0123456789');
    await e.dispose();

    const few = credentials({
      accessToken: new Secret('xoxp-few-0123456789'),
      scopes: [userScope('search:read')],
      metadata: { tokenKind: 'user' },
    });
    const error = await spawnDescription(slackMcpServer(), few).catch((x: unknown) => x);
    expect(error).toMatchObject({ code: 'INSUFFICIENT_SCOPE' });
    expect((error as Error).message).toContain('channels:history');
    const ok = await spawnDescription(slackMcpServer({ userScopes: ['search:read'] }), few);
    await ok.dispose();
    const botOnly = credentials({ metadata: { tokenKind: 'bot' } });
    await expect(spawnDescription(slackMcpServer(), botOnly)).rejects.toMatchObject({
      code: 'MISSING_CREDENTIAL',
    });
  });

  it('slackMcpServer never gets an expired user token: REAUTH_REQUIRED instead', async () => {
    const all = SLACK_MCP_SERVER_USER_SCOPES.map(userScope);
    // A rotating user token whose refresh token Slack no longer took, past its expiry.
    const expired = credentials({
      scopes: [...SLACK_SERVER_BOT_SCOPES, ...all],
      secrets: { userToken: new Secret('xoxe.xoxp-expired-0123456789') },
      linkedTokens: { userToken: { expiresAt: Date.now() - 1000 } },
      metadata: { tokenKind: 'bot', teamId: 'T0AAA111' },
    });
    const error = await spawnDescription(slackMcpServer(), expired).catch((x: unknown) => x);
    expect(error).toMatchObject({ code: 'REAUTH_REQUIRED' });
    expect((error as Error).message).toContain('secrets.userToken');
    expect((error as Error).message).not.toContain('xoxe.xoxp-expired');
    // server-slack takes the bot token only: the expired user token does not stop it.
    const bot = await spawnDescription(slackServer(), expired);
    expect(bot.env.SLACK_BOT_TOKEN).toBeDefined();
    await bot.dispose();
  });
});
