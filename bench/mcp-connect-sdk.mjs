// Benchmark 7, the MCP SDK's side: one connect in a process that loads the SDK's client
// and auth modules and nothing else, through the SDK's own auth() flow: an
// OAuthClientProvider kept in one JSON file, so a new process finds the tokens. The
// documented flow: the first connect ends at the redirect; the app gets the code from its
// redirect URI, hands it to finishAuth(), and connects again. Arguments and output as in
// mcp-connect-latchkey.mjs (the store is the provider's JSON file).
import { readFile, writeFile } from 'node:fs/promises';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { report, settle, unattendedUser } from './mcp-connect-user.mjs';

const [scenario, mcpUrl, storePath] = process.argv.slice(2);
const REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/** @param {string} path */
async function fileProvider(path) {
  let data = JSON.parse(await readFile(path, 'utf8').catch(() => '{}'));
  const save = async (change) => {
    data = { ...data, ...change };
    await writeFile(path, JSON.stringify(data), { mode: 0o600 });
  };
  const provider = {
    redirectUrl: REDIRECT_URL,
    /** @type {Promise<string> | undefined} */
    code: undefined,
    clientMetadata: {
      client_name: 'MCP SDK bench client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    clientInformation: () => data.clientInformation,
    saveClientInformation: (clientInformation) => save({ clientInformation }),
    tokens: () => data.tokens,
    saveTokens: (tokens) => save({ tokens, savedAt: Date.now() }),
    saveCodeVerifier: (codeVerifier) => save({ codeVerifier }),
    codeVerifier() {
      if (!data.codeVerifier) throw new Error('no code verifier saved');
      return data.codeVerifier;
    },
    discoveryState: () => data.discoveryState,
    saveDiscoveryState: (discoveryState) => save({ discoveryState }),
    redirectToAuthorization(authorizationUrl) {
      if (scenario !== 'cold') throw new Error(`a sign-in was started in the ${scenario} case`);
      provider.code = unattendedUser(authorizationUrl.href, REDIRECT_URL);
      provider.code.catch(() => {});
    },
    expiresAt() {
      const { tokens, savedAt } = data;
      return tokens?.expires_in !== undefined && savedAt !== undefined
        ? savedAt + tokens.expires_in * 1000
        : undefined;
    },
  };
  return provider;
}

await report(async () => {
  const url = new URL(mcpUrl);
  const connect = async (transport) => {
    const client = new Client({ name: 'bench', version: '1.0.0' });
    await client.connect(transport);
    return client;
  };
  const t0 = performance.now();
  const provider = await fileProvider(storePath);
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  let client;
  try {
    client = await connect(first);
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.code) throw error;
    await first.finishAuth(await provider.code);
    client = await connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  }
  const { tools } = await client.listTools();
  const ms = performance.now() - t0;
  await settle();
  await client.close();
  return { ms, tools: tools.length, expiresAt: provider.expiresAt() };
});
