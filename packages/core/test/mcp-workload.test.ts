// Workload identity with the JWT bearer grant (RFC 7523 §2.1): a workload's signed
// assertion is redeemed at a real oidc-provider for a session with no user, and each
// renewal asks again with a fresh assertion.
import {
  type McpAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
  tokenHash,
  type WorkloadIdentity,
  workloadIdentity,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpAccountName } from '../src/credentials.js';
import {
  authenticate,
  isLatchkeyError,
  mcpAuthProvider,
  memoryStore,
  remoteServer,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { canaryWatch } from './helpers.js';

let idp: WorkloadIdentity;
let as: McpAuthServer;
let mcp: TestMcpServer;

beforeAll(async () => {
  idp = await workloadIdentity();
  as = await startMcpAuthServer({ jwtBearer: { trust: idp } });
  mcp = await startMcpServer({ authorizationServers: [as.issuer] });
});
afterAll(async () => {
  await Promise.all([as?.close(), mcp?.close()]);
});

const noUser = () => {
  throw new Error('a browser was opened for a workload');
};

type Assertion = string | (() => Promise<string> | string);

function workload(assertion: Assertion) {
  return mcpAuthProvider(mcp.url, {
    allowHttpLoopback: true,
    jwtBearer: { clientId: as.clients.workload?.clientId as string, assertion },
  });
}

function tokenRequests() {
  return as.requests().filter((r) => r.endpoint === 'token' && !r.fromResourceServer);
}

describe('the JWT bearer grant for workload identity', () => {
  it('gets a session with no user from a fresh assertion, and renews by asking again', async () => {
    const issued: string[] = [];
    const fresh = async () => {
      const assertion = await idp.assertion({ subject: 'build-agent', audience: as.issuer });
      issued.push(assertion);
      return assertion;
    };
    const watch = canaryWatch();
    as.clearRequests();
    const session = await authenticate(workload(fresh), {
      store: memoryStore(),
      openUrl: noUser,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
    });
    expect(session.account).toBe(mcpAccountName(as.issuer));
    const first = session.current();
    expect(first.refreshToken).toBeUndefined();
    expect(first.engine).toMatchObject({
      kind: 'mcp',
      issuer: as.issuer,
      clientId: 'latchkey-workload',
    });
    const [grant] = tokenRequests();
    expect(grant).toMatchObject({
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      clientId: 'latchkey-workload',
      resource: [mcp.url],
      status: 200,
    });
    expect(grant?.presentedTokens).toContain(tokenHash(issued[0] as string));
    expect(as.requests().some((r) => r.endpoint === 'authorization')).toBe(false);

    const server = await launchServer(remoteServer(mcp.url), session);
    try {
      const result = await server.client.callTool({ name: 'read-thing' });
      expect(JSON.stringify(result.content)).toContain('read-thing done for latchkey-workload');
    } finally {
      await server.close();
    }

    // No refresh token: a renewal is a new grant with a new assertion.
    as.clearRequests();
    const renewed = await session.refresh();
    expect(renewed.accessToken.reveal()).not.toBe(first.accessToken.reveal());
    expect(issued).toHaveLength(2);
    expect(tokenRequests().map((r) => [r.grantType, r.status])).toEqual([
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', 200],
    ]);
    expect(tokenRequests()[0]?.presentedTokens).toContain(tokenHash(issued[1] as string));
    for (const assertion of issued) watch.tokens.add(assertion);
    expect(watch.leaks()).toEqual([]);
  });

  it('a fixed assertion works once: the server refuses it again, and the renewal says so', async () => {
    const once = await idp.assertion({ subject: 'build-agent', audience: as.issuer });
    const session = await authenticate(workload(once), { store: memoryStore(), openUrl: noUser });
    const error = await session.refresh().catch((e: unknown) => e);
    // The login is dropped (authenticate() asks anew); the server's reason is kept.
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED'), String(error)).toBe(true);
    // oidc-provider says only "grant request is invalid"; the step is named.
    expect((error as Error).message).toContain('during the JWT bearer grant (invalid_grant');
    expect((error as Error).message).toContain('authenticate() asks for a new grant');
    expect((error as Error).message).not.toContain(once);
  });

  it('refuses an assertion from a key the server does not trust with INVALID_GRANT', async () => {
    const stranger = await workloadIdentity(idp.issuer);
    const error = await authenticate(
      workload(() => stranger.assertion({ subject: 'build-agent', audience: as.issuer })),
      { store: memoryStore(), openUrl: noUser },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INVALID_GRANT')).toBe(true);
  });

  it('sends nothing when the assertion is not a signed JWT, or its function fails', async () => {
    as.clearRequests();
    const notAJwt = await authenticate(
      workload(() => 'not-a-jwt'),
      {
        store: memoryStore(),
        openUrl: noUser,
      },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(notAJwt, 'PROVIDER_CONFIG')).toBe(true);
    expect((notAJwt as Error).message).toContain('strategy.jwtBearer.assertion');

    const failing = await authenticate(
      workload(async () => {
        throw new Error('the metadata service is down: token=sekrit-123456');
      }),
      { store: memoryStore(), openUrl: noUser },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(failing, 'PROVIDER_CONFIG')).toBe(true);
    expect((failing as Error).message).not.toContain('sekrit');
    expect(tokenRequests()).toEqual([]);
  });
});
