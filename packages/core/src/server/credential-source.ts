import { type Credentials, freezeCredentials } from '../credentials.js';
import { Secret } from '../secret.js';
import type { Session } from '../session.js';

/** Where a launch gets its credentials: a session (refreshable) or a host's plain credentials. Internal. */
export interface CredentialSource {
  /** Whether Latchkey can refresh these credentials itself (a session). */
  readonly refreshable: boolean;
  /** The credentials as they are now. */
  current(): Credentials;
  /** Valid credentials, refreshed first (sessions only) when they expire within `minValidityMs`. */
  fresh(minValidityMs?: number): Promise<Credentials>;
  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: (credentials: Credentials) => void): () => void;
  /** Replaces plain credentials (a host that refreshes by itself). */
  update(credentials: Credentials): void;
}

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
  return freezeCredentials({
    tokenType: 'bearer',
    obtainedAt: Date.now(),
    ...c,
    scopes: c.scopes ?? [],
    secrets,
    metadata: c.metadata ?? {},
  } as Credentials);
}

/** Makes a {@link CredentialSource} for a session or plain credentials. */
export function credentialSource(input: Session | Credentials): CredentialSource {
  if (isSession(input)) {
    return {
      refreshable: true,
      current: () => input.current(),
      fresh: (minValidityMs) =>
        input.fresh(minValidityMs === undefined ? undefined : { minValidityMs }),
      onChange: (listener) => input.onChange(listener),
      update() {
        throw new TypeError(
          'This server follows a session; its credentials change when the session refreshes',
        );
      },
    };
  }
  let current = checkCredentials(input);
  const listeners = new Set<(credentials: Credentials) => void>();
  return {
    refreshable: false,
    current: () => current,
    fresh: () => Promise.resolve(current),
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    update(credentials) {
      current = checkCredentials(credentials);
      for (const listener of listeners) listener(current);
    },
  };
}
