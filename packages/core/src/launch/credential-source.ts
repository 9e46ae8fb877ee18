import { type Credentials, freezeCredentials } from '../credentials.js';
import { Secret } from '../secret.js';
import type { Session } from '../session.js';
import { listeners } from '../util/listeners.js';

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
