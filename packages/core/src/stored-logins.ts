import {
  type Credentials,
  credentialKey,
  credentialsFromRecord,
  credentialsToRecord,
  mcpAccountName,
  providerPrefix,
} from './credentials.js';
import { isLatchkeyError, LatchkeyError } from './errors.js';
import { fileStore } from './store/file-store.js';
import type { CredentialStore } from './store/types.js';
import type { AuthProvider } from './strategies/provider.js';

/**
 * The stored login of a provider to reuse: the one of `account`, or the only one
 * stored; `ACCOUNT_AMBIGUOUS` when several are stored and none was named. An MCP login
 * whose server has moved to another authorization server (`engine.movedTo`) is only
 * found by its account.
 */
export async function findStored(
  store: CredentialStore,
  provider: AuthProvider,
  account: string | undefined,
): Promise<Credentials | undefined> {
  if (account !== undefined) {
    const key = credentialKey(provider.id, account);
    const record = await store.get(key);
    return record ? credentialsFromRecord(key, record) : undefined;
  }
  const prefix = providerPrefix(provider.id);
  const keys = await store.list(prefix);
  if (keys.length === 0) return undefined;
  if (keys.length > 1 && provider.strategy.kind !== 'mcp') throw ambiguous(provider, prefix, keys);
  const logins: Credentials[] = [];
  for (const key of keys) {
    const record = await store.get(key);
    if (!record) continue;
    const login = credentialsFromRecord(key, record);
    if (login.engine?.kind === 'mcp' && login.engine.movedTo !== undefined) continue;
    logins.push(login);
  }
  if (logins.length > 1) {
    throw ambiguous(
      provider,
      prefix,
      logins.map((l) => credentialKey(provider.id, l.account)),
    );
  }
  return logins[0];
}

function ambiguous(provider: AuthProvider, prefix: string, keys: string[]): LatchkeyError {
  const names = keys.map((k) => decodeURIComponent(k.slice(prefix.length)));
  return new LatchkeyError(
    'ACCOUNT_AMBIGUOUS',
    `Several ${provider.name} accounts are signed in (${names.join(', ')}). Pass the account option to choose one.`,
  );
}

/**
 * The account name a host asked for, as logins are named now: an MCP login named by its
 * issuer URL (as earlier releases named it) goes by {@link mcpAccountName}.
 */
export function accountName(
  provider: AuthProvider,
  account: string | undefined,
): string | undefined {
  if (account === undefined || provider.strategy.kind !== 'mcp') return account;
  return /^https?:\/\//.test(account) ? (mcpAccountName(account) ?? account) : account;
}

/**
 * Moves the MCP logins that earlier releases named by their issuer URL to the key of
 * their current name, so every later call (with or without an account, a logout, a
 * refresh in another process) finds one login under one key. Each move runs under the
 * locks of both keys, target first, re-reads the old record inside them, and keeps the
 * newer of two logins when both keys hold one; a login is never lost on the way.
 */
export async function adoptEarlierNames(
  store: CredentialStore,
  provider: AuthProvider,
): Promise<void> {
  if (provider.strategy.kind !== 'mcp') return;
  const prefix = providerPrefix(provider.id);
  for (const key of await store.list(prefix)) {
    // Only a key that names an issuer URL can hold such a login; no other is read.
    if (!/^https?%3A/i.test(key.slice(prefix.length))) continue;
    const named = await earlierName(store, key);
    if (!named) continue;
    const target = credentialKey(provider.id, named.name);
    await store.lock(target, () =>
      store.lock(key, async () => {
        const again = await earlierName(store, key);
        if (!again) return;
        const existing = await store.get(target);
        const newer =
          !existing || credentialsFromRecord(target, existing).obtainedAt < again.login.obtainedAt;
        if (newer) {
          await store.set(target, credentialsToRecord({ ...again.login, account: again.name }));
        }
        await store.delete(key);
      }),
    );
  }
}

/** The login under `key` and its current name, when an earlier release named it by its issuer. */
async function earlierName(
  store: CredentialStore,
  key: string,
): Promise<{ login: Credentials; name: string } | undefined> {
  const login = await readableLogin(store, key);
  if (!login) return undefined;
  if (login.engine?.kind !== 'mcp' || login.account !== login.engine.issuer) return undefined;
  const name = mcpAccountName(login.engine.issuer);
  return name && name !== login.account ? { login, name } : undefined;
}

/**
 * The login under `key`, or `undefined` when there is none or it cannot be read: an
 * unreadable record is reported (`STORE_CORRUPT`) where it is used, and left as it is.
 */
