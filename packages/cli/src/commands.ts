import {
  type AuthProvider,
  accounts,
  authenticate,
  type CredentialStore,
  forget,
  isLatchkeyError,
  LatchkeyError,
  mcpAuthProvider,
  type StoredAccount,
} from '@latchkey/core';
import type { ProviderEntry, Registry } from './registry.js';
import type { Reporter } from './report.js';
import { type SignInOptions, signIn } from './sign-in.js';

/** Where the CLI remembers the remote servers it connected to, so `status` can name them. */
const CONNECTIONS = 'cli/connections/';

export interface CommandContext {
  store: CredentialStore;
  registry: Registry;
  reporter: Reporter;
  stdout: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A provider for a remote MCP server's URL, the one `latchkey connect` uses. */
export function remoteProvider(url: string): AuthProvider {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LatchkeyError(
      'CLI_USAGE',
      `"${url}" is not a URL. Give the MCP server's address, for example https://mcp.example.com/mcp.`,
    );
  }
  const loopback =
    /^127(\.\d{1,3}){3}$/.test(parsed.hostname) || ['localhost', '[::1]'].includes(parsed.hostname);
  return mcpAuthProvider(parsed.href, loopback ? { allowHttpLoopback: true } : {});
}

export async function rememberConnection(
  store: CredentialStore,
  provider: AuthProvider,
  url: string,
): Promise<void> {
  await store.set(`${CONNECTIONS}${encodeURIComponent(provider.id)}`, { url });
}

async function rememberedConnections(store: CredentialStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await store.list(CONNECTIONS)) {
    const value = await store.get(key);
    if (typeof value?.url === 'string')
      out.set(decodeURIComponent(key.slice(CONNECTIONS.length)), value.url);
  }
  return out;
}

export async function login(
  ctx: CommandContext,
  target: string,
  options: Pick<SignInOptions, 'account' | 'flow' | 'signal'>,
): Promise<void> {
  const remote = /^https?:\/\//.test(target);
  const entry = remote ? remoteEntry(target) : ctx.registry.provider(target);
  const session = await signIn(entry, [], { ...ctx, ...options, force: true });
  if (remote) await rememberConnection(ctx.store, session.provider, target);
  ctx.reporter.done(`Signed in to ${session.provider.name} as ${session.account}`);
}

/** The sign-in entry for a remote MCP server's URL. */
export function remoteEntry(url: string): ProviderEntry {
  const provider = remoteProvider(url);
  return {
    id: provider.id,
    name: provider.name,
    origin: 'config',
    drivesBrowser: false,
    make: () => provider,
  };
}

