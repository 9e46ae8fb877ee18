// @latchkey/core as a host app on the v1 MCP SDK gets it: the packed tarball installed
// outside the workspace next to an older SDK minor than the repository uses. The app
// must hold one copy of the SDK, type-check with `strict` (`server.client` is that SDK's
// own Client), launch server-everything and reach a remote server through the mcp strategy.
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
const fixture = fileURLToPath(new URL('./fixtures/host-app-v1/', import.meta.url));
/** Older than the repository's SDK, and at least the first release that speaks 2025-11-25. */
const HOST_SDK = '1.25.3';
const INSTALL_TIMEOUT_MS = 300_000;

let tmp: string;
let app: string;
let as: McpAuthServer | undefined;
let mcp: TestMcpServer | undefined;
let opener: Server | undefined;
let openerUrl: string;

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, {
    cwd,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-host-v1-'));
  app = join(tmp, 'app');
  await mkdir(app);
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
  const tarball = join(tmp, (packed[0] as { filename: string }).filename);
  const types = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).devDependencies[
    '@types/node'
  ] as string;
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'host-app-v1',
      private: true,
      type: 'module',
      dependencies: {
        '@latchkey/core': `file:${tarball}`,
        '@modelcontextprotocol/sdk': HOST_SDK,
        '@types/node': types,
      },
    }),
  );
  await copyFile(join(fixture, 'main.ts'), join(app, 'main.ts'));
  await copyFile(join(fixture, 'tsconfig.json'), join(app, 'tsconfig.json'));
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], app);

  as = await startMcpAuthServer();
  mcp = await startMcpServer({ authorizationServers: [as.issuer] });
  // The app's openUrl posts the authorization URL here, where a test user approves it.
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
}, INSTALL_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await Promise.all([as?.close(), mcp?.close()]);
  await new Promise<void>((resolve) => (opener ? opener.close(() => resolve()) : resolve()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

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

describe('a host app on the v1 SDK, from the packed tarball', () => {
  it('declares the SDK as a peer with a range and the other runtime dependencies as ranges', async () => {
    const manifest = JSON.parse(
      await readFile(join(app, 'node_modules/@latchkey/core/package.json'), 'utf8'),
    ) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
    expect(manifest.peerDependencies['@modelcontextprotocol/sdk']).toBe('^1.24.1');
    expect(manifest.dependencies['@modelcontextprotocol/sdk']).toBeUndefined();
    for (const range of Object.values(manifest.dependencies)) expect(range).toMatch(/^\^/);
  });

  it('holds exactly one copy of the SDK, the one the host chose', async () => {
    const tree = JSON.parse(await npm(['ls', '--all', '--json'], app));
    expect(versions(tree, '@modelcontextprotocol/sdk')).toEqual([HOST_SDK, HOST_SDK]);
    const { stdout } = await run('npm', ['ls', '@modelcontextprotocol/sdk'], { cwd: app });
    expect(stdout).toContain('deduped');
  });

  it('type-checks with strict: server.client is the host SDK Client', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error), failed: true }),
    );
    expect(result.stdout).toBe('');
    expect('failed' in result).toBe(false);
  });

  it('launches server-everything and a remote server through the mcp strategy, and calls tools', async () => {
    const { stdout } = await run(process.execPath, [join(app, 'dist/main.js')], {
      cwd: app,
      timeout: 90_000,
      env: {
        ...process.env,
        EVERYTHING_BIN: serverBin(
          '@modelcontextprotocol/server-everything',
          'mcp-server-everything',
        ),
        MCP_URL: (mcp as TestMcpServer).url,
        OPEN_URL_ENDPOINT: openerUrl,
      },
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(result.tools).toBe(13);
    expect(result.echoed).toContain('hi');
    expect(result.read).toMatch(/^read-thing done for /);
  });
});
