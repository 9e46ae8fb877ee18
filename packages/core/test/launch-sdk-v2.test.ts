// launchServer() from @latchkey/core/sdk-v2: the host's `@modelcontextprotocol/client`
// connects, negotiating the protocol era. Servers on the v2 server SDK answer
// `server/discover` (2026-07-28); servers on the v1 SDK, and server-everything from npm,
// get the 2025 `initialize` handshake. Stdio and Streamable HTTP, with the same
// supervision as on the v1 line.
import {
  type McpAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  defineServer,
  isLatchkeyError,
  type McpServerSpec,
  mcpAuthProvider,
  memoryStore,
  remoteServer,
  type Session,
} from '../src/index.js';
import { type LaunchedServer, launchServer } from '../src/sdk-v2.js';
import { sha256 } from './fixtures/credential-server.js';
import { unattendedUser } from './helpers.js';
import {
  canaryToken,
  childPids,
  fixtureRecipe,
  fixtureStdioV2,
  launchTmp,
  leakWatch,
  plainCredentials,
  processGone,
  report,
  serverBin,
} from './launch-helpers.js';

/** The v2 fixture's recipe: the token in `FIXTURE_TOKEN` and in the file `token.txt`. */
function v2Recipe(mode?: string): McpServerSpec {
  return fixtureRecipe({
    id: 'credential-fixture-v2',
    name: 'Credential fixture (v2 server SDK)',
    script: fixtureStdioV2,
    ...(mode ? { mode } : {}),
  });
}

const everything = defineServer({
  id: 'everything',
  transport: {
    kind: 'stdio',
    command: process.execPath,
    args: [serverBin('@modelcontextprotocol/server-everything', 'mcp-server-everything'), 'stdio'],
  },
});

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

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

beforeAll(async () => {
  tmp = await launchTmp();
});
afterAll(async () => {
  await tmp?.remove();
});
afterEach(async () => {
  for (const server of open) await server.close();
  open.clear();
  expect(childPids(), 'child processes left behind').toEqual([]);
  expect(tmp.launchDirs(), 'launch directories left behind').toEqual([]);
});

describe('launchServer() on the v2 SDK, over stdio', () => {
  it('speaks 2026-07-28 with a server on the v2 server SDK, with the credentials injected', async () => {
    const token = canaryToken('v2');
    const server = await launch(v2Recipe(), plainCredentials(token));
    // The host's own Client class and type, from the one copy it installed.
    const client: Client = server.client;
    expect(client).toBeInstanceOf(Client);
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const got = report(await client.callTool({ name: 'credentials', arguments: {} }));
    expect(got.env).toBe(sha256(token));
    expect(got.file).toBe(sha256(token));
    expect(got.fileMode).toBe('600');
    expect(got.pid).toBe(server.pid);
  });

  it('falls back to the 2025 initialize with a server on the v1 SDK', async () => {
    const token = canaryToken('v1');
    const server = await launch(fixtureRecipe(), plainCredentials(token));
    expect(server.client.getProtocolEra()).toBe('legacy');
    expect(server.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    const got = report(await server.client.callTool({ name: 'credentials', arguments: {} }));
    expect(got.env).toBe(sha256(token));
  });

  it('runs server-everything from npm in the 2025 era: 13 tools, echo', async () => {
    const server = await launch(everything, plainCredentials(canaryToken()));
    expect(server.client.getProtocolEra()).toBe('legacy');
    expect((await server.client.listTools()).tools).toHaveLength(13);
    const echoed = await server.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(text(echoed)).toContain('hello');
  });

  it('keeps the client valid across a restart, in the era negotiated again', async () => {
    const server = await launch(v2Recipe(), plainCredentials(canaryToken()));
    const before = server.pid;
    const inFlight = server.client.callTool({ name: 'slow', arguments: {} });
    inFlight.catch(() => {});
    await server.restart();
    await expect(inFlight).rejects.toSatisfy((e) => isLatchkeyError(e, 'SERVER_RESTARTED'));
    expect(server.pid).not.toBe(before);
    await processGone(before);
    expect(server.client.getProtocolEra()).toBe('modern');
    const got = report(await server.client.callTool({ name: 'credentials', arguments: {} }));
    expect(got.pid).toBe(server.pid);
  });

  it('reports a command that is not installed as SERVER_SPAWN_FAILED', async () => {
    const missing = defineServer({
      id: 'missing',
      transport: { kind: 'stdio', command: 'latchkey-no-such-mcp-server' },
    });
    const error = await launch(missing, plainCredentials(canaryToken())).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'SERVER_SPAWN_FAILED')).toBe(true);
    expect((error as Error).message).toContain(
      'the command "latchkey-no-such-mcp-server" was not found',
    );
  });

  it('reports a server that exits on its first message as SERVER_EXITED, with the token masked', async () => {
    const token = canaryToken('exit');
    const watch = leakWatch();
    const error = await launch(v2Recipe('exit-on-initialize'), plainCredentials(token), {
      onEvent: watch.onEvent,
    }).catch((e: unknown) => e);
    watch.record(error);
    expect(isLatchkeyError(error, 'SERVER_EXITED')).toBe(true);
    expect((error as Error).message).toContain('fatal: the service rejected token');
    expect(watch.leaks([token])).toEqual([]);
  });

  it('stops a server that never answers after the start timeout', async () => {
    const started = Date.now();
    const error = await launch(v2Recipe('hang'), plainCredentials(canaryToken()), {
      startTimeoutMs: 3000,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'SERVER_SPAWN_FAILED')).toBe(true);
    expect((error as Error).message).toContain(
      'did not answer server/discover or initialize within 3 s',
    );
    // The era probe and the handshake share the one budget (plus up to about a second to
    // stop the server and read its stderr); each waiting the whole of it would take 6 s.
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThan(5500);
  });
});

