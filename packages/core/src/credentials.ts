import { LatchkeyError } from './errors.js';
import { Secret } from './secret.js';
import type { JsonObject } from './store/types.js';

/** Non-secret values kept with credentials. */
export type Metadata = Readonly<Record<string, string | number | boolean>>;

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
  /** When the access token expires (epoch ms); absent when the service did not say. */
  readonly expiresAt?: number;
  /** The scopes granted. */
  readonly scopes: readonly string[];
  /** Further secret values (for example a second token or a session cookie). */
  readonly secrets: Readonly<Record<string, Secret>>;
  /** Non-secret values (email, team, issuer...). */
  readonly metadata: Metadata;
  /** When these credentials were obtained or last refreshed (epoch ms). */
  readonly obtainedAt: number;
}

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
    secrets: Object.freeze({ ...c.secrets }),
    metadata: Object.freeze({ ...c.metadata }),
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
    secrets: Object.fromEntries(Object.entries(c.secrets).map(([k, v]) => [k, v.reveal()])),
    metadata: { ...c.metadata },
    obtainedAt: c.obtainedAt,
  };
  if (c.refreshToken) record.refreshToken = c.refreshToken.reveal();
  if (c.idToken) record.idToken = c.idToken.reveal();
  if (c.expiresAt !== undefined) record.expiresAt = c.expiresAt;
  return record;
}

function corrupt(key: string, field: string): never {
  throw new LatchkeyError(
    'STORE_CORRUPT',
    `The stored credentials under "${key}" are unreadable (field "${field}"). Log out of that account and sign in again.`,
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
  const refreshToken = str('refreshToken', true);
  const idToken = str('idToken', true);
  return freezeCredentials({
    providerId: str('providerId') as string,
    account: str('account') as string,
    tokenType: str('tokenType') as string,
    accessToken: new Secret(str('accessToken') as string),
    ...(refreshToken !== undefined ? { refreshToken: new Secret(refreshToken) } : {}),
    ...(idToken !== undefined ? { idToken: new Secret(idToken) } : {}),
    ...(typeof record.expiresAt === 'number' ? { expiresAt: record.expiresAt } : {}),
    scopes: scopes as string[],
    secrets: Object.fromEntries(
      Object.entries(record.secrets as Record<string, string>).map(([k, v]) => [k, new Secret(v)]),
    ),
    metadata: metadata as Record<string, string | number | boolean>,
    obtainedAt: record.obtainedAt as number,
  });
}

/** Whether the access token has less than `minValidityMs` left (never, without an expiry). */
export function expiresWithin(c: Credentials, minValidityMs: number, now = Date.now()): boolean {
  return c.expiresAt !== undefined && c.expiresAt - now <= minValidityMs;
}

/** Whether `granted` covers every scope in `wanted`. */
export function coversScopes(granted: readonly string[], wanted: readonly string[]): boolean {
  const set = new Set(granted);
  return wanted.every((s) => set.has(s));
}
