import { LatchkeyError } from './errors.js';
import { Secret } from './secret.js';
import type { JsonObject } from './store/types.js';
import { parseUrl } from './util/url.js';

/** Non-secret values kept with credentials. */
export type Metadata = Readonly<Record<string, string | number | boolean>>;

/**
 * What the `mcp` engine keeps with a login: the authorization server that issued it and
 * the client that obtained it, so a refresh or revocation (in any process) goes back to
 * that server with that client, and never to another one.
 */
export interface McpLoginState {
  readonly kind: 'mcp';
  /** The authorization server's issuer identifier. */
  readonly issuer: string;
  /** The RFC 8707 resource the tokens were requested for. */
  readonly resource: string;
  /** The client id presented to the authorization server. */
  readonly clientId: string;
  /** How that client authenticates at the token endpoint. */
  readonly tokenEndpointAuthMethod:
    | 'none'
    | 'client_secret_basic'
    | 'client_secret_post'
    | 'private_key_jwt';
  /** How the client was identified (absent for machine-to-machine grants). */
  readonly clientIdentification?: 'pre-registered' | 'metadata-document' | 'dynamic';
  /**
   * The authorization server's endpoints as its metadata named them at sign-in, so a
   * refresh or revocation (in any process) needs no discovery first.
   */
  readonly endpoints?: McpEndpoints;
  /**
   * Set when the MCP server moved to another authorization server (this issuer) and a
   * login there took this one's place. The login is kept apart, so it can still be
   * revoked at its own server with `logout()`, but it is never reused without being
   * asked for by account, and nothing of it reaches the new server.
   */
  readonly movedTo?: string;
}

/** The endpoints of an MCP login's authorization server. */
export interface McpEndpoints {
  readonly authorization: string;
  readonly token: string;
  readonly revocation?: string;
}

/** What the `browser` engine keeps with a login: the browser profile it used. */
export interface BrowserLoginState {
  readonly kind: 'browser';
  /** The persistent profile's name; `''` for the provider's default profile. */
  readonly profile: string;
}

/**
 * What the `oauth` engine keeps with a login of a provider whose metadata it discovers:
 * the authorization server's metadata as discovered at sign-in (RFC 8414), so a refresh
 * or revocation in a new process needs no discovery request first.
 */
export interface OAuthLoginState {
  readonly kind: 'oauth';
  /** The authorization server's issuer identifier. */
  readonly issuer: string;
  /** The metadata document as discovered (it names the token endpoint). */
  readonly metadata: Readonly<JsonObject>;
}

/** What a strategy's engine keeps with a login to refresh, revoke or sign in again. Not secret. */
export type EngineState = McpLoginState | BrowserLoginState | OAuthLoginState;

/**
 * The credentials of one account at one provider. Secret values are {@link Secret}s:
 * they print and serialize as `[redacted]`; read them with `reveal()` where they are sent.
 */
export interface Credentials {
  /** The provider the credentials come from. */
  readonly providerId: string;
  /** The account they belong to. */
  readonly account: string;
  /** The token type, lower case (usually `bearer`). */
  readonly tokenType: string;
  /** The access token. */
  readonly accessToken: Secret;
  /** The refresh token, when the service issued one. */
  readonly refreshToken?: Secret;
  /** The OpenID Connect ID Token, when one was issued. */
  readonly idToken?: Secret;
  /**
   * The private key (a JWK) the tokens are bound to with DPoP (RFC 9449); `tokenType` is
   * then `dpop`. Stored with the same protection as the tokens.
   */
  readonly dpopKey?: Secret;
  /** When the access token expires (epoch ms); absent when the service did not say. */
  readonly expiresAt?: number;
  /** The scopes granted. */
  readonly scopes: readonly string[];
  /**
   * The scopes asked for at the last sign-in, when they were more than were granted or
   * not known to be granted. Reuse compares what is asked now with these, so a server
   * that grants less than it was asked does not cause a sign-in on every call.
   */
  readonly requestedScopes?: readonly string[];
  /** Further secret values (for example a second token or a session cookie). */
  readonly secrets: Readonly<Record<string, Secret>>;
  /**
   * Further tokens with a lifetime of their own (Slack's user token beside its bot token),
   * by the name of the secret in {@link Credentials.secrets} that holds each. A session
   * refreshes each with its own refresh token, and a launch never hands a server one
   * that has expired.
   */
  readonly linkedTokens?: Readonly<Record<string, LinkedToken>>;
  /** Non-secret values (email, team, issuer...). */
  readonly metadata: Metadata;
  /** When these credentials were obtained or last refreshed (epoch ms). */
  readonly obtainedAt: number;
  /** What the strategy's engine keeps with the login (the MCP client and issuer, a browser profile). */
  readonly engine?: EngineState;
}

