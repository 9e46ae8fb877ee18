import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { credentialKey, credentialsToRecord, mcpAccountName } from '../src/credentials.js';
import {
  authenticate,
  isLatchkeyError,
  mcpAuthProvider,
  memoryStore,
  remoteServer,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { Secret } from '../src/secret.js';

const servers: Server[] = [];

function serve(
  handler: (path: string, headers: IncomingHttpHeaders) => [number, Record<string, string>, string],
) {
  return new Promise<string>((resolve) => {
    const server = createServer((req, res) => {
      req.resume();
      const [status, headers, body] = handler(req.url ?? '/', req.headers);
      res.writeHead(status, headers).end(body);
    });
    servers.push(server);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

describe('the bearer token stays with the MCP server', () => {
  it('fetches resource metadata named by a 401 without credentials', async () => {
    const canary = 'access-canary-5f1e9c3a7b';
    const metadataHeaders: IncomingHttpHeaders[] = [];
    const mcpHeaders: IncomingHttpHeaders[] = [];
    const metadataHost = await serve((_path, headers) => {
      metadataHeaders.push(headers);
      return [
        200,
        { 'content-type': 'application/json' },
        JSON.stringify({
          resource: mcpUrl,
          authorization_servers: ['http://127.0.0.1:9/other-as'],
        }),
      ];
    });
    const mcpOrigin = await serve((_path, headers) => {
      mcpHeaders.push(headers);
      return [
        401,
        {
          'www-authenticate': `Bearer error="invalid_token", resource_metadata="${metadataHost}/prm"`,
        },
        '',
      ];
    });
    const mcpUrl = `${mcpOrigin}/mcp`;
    const provider = mcpAuthProvider(mcpUrl, { allowHttpLoopback: true });
    // A login stored earlier, issued by another authorization server.
    const store = memoryStore();
    const issuer = 'http://127.0.0.1:9/first-as';
    await store.set(
      credentialKey(provider.id, mcpAccountName(issuer) as string),
      credentialsToRecord({
        providerId: provider.id,
        account: mcpAccountName(issuer) as string,
        tokenType: 'bearer',
        accessToken: new Secret(canary),
        scopes: [],
        secrets: {},
        metadata: { issuer },
        obtainedAt: Date.now(),
        engine: {
          kind: 'mcp',
          issuer,
          resource: mcpUrl,
          clientId: 'c1',
          tokenEndpointAuthMethod: 'none',
        },
      }),
    );
    const session = await authenticate(provider, { store, interactive: false });

    const error = await launchServer(remoteServer(mcpUrl), session).catch((e: unknown) => e);

    expect(isLatchkeyError(error, 'LOGIN_REQUIRED'), String(error)).toBe(true);
    expect(String((error as Error).message)).not.toContain(canary);
    expect(mcpHeaders[0]?.authorization).toBe(`Bearer ${canary}`);
    expect(metadataHeaders.length).toBeGreaterThan(0);
    for (const headers of metadataHeaders) expect(headers.authorization).toBeUndefined();
  });
});
