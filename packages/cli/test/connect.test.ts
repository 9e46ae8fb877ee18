// `latchkey connect`: a remote MCP server on the MCP SDK's server classes, protected by a
// real oidc-provider, as a stdio server for hosts spawning it through the SDK's client.

import {
  type McpAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliEnv, connectHost, runCli, SIGN_IN_BROWSER, tempHome } from './helpers.js';

let as: McpAuthServer;
let mcp: TestMcpServer;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  as = await startMcpAuthServer();
  mcp = await startMcpServer({ authorizationServers: [as.issuer] });
});
afterAll(async () => {
  await Promise.all([mcp?.close(), as?.close()]);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function home() {
  const h = await tempHome();
  cleanups.push(() => h.remove());
  return { dir: h.dir, env: cliEnv(h.dir, { BROWSER: SIGN_IN_BROWSER }) };
}

async function host(env: Record<string, string>) {
  const connected = await connectHost(cli(['connect', mcp.url]), env);
  cleanups.push(() => connected.client.close());
  return connected;
}

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const signIns = () => as.requests().filter((r) => r.endpoint === 'authorization').length;

describe('latchkey connect', () => {
  it('signs in the MCP way, relays tools/list and calls, and steps up when a tool needs more scope', async () => {
    const { env } = await home();
    as.clearRequests();
    const registered = as.registeredClients().length;
    const { client, stderr } = await host(env);
    expect(as.registeredClients().length).toBe(registered + 1);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['read-thing', 'write-thing']);
    expect(text(await client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done for /);
    const before = as.counts().token.authorization_code ?? 0;
    // write-thing needs mcp:write: a 403 insufficient_scope, answered by a new sign-in.
    expect(
      text(await client.callTool({ name: 'write-thing' }, undefined, { timeout: 60_000 })),
    ).toMatch(/^write-thing done for /);
    expect(as.counts().token.authorization_code ?? 0).toBe(before + 1);
    expect(stderr()).toContain('The server asks for more access');
  });

  it('a connect that starts from a login stored by `latchkey login` can still step up', async () => {
    const { env } = await home();
    expect((await runCli(['login', mcp.url], env)).code).toBe(0);
    const { client } = await host(env);
    const before = as.counts().token.authorization_code ?? 0;
    expect(
      text(await client.callTool({ name: 'write-thing' }, undefined, { timeout: 60_000 })),
    ).toMatch(/^write-thing done for /);
    expect(as.counts().token.authorization_code ?? 0).toBe(before + 1);
  });

  it('five hosts starting at once for one server sign in once, and every one serves', async () => {
    const { env, dir } = await home();
    as.clearRequests();
    const registered = as.registeredClients().length;
    const hosts = await Promise.all(Array.from({ length: 5 }, () => host(env)));
    const lists = await Promise.all(hosts.map(({ client }) => client.listTools()));
    for (const list of lists) expect(list.tools).toHaveLength(2);
    expect(signIns()).toBe(1);
    expect(as.registeredClients().length).toBe(registered + 1);
    const status = await runCli(['status', '--json'], cliEnv(dir));
    const { logins } = JSON.parse(status.stdout) as {
      logins: { url?: string; refreshable?: boolean }[];
    };
    expect(logins).toHaveLength(1);
    expect(logins[0]).toMatchObject({ url: mcp.url, refreshable: true });
  });

  it('a server that cannot be reached: the error and its code on stderr, a non-zero exit, nothing on stdout', async () => {
    const { env } = await home();
    const result = await runCli(['connect', 'http://127.0.0.1:9/mcp'], env, {
      keepInputOpen: true,
      timeoutMs: 60_000,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/latchkey: error [A-Z_]+: /);
    expect(result.stdout).toBe('');
  });

  it('a URL that is not one, or plain http to a remote host: CLI_USAGE or INSECURE_ENDPOINT, before any request', async () => {
    const { env } = await home();
    const notUrl = await runCli(['connect', 'mcp.example.com'], env);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toContain('"mcp.example.com" is not a URL');
    const plain = await runCli(['connect', 'http://mcp.example.com/mcp'], env);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/PROVIDER_CONFIG|INSECURE_ENDPOINT/);
  });
});