/** A further token's own refresh token and expiry; the token itself is a secret of the login. */
export interface LinkedToken {
  /** Its refresh token, when the service issued one. */
  readonly refreshToken?: Secret;
  /** When it expires (epoch ms); absent when the service did not say. */
  readonly expiresAt?: number;
}

/**
 * The record format. Engine state was added as the optional field `engine`, which readers
 * of earlier releases ignore, so the version stays 1 and those readers keep working.
 */
const RECORD_VERSION = 1;

/** The store key of an account's credentials. */
export function credentialKey(providerId: string, account: string): string {
  return `${providerPrefix(providerId)}${encodeURIComponent(account)}`;
}

/** The store key prefix shared by all accounts of a provider. */
export function providerPrefix(providerId: string): string {
  return `credentials/${providerId}/`;
}

/** Freezes credentials so they can be shared safely. */
export function freezeCredentials(c: Credentials): Credentials {
  return Object.freeze({
    ...c,
    scopes: Object.freeze([...c.scopes]),
    ...(c.requestedScopes ? { requestedScopes: Object.freeze([...c.requestedScopes]) } : {}),
    secrets: Object.freeze({ ...c.secrets }),
    ...(c.linkedTokens
      ? {
          linkedTokens: Object.freeze(
            Object.fromEntries(
              Object.entries(c.linkedTokens).map(([k, v]) => [k, Object.freeze({ ...v })]),
            ),
          ),
        }
      : {}),
    metadata: Object.freeze({ ...c.metadata }),
    ...(c.engine ? { engine: Object.freeze({ ...c.engine }) } : {}),
  });
}

/** Serializes credentials for a store, with secret values in clear. */
export function credentialsToRecord(c: Credentials): JsonObject {
  const record: JsonObject = {
    v: RECORD_VERSION,
    providerId: c.providerId,
    account: c.account,
    tokenType: c.tokenType,
    accessToken: c.accessToken.reveal(),
    scopes: [...c.scopes],
    ...(c.requestedScopes ? { requestedScopes: [...c.requestedScopes] } : {}),
    secrets: Object.fromEntries(Object.entries(c.secrets).map(([k, v]) => [k, v.reveal()])),
    metadata: { ...c.metadata, ...legacyMetadata(c.engine) },
    obtainedAt: c.obtainedAt,
  };
  if (c.engine) record.engine = JSON.parse(JSON.stringify(c.engine)) as JsonObject;
  if (c.linkedTokens) {
    record.linkedTokens = Object.fromEntries(
      Object.entries(c.linkedTokens).map(([name, t]) => [
        name,
        {
          ...(t.refreshToken ? { refreshToken: t.refreshToken.reveal() } : {}),
          ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
        },
      ]),
    );
  }
  if (c.refreshToken) record.refreshToken = c.refreshToken.reveal();
  if (c.idToken) record.idToken = c.idToken.reveal();
  if (c.dpopKey) record.dpopKey = c.dpopKey.reveal();
  if (c.expiresAt !== undefined) record.expiresAt = c.expiresAt;
  return record;
}

