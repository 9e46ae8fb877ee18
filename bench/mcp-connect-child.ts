// One connect of benchmark 7, in a process of its own: Latchkey (the built @latchkey/core)
// or the MCP SDK's own auth() flow, either cold (sign in), warm (stored tokens) or after
// expiry (stored tokens that have expired). Prints one JSON line: the milliseconds from the
// first call (store reads included) to the tools/list answer, the number of tools, and when
// the token held at the end expires. A sign-in outside the cold case throws.
// Arguments: latchkey|sdk cold|warm|expired mcpUrl store. Also imported by the parent for
// an untimed warm-up connect in its own process.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type * as Core from '@latchkey/core';
import {
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

export interface ChildReport {
  ms: number;
  tools: number;
  expiresAt: number | undefined;
}

type Impl = 'latchkey' | 'sdk';
type Scenario = 'cold' | 'warm' | 'expired';

/** The `openUrl` of the warm and after-expiry cases: the user is not there. */
function noSignIn(scenario: Scenario): never {
  throw new Error(`a sign-in was started in the ${scenario} case`);
}
// Lets the GET of the event stream (sent, not awaited, after `initialized`) reach the
// server before closing, so that every run shows the same requests. Not timed.
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

async function latchkey(
  scenario: Scenario,
  mcpUrl: string,
  storePath: string,
): Promise<ChildReport> {
  // The built package, as a host would install it (tsx would map the name to the sources).
  const core = (await import(
    new URL('../packages/core/dist/index.js', import.meta.url).href
  )) as typeof Core;
  let outcome: Promise<unknown> | undefined;
  const t0 = performance.now();
  const session = await core.authenticate(
    core.mcpAuthProvider(mcpUrl, { allowHttpLoopback: true }),
    {
      store: core.fileStore({ directory: storePath }),
      timeoutMs: 20_000,
      openUrl: (url) => {
        if (scenario !== 'cold') noSignIn(scenario);
        outcome = unattendedUser(url);
        outcome.catch(() => {});
      },
    },
  );
  const server = await core.launchServer(core.remoteServer(mcpUrl), session, {
    clientInfo: { name: 'bench', version: '1.0.0' },
  });
  const { tools } = await server.client.listTools();
  const ms = performance.now() - t0;
  await outcome;
  await settle();
  await server.close();
  return { ms, tools: tools.length, expiresAt: session.current().expiresAt };
}

interface SdkFile {
  clientInformation?: OAuthClientInformationMixed;
  tokens?: OAuthTokens;
  /** When the tokens were saved (epoch ms), to tell the parent when they expire. */
  savedAt?: number;
  codeVerifier?: string;
  discoveryState?: OAuthDiscoveryState;
}

/**
 * The unattended user (the same for both): follows the authorization URL from redirect to
 * redirect, keeping cookies. With `redirectUri`, it stops at the redirect there and returns
 * its `code`, read from the Location header (the SDK leaves receiving it to the app); without,
 * it also fetches the last page (Latchkey's loopback listener) and returns undefined.
 */
async function unattendedUser(url: string, redirectUri?: string): Promise<string | undefined> {
  const cookies = new Map<string, string>();
  let target = new URL(url);
  for (let hop = 0; hop < 20; hop += 1) {
    if (target.hostname !== '127.0.0.1') throw new Error(`refusing to fetch ${target.origin}`);
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(target, {
      redirect: 'manual',
      headers: cookie ? { cookie } : {},
      signal: AbortSignal.timeout(10_000),
    });
    for (const header of response.headers.getSetCookie()) {
      const pair = header.split(';')[0] ?? '';
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (value === '' || /;\s*expires=Thu, 01 Jan 1970/i.test(header)) cookies.delete(name);
      else cookies.set(name, value);
    }
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      if (redirectUri === undefined && response.ok) return undefined;
      throw new Error(`the authorization stopped at ${target.pathname} with ${response.status}`);
    }
    const next = new URL(location, target);
    if (redirectUri !== undefined && `${next.origin}${next.pathname}` === redirectUri) {
      const code = next.searchParams.get('code');
      if (!code) throw new Error(`no code in the redirect: ${next.search}`);
      return code;
    }
    target = next;
  }
  throw new Error('too many redirects');
}

