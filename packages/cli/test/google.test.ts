// `latchkey run gdrive`: the built-in recipe with the real @modelcontextprotocol/server-gdrive
// from npm, signed in at the fake Google, its Drive calls answered by a stand-in for
// www.googleapis.com that accepts only tokens the fake issued and that have not expired.
import { packageBin } from '@latchkey/testkit';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeGoogle,
  startFakeGoogle,
} from '../../provider-google/test/fixtures/fake-google.js';
import { type GoogleApis, startGoogleApis } from './fixtures/google-apis.js';
import {
  cli,
  cliEnv,
  connectHost,
  fakeGoogleConfig,
  SIGN_IN_BROWSER,
  tempHome,
} from './helpers.js';

// The relay restarts the server half a lifetime ahead of expiry (a real token's minute is
// out of reach here); server-gdrive takes seconds to start on a loaded machine, so the
// half-lifetime must leave room for that.
const TTL_SECONDS = 12;
let fake: FakeGoogle;
let apis: GoogleApis;
let home: { dir: string; remove(): Promise<void> };
let client: Client | undefined;

beforeAll(async () => {
  home = await tempHome();
  fake = await startFakeGoogle({ accessTokenTtl: TTL_SECONDS });
  apis = await startGoogleApis({
    dir: home.dir,
    files: [
      { id: '1a2b', name: 'Quarterly report', mimeType: 'application/vnd.google-apps.document' },
      { id: '3c4d', name: 'Holiday photos', mimeType: 'application/vnd.google-apps.folder' },
    ],
    tokenInfo: (token) => fake.accessTokenInfo(token),
  });
});
afterAll(async () => {
  await client?.close();
  await Promise.all([apis?.close(), fake?.close()]);
  await home?.remove();
});

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe('latchkey run gdrive', () => {
  it('signs in at Google, searches Drive, and searches again after the token expired under the server', async () => {
    const config = await fakeGoogleConfig(home.dir, fake, {
      gdrive: {
        command: process.execPath,
        args: [packageBin('@modelcontextprotocol/server-gdrive', 'mcp-server-gdrive')],
      },
    });
    const env = cliEnv(home.dir, {
      LATCHKEY_CONFIG: config,
      BROWSER: SIGN_IN_BROWSER,
      HTTPS_PROXY: apis.proxyUrl,
      NODE_EXTRA_CA_CERTS: apis.caFile,
    });
    ({ client } = await connectHost(cli(['run', 'gdrive']), env));
    expect(fake.authorizations).toHaveLength(1);
    expect(fake.authorizations[0]?.scope).toContain(
      'https://www.googleapis.com/auth/drive.readonly',
    );

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['search']);
    const found = text(await client.callTool({ name: 'search', arguments: { query: 'report' } }));
    expect(found).toContain('Quarterly report');
    expect(found).not.toContain('Holiday photos');
    const first = apis.requests.at(-1);
    expect(first).toMatchObject({ path: '/drive/v3/files', status: 200 });

    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 1000));
    // The first token has expired: a server still holding it would get a 401.
    expect(fake.accessTokenInfo(first?.token as string)).toBeUndefined();
    const again = text(await client.callTool({ name: 'search', arguments: { query: 'photos' } }));
    expect(again).toContain('Holiday photos');
    const second = apis.requests.at(-1);
    expect(second).toMatchObject({ status: 200 });
    expect(second?.token).not.toBe(first?.token);
    expect(apis.requests.every((r) => r.status === 200)).toBe(true);
    expect(apis.refused).toEqual([]);
    expect(
      fake.tokenRequests.filter((r) => r.grantType === 'refresh_token').length,
    ).toBeGreaterThan(0);
  });
});