function corrupt(key: string, field: string): never {
  const [, provider = '', account = ''] = key.split('/');
  const named = key.startsWith('credentials/') && account !== '';
  throw new LatchkeyError(
    'STORE_CORRUPT',
    `The stored credentials under "${key}" are unreadable (field "${field}"). ${named ? `Remove them with forget(provider, ${JSON.stringify(decodeURIComponent(account))}, { store }) for the provider "${provider}"` : 'Remove the entry from the store'}, then sign in again.`,
  );
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

const MCP_AUTH_METHODS: readonly string[] = [
  'none',
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
];
const IDENTIFICATIONS: readonly string[] = ['pre-registered', 'metadata-document', 'dynamic'];

/** Reads typed engine state, or throws `STORE_CORRUPT` naming `field`. */
function engineState(key: string, value: unknown, field: string): EngineState {
  const e = value as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) corrupt(key, field);
  if (e.kind === 'browser' && typeof e.profile === 'string') {
    return Object.freeze({ kind: 'browser', profile: e.profile });
  }
  if (e.kind === 'oauth' && typeof e.issuer === 'string') {
    const m = e.metadata as Record<string, unknown> | null;
    if (
      typeof m !== 'object' ||
      m === null ||
      Array.isArray(m) ||
      m.issuer !== e.issuer ||
      typeof m.token_endpoint !== 'string'
    ) {
      return corrupt(key, field);
    }
    return Object.freeze({ kind: 'oauth', issuer: e.issuer, metadata: m as JsonObject });
  }
  if (
    e.kind === 'mcp' &&
    typeof e.issuer === 'string' &&
    typeof e.resource === 'string' &&
    typeof e.clientId === 'string' &&
    typeof e.tokenEndpointAuthMethod === 'string' &&
    MCP_AUTH_METHODS.includes(e.tokenEndpointAuthMethod) &&
    (e.clientIdentification === undefined ||
      (typeof e.clientIdentification === 'string' &&
        IDENTIFICATIONS.includes(e.clientIdentification))) &&
    (e.movedTo === undefined || typeof e.movedTo === 'string')
  ) {
    const endpoints = e.endpoints === undefined ? undefined : mcpEndpoints(key, e.endpoints, field);
    return Object.freeze({
      kind: 'mcp',
      issuer: e.issuer,
      resource: e.resource,
      clientId: e.clientId,
      tokenEndpointAuthMethod:
        e.tokenEndpointAuthMethod as McpLoginState['tokenEndpointAuthMethod'],
      ...(e.clientIdentification !== undefined
        ? {
            clientIdentification: e.clientIdentification as NonNullable<
              McpLoginState['clientIdentification']
            >,
          }
        : {}),
      ...(endpoints ? { endpoints } : {}),
      ...(typeof e.movedTo === 'string' ? { movedTo: e.movedTo } : {}),
    });
  }
  return corrupt(key, field);
}

function mcpEndpoints(key: string, value: unknown, field: string): McpEndpoints {
  const e = value as Record<string, unknown> | null;
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.authorization !== 'string' ||
    typeof e.token !== 'string' ||
    (e.revocation !== undefined && typeof e.revocation !== 'string')
  ) {
    return corrupt(key, field);
  }
  return Object.freeze({
    authorization: e.authorization,
    token: e.token,
    ...(typeof e.revocation === 'string' ? { revocation: e.revocation } : {}),
  });
}

/** The metadata keys under which earlier releases kept each kind's engine state. */
const LEGACY_KEYS = {
  mcp: ['resource', 'clientId', 'tokenEndpointAuthMethod', 'clientIdentification'],
  browser: ['browserProfile'],
  oauth: [],
} as const;

/**
 * The engine state an earlier release kept as strings in `metadata`, if any: a browser
 * profile, or an MCP login's issuer, resource and client.
 */
function legacyEngine(key: string, metadata: Metadata): EngineState | undefined {
  if (typeof metadata.browserProfile === 'string') {
    return { kind: 'browser', profile: metadata.browserProfile };
  }
  const { issuer, resource, clientId, tokenEndpointAuthMethod, clientIdentification } = metadata;
  if (
    typeof issuer !== 'string' ||
    typeof resource !== 'string' ||
    typeof clientId !== 'string' ||
    typeof tokenEndpointAuthMethod !== 'string'
  ) {
    return undefined;
  }
  return engineState(
    key,
    {
      kind: 'mcp',
      issuer,
      resource,
      clientId,
      tokenEndpointAuthMethod,
      ...(clientIdentification !== undefined ? { clientIdentification } : {}),
    },
    'metadata',
  );
}