/** An OAuthClientProvider kept in one JSON file, so that a new process finds the tokens. */
class FileProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:8976/callback';
  /** The code the unattended user brought back, once redirectToAuthorization() ran. */
  code: Promise<string> | undefined;
  constructor(
    private readonly path: string,
    private data: SdkFile,
    private readonly scenario: Scenario,
  ) {}

  static async open(path: string, scenario: Scenario): Promise<FileProvider> {
    const text = await readFile(path, 'utf8').catch(() => '{}');
    return new FileProvider(path, JSON.parse(text) as SdkFile, scenario);
  }

  private async save(change: Partial<SdkFile>): Promise<void> {
    this.data = { ...this.data, ...change };
    await writeFile(this.path, JSON.stringify(this.data), { mode: 0o600 });
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK bench client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.data.clientInformation;
  }
  saveClientInformation(clientInformation: OAuthClientInformationMixed) {
    return this.save({ clientInformation });
  }
  tokens() {
    return this.data.tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    return this.save({ tokens, savedAt: Date.now() });
  }
  saveCodeVerifier(codeVerifier: string) {
    return this.save({ codeVerifier });
  }
  codeVerifier() {
    if (!this.data.codeVerifier) throw new Error('no code verifier saved');
    return this.data.codeVerifier;
  }
  discoveryState() {
    return this.data.discoveryState;
  }
  saveDiscoveryState(discoveryState: OAuthDiscoveryState) {
    return this.save({ discoveryState });
  }
  redirectToAuthorization(authorizationUrl: URL) {
    if (this.scenario !== 'cold') noSignIn(this.scenario);
    this.code = unattendedUser(authorizationUrl.href, this.redirectUrl).then((c) => c as string);
    this.code.catch(() => {});
  }
  expiresAt(): number | undefined {
    const { tokens, savedAt } = this.data;
    return tokens?.expires_in !== undefined && savedAt !== undefined
      ? savedAt + tokens.expires_in * 1000
      : undefined;
  }
}

async function sdk(scenario: Scenario, mcpUrl: string, storePath: string): Promise<ChildReport> {
  const url = new URL(mcpUrl);
  const connect = async (transport: StreamableHTTPClientTransport) => {
    const client = new Client({ name: 'bench', version: '1.0.0' });
    await client.connect(transport);
    return client;
  };
  const t0 = performance.now();
  const provider = await FileProvider.open(storePath, scenario);
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  let client: Client;
  try {
    client = await connect(first);
  } catch (error) {
    // The documented flow: the first connect ends at the redirect; the app gets the code
    // from its redirect URI, hands it to finishAuth(), and connects again.
    if (!(error instanceof UnauthorizedError) || !provider.code) throw error;
    await first.finishAuth(await provider.code);
    client = await connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  }
  const { tools } = await client.listTools();
  const ms = performance.now() - t0;
  await settle();
  await client.close();
  return { ms, tools: tools.length, expiresAt: provider.expiresAt() };
}

/** One connect: `store` is Latchkey's fileStore directory, or the SDK provider's JSON file. */
export function connectOnce(
  impl: Impl,
  scenario: Scenario,
  mcpUrl: string,
  store: string,
): Promise<ChildReport> {
  return impl === 'latchkey' ? latchkey(scenario, mcpUrl, store) : sdk(scenario, mcpUrl, store);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [impl, scenario, mcpUrl, store] = process.argv.slice(2) as [Impl, Scenario, string, string];
  try {
    const report = await connectOnce(impl, scenario, mcpUrl, store);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    process.exitCode = 1;
  }
}
