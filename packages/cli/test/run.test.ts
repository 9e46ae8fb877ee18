// `latchkey run` as an MCP host uses it: the MCP SDK's Client spawns it through
// StdioClientTransport, against a real oidc-provider with short-lived tokens.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { authenticate, defineProvider, fileStore } from '@latchkey/core';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import {
  type CallToolResult,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  cliEnv,
  connectHost,
  INITIALIZE,
  ownRecipeModule,
  ROOT,
  runCli,
  SIGN_IN_BROWSER,
  tempHome,
} from './helpers.js';

const TTL_SECONDS = 6;
let as: TestAuthServer;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  as = await startAuthServer({ accessTokenTtl: TTL_SECONDS });
});
afterAll(async () => {
  await as?.close();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A private home for one test, and the environment that signs in there unattended. */
async function testHome(extraEnv: Record<string, string> = {}) {
  const home = await tempHome();
  cleanups.push(() => home.remove());
  const env = cliEnv(home.dir, {
    TEST_ISSUER: as.issuer,
    TEST_CLIENT_ID: as.clients.public.clientId,
    BROWSER: SIGN_IN_BROWSER,
    ...extraEnv,
  });
  return { dir: home.dir, env };
}

async function host(recipe: string, extraEnv: Record<string, string> = {}) {
  const { dir, env } = await testHome(extraEnv);
  const { client, stderr } = await connectHost(cli(['run', recipe]), env);
  cleanups.push(() => client.close());
  return { client, env, home: dir, stderr };
}

/** The login `latchkey` stored in the test's home. */
function storedLogin(home: string) {
  const provider = defineProvider({
    id: 'test-as',
    strategy: {
      kind: 'oauth',
      issuer: as.issuer,
      clientId: as.clients.public.clientId,
      scopes: ['openid', 'email', 'read'],
    },
  });
  return authenticate(provider, {
    store: fileStore({ directory: join(home, 'latchkey') }),
    interactive: false,
  });
}

const json = (result: unknown) =>
  JSON.parse(((result as CallToolResult).content[0] as { text: string }).text) as Record<
    string,
    unknown
  >;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('latchkey run, spawned by an MCP SDK client as a host does', () => {
  it('server-everything: signs in through BROWSER, lists its tools, calls one, and again after the token expired under it', async () => {
    const { client, stderr } = await host('everything');
    expect(as.counts().token.authorization_code).toBe(1);
    const { tools } = await client.listTools();
    expect(tools.length).toBe(13);
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(JSON.stringify(echo.content)).toContain('hello');
    // Past the first token's lifetime: the server was restarted with a new one meanwhile.
    const refreshesBefore = as.counts().token.refresh_token ?? 0;
    await sleep(TTL_SECONDS * 1000 + 500);
    expect(as.counts().token.refresh_token ?? 0).toBeGreaterThan(refreshesBefore);
    const again = await client.callTool({ name: 'echo', arguments: { message: 'after expiry' } });
    expect(JSON.stringify(again.content)).toContain('after expiry');
    expect((await client.listTools()).tools.length).toBe(13);
    expect(stderr()).toContain('Open this page to sign in');
  });

  it('restarts the server with each new token; the host keeps its connection and is told the tools changed', async () => {
    const { client } = await host('token-server', { TOOLS_FOLLOW_TOKEN: '1' });
    const changed: number[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed.push(Date.now());
    });
    const first = json(await client.callTool({ name: 'whoami' }));
    const before = (await client.listTools()).tools.map((t) => t.name);
    expect(before).toContain(`token-${first.token}`);
    const second = await until('a restart with a new token', async () => {
      const now = json(await client.callTool({ name: 'whoami' }));
      return now.token !== first.token ? now : undefined;
    });
    expect(second.pid).not.toBe(first.pid);
    await until(
      'notifications/tools/list_changed',
      async () => (changed.length > 0 ? true : undefined),
      5000,
    );
    const after = (await client.listTools()).tools.map((t) => t.name);
    expect(after).toContain(`token-${second.token}`);
    expect(after).not.toContain(`token-${first.token}`);
  });

  it('a call in flight during a restart for new credentials is answered by the old server', async () => {
    const { client } = await host('token-server');
    const first = json(await client.callTool({ name: 'whoami' }));
    // Half the token's life, less a little: the restart comes while this call runs.
    const slow = client.callTool({ name: 'slow', arguments: { ms: 4000 } }, undefined, {
      timeout: 30_000,
    });
    const answered = json(await slow);
    expect(answered).toMatchObject({ done: true, token: first.token, pid: first.pid });
    const now = await until('the restart', async () => {
      const w = json(await client.callTool({ name: 'whoami' }));
      return w.pid !== first.pid ? w : undefined;
    });
    expect(now.token).not.toBe(first.token);
  });

  it('a server that crashes is started again: the call in flight fails with SERVER_RESTARTED, the next one works', async () => {
    const { client, stderr } = await host('token-server');
    const first = json(await client.callTool({ name: 'whoami' }));
    const crash = client.callTool({ name: 'crash' }).then(
      () => undefined,
      (error: unknown) => error as Error & { code?: number; data?: unknown },
    );
    const error = await crash;
    expect(error?.code).toBe(-32001);
    expect(error?.message).toContain('send it again');
    const next = json(await client.callTool({ name: 'whoami' }));
    expect(next.pid).not.toBe(first.pid);
    expect(next.token).toBe(first.token);
    expect(stderr()).toContain('exited (exit code 9); starting it again');
  });
});

describe('latchkey run: starting together, and ending', () => {
  it('three hosts starting at once for one login sign in once', async () => {
    const home = await testHome();
    const { env } = home;
    const before = as.counts().token.authorization_code ?? 0;
    const clients = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const { client } = await connectHost(cli(['run', 'token-server']), env);
        cleanups.push(() => client.close());
        return client;
      }),
    );
    const tokens = await Promise.all(
      clients.map(async (c) => json(await c.callTool({ name: 'whoami' })).token),
    );
    expect(as.counts().token.authorization_code ?? 0).toBe(before + 1);
    expect(new Set(tokens).size).toBe(1);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['stdin closed', 0],
  ] as const) {
    it(`${signal === 'stdin closed' ? 'The host closing stdin' : signal} ends the server and removes its credential files; exit code ${code}`, async () => {
      const home = await testHome();
      const { env } = home;
      const { command, args } = cli(['run', 'token-file-server']);
      const { spawn } = await import('node:child_process');
      const child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
      cleanups.push(async () => child.kill('SIGKILL'));
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      const send = (m: object) => child.stdin.write(`${JSON.stringify(m)}\n`);
      send(INITIALIZE);
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      });
      const answer = await until('whoami', async () => {
        const line = stdout.split('\n').find((l) => l.includes('"id":2'));
        return line ? (JSON.parse(line) as { result: unknown }) : undefined;
      });
      const who = json(answer.result);
      const file = who.file as string;
      expect(existsSync(file)).toBe(true);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      if (signal === 'stdin closed') child.stdin.end();
      else child.kill(signal);
      expect(await exited).toBe(code);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(dirname(file))).toBe(false);
      expect(() => process.kill(who.pid as number, 0)).toThrow();
    });
  }
});

