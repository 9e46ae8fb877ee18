import * as oauth from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  completeAuthorization,
  completeConsentInBrowser,
  completeDeviceAuthorization,
  DEVICE_CODE_GRANT,
  type LaunchedChromium,
  launchChromium,
  startAuthServer,
  type TestAuthServer,
} from '../src/index.js';
import {
  type CallbackServer,
  clientFor,
  insecure,
  oauthError,
  prepareAuthorization,
  redeem,
  refresh,
  startCallbackServer,
  type TestClient,
} from './oauth-client.js';

let server: TestAuthServer;
let callback: CallbackServer;

beforeAll(async () => {
  server = await startAuthServer();
  callback = await startCallbackServer();
});

afterAll(async () => {
  await server?.close();
  await callback?.close();
});

afterEach(() => {
  server.fault(undefined);
  server.setInteraction('auto');
  server.setAccount('alice');
});

/** Runs a whole authorization code + PKCE flow with the unattended user agent. */
async function signIn(testClient: TestClient, path = '/callback', extra?: Record<string, string>) {
  const prepared = await prepareAuthorization(testClient, callback.url(path), extra);
  const outcome = await completeAuthorization(prepared.url);
  expect(outcome.status).toBe(200);
  return redeem(testClient, prepared, outcome.finalUrl);
}

function tokenForm(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  };
}

describe('discovery', () => {
  it('serves the same metadata at both well-known URLs and counts them', async () => {
    server.resetCounts();
    const issuer = new URL(server.issuer);
    const viaOidc = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oidc' }),
    );
    const viaOauth = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
    );
    expect(viaOauth).toEqual(viaOidc);
    expect(server.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(viaOidc.issuer).toBe(server.issuer);
    expect(viaOidc.authorization_response_iss_parameter_supported).toBe(true);
    expect(viaOidc.code_challenge_methods_supported).toEqual(['S256']);
    expect(viaOidc.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', DEVICE_CODE_GRANT]),
    );
    expect(viaOidc.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'offline_access', 'email', 'profile', 'read', 'write']),
    );
    expect(viaOidc.revocation_endpoint).toBe(`${server.issuer}/token/revocation`);
    expect(viaOidc.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
    expect(server.counts().discovery).toBe(2);
  });
});

