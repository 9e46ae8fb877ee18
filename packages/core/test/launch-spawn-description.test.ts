// spawnDescription(): what a host needs to run a server its own way, with nothing spawned
// by Latchkey. The test starts the description itself with the SDK's stdio transport.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineServer, isLatchkeyError, spawnDescription } from '../src/index.js';
import { sha256 } from './fixtures/credential-server.js';
import {
  canaryToken,
  childPids,
  fixtureRecipe,
  launchTmp,
  plainCredentials,
  report,
} from './launch-helpers.js';

let tmp: Awaited<ReturnType<typeof launchTmp>>;

beforeAll(async () => {
  tmp = await launchTmp();
});
afterAll(async () => {
  await tmp?.remove();
});
afterEach(() => {
  expect(childPids()).toEqual([]);
  expect(tmp.launchDirs()).toEqual([]);
});

describe('spawnDescription', () => {
  it('describes command, args, env and files; the host runs it; dispose removes the files', async () => {
    const token = canaryToken();
    const description = await spawnDescription(fixtureRecipe(), plainCredentials(token), {
      tmpDir: tmp.dir,
      env: { FROM_HOST: '1' },
    });
    expect(childPids()).toEqual([]);
    expect(description.command).toBe(process.execPath);
    expect(description.env.FIXTURE_TOKEN === token).toBe(true);
    expect(description.env.FROM_HOST).toBe('1');
    expect(description.env.PATH).toBe(process.env.PATH);
    expect(description.files).toEqual([join(description.dir, 'token.txt')]);
    const file = description.files[0] as string;
    expect(readFileSync(file, 'utf8') === token).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(description.dir).mode & 0o777).toBe(0o700);
    expect(description.refresh).toBe('restart');

    // Printing it masks the credential values.
    expect(JSON.stringify(description)).not.toContain(token);
    expect(JSON.stringify(description)).toContain('[redacted]');
    expect(inspect(description, { depth: 5 })).not.toContain(token);

    const transport = new StdioClientTransport({
      command: description.command,
      args: [...description.args],
      env: { ...description.env },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'own-host', version: '1.0.0' });
    await client.connect(transport);
    const got = report(await client.callTool({ name: 'credentials' }));
    expect(got.env).toBe(sha256(token));
    expect(got.file).toBe(sha256(token));
    await client.close();

    await description.dispose();
    expect(existsSync(description.dir)).toBe(false);
  });

  it('refuses a credential a recipe put into the arguments, which ps shows to every user', async () => {
    const token = canaryToken();
    const recipe = defineServer({
      id: 'args-token',
      transport: { kind: 'stdio', command: process.execPath },
      inject: (credentials) => ({ args: [`--token=${credentials.accessToken.reveal()}`] }),
    });
    const error = await spawnDescription(recipe, plainCredentials(token), {
      tmpDir: tmp.dir,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('args[0]');
    expect(inspect(error, { depth: 5 })).not.toContain(token);
    expect(tmp.launchDirs()).toEqual([]);
  });

  it('refuses to hand a server an access token known to have expired', async () => {
    const token = canaryToken();
    const recipe = defineServer({
      id: 'env-token',
      transport: { kind: 'stdio', command: process.execPath },
      inject: (credentials) => ({ env: { TOKEN: credentials.accessToken } }),
    });
    const expired = { ...plainCredentials(token), expiresAt: Date.now() - 60_000 };
    const error = await spawnDescription(recipe, expired, { tmpDir: tmp.dir }).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain('accessToken');
    expect(inspect(error, { depth: 5 })).not.toContain(token);
    expect(tmp.launchDirs()).toEqual([]);
    // One that has not expired yet is handed over.
    const live = { ...plainCredentials(token), expiresAt: Date.now() + 60_000 };
    const d = await spawnDescription(recipe, live, { tmpDir: tmp.dir });
    expect(d.env.TOKEN).toBe(token);
    await d.dispose();
  });

  it('writes into a directory the host owns and removes only its files', async () => {
    const own = mkdtempSync(join(tmpdir(), 'latchkey-host-owned-'));
    try {
      const description = await spawnDescription(fixtureRecipe(), plainCredentials(canaryToken()), {
        dir: own,
      });
      expect(description.dir).toBe(own);
      expect(readdirSync(own)).toEqual(['token.txt']);
      await description.dispose();
      expect(existsSync(own)).toBe(true);
      expect(readdirSync(own)).toEqual([]);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('checks the recipe first, and has nothing to spawn for http servers', async () => {
    const missing = await spawnDescription(
      fixtureRecipe({ credentials: ['refreshToken'] }),
      plainCredentials(canaryToken()),
      { tmpDir: tmp.dir },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(missing, 'MISSING_CREDENTIAL')).toBe(true);
    const http = defineServer({
      id: 'remote',
      transport: { kind: 'http', url: 'https://x.test/mcp' },
    });
    const error = await spawnDescription(http, plainCredentials(canaryToken())).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
  });
});
