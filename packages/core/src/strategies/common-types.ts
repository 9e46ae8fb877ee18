// Types every strategy may use; no strategy imports another strategy's types for them.

/** The account a set of credentials belongs to. */
export interface AccountIdentity {
  /** A stable name for the account (an email address, a team id, a user id). */
  account: string;
  /** Non-secret details to keep with the credentials (display name, team name...). */
  metadata?: Record<string, string | number | boolean>;
}

/** The fixed parts of the redirect URI, for services that need an exact registered URI. */
export interface RedirectOptions {
  /** Port of the loopback listener; `0` (the default) picks a free one. */
  port: number;
  /** Path of the callback, starting with `/`. Default `/callback`. */
  path: string;
}