describe('authorization code + PKCE', () => {
  it('takes the public client to a loopback callback on any port and path, with iss', async () => {
    server.resetCounts();
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/oauth/deep/callback'));
    const outcome = await completeAuthorization(prepared.url);
    const landed = new URL(outcome.finalUrl);
    expect(outcome.status).toBe(200);
    expect(landed.origin).toBe(`http://127.0.0.1:${callback.port}`);
    expect(landed.pathname).toBe('/oauth/deep/callback');
    expect(landed.searchParams.get('state')).toBe(prepared.state);
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
    expect(landed.searchParams.get('code')).toBeTruthy();

    const tokens = await redeem(testClient, prepared, outcome.finalUrl);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope).toBe('openid email read');
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe('alice');

    const info = await oauth.processUserInfoResponse(
      testClient.as,
      testClient.client,
      'alice',
      await oauth.userInfoRequest(testClient.as, testClient.client, tokens.access_token, insecure),
    );
    expect(info.email).toBe('alice@example.test');
    expect(info.email_verified).toBe(true);
    expect(server.counts()).toMatchObject({
      token: { authorization_code: 1 },
      userinfo: 1,
    });
  });

  it.each(['basic', 'post'] as const)('authenticates the %s client', async (kind) => {
    const tokens = await signIn(await clientFor(server, kind));
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('signs in as the account set with setAccount', async () => {
    server.setAccount('carol');
    const tokens = await signIn(await clientFor(server, 'public'));
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe('carol');
  });

  it('issues resource-bound tokens when a resource indicator is sent', async () => {
    const tokens = await signIn(await clientFor(server, 'public'), '/callback', {
      scope: 'read write',
      resource: 'http://127.0.0.1:9/mcp',
    });
    expect(tokens.scope).toBe('read write');
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('gives requests without a scope the default scope', async () => {
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/callback'));
    const url = new URL(prepared.url);
    url.searchParams.delete('scope');
    const outcome = await completeAuthorization(url.href);
    const tokens = await redeem(testClient, prepared, outcome.finalUrl);
    expect(tokens.scope).toBe('read');
  });

  it('requires PKCE', async () => {
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/callback'));
    const url = new URL(prepared.url);
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const landed = new URL((await completeAuthorization(url.href)).finalUrl);
    expect(landed.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses redirect URIs off the loopback address', async () => {
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, 'http://localhost:8080/callback');
    const outcome = await completeAuthorization(prepared.url);
    expect(outcome.status).toBe(400);
    expect(new URL(outcome.finalUrl).origin).toBe(server.issuer);
  });

  it('reports access_denied at the callback in deny mode', async () => {
    server.setInteraction('deny');
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/callback'));
    const outcome = await completeAuthorization(prepared.url);
    const landed = new URL(outcome.finalUrl);
    expect(landed.pathname).toBe('/callback');
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('error_description')).toBe('The user denied the request');
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
  });

  it('stops at the login page in form mode', async () => {
    server.setInteraction('form');
    const testClient = await clientFor(server, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/callback'));
    const outcome = await completeAuthorization(prepared.url);
    expect(outcome.status).toBe(200);
    expect(outcome.finalUrl).toMatch(new RegExp(`^${server.issuer}/interaction/`));
  });
});

describe('user agent', () => {
  it('never leaves 127.0.0.1', async () => {
    await expect(completeAuthorization('http://example.test/auth')).rejects.toThrow(/127\.0\.0\.1/);
    const bounce = callback.url(`/bounce?to=${encodeURIComponent('http://example.test/')}`);
    await expect(completeAuthorization(bounce)).rejects.toThrow(/127\.0\.0\.1/);
  });

  it('gives up after maxRedirects', async () => {
    const before = callback.requests.length;
    await expect(completeAuthorization(callback.url('/loop'), { maxRedirects: 3 })).rejects.toThrow(
      /3 redirects/,
    );
    expect(callback.requests.length - before).toBe(4);
  });
});

describe('refresh tokens', () => {
  it('rotates on every refresh and rejects the old token with invalid_grant', async () => {
    server.resetCounts();
    const testClient = await clientFor(server, 'public');
    const first = await signIn(testClient);
    const second = await refresh(testClient, first.refresh_token ?? '');
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(await oauthError(refresh(testClient, first.refresh_token ?? ''))).toBe('invalid_grant');
    expect(server.counts().token).toEqual({ authorization_code: 1, refresh_token: 2 });
  });

  it('keeps the refresh token when rotation is off', async () => {
    const steady = await startAuthServer({ rotateRefreshTokens: false, accessTokenTtl: 120 });
    try {
      const testClient = await clientFor(steady, 'basic');
      const prepared = await prepareAuthorization(testClient, callback.url('/callback'));
      const first = await redeem(
        testClient,
        prepared,
        (await completeAuthorization(prepared.url)).finalUrl,
      );
      expect(first.expires_in).toBe(120);
      const again = await refresh(testClient, first.refresh_token ?? '');
      const third = await refresh(testClient, first.refresh_token ?? '');
      expect(again.access_token).toBeTruthy();
      expect(third.access_token).toBeTruthy();
      expect(third.refresh_token ?? first.refresh_token).toBe(first.refresh_token);
    } finally {
      await steady.close();
    }
  });

  it('fails with invalid_grant after revokeGrantsFor', async () => {
    const testClient = await clientFor(server, 'post');
    const tokens = await signIn(testClient);
    await server.revokeGrantsFor('alice');
    expect(await oauthError(refresh(testClient, tokens.refresh_token ?? ''))).toBe('invalid_grant');
  });

  it('fails with invalid_grant after the refresh token is revoked', async () => {
    server.resetCounts();
    const testClient = await clientFor(server, 'basic');
    const tokens = await signIn(testClient);
    const { as, client, auth } = testClient;
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth, tokens.refresh_token ?? '', insecure),
    );
    expect(server.counts().revocation).toBe(1);
    expect(await oauthError(refresh(testClient, tokens.refresh_token ?? ''))).toBe('invalid_grant');
  });
});

describe('device flow', () => {
  async function startDevice(testClient: TestClient) {
    const { as, client, auth } = testClient;
    const response = await oauth.deviceAuthorizationRequest(
      as,
      client,
      auth,
      { scope: 'openid read' },
      insecure,
    );
    return oauth.processDeviceAuthorizationResponse(as, client, response);
  }

  async function pollOnce({ as, client, auth }: TestClient, deviceCode: string) {
    const response = await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, insecure);
    return oauth.processDeviceCodeResponse(as, client, response);
  }

  it('completes via verification_uri_complete', async () => {
    server.resetCounts();
    const testClient = await clientFor(server, 'public');
    const device = await startDevice(testClient);
    expect(device.interval).toBe(1);
    expect(await oauthError(pollOnce(testClient, device.device_code))).toBe(
      'authorization_pending',
    );
    const outcome = await completeDeviceAuthorization(server, {
      verificationUriComplete: device.verification_uri_complete ?? '',
    });
    expect(outcome.approved).toBe(true);
    const tokens = await pollOnce(testClient, device.device_code);
    expect(tokens.refresh_token).toBeTruthy();
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe('alice');
    expect(server.counts()).toMatchObject({
      deviceAuthorization: 1,
      token: { [DEVICE_CODE_GRANT]: 2 },
    });
  });

  it('completes with only the user code', async () => {
    const testClient = await clientFor(server, 'basic');
    const device = await startDevice(testClient);
    const outcome = await completeDeviceAuthorization(server, { userCode: device.user_code });
    expect(outcome.approved).toBe(true);
    expect((await pollOnce(testClient, device.device_code)).access_token).toBeTruthy();
  });

  it('ends in access_denied in deny mode', async () => {
    server.setInteraction('deny');
    const testClient = await clientFor(server, 'public');
    const device = await startDevice(testClient);
    const outcome = await completeDeviceAuthorization(server, { userCode: device.user_code });
    expect(outcome.approved).toBe(false);
    expect(await oauthError(pollOnce(testClient, device.device_code))).toBe('access_denied');
  });
});