async function readableLogin(
  store: CredentialStore,
  key: string,
): Promise<Credentials | undefined> {
  const record = await store.get(key);
  if (!record) return undefined;
  try {
    return credentialsFromRecord(key, record);
  } catch {
    return undefined;
  }
}

/**
 * Marks every stored MCP login of `provider` from another authorization server than
 * `issuer` as moved there (`engine.movedTo`), each under its own lock: the server now
 * names `issuer`, so those logins are kept apart and never reused without an account.
 * Called right after a sign-in at `issuer`, under the provider's login lock.
 */
export async function markMovedLogins(
  store: CredentialStore,
  provider: AuthProvider,
  issuer: string,
  lock: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  if (provider.strategy.kind !== 'mcp') return;
  for (const key of await store.list(providerPrefix(provider.id))) {
    await store.lock(
      key,
      async () => {
        const login = await readableLogin(store, key);
        if (!login) return;
        const state = login.engine;
        if (state?.kind !== 'mcp' || state.issuer === issuer || state.movedTo !== undefined) return;
        await store.set(
          key,
          credentialsToRecord({ ...login, engine: { ...state, movedTo: issuer } }),
        );
      },
      lock,
    );
  }
}

/** One stored login, as {@link accounts} lists it: no secret values. */
export interface StoredAccount {
  /** The account name, as `authenticate()`'s `account` option takes it. */
  readonly account: string;
  /** The scopes asked for and granted. Absent when the record cannot be read. */
  readonly scopes?: readonly string[];
  /** When the access token expires (epoch ms), if known. */
  readonly expiresAt?: number;
  /** When the login was obtained or last refreshed (epoch ms). */
  readonly obtainedAt?: number;
  /** Whether a refresh token is held. */
  readonly refreshable?: boolean;
  /** For an MCP login kept apart after its server moved: the issuer it moved to. */
  readonly movedTo?: string;
  /** Set when the record cannot be read (`STORE_CORRUPT`); {@link forget} removes it. */
  readonly unreadable?: true;
}

/** Options of {@link accounts} and {@link forget}. */
export interface StoredLoginOptions {
  /** The credential store. Default: `fileStore()`, as `authenticate()` uses. */
  store?: CredentialStore;
}

/**
 * Lists the logins of `provider` in the store, without a session and without secret
 * values. An unreadable record is listed with `unreadable: true` instead of failing the
 * whole list, so it can be found and forgotten.
 */
export async function accounts(
  provider: AuthProvider,
  options: StoredLoginOptions = {},
): Promise<StoredAccount[]> {
  const store = options.store ?? fileStore();
  await adoptEarlierNames(store, provider);
  const prefix = providerPrefix(provider.id);
  const listed: StoredAccount[] = [];
  for (const key of await store.list(prefix)) {
    const account = decodeURIComponent(key.slice(prefix.length));
    const record = await store.get(key);
    if (!record) continue;
    let login: Credentials;
    try {
      login = credentialsFromRecord(key, record);
    } catch (error) {
      if (!isLatchkeyError(error, 'STORE_CORRUPT')) throw error;
      listed.push(Object.freeze({ account, unreadable: true as const }));
      continue;
    }
    const movedTo = login.engine?.kind === 'mcp' ? login.engine.movedTo : undefined;
    listed.push(
      Object.freeze({
        account: login.account,
        scopes: login.scopes,
        ...(login.expiresAt !== undefined ? { expiresAt: login.expiresAt } : {}),
        obtainedAt: login.obtainedAt,
        refreshable: login.refreshToken !== undefined,
        ...(movedTo !== undefined ? { movedTo } : {}),
      }),
    );
  }
  return listed;
}

/**
 * Removes the stored login of `account` at `provider`, readable or not, under its lock,
 * without a session and without revoking anything (a session's `logout()` revokes; an
 * unreadable login cannot be). Resolves with whether a login was removed.
 */
export async function forget(
  provider: AuthProvider,
  account: string,
  options: StoredLoginOptions = {},
): Promise<boolean> {
  if (typeof account !== 'string' || account === '') {
    throw new TypeError('forget() needs the account name, as accounts() lists it');
  }
  const store = options.store ?? fileStore();
  const key = credentialKey(provider.id, accountName(provider, account) ?? account);
  return store.lock(key, async () => {
    const found = (await store.get(key)) !== undefined;
    if (found) await store.delete(key);
    return found;
  });
}