/**
 * The strings an earlier release reads engine state from, written beside `engine` so a
 * process still on that release can refresh a login this one stored.
 */
function legacyMetadata(engine: EngineState | undefined): Record<string, string> {
  if (engine?.kind === 'browser') return { browserProfile: engine.profile };
  if (engine?.kind !== 'mcp') return {};
  return {
    resource: engine.resource,
    clientId: engine.clientId,
    tokenEndpointAuthMethod: engine.tokenEndpointAuthMethod,
    ...(engine.clientIdentification ? { clientIdentification: engine.clientIdentification } : {}),
    issuer: engine.issuer,
  };
}

/**
 * The name an MCP login goes by: its authorization server's host and path
 * (`auth.example.com`, `example.com/tenant1`), one login per authorization server.
 * Earlier releases named it by the issuer URL; `undefined` for a value that is no URL.
 */
export function mcpAccountName(issuer: string): string | undefined {
  const url = parseUrl(issuer);
  return url ? `${url.host}${url.pathname.replace(/\/+$/, '')}` : undefined;
}

/** Reads the `linkedTokens` of a record, or throws `STORE_CORRUPT`. */
function linkedTokensOf(key: string, value: unknown): Record<string, LinkedToken> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    corrupt(key, 'linkedTokens');
  }
  const out: Record<string, LinkedToken> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const t = entry as Record<string, unknown> | null;
    if (
      typeof t !== 'object' ||
      t === null ||
      Array.isArray(t) ||
      (t.refreshToken !== undefined && typeof t.refreshToken !== 'string') ||
      (t.expiresAt !== undefined && typeof t.expiresAt !== 'number')
    ) {
      corrupt(key, `linkedTokens.${name}`);
    }
    out[name] = {
      ...(typeof t.refreshToken === 'string' ? { refreshToken: new Secret(t.refreshToken) } : {}),
      ...(typeof t.expiresAt === 'number' ? { expiresAt: t.expiresAt } : {}),
    };
  }
  return out;
}

/** Reads credentials back from a store record; throws `STORE_CORRUPT` on a malformed one. */
export function credentialsFromRecord(key: string, record: JsonObject): Credentials {
  if (record.v !== RECORD_VERSION) corrupt(key, 'v');
  const str = (field: string, optional = false): string | undefined => {
    const value = record[field];
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string') corrupt(key, field);
    return value;
  };
  const scopes = record.scopes;
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) corrupt(key, 'scopes');
  const requested = record.requestedScopes;
  if (
    requested !== undefined &&
    (!Array.isArray(requested) || !requested.every((s) => typeof s === 'string'))
  ) {
    corrupt(key, 'requestedScopes');
  }
  if (!isStringRecord(record.secrets)) corrupt(key, 'secrets');
  const metadata = record.metadata;
  if (
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    !Object.values(metadata).every((v) => ['string', 'number', 'boolean'].includes(typeof v))
  ) {
    corrupt(key, 'metadata');
  }
  if (typeof record.obtainedAt !== 'number') corrupt(key, 'obtainedAt');
  if (record.expiresAt !== undefined && typeof record.expiresAt !== 'number')
    corrupt(key, 'expiresAt');
  const linkedTokens =
    record.linkedTokens === undefined ? undefined : linkedTokensOf(key, record.linkedTokens);
  const refreshToken = str('refreshToken', true);
  const idToken = str('idToken', true);
  const dpopKey = str('dpopKey', true);
  const stored = metadata as Metadata;
  // Engine state is typed; the strings earlier releases read it from stay out of `metadata`.
  const engine =
    record.engine !== undefined
      ? engineState(key, record.engine, 'engine')
      : legacyEngine(key, stored);
  const legacy: readonly string[] = engine ? LEGACY_KEYS[engine.kind] : [];
  return freezeCredentials({
    providerId: str('providerId') as string,
    account: str('account') as string,
    tokenType: str('tokenType') as string,
    accessToken: new Secret(str('accessToken') as string),
    ...(refreshToken !== undefined ? { refreshToken: new Secret(refreshToken) } : {}),
    ...(idToken !== undefined ? { idToken: new Secret(idToken) } : {}),
    ...(dpopKey !== undefined ? { dpopKey: new Secret(dpopKey) } : {}),
    ...(typeof record.expiresAt === 'number' ? { expiresAt: record.expiresAt } : {}),
    scopes: scopes as string[],
    ...(requested !== undefined ? { requestedScopes: requested as string[] } : {}),
    secrets: Object.fromEntries(
      Object.entries(record.secrets as Record<string, string>).map(([k, v]) => [k, new Secret(v)]),
    ),
    ...(linkedTokens ? { linkedTokens } : {}),
    metadata: Object.fromEntries(Object.entries(stored).filter(([k]) => !legacy.includes(k))),
    obtainedAt: record.obtainedAt as number,
    ...(engine ? { engine } : {}),
  });
}

