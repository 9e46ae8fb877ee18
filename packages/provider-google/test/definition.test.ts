// googleProvider(), the scope catalogue and the recipes as data: what they hold and how
// they refuse bad options, before anything talks to the network.
import { isLatchkeyError, type OAuthStrategy, Secret } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import {
  GDRIVE_PACKAGE,
  GMAIL_PACKAGE,
  GOOGLE_ENDPOINTS,
  GOOGLE_SCOPES,
  type GoogleScopeInput,
  gdriveServer,
  gmailServer,
  googleProvider,
  googleScope,
  IDENTITY_SCOPES,
  WORKSPACE_TOOL_SCOPES,
  type WorkspaceTool,
  workspaceServer,
} from '../src/index.js';

const URL_PREFIX = 'https://www.googleapis.com/auth/';
const CLIENT = {
  clientId: '123-abc.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-not-a-real-one',
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function strategyOf(options: Parameters<typeof googleProvider>[0]): OAuthStrategy {
  return googleProvider(options).strategy as OAuthStrategy;
}

describe('googleProvider(): definition errors', () => {
  it('without a client secret or a token-exchange proxy: PROVIDER_CONFIG saying why', () => {
    const error = thrown(() =>
      googleProvider({ clientId: CLIENT.clientId, scopes: ['drive.readonly'] }),
    );
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('client secret');
    expect(message).toContain('PKCE');
    expect(message).toContain('token-exchange proxy');
    expect(message).toContain('clientSecret');
    expect(message).toContain('tokenExchange');
  });

  it('with both a secret and a proxy: PROVIDER_CONFIG (the proxy holds the secret)', () => {
    const error = thrown(() =>
      googleProvider({ ...CLIENT, tokenExchange: 'https://app.example/token', scopes: [] }),
    );
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('tokenExchange');
  });

  it('a scope outside the catalogue: PROVIDER_CONFIG naming it and its position', () => {
    const error = thrown(() =>
      googleProvider({
        ...CLIENT,
        scopes: ['drive.readonly', 'drve.readonly' as GoogleScopeInput],
      }),
    );
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('scopes[1]');
    expect((error as Error).message).toContain('"drve.readonly"');
  });

  it('a missing client id, an empty hostedDomain, a plain-http endpoint: PROVIDER_CONFIG', () => {
    for (const options of [
      { ...CLIENT, clientId: '', scopes: [] },
      { ...CLIENT, hostedDomain: ' ', scopes: [] },
      { ...CLIENT, scopes: [], endpoints: { token: 'http://oauth2.example/token' } },
    ]) {
      expect(
        isLatchkeyError(
          thrown(() => googleProvider(options)),
          'PROVIDER_CONFIG',
        ),
      ).toBe(true);
    }
  });

  it('misuse throws TypeError', () => {
    expect(thrown(() => googleProvider(undefined as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => googleScope(42 as never))).toBeInstanceOf(TypeError);
  });
});

describe('the scope catalogue', () => {
  it('short names become Google scope URLs; full URLs pass; email and profile become userinfo URLs', () => {
    expect(googleScope('drive.readonly')).toBe(`${URL_PREFIX}drive.readonly`);
    expect(googleScope('gmail.settings.basic')).toBe(`${URL_PREFIX}gmail.settings.basic`);
    expect(googleScope('openid')).toBe('openid');
    expect(googleScope('email')).toBe(`${URL_PREFIX}userinfo.email`);
    expect(googleScope('profile')).toBe(`${URL_PREFIX}userinfo.profile`);
    expect(googleScope('https://mail.google.com/')).toBe('https://mail.google.com/');
    expect(
      isLatchkeyError(
        thrown(() => googleScope('drive.everything' as never)),
        'PROVIDER_CONFIG',
      ),
    ).toBe(true);
  });

  it('holds every scope of the reference, by product', () => {
    expect(GOOGLE_SCOPES.gmail).toContain('gmail.modify');
    expect(GOOGLE_SCOPES.drive).toEqual(['drive', 'drive.readonly', 'drive.file']);
    expect(Object.keys(GOOGLE_SCOPES).sort()).toEqual([
      'calendar',
      'chat',
      'docs',
      'drive',
      'forms',
      'gmail',
      'identity',
      'sheets',
      'slides',
      'tasks',
    ]);
    for (const names of Object.values(GOOGLE_SCOPES))
      for (const name of names) expect(googleScope(name)).toBeTruthy();
  });

  it('the provider always asks for openid and email first, without duplicates', () => {
    const { scopes } = strategyOf({
      ...CLIENT,
      scopes: ['email', 'drive.readonly', `${URL_PREFIX}drive.readonly`, 'profile'],
    });
    expect(IDENTITY_SCOPES).toEqual(['openid', `${URL_PREFIX}userinfo.email`]);
    expect(scopes).toEqual([
      'openid',
      `${URL_PREFIX}userinfo.email`,
      `${URL_PREFIX}drive.readonly`,
      `${URL_PREFIX}userinfo.profile`,
    ]);
  });
});

describe('googleProvider(): the data', () => {
  it("Google's real endpoints, no discovery, the secret in the request body, the 7-day hint", () => {
    const provider = googleProvider({ ...CLIENT, scopes: ['drive.readonly'] });
    const strategy = provider.strategy as OAuthStrategy;
    expect(provider.id).toBe('google');
    expect(strategy.issuer).toBe('https://accounts.google.com');
    expect(strategy.discovery).toBe(false);
    expect(strategy.endpoints).toEqual({
      authorization: 'https://accounts.google.com/o/oauth2/v2/auth',
      token: 'https://oauth2.googleapis.com/token',
      revocation: 'https://oauth2.googleapis.com/revoke',
      userinfo: 'https://openidconnect.googleapis.com/v1/userinfo',
    });
    expect(GOOGLE_ENDPOINTS.issuer).toBe(strategy.issuer);
    expect(strategy.clientAuthentication.method).toBe('client_secret_post');
    expect(provider.reauthHint).toContain('7 days');
    expect(provider.reauthHint).toContain('"Testing"');
    // The secret never prints.
    expect(JSON.stringify(provider)).not.toContain(CLIENT.clientSecret);
  });

  it('a token-exchange proxy instead of a secret: a public client at the proxy', () => {
    const strategy = strategyOf({
      clientId: CLIENT.clientId,
      tokenExchange: 'https://app.example/google/token',
      scopes: [],
    });
    expect(strategy.clientAuthentication.method).toBe('none');
    expect(strategy.tokenExchange).toEqual({ url: 'https://app.example/google/token' });
  });

  it('a Secret is accepted as the client secret', () => {
    const strategy = strategyOf({
      ...CLIENT,
      clientSecret: new Secret(CLIENT.clientSecret),
      scopes: [],
    });
    expect(strategy.clientAuthentication.method).toBe('client_secret_post');
  });

  it('offline access; consent only without a stored refresh token; incremental consent; hints', () => {
    const plain = strategyOf({ ...CLIENT, scopes: [] }).authorizationParams;
    expect(plain?.({ hasRefreshToken: false, scopes: [] })).toEqual({
      access_type: 'offline',
      include_granted_scopes: 'true',
      prompt: 'consent',
    });
    expect(plain?.({ hasRefreshToken: true, scopes: [] })).toEqual({
      access_type: 'offline',
      include_granted_scopes: 'true',
    });
    const hinted = strategyOf({
      ...CLIENT,
      scopes: [],
      loginHint: 'ada@example.com',
      hostedDomain: 'example.com',
    });
    expect(hinted.authorizationParams?.({ hasRefreshToken: true, scopes: [] })).toMatchObject({
      login_hint: 'ada@example.com',
      hd: 'example.com',
    });
    // The account the host asks for wins over the fixed hint.
    expect(
      hinted.authorizationParams?.({
        hasRefreshToken: true,
        scopes: [],
        account: 'grace@example.com',
      }),
    ).toMatchObject({ login_hint: 'grace@example.com' });
  });

  it('endpoints can be replaced one by one', () => {
    const strategy = strategyOf({
      ...CLIENT,
      scopes: [],
      endpoints: { token: 'http://127.0.0.1:9/token' },
    });
    expect(strategy.endpoints?.token).toBe('http://127.0.0.1:9/token');
    expect(strategy.endpoints?.authorization).toBe(GOOGLE_ENDPOINTS.authorization);
  });
});

describe('recipes as data', () => {
  it('gdriveServer(): npx with the pinned package, restart, drive.readonly, from google', () => {
    const spec = gdriveServer();
    expect(spec.transport).toEqual({
      kind: 'stdio',
      command: 'npx',
      args: ['-y', GDRIVE_PACKAGE],
      env: {},
    });
    expect(GDRIVE_PACKAGE).toBe('@modelcontextprotocol/server-gdrive@2025.1.14');
    expect(spec).toMatchObject({ id: 'gdrive', provider: 'google', refresh: 'restart' });
    expect(spec.scopes).toEqual([`${URL_PREFIX}drive.readonly`]);
    expect(spec.credentials).toEqual(['accessToken', 'expiresAt']);
  });

  it('command and args replace the package runner', () => {
    const spec = gdriveServer({ command: '/usr/bin/node', args: ['/opt/gdrive/dist/index.js'] });
    expect(spec.transport).toMatchObject({
      command: '/usr/bin/node',
      args: ['/opt/gdrive/dist/index.js'],
    });
    expect(gmailServer({ command: 'mcp-server-gmail' }).transport).toMatchObject({ args: [] });
  });

  it('gmailServer(): npx with the pinned package, restart, gmail.modify and gmail.settings.basic', () => {
    const spec = gmailServer();
    expect(spec.transport).toMatchObject({ command: 'npx', args: ['-y', GMAIL_PACKAGE] });
    expect(spec).toMatchObject({ id: 'gmail', provider: 'google', refresh: 'restart' });
    expect(spec.scopes).toEqual([`${URL_PREFIX}gmail.modify`, `${URL_PREFIX}gmail.settings.basic`]);
    // The client comes from the provider; the secret is not needed (a token-exchange login works).
    expect(spec.credentials).toEqual(['accessToken', 'expiresAt', 'client.clientId']);
  });

  it('workspaceServer(): uvx, single-user, the tools, self-refreshing, identity + tool scopes', () => {
    const spec = workspaceServer({ tools: ['gmail', 'drive', 'gmail'] });
    expect(spec.transport).toMatchObject({
      command: 'uvx',
      args: ['workspace-mcp', '--single-user', '--tools', 'gmail', 'drive'],
    });
    expect(spec).toMatchObject({ id: 'google-workspace', provider: 'google', refresh: 'self' });
    expect(spec.scopes.slice(0, 3)).toEqual([
      'openid',
      `${URL_PREFIX}userinfo.email`,
      `${URL_PREFIX}userinfo.profile`,
    ]);
    const expected = [...WORKSPACE_TOOL_SCOPES.gmail.full, ...WORKSPACE_TOOL_SCOPES.drive.full].map(
      googleScope,
    );
    expect(spec.scopes.slice(3)).toEqual([...new Set(expected)]);
    expect(spec.credentials).toEqual([
      'accessToken',
      'refreshToken',
      'expiresAt',
      'metadata.email',
      'client.clientId',
      'client.clientSecret',
    ]);
  });

  it('workspaceServer({ readOnly }): --read-only and only read-only scopes', () => {
    const spec = workspaceServer({ tools: ['docs', 'calendar'], readOnly: true });
    expect(spec.transport).toMatchObject({
      args: ['workspace-mcp', '--single-user', '--read-only', '--tools', 'docs', 'calendar'],
    });
    expect(spec.scopes).toEqual([
      'openid',
      `${URL_PREFIX}userinfo.email`,
      `${URL_PREFIX}userinfo.profile`,
      `${URL_PREFIX}documents.readonly`,
      `${URL_PREFIX}drive.readonly`,
      `${URL_PREFIX}calendar.readonly`,
    ]);
  });

  it('workspaceServer(): every tool maps to catalogue scopes; bad tools are refused', () => {
    const all = Object.keys(WORKSPACE_TOOL_SCOPES) as WorkspaceTool[];
    expect(workspaceServer({ tools: all }).scopes.length).toBeGreaterThan(20);
    expect(
      isLatchkeyError(
        thrown(() => workspaceServer({ tools: [] })),
        'SERVER_CONFIG',
      ),
    ).toBe(true);
    const error = thrown(() => workspaceServer({ tools: ['photos' as WorkspaceTool] }));
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('"photos"');
    expect(thrown(() => workspaceServer({ tools: 'gmail' as never }))).toBeInstanceOf(TypeError);
  });
});
