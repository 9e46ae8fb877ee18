// Everything the example platform runs on, started on 127.0.0.1 so it needs no account
// anywhere: an OAuth authorization server (oidc-provider) for "Example ID", an MCP server
// with its own authorization server for "Example MCP", PostgreSQL (DATABASE_URL, else a
// throwaway server), and the app itself.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { defineProvider, defineServer, mcpAuthProvider, remoteServer } from '@latchkey/core';
import { postgresStore } from '@latchkey/store-postgres';
import {
  type InteractionMode,
  startAuthServer,
  startMcpAuthServer,
  startMcpServer,
  startPostgres,
  type TestAuthServer,
} from '@latchkey/testkit';
import { type Connection, createPlatform } from './app.js';

/** Options of {@link startPlatform}. */
export interface StartPlatformOptions {
  /** A PostgreSQL connection string; default: a throwaway server of its own. */
  databaseUrl?: string;
  /** How the authorization server's user signs in: a form in the browser, or at once. */
  interaction?: InteractionMode;
}

/** The running platform. */
export interface RunningPlatform {
  /** Where the app listens, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The "Example ID" authorization server. */
  readonly authServer: TestAuthServer;
  /** Stops the app and everything it started. */
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Starts the platform and what it needs. */
export async function startPlatform(options: StartPlatformOptions = {}): Promise<RunningPlatform> {
  const stops: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const authServer = await startAuthServer({ interaction: options.interaction ?? 'form' });
    stops.push(() => authServer.close());
    const mcpAuth = await startMcpAuthServer({ interaction: options.interaction ?? 'form' });
    stops.push(() => mcpAuth.close());
    const mcp = await startMcpServer({ authorizationServers: [mcpAuth.issuer] });
    stops.push(() => mcp.close());
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      const database = await startPostgres();
      stops.push(() => database.stop());
      databaseUrl = database.connectionString;
    }
    // The key that wraps every row's data key; a real platform keeps it in its KMS.
    const store = postgresStore({ connectionString: databaseUrl, encryption: randomBytes(32) });
    stops.push(() => store.close());

    const metadata = (await (
      await fetch(`${authServer.issuer}/.well-known/openid-configuration`)
    ).json()) as { userinfo_endpoint: string };
    const exampleId = defineProvider({
      id: 'example-id',
      name: 'Example ID',
      strategy: {
        kind: 'oauth',
        issuer: authServer.issuer,
        clientId: authServer.clients.public.clientId,
        scopes: ['openid', 'email', 'read'],
      },
    });
    const whoami = defineServer({
      id: 'whoami',
      name: 'whoami',
      transport: {
        kind: 'stdio',
        command: process.execPath,
        args: [
          '--import',
          import.meta.resolve('tsx'),
          fileURLToPath(new URL('./whoami-server.ts', import.meta.url)),
        ],
      },
      credentials: ['accessToken'],
      inject: (credentials) => ({
        env: { WHOAMI_TOKEN: credentials.accessToken, WHOAMI_USERINFO: metadata.userinfo_endpoint },
      }),
    });
    const exampleMcp = mcpAuthProvider(mcp.url, {
      id: 'example-mcp',
      name: 'Example MCP',
      clientName: 'Latchkey web platform example',
      allowHttpLoopback: true,
    });
    const connections: Connection[] = [
      { provider: exampleId, server: whoami, tool: 'whoami' },
      { provider: exampleMcp, server: remoteServer(mcp.url), tool: 'read-thing' },
    ];

    // The app learns its address once it listens; requests before that find no handler.
    let handler: ReturnType<typeof createPlatform> | undefined;
    const http = createServer((req, res) => {
      if (handler) void handler(req, res);
      else res.writeHead(503).end();
    });
    const port = await listen(http);
    const url = `http://127.0.0.1:${port}`;
    handler = createPlatform({
      store,
      connections,
      publicUrl: url,
      sessionSecret: randomBytes(32),
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          http.closeAllConnections();
          http.close(() => resolve());
        }),
    );
    return { url, authServer, close };
  } catch (error) {
    await close();
    throw error;
  }
}
