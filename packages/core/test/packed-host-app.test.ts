// @latchkey/core as host apps get it: one packed tarball installed outside the workspace
// into an app on the v1 MCP SDK (@modelcontextprotocol/sdk) and into an app on the v2 SDK
// (@modelcontextprotocol/client), each at an older version than the repository uses and
// without the other line's package. Each app must hold one copy of its SDK and none of
// the other, type-check with `strict` (`server.client` is that SDK's own Client), launch
// server-everything and reach a remote server through the mcp strategy, and see the
// other line's entry refuse to launch with SDK_NOT_INSTALLED.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type McpAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unattendedUser } from './helpers.js';
import { serverBin } from './launch-helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
/** Older than the repository's SDK, and at least the first release that speaks 2025-11-25. */
const HOST_SDK = '1.25.3';
/** The lowest version of the v2 peer range. */
const HOST_CLIENT = '2.0.0';
const V1_PACKAGE = '@modelcontextprotocol/sdk';
const V2_PACKAGE = '@modelcontextprotocol/client';
const INSTALL_TIMEOUT_MS = 300_000;

let tmp: string | undefined;
let tarball: string;
let as: McpAuthServer | undefined;
let opener: Server | undefined;
let openerUrl: string;
const mcpServers: TestMcpServer[] = [];

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, {
    cwd,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

async function startMcp(mcpSdk: 'v1' | 'v2'): Promise<TestMcpServer> {
  const server = await startMcpServer({
    authorizationServers: [(as as McpAuthServer).issuer],
    mcpSdk,
  });
  mcpServers.push(server);
  return server;
}

beforeAll(async () => {
  // The servers start first, so that afterAll stops them even when packing fails.
  as = await startMcpAuthServer();
  // The apps' openUrl posts the authorization URL here, where a test user approves it.
  const user = unattendedUser();
  opener = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      user.openUrl(body);
      res.end();
    });
  });
  await new Promise<void>((resolve) => opener?.listen(0, '127.0.0.1', resolve));
  openerUrl = `http://127.0.0.1:${(opener.address() as AddressInfo).port}/open`;

  tmp = await mkdtemp(join(tmpdir(), 'latchkey-host-'));
  // Built and packed from a staging copy, so the repository's own build is left alone.
  const core = join(root, 'packages/core');
  const stage = join(tmp, 'stage');
  await run('npx', ['tsup', '--out-dir', join(stage, 'dist')], {
    cwd: core,
    timeout: INSTALL_TIMEOUT_MS,
  });
  for (const file of ['package.json', 'README.md', 'LICENSE']) {
    await copyFile(join(core, file), join(stage, file));
  }
  const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', tmp], stage)) as {
    filename: string;
  }[];
  tarball = join(tmp, (packed[0] as { filename: string }).filename);
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await Promise.all([as?.close(), ...mcpServers.map((server) => server.close())]);
  await new Promise<void>((resolve) => (opener ? opener.close(() => resolve()) : resolve()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Installs a host app from a fixture folder: the packed tarball, `sdk`, and @types/node. */
async function installApp(name: string, sdk: Record<string, string>): Promise<string> {
  const app = join(tmp as string, name);
  await mkdir(app);
  const types = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).devDependencies[
    '@types/node'
  ] as string;
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name,
      private: true,
      type: 'module',
      dependencies: { '@latchkey/core': `file:${tarball}`, ...sdk, '@types/node': types },
    }),
  );
  for (const file of ['main.ts', 'wrong-entry.ts', 'tsconfig.json']) {
    await copyFile(join(fixtures, name, file), join(app, file));
  }
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
  return app;
}

/** Every version of `name` in the app's installed tree. */
function versions(tree: { dependencies?: Record<string, unknown> }, name: string): string[] {
  const found: string[] = [];
  const walk = (node: { version?: string; dependencies?: Record<string, unknown> }) => {
    for (const [dep, child] of Object.entries(node.dependencies ?? {})) {
      const c = child as { version?: string; dependencies?: Record<string, unknown> };
      if (dep === name && c.version) found.push(c.version);
      walk(c);
    }
  };
  walk(tree);
  return found;
}

