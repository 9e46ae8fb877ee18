import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type Credentials, remoteServer, Secret } from '../src/index.js';
import { launchServer as launchV1 } from '../src/sdk-v1.js';
import { launchServer as launchV2 } from '../src/sdk-v2.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  server = undefined;
});

/** An MCP server of the 2024-11-05 kind: GET /sse opens the stream, POST /messages carries requests. */
async function oldSseServer(seen: string[]): Promise<string> {
  const transports = new Map<string, SSEServerTransport>();
  server = createServer(async (req, res) => {
    seen.push(
      `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname} ${req.headers.authorization ?? '-'}`,
    );
    if (req.headers.authorization !== 'Bearer old-server-token') {
      res.writeHead(401).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      transports.set(transport.sessionId, transport);
      const mcp = new McpServer({ name: 'old', version: '1.0.0' });
      mcp.tool('ping-old', async () => ({ content: [{ type: 'text', text: 'pong' }] }));
      await mcp.connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const transport = transports.get(url.searchParams.get('sessionId') ?? '');
      if (transport) return transport.handlePostMessage(req, res);
    }
    // The old server knows no POST on its stream endpoint.
    res.writeHead(405).end();
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`;
}

describe.each([
  ['v1', launchV1],
  ['v2', launchV2],
] as const)('remote servers, on the %s SDK', (_line, launchServer) => {
  it('fall back to the HTTP+SSE transport when the server answers the first POST with 405', async () => {
    const seen: string[] = [];
    const url = await oldSseServer(seen);
    const credentials: Credentials = {
      providerId: 'static',
      account: 'host',
      tokenType: 'bearer',
      accessToken: new Secret('old-server-token'),
      scopes: [],
      secrets: {},
      metadata: {},
      obtainedAt: Date.now(),
    };
    const launched = await launchServer(remoteServer(url), credentials);
    try {
      const { tools } = await launched.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['ping-old']);
    } finally {
      await launched.close();
    }
    expect(seen[0]).toBe('POST /sse Bearer old-server-token');
    expect(seen).toContain('GET /sse Bearer old-server-token');
    expect(seen.some((s) => s.startsWith('POST /messages Bearer old-server-token'))).toBe(true);
  });
});