/** Whether the login has a token with less than `minValidityMs` left that a refresh renews (never, without an expiry). */
export function expiresWithin(c: Credentials, minValidityMs: number, now = Date.now()): boolean {
  const at = renewBy(c);
  return at !== undefined && at - now <= minValidityMs;
}

/**
 * When the login must be refreshed by: the earliest expiry of its access token and of
 * the linked tokens a refresh can renew (one without a refresh token cannot be, so it
 * does not count). `undefined` when none of them expires.
 */
export function renewBy(c: Credentials): number | undefined {
  let at = c.expiresAt;
  for (const t of Object.values(c.linkedTokens ?? {})) {
    if (t.refreshToken && t.expiresAt !== undefined) at = Math.min(at ?? Infinity, t.expiresAt);
  }
  return at;
}

/** Whether two credentials hold the same tokens (the access token and every linked one). */
export function sameTokens(a: Credentials, b: Credentials): boolean {
  if (a.accessToken.reveal() !== b.accessToken.reveal()) return false;
  for (const name of Object.keys({ ...a.linkedTokens, ...b.linkedTokens })) {
    if (a.secrets[name]?.reveal() !== b.secrets[name]?.reveal()) return false;
  }
  return true;
}

/** A token of the credentials known to have expired: its field, value and expiry. */
export interface ExpiredToken {
  /** `accessToken`, or `secrets.<name>` for a linked token. */
  readonly field: string;
  readonly token: Secret | undefined;
  readonly expiresAt: number;
}

/** The credentials' tokens known to have expired by `now`: the access token and linked ones. */
export function expiredTokens(c: Credentials, now = Date.now()): ExpiredToken[] {
  const expired: ExpiredToken[] =
    c.expiresAt !== undefined && c.expiresAt <= now
      ? [{ field: 'accessToken', token: c.accessToken, expiresAt: c.expiresAt }]
      : [];
  for (const [name, t] of Object.entries(c.linkedTokens ?? {})) {
    if (t.expiresAt !== undefined && t.expiresAt <= now) {
      expired.push({ field: `secrets.${name}`, token: c.secrets[name], expiresAt: t.expiresAt });
    }
  }
  return expired;
}

/**
 * The scopes in `wanted` that `held` does not cover. `implies` says which scopes a
 * wider one includes (a provider's `scopeImplies`: Google's `drive` includes
 * `drive.readonly`).
 */
export function missingScopes(
  held: readonly string[],
  wanted: readonly string[],
  implies: Readonly<Record<string, readonly string[]>> = {},
): string[] {
  const covered = new Set(held);
  for (const scope of held) for (const included of implies[scope] ?? []) covered.add(included);
  return wanted.filter((s) => !covered.has(s));
}

/** Whether `held` covers every scope in `wanted` (see {@link missingScopes}). */
export function coversScopes(
  held: readonly string[],
  wanted: readonly string[],
  implies: Readonly<Record<string, readonly string[]>> = {},
): boolean {
  return missingScopes(held, wanted, implies).length === 0;
}
