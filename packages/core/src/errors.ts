/**
 * Every stable error code Latchkey raises, each with what it means. Codes never change
 * meaning between versions; match on them instead of on messages.
 */
export const LATCHKEY_ERROR_CODES = [
  /** A provider definition is invalid; the message names the field. */
  'PROVIDER_CONFIG',
  /** The user did not finish signing in before the timeout. */
  'AUTH_TIMEOUT',
  /** The host aborted the flow through its `AbortSignal`. */
  'AUTH_CANCELLED',
  /** The user or the authorization server refused the authorization request. */
  'AUTH_DENIED',
  /** A callback carried a `state` that this flow did not issue. */
  'STATE_MISMATCH',
  /** An authorization server identified itself with another issuer (RFC 8414, RFC 9207). */
  'ISSUER_MISMATCH',
  /** Discovery of the authorization server's metadata failed. */
  'DISCOVERY_FAILED',
  /** An endpoint uses plain HTTP on a host that is not loopback. */
  'INSECURE_ENDPOINT',
  /** The authorization server answered with something that is not a valid protocol response. */
  'INVALID_RESPONSE',
  /** The authorization server rejected a grant (authorization code or device code). */
  'INVALID_GRANT',
  /** The stored login cannot be refreshed any more; the user must sign in again. */
  'REAUTH_REQUIRED',
  /** No usable stored login exists and the host asked for no interaction. */
  'LOGIN_REQUIRED',
  /** Several accounts are stored for the provider and none was chosen. */
  'ACCOUNT_AMBIGUOUS',
  /** The user signed in with another account than the one asked for. */
  'ACCOUNT_MISMATCH',
  /** The authorization server returned an OAuth error for a token or revocation request. */
  'TOKEN_REQUEST_FAILED',
  /** A network request failed before any answer arrived. */
  'NETWORK_ERROR',
  /** The device code expired before the user approved it. */
  'DEVICE_CODE_EXPIRED',
  /** The loopback callback listener could not start. */
  'CALLBACK_LISTENER_FAILED',
  /** The URL given back by the user (paste-back) is not a valid callback for this flow. */
  'CALLBACK_INVALID',
  /** The browser could not be opened. */
  'OPEN_URL_FAILED',
  /** A credential store file cannot be read as credentials. The file is left untouched. */
  'STORE_CORRUPT',
  /** A credential store lock could not be taken in time. */
  'STORE_LOCKED',
  /** A credential store could not read or write its files. */
  'STORE_IO',
  /** An MCP server recipe is invalid; the message names the field. */
  'SERVER_CONFIG',
  /** An MCP server process could not be started; the message names the command. */
  'SERVER_SPAWN_FAILED',
  /** An MCP server exited unexpectedly; the message carries its last stderr lines, masked. */
  'SERVER_EXITED',
  /** A request was in flight while the server restarted with new credentials; send it again. */
  'SERVER_RESTARTED',
  /** The credentials lack a value an MCP server recipe needs. */
  'MISSING_CREDENTIAL',
  /** The credentials were not granted a scope an MCP server or resource needs. */
  'INSUFFICIENT_SCOPE',
  /** A server kept answering 401 after a fresh authorization; Latchkey stopped instead of looping. */
  'UNAUTHORIZED_LOOP',
  /** A `WWW-Authenticate` header could not be parsed. */
  'INVALID_CHALLENGE',
  /** Protected resource metadata names another resource than the MCP server (RFC 9728). */
  'RESOURCE_MISMATCH',
  /** The authorization server does not advertise PKCE with S256, so Latchkey will not use it. */
  'PKCE_UNSUPPORTED',
  /** Client registration (dynamic or by metadata document) failed, or no way to identify the client exists. */
  'REGISTRATION_FAILED',
  /** Browser sign-in ended without every value the provider needs; the message names what is missing. */
  'EXTRACTION_FAILED',
  /** The service rejected the credentials found after sign-in. */
  'INVALID_CREDENTIALS',
  /** No installed Chrome, Chromium, Edge or Brave was found; the message lists where Latchkey looked. */
  'BROWSER_NOT_FOUND',
  /** The browser could not be started or connected to. */
  'BROWSER_LAUNCH_FAILED',
] as const;

/** A stable error code: one of {@link LATCHKEY_ERROR_CODES}. */
export type LatchkeyErrorCode = (typeof LATCHKEY_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set<string>(LATCHKEY_ERROR_CODES);

/** Options of {@link LatchkeyError}. */
export interface LatchkeyErrorOptions {
  /** The underlying error, if any. It must not carry secret values. */
  cause?: unknown;
}

/**
 * The one error class Latchkey throws for everything except API misuse (which
 * throws `TypeError`). `code` is stable; `message` says what to do next and never
 * contains a secret value.
 */
export class LatchkeyError extends Error {
  override readonly name = 'LatchkeyError';
  /** The stable code of this error. */
  readonly code: LatchkeyErrorCode;

  constructor(code: LatchkeyErrorCode, message: string, options: LatchkeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Whether `value` is a {@link LatchkeyError}, optionally with the given code. */
export function isLatchkeyError(value: unknown, code?: LatchkeyErrorCode): value is LatchkeyError {
  if (!(value instanceof Error) || value.name !== 'LatchkeyError') return false;
  const actual: unknown = (value as { code?: unknown }).code;
  return typeof actual === 'string' && CODES.has(actual) && (code === undefined || actual === code);
}
