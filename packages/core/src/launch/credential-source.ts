import { type Credentials, freezeCredentials } from '../credentials.js';
import { Secret, secret } from '../secret.js';
import type { Session } from '../session.js';
import { listeners } from '../util/listeners.js';
import { providerClient } from './injection.js';
import type { ProviderClient } from './types.js';

/**
 * What a launch reads credentials through: the part of a {@link Session} it uses. A
 * session is one as it is; plain credentials from a host become one with
 * {@link heldCredentials}. Internal.
 */
export type CredentialSource = Pick<Session, 'current' | 'fresh' | 'onChange'>;

/** Whether `value` looks like a {@link Session}. */
export function isSession(value: unknown): value is Session {
  const v = value as Partial<Session> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.fresh === 'function' &&
    typeof v.current === 'function' &&
    typeof v.onChange === 'function'
  );
}

/** Checks plain credentials (throws `TypeError` on misuse) and freezes a copy. */
export function checkCredentials(value: unknown): Credentials {
  const c = value as Partial<Credentials> | null;
  if (typeof c !== 'object' || c === null) {
    throw new TypeError('Pass a Session from authenticate() or a Credentials object');
  }
  if (!(c.accessToken instanceof Secret)) {
    throw new TypeError('credentials.accessToken must be a Secret (new Secret(token))');
  }
  for (const field of ['refreshToken', 'idToken'] as const) {
    if (c[field] !== undefined && !(c[field] instanceof Secret)) {
      throw new TypeError(`credentials.${field} must be a Secret`);
    }
  }
  if (typeof c.providerId !== 'string' || typeof c.account !== 'string') {
    throw new TypeError('credentials.providerId and credentials.account must be strings');
  }
  const secrets = c.secrets ?? {};
  if (Object.values(secrets).some((s) => !(s instanceof Secret))) {
    throw new TypeError('every value of credentials.secrets must be a Secret');
  }
  for (const [name, t] of Object.entries(c.linkedTokens ?? {})) {
    if (t?.refreshToken !== undefined && !(t.refreshToken instanceof Secret)) {
      throw new TypeError(`credentials.linkedTokens.${name}.refreshToken must be a Secret`);
    }
  }
  return freezeCredentials({
    tokenType: 'bearer',
    obtainedAt: Date.now(),
    ...c,
    scopes: c.scopes ?? [],
    secrets,
    metadata: c.metadata ?? {},
  } as Credentials);
}

/** Plain credentials a host hands to a launch, and replaces when it refreshes them itself. Internal. */
export interface HeldCredentials extends CredentialSource {
  /** Replaces the credentials and tells the listeners. */
  update(credentials: Credentials): void;
}

/** Holds a host's plain credentials (checked, frozen) behind the {@link CredentialSource} shape. */
export function heldCredentials(input: Credentials): HeldCredentials {
  let current = checkCredentials(input);
  const changed = listeners<Credentials>();
  return {
    current: () => current,
    fresh: () => Promise.resolve(current),
    onChange: changed.add,
    update(credentials) {
      current = checkCredentials(credentials);
      changed.emit(current);
    },
  };
}

/** What a launch works from: the session as it is, or the host's plain credentials held. Internal. */
/**
 * What a server that needs no credentials is launched with: nothing secret, no account.
 * Its recipe may declare no credential fields and no provider (`checkRequirements`).
 */
export function noCredentials(): Credentials {
  return freezeCredentials({
    providerId: '',
    account: '',
    tokenType: 'none',
    accessToken: new Secret(''),
    scopes: [],
    secrets: {},
    metadata: {},
    obtainedAt: Date.now(),
  });
}

export interface LaunchInput {
  /** The session, when the host passed one. */
  readonly session?: Session;
  /** The plain credentials, when the host passed those. */
  readonly held?: HeldCredentials;
  /** Either of the two. */
  readonly source: CredentialSource;
  /** Whether the host passed no credentials at all (a server that needs none). */
  readonly none: boolean;
  /** The OAuth client recipes see: the host's `client` option, else the session's provider's. */
  readonly client?: ProviderClient;
}

/** Sorts what the host passed to `launchServer()` or `spawnDescription()`. */
export function launchInput(
  input: Session | Credentials | undefined,
  client: { clientId: string; clientSecret?: string | Secret } | undefined,
): LaunchInput {
  const session = isSession(input) ? input : undefined;
  const held = session
    ? undefined
    : heldCredentials((input as Credentials | undefined) ?? noCredentials());
  const chosen = client ? checkClient(client) : providerClient(session?.provider);
  return {
    ...(session ? { session } : {}),
    ...(held ? { held } : {}),
    source: (session ?? held) as CredentialSource,
    none: input === undefined,
    ...(chosen ? { client: chosen } : {}),
  };
}

/** Checks a host's `client` option (throws `TypeError` on misuse). */
function checkClient(client: { clientId: string; clientSecret?: string | Secret }): ProviderClient {
  if (typeof client !== 'object' || client === null || typeof client.clientId !== 'string') {
    throw new TypeError('client must be an object with a clientId string');
  }
  const { clientId, clientSecret } = client;
  if (
    clientSecret !== undefined &&
    typeof clientSecret !== 'string' &&
    !(clientSecret instanceof Secret)
  ) {
    throw new TypeError('client.clientSecret must be a string or a Secret');
  }
  return Object.freeze({
    clientId,
    ...(clientSecret !== undefined ? { clientSecret: secret(clientSecret) } : {}),
  });
}