interface StatusRow {
  provider: string;
  providerName?: string;
  url?: string;
  account: string;
  scopes?: readonly string[];
  expiresAt?: string;
  obtainedAt?: string;
  refreshable?: boolean;
  unreadable?: true;
  configured: boolean;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function rowOf(
  id: string,
  name: string | undefined,
  url: string | undefined,
  a: StoredAccount,
): StatusRow {
  return {
    provider: id,
    ...(name !== undefined ? { providerName: name } : {}),
    ...(url !== undefined ? { url } : {}),
    account: a.account,
    ...(a.scopes ? { scopes: a.scopes } : {}),
    ...(a.expiresAt !== undefined ? { expiresAt: iso(a.expiresAt) } : {}),
    ...(a.obtainedAt !== undefined ? { obtainedAt: iso(a.obtainedAt) } : {}),
    ...(a.refreshable !== undefined ? { refreshable: a.refreshable } : {}),
    ...(a.unreadable ? { unreadable: true as const } : {}),
    configured: true,
  };
}

/** A provider for listing the logins stored under `id`, if the CLI can make one. */
function listingProvider(
  ctx: CommandContext,
  id: string,
  urls: Map<string, string>,
): AuthProvider | undefined {
  const url = urls.get(id);
  if (url !== undefined) return remoteProvider(url);
  const entry = ctx.registry.providers.get(id);
  if (!entry) return undefined;
  try {
    return entry.make([]);
  } catch {
    return undefined;
  }
}

export async function status(ctx: CommandContext, json: boolean): Promise<void> {
  const urls = await rememberedConnections(ctx.store);
  const ids = new Set<string>();
  for (const key of await ctx.store.list('credentials/')) {
    const id = key.split('/')[1];
    if (id) ids.add(id);
  }
  const rows: StatusRow[] = [];
  for (const id of [...ids].sort()) {
    const provider = listingProvider(ctx, id, urls);
    if (provider) {
      for (const a of await accounts(provider, { store: ctx.store }))
        rows.push(rowOf(id, provider.name, urls.get(id), a));
      continue;
    }
    for (const key of await ctx.store.list(`credentials/${id}/`)) {
      rows.push({
        provider: id,
        account: decodeURIComponent(key.split('/').slice(2).join('/')),
        configured: false,
      });
    }
  }
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ logins: rows }, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    ctx.stdout.write('No logins stored. Sign in with: latchkey login <provider>\n');
    return;
  }
  const now = Date.now();
  for (const row of rows) {
    const parts = [`${row.provider}${row.url ? ` (${row.url})` : ''}`, row.account];
    if (row.unreadable) parts.push('unreadable: run `latchkey logout` for it and sign in again');
    else if (!row.configured)
      parts.push('provider not configured: add it to the config file to use it');
    else {
      if (row.scopes) parts.push(`scopes: ${row.scopes.join(' ') || '(none)'}`);
      if (row.expiresAt) {
        const left = Date.parse(row.expiresAt) - now;
        parts.push(left > 0 ? `expires in ${duration(left)}` : `expired ${duration(-left)} ago`);
      } else parts.push('no expiry');
      parts.push(row.refreshable ? 'can refresh' : 'cannot refresh');
    }
    ctx.stdout.write(`${parts.join('  ')}\n`);
  }
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} days`;
}

export async function logout(
  ctx: CommandContext,
  target: string,
  account: string | undefined,
): Promise<void> {
  const remote = /^https?:\/\//.test(target);
  const urls = await rememberedConnections(ctx.store);
  let provider: AuthProvider;
  if (remote) provider = remoteProvider(target);
  else if (urls.has(target)) provider = remoteProvider(urls.get(target) as string);
  else provider = ctx.registry.provider(target).make([]);
  const stored = await accounts(provider, { store: ctx.store });
  const names = stored.map((a) => a.account);
  if (stored.length === 0) {
    throw new LatchkeyError(
      'LOGIN_REQUIRED',
      `No login is stored for ${provider.name}; there is nothing to log out of.`,
    );
  }
  if (account === undefined && stored.length > 1) {
    throw new LatchkeyError(
      'ACCOUNT_AMBIGUOUS',
      `Several ${provider.name} logins are stored (${names.join(', ')}); choose one with --account.`,
    );
  }
  const name = account ?? (names[0] as string);
  if (!names.includes(name)) {
    throw new LatchkeyError(
      'LOGIN_REQUIRED',
      `No ${provider.name} login is stored for ${name}. Stored: ${names.join(', ')}.`,
    );
  }
  try {
    const session = await authenticate(provider, {
      store: ctx.store,
      account: name,
      interactive: false,
    });
    const result = await session.logout();
    ctx.reporter.done(
      `Logged out of ${provider.name} as ${name}${result.revoked ? ' (the grant was revoked)' : result.revocationError ? ` (revocation failed: ${result.revocationError.message}; forgotten here)` : ' (forgotten here; the provider offers no revocation)'}`,
    );
  } catch (error) {
    // A login that cannot be used any more is only forgotten.
    if (!isLatchkeyError(error)) throw error;
    await forget(provider, name, { store: ctx.store });
    ctx.reporter.done(
      `Forgot the ${provider.name} login of ${name} (it could not be revoked: ${error.code})`,
    );
  }
  if (remote || urls.has(target)) {
    if ((await accounts(provider, { store: ctx.store })).length === 0) {
      await ctx.store.delete(`${CONNECTIONS}${encodeURIComponent(provider.id)}`);
    }
  }
}

export function recipes(ctx: CommandContext, json: boolean): void {
  const rows = [...ctx.registry.recipes.values()].map((entry) => {
    const spec = entry.make();
    const provider = spec.provider ?? entry.provider;
    return {
      id: spec.id,
      name: spec.name,
      ...(provider !== undefined ? { provider } : {}),
      scopes: [...spec.scopes, ...(entry.scopes ?? [])],
      origin: entry.origin,
    };
  });
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ recipes: rows }, null, 2)}\n`);
    return;
  }
  for (const row of rows) {
    ctx.stdout.write(
      `${row.id}  ${row.name}  provider: ${row.provider ?? '(none)'}${row.scopes.length > 0 ? `  scopes: ${row.scopes.join(' ')}` : ''}${row.origin === 'config' ? '  (from the config)' : ''}\n`,
    );
  }
}