describe('faults', () => {
  const refreshBody = { grant_type: 'refresh_token', refresh_token: 'x' };

  it('html-500 answers the token endpoint with an HTML 500', async () => {
    server.resetCounts();
    server.fault({ endpoint: 'token', kind: 'html-500' });
    const response = await fetch(`${server.issuer}/token`, tokenForm(refreshBody));
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/<html/);
    expect(server.counts().token).toEqual({ refresh_token: 1 });
  });

  it('http-500-json answers with a JSON server_error', async () => {
    server.fault({ endpoint: 'token', kind: 'http-500-json' });
    const response = await fetch(`${server.issuer}/token`, tokenForm(refreshBody));
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: 'server_error' });
  });

  it('malformed-json answers 200 with truncated JSON', async () => {
    server.fault({ endpoint: 'token', kind: 'malformed-json' });
    const response = await fetch(`${server.issuer}/token`, tokenForm(refreshBody));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"access_token": "abc",');
  });

  it('breaks a real client: refresh fails while the fault lasts, then works', async () => {
    const testClient = await clientFor(server, 'public');
    const tokens = await signIn(testClient);
    server.fault({ endpoint: 'token', kind: 'missing-access-token', times: 1 });
    await expect(refresh(testClient, tokens.refresh_token ?? '')).rejects.toThrow(/access_token/);
    server.fault({ endpoint: 'token', kind: 'malformed-json', times: 1 });
    await expect(refresh(testClient, tokens.refresh_token ?? '')).rejects.toThrow();
    const after = await refresh(testClient, tokens.refresh_token ?? '');
    expect(after.access_token).toBeTruthy();
  });

  it('wrong-issuer changes the discovery issuer on both URLs', async () => {
    server.fault({ endpoint: 'discovery', kind: 'wrong-issuer', times: 2 });
    for (const path of ['openid-configuration', 'oauth-authorization-server']) {
      const body = (await (await fetch(`${server.issuer}/.well-known/${path}`)).json()) as {
        issuer: string;
        token_endpoint: string;
      };
      expect(body.issuer).not.toBe(server.issuer);
      expect(body.token_endpoint).toBe(`${server.issuer}/token`);
    }
    await expect(clientFor(server, 'public')).resolves.toBeTruthy();
    server.fault({ endpoint: 'discovery', kind: 'wrong-issuer' });
    await expect(clientFor(server, 'public')).rejects.toThrow();
  });

  it('slow delays the response by 2 s, then answers normally', async () => {
    server.fault({ endpoint: 'discovery', kind: 'slow', times: 1 });
    const started = Date.now();
    const response = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(((await response.json()) as { issuer: string }).issuer).toBe(server.issuer);
  });

  it('breaks the revocation and device authorization endpoints', async () => {
    server.resetCounts();
    const testClient = await clientFor(server, 'basic');
    const { as, client, auth } = testClient;
    server.fault({ endpoint: 'revocation', kind: 'http-500-json', times: 1 });
    await expect(
      oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, 'token', insecure),
      ),
    ).rejects.toThrow();
    server.fault({ endpoint: 'device', kind: 'html-500', times: 1 });
    const response = await oauth.deviceAuthorizationRequest(as, client, auth, {}, insecure);
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(server.counts()).toMatchObject({ revocation: 1, deviceAuthorization: 1 });
  });
});

describe('form mode in Chromium', () => {
  let formServer: TestAuthServer;
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    formServer = await startAuthServer({ interaction: 'form' });
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await formServer?.close();
  });

  it('signs in and consents through the HTML forms', async () => {
    const testClient = await clientFor(formServer, 'public');
    const prepared = await prepareAuthorization(testClient, callback.url('/browser/callback'));
    const outcome = await completeConsentInBrowser(chromium.browser, prepared.url, {
      login: 'bob',
      password: 'hunter2',
    });
    expect(outcome.status).toBe(200);
    expect(new URL(outcome.finalUrl).pathname).toBe('/browser/callback');
    const tokens = await redeem(testClient, prepared, outcome.finalUrl);
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe('bob');
  });
});