describe('a config module outside any project', () => {
  it('imports @latchkey/core without installing it, and its Secret values reach the server', async () => {
    const home = await tempHome();
    cleanups.push(() => home.remove());
    const config = join(home.dir, 'config.mjs');
    await writeFile(config, ownRecipeModule('a value of my own'));
    // A host that writes at once: its initialize arrives while the server starts.
    const { client } = await connectHost(
      cli(['run', 'own']),
      cliEnv(home.dir, { LATCHKEY_CONFIG: config }),
    );
    cleanups.push(() => client.close());
    const who = json(await client.callTool({ name: 'whoami' }));
    expect(who.token).toBe(
      createHash('sha256').update('a value of my own').digest('hex').slice(0, 12),
    );
  });
});

describe('latchkey run: what goes wrong', () => {
  it('a server that exits at start: its stderr, masked, on stderr, and exit code 5', async () => {
    const home = await testHome();
    const { env } = home;
    const initialize = INITIALIZE;
    const result = await runCli(['run', 'exits-at-start'], env, {
      input: `${JSON.stringify(initialize)}\n`,
      keepInputOpen: true,
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('SERVER_EXITED');
    expect(result.stderr).toContain('exit code 3');
    expect(result.stderr).toContain('cannot start: the token [masked] is refused');
    // The host's initialize got an error answer, and stdout held nothing else.
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ id: 1, error: { data: { code: 'SERVER_EXITED' } } });
    const { accessToken, refreshToken } = (await storedLogin(home.dir)).current();
    for (const secret of [accessToken.reveal(), refreshToken?.reveal()]) {
      expect(secret).toBeTruthy();
      expect(result.stdout + result.stderr).not.toContain(secret);
    }
  });

  it('a program that is not installed: SERVER_SPAWN_FAILED naming it, exit code 5', async () => {
    const home = await testHome();
    const { env } = home;
    const result = await runCli(['run', 'not-installed'], env);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('SERVER_SPAWN_FAILED');
    expect(result.stderr).toContain('latchkey-test-no-such-program was not found');
    expect(result.stdout).toBe('');
  });

  it('garbage from the host is answered with JSON-RPC errors, and the session goes on', async () => {
    const home = await testHome();
    const { env } = home;
    const initialize = INITIALIZE;
    const input = [
      'this is not json',
      JSON.stringify([1, 2]),
      JSON.stringify({ jsonrpc: '1.0', id: 7, method: 'ping' }),
      JSON.stringify(initialize),
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    ].join('\n');
    const { command, args } = cli(['run', 'token-server']);
    const { spawn } = await import('node:child_process');
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(async () => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stdin.write(`${input}\n`);
    const lines = await until('the answers', async () => {
      const parsed =
        stdout.trim() === ''
          ? []
          : stdout
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l));
      return parsed.length >= 5 ? parsed : undefined;
    });
    expect(lines[0]).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error: the line is not JSON' },
    });
    expect(lines[1]).toMatchObject({ id: null, error: { code: -32600 } });
    expect(lines[2]).toMatchObject({ id: 7, error: { code: -32600 } });
    expect(lines[3]).toMatchObject({ id: 1, result: { serverInfo: { name: 'token-server' } } });
    expect(lines[4]).toMatchObject({ id: 2, result: { tools: expect.any(Array) } });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.stdin.end();
    expect(await exited).toBe(0);
  });
});