describe('launchServer() on the v2 SDK, to remote servers through the mcp strategy', () => {
  let as: McpAuthServer;
  let modern: TestMcpServer;
  let older: TestMcpServer;

  beforeAll(async () => {
    as = await startMcpAuthServer();
    modern = await startMcpServer({ authorizationServers: [as.issuer], mcpSdk: 'v2' });
    older = await startMcpServer({ authorizationServers: [as.issuer] });
  });
  afterAll(async () => {
    await Promise.all([as?.close(), modern?.close(), older?.close()]);
  });

  async function signIn(url: string): Promise<Session> {
    const user = unattendedUser();
    return authenticate(mcpAuthProvider(url, { allowHttpLoopback: true }), {
      store: memoryStore(),
      openUrl: user.openUrl,
      timeoutMs: 20_000,
    });
  }

  it('negotiates 2026-07-28 with a server on the v2 server SDK, the bearer token on every request, and steps up', async () => {
    const session = await signIn(modern.url);
    modern.clearRequests();
    const server = await launch(remoteServer(modern.url), session);
    expect(server.client.getProtocolEra()).toBe('modern');
    expect(server.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(text(await server.client.callTool({ name: 'read-thing', arguments: {} }))).toMatch(
      /^read-thing done for /,
    );
    // write-thing needs mcp:write: a 403 insufficient_scope, a sign-in with the union, one retry.
    expect(text(await server.client.callTool({ name: 'write-thing', arguments: {} }))).toMatch(
      /^write-thing done for /,
    );
    expect(session.current().scopes).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    const posts = modern.requests().filter((r) => r.method === 'POST' && r.path === '/mcp');
    expect(posts[0]).toMatchObject({ rpcMethod: 'server/discover', status: 200 });
    // The client's requests all carry the token and the era's header; the one request
    // without a token is the step-up sign-in's own discovery probe, answered 401.
    const fromClient = posts.filter((r) => r.token !== undefined);
    expect(fromClient.every((r) => r.protocolVersion === '2026-07-28')).toBe(true);
    expect(fromClient.map((r) => [r.rpcMethod, r.tool, r.status])).toEqual([
      ['server/discover', undefined, 200],
      ['tools/call', 'read-thing', 200],
      ['tools/call', 'write-thing', 403],
      ['tools/call', 'write-thing', 200],
    ]);
    expect(posts.filter((r) => r.token === undefined).map((r) => r.status)).toEqual([401]);
  });

  it('falls back to the 2025 initialize with a server on the v1 SDK', async () => {
    const session = await signIn(older.url);
    older.clearRequests();
    const server = await launch(remoteServer(older.url), session);
    expect(server.client.getProtocolEra()).toBe('legacy');
    expect(server.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(text(await server.client.callTool({ name: 'read-thing', arguments: {} }))).toMatch(
      /^read-thing done for /,
    );
    const methods = older
      .requests()
      .filter((r) => r.method === 'POST' && r.path === '/mcp')
      .map((r) => r.rpcMethod);
    expect(methods.slice(0, 2)).toEqual(['server/discover', 'initialize']);
  });
});