/** Where in node_modules the app's lockfile puts `name`: one entry per installed copy. */
async function locations(app: string, name: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return Object.keys(lock.packages).filter(
    (path) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`),
  );
}

/** Runs tsc in the app; `failed` says whether it exited with errors. */
async function typeCheck(
  app: string,
  args: string[],
): Promise<{ stdout: string; failed: boolean }> {
  return run(process.execPath, [tsc, ...args], { cwd: app }).then(
    ({ stdout }) => ({ stdout, failed: false }),
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error), failed: true }),
  );
}

/** Type-checks wrong-entry.ts with the options of the fixtures' tsconfig.json. */
function typeCheckWrongEntry(app: string): Promise<{ stdout: string; failed: boolean }> {
  return typeCheck(app, [
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    'false',
    '--target',
    'ES2022',
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--types',
    'node',
    'wrong-entry.ts',
  ]);
}

/** Runs the app's compiled main.js against `mcp` and returns the JSON line it printed. */
async function runApp(app: string, mcp: TestMcpServer): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [join(app, 'dist/main.js')], {
    cwd: app,
    timeout: 90_000,
    env: {
      ...process.env,
      EVERYTHING_BIN: serverBin('@modelcontextprotocol/server-everything', 'mcp-server-everything'),
      MCP_URL: mcp.url,
      OPEN_URL_ENDPOINT: openerUrl,
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

describe('a host app on the v1 SDK, from the packed tarball', () => {
  let app: string;
  let mcp: TestMcpServer;
  let ran: Promise<Record<string, unknown>> | undefined;
  const result = () => {
    ran ??= runApp(app, mcp);
    return ran;
  };

  beforeAll(async () => {
    mcp = await startMcp('v1');
    app = await installApp('host-app-v1', { [V1_PACKAGE]: HOST_SDK });
  }, INSTALL_TIMEOUT_MS + 60_000);

  it('declares both SDK lines as optional peers with ranges and the other runtime dependencies as ranges', async () => {
    const manifest = JSON.parse(
      await readFile(join(app, 'node_modules/@latchkey/core/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(manifest.peerDependencies).toEqual({ [V1_PACKAGE]: '^1.24.1', [V2_PACKAGE]: '^2.0.0' });
    expect(manifest.peerDependenciesMeta).toEqual({
      [V1_PACKAGE]: { optional: true },
      [V2_PACKAGE]: { optional: true },
    });
    expect(manifest.dependencies[V1_PACKAGE]).toBeUndefined();
    expect(manifest.dependencies[V2_PACKAGE]).toBeUndefined();
    for (const range of Object.values(manifest.dependencies)) expect(range).toMatch(/^\^/);
  });

  it('holds exactly one copy of the SDK, the one the host chose, and no v2 client', async () => {
    const tree = JSON.parse(await npm(['ls', '--all', '--json'], app));
    expect(versions(tree, V1_PACKAGE)).toEqual([HOST_SDK, HOST_SDK]);
    const { stdout } = await run('npm', ['ls', V1_PACKAGE], { cwd: app });
    expect(stdout).toContain('deduped');
    expect(await locations(app, V1_PACKAGE)).toEqual([`node_modules/${V1_PACKAGE}`]);
    // npm ls lists the missing optional peer under @latchkey/core with no version.
    expect(versions(tree, V2_PACKAGE)).toEqual([]);
    expect(await locations(app, V2_PACKAGE)).toEqual([]);
  });

  it('type-checks with strict: server.client is the host SDK Client', async () => {
    const result = await typeCheck(app, ['-p', 'tsconfig.json']);
    expect(result.stdout).toBe('');
    expect(result.failed).toBe(false);
  });

  it('fails the strict type-check on a static import of the v2 entry, naming the missing package', async () => {
    const result = await typeCheckWrongEntry(app);
    expect(result.failed).toBe(true);
    expect(result.stdout).toContain(`node_modules/@latchkey/core/dist/sdk-v2.d.ts(1,`);
    expect(result.stdout).toContain(`Cannot find module '${V2_PACKAGE}'`);
  });

  it('launches server-everything and a remote server through the mcp strategy, and calls tools', async () => {
    const output = await result();
    expect(output.tools).toBe(13);
    expect(output.echoed).toContain('hi');
    expect(output.read).toMatch(/^read-thing done for /);
  });

  it('gets SDK_NOT_INSTALLED from launchServer of @latchkey/core/sdk-v2', async () => {
    expect((await result()).otherEntry).toBe('SDK_NOT_INSTALLED');
  });
});

describe('a host app on the v2 SDK, from the packed tarball', () => {
  let app: string;
  let mcp: TestMcpServer;
  let ran: Promise<Record<string, unknown>> | undefined;
  const result = () => {
    ran ??= runApp(app, mcp);
    return ran;
  };

  beforeAll(async () => {
    mcp = await startMcp('v2');
    app = await installApp('host-app-v2', { [V2_PACKAGE]: HOST_CLIENT });
  }, INSTALL_TIMEOUT_MS + 60_000);

  it('has no v1 SDK in its manifest', async () => {
    const manifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(manifest.dependencies[V2_PACKAGE]).toBe(HOST_CLIENT);
    expect(JSON.stringify(manifest)).not.toContain(V1_PACKAGE);
  });

  it('holds exactly one copy of the v2 client, the one the host chose, and no v1 SDK', async () => {
    const tree = JSON.parse(await npm(['ls', '--all', '--json'], app));
    // Once where the app asks for it, once deduped under @latchkey/core.
    expect(versions(tree, V2_PACKAGE)).toEqual([HOST_CLIENT, HOST_CLIENT]);
    const { stdout } = await run('npm', ['ls', V2_PACKAGE], { cwd: app });
    expect(stdout).toContain('deduped');
    expect(await locations(app, V2_PACKAGE)).toEqual([`node_modules/${V2_PACKAGE}`]);
    // npm ls lists the missing optional peer under @latchkey/core with no version.
    expect(versions(tree, V1_PACKAGE)).toEqual([]);
    expect(await locations(app, V1_PACKAGE)).toEqual([]);
  });

  it('type-checks with strict: the main entry needs no v1 SDK, server.client is the v2 Client', async () => {
    const result = await typeCheck(app, ['-p', 'tsconfig.json']);
    expect(result.stdout).toBe('');
    expect(result.failed).toBe(false);
  });

  it('fails the strict type-check on a static import of the v1 entry, naming the missing package', async () => {
    const result = await typeCheckWrongEntry(app);
    expect(result.failed).toBe(true);
    expect(result.stdout).toContain(`node_modules/@latchkey/core/dist/sdk-v1.d.ts(1,`);
    expect(result.stdout).toContain(`Cannot find module '${V1_PACKAGE}/client/index.js'`);
  });

  it('launches server-everything over stdio on the 2025 era, and calls tools', async () => {
    const output = await result();
    expect(output.tools).toBe(13);
    expect(output.echoed).toContain('hi');
    // server-everything is built on the v1 SDK, which speaks only the 2025 era.
    expect(output.localEra).toBe('legacy');
  });

  it('reaches a v2 remote server through the mcp strategy on protocol 2026-07-28', async () => {
    const output = await result();
    expect(output.read).toMatch(/^read-thing done for /);
    expect(output.remoteEra).toBe('modern');
    expect(output.remoteVersion).toBe('2026-07-28');
    const authorized = mcp.requests().filter((r) => r.token !== undefined);
    expect(authorized.find((r) => r.rpcMethod === 'server/discover')).toMatchObject({
      protocolVersion: '2026-07-28',
      status: 200,
    });
    // Nothing that carried the token went through the 2025 handshake.
    expect(authorized.filter((r) => r.rpcMethod === 'initialize')).toEqual([]);
  });

  it('gets SDK_NOT_INSTALLED from launchServer of @latchkey/core/sdk-v1', async () => {
    expect((await result()).otherEntry).toBe('SDK_NOT_INSTALLED');
  });
});
