// The latchkey command as people get it: the packed tarballs of @latchkey/cli and the
// packages it depends on, installed with npm into a folder outside the workspace, its
// bin run from there. A config module beside it imports @latchkey/core without having
// installed it, and an MCP SDK client runs one of its recipes through `latchkey run`.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, ownRecipeModule, ROOT, tempHome } from './helpers.js';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 300_000;
const PACKAGES = ['core', 'browser-extract', 'provider-google', 'provider-slack', 'cli'];

let home: { dir: string; remove(): Promise<void> };
let app: string;
let bin: string;
let client: Client | undefined;

beforeAll(async () => {
  home = await tempHome();
  const tarballs: string[] = [];
  // Built and packed from staging copies, so the repository's own builds are left alone.
  for (const name of PACKAGES) {
    const source = join(ROOT, 'packages', name);
    const stage = join(home.dir, 'stage', name);
    await mkdir(stage, { recursive: true });
    await run('npx', ['tsup', '--out-dir', join(stage, 'dist')], {
      cwd: source,
      timeout: INSTALL_TIMEOUT_MS,
    });
    for (const file of ['package.json', 'README.md', 'LICENSE'])
      await copyFile(join(source, file), join(stage, file));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', home.dir], {
      cwd: stage,
    });
    tarballs.push(
      join(home.dir, (JSON.parse(stdout) as { filename: string }[])[0]?.filename as string),
    );
  }
  app = join(home.dir, 'app');
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'latchkey-user',
      private: true,
      dependencies: Object.fromEntries(
        tarballs.map((t, i) => [`@latchkey/${PACKAGES[i]}`, `file:${t}`]),
      ),
    }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: app,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  bin = join(app, 'node_modules', '.bin', 'latchkey');
}, INSTALL_TIMEOUT_MS * 2);

afterAll(async () => {
  await client?.close();
  await home?.remove();
});

describe('the packed latchkey command', () => {
  it('installs one copy of each Latchkey package, and --help and recipes work from the bin', async () => {
    const installed = await readdir(join(app, 'node_modules', '@latchkey'));
    expect(installed.sort()).toEqual([
      'browser-extract',
      'cli',
      'core',
      'provider-google',
      'provider-slack',
    ]);
    const nested = await readdir(join(app, 'node_modules', '@latchkey', 'cli')).then((f) =>
      f.includes('node_modules'),
    );
    expect(nested).toBe(false);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home.dir,
      LATCHKEY_HOME: join(home.dir, 'store'),
    };
    const help = await run(bin, ['--help'], { cwd: home.dir, env });
    expect(help.stdout).toContain('latchkey run <recipe>');
    const recipes = await run(bin, ['recipes'], { cwd: home.dir, env });
    expect(recipes.stdout).toContain('gdrive  Google Drive  provider: google');
  });

  it('runs a recipe of a config module that imports @latchkey/core it never installed', async () => {
    const config = join(home.dir, 'config', 'config.mjs');
    await mkdir(join(home.dir, 'config'));
    await writeFile(config, ownRecipeModule('packed and installed'));
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home.dir,
      LATCHKEY_HOME: join(home.dir, 'store'),
      LATCHKEY_CONFIG: config,
    };
    ({ client } = await connectHost({ command: bin, args: ['run', 'own'] }, env, home.dir));
    const result = (await client.callTool({ name: 'whoami' })) as CallToolResult;
    const who = JSON.parse((result.content[0] as { text: string }).text) as { token: string };
    expect(who.token).toBe(
      createHash('sha256').update('packed and installed').digest('hex').slice(0, 12),
    );
  });
});
