/**
 * Every stable error code Latchkey raises, with what it means. Codes never change
 * meaning between versions; match on them instead of on messages.
 */
export const LATCHKEY_ERROR_CODES = {
  PROVIDER_CONFIG: 'A provider definition is invalid; the message names the field.',
  AUTH_TIMEOUT: 'The user did not finish signing in before the timeout.',
  AUTH_CANCELLED: 'The host aborted the flow through its `AbortSignal`.',
  AUTH_DENIED: 'The user or the authorization server refused the authorization request.',
  STATE_MISMATCH: 'A callback carried a `state` that this flow did not issue.',
  ISSUER_MISMATCH:
    'An authorization server identified itself with another issuer (RFC 8414, RFC 9207).',
  DISCOVERY_FAILED: `Discovery of the authorization server's metadata failed.`,
  INSECURE_ENDPOINT: 'An endpoint uses plain HTTP on a host that is not loopback.',
  INVALID_RESPONSE:
    'The authorization server answered with something that is not a valid protocol response.',
  INVALID_GRANT: 'The authorization server rejected a grant (authorization code or device code).',
  REAUTH_REQUIRED: 'The stored login cannot be refreshed any more; the user must sign in again.',
  LOGIN_REQUIRED: 'No usable stored login exists and the host asked for no interaction.',
  ACCOUNT_AMBIGUOUS: 'Several accounts are stored for the provider and none was chosen.',
  ACCOUNT_MISMATCH: 'The user signed in with another account than the one asked for.',
  TOKEN_REQUEST_FAILED:
    'The authorization server returned an OAuth error for a token or revocation request.',
  NETWORK_ERROR: 'A network request failed before any answer arrived.',
  DEVICE_CODE_EXPIRED: 'The device code expired before the user approved it.',
  CALLBACK_LISTENER_FAILED: 'The loopback callback listener could not start.',
  CALLBACK_INVALID:
    'The URL given back by the user (paste-back), or the callback URL a web app passed to `finishSignIn()`, is not a valid callback for this flow.',
  SIGN_IN_EXPIRED:
    'A web sign-in started with `startSignIn()` was finished after its pending state expired; start it again.',
  STRATEGY_UNSUPPORTED:
    "The provider's strategy cannot run this way (the `browser` strategy needs a browser on the user's own machine, so it cannot sign in through a web redirect).",
  OPEN_URL_FAILED: 'The browser could not be opened.',
  SIGN_IN_PAGE_ERROR:
    'The host (through `openUrl`) reported that the sign-in page showed an error instead of coming back, for example an unknown client id or an unregistered redirect URI.',
  AUTHORIZATION_REQUEST_REJECTED:
    'The authorization server refused the pushed authorization request (RFC 9126) before the user saw a page; the message quotes its error.',
  PAR_REQUIRED:
    'The authorization server accepts only pushed authorization requests (RFC 9126), and Latchkey cannot send one: the provider uses a token-exchange proxy (which holds the client secret), or the metadata names no PAR endpoint.',
  STORE_CORRUPT:
    'A credential store file cannot be read as credentials. The file is left untouched.',
  STORE_LOCKED: 'A credential store lock could not be taken in time.',
  STORE_IO: 'A credential store could not read or write its files.',
  STORE_UNAVAILABLE:
    'A credential store could not reach its database (connection refused or reset, failover, shutdown); nothing was changed or removed. Retry once it is back.',
  STORE_CONFLICT:
    'A credential store write was refused because the login changed since it was read under the lock (the lock was lost with its connection); nothing was overwritten.',
  STORE_CONFIG:
    'A credential store was given wrong options (a missing or malformed encryption key, a bad table name); the message names the option.',
  KEYCHAIN_UNAVAILABLE:
    "The OS keychain that should hold the store's data key could not be reached or refused.",
  SERVER_CONFIG: 'An MCP server recipe is invalid; the message names the field.',
  SERVER_SPAWN_FAILED: 'An MCP server process could not be started; the message names the command.',
  SERVER_EXITED:
    'An MCP server exited unexpectedly; the message carries its last stderr lines, masked.',
  SDK_NOT_INSTALLED:
    'The MCP SDK package that the chosen `launchServer()` entry binds to is not installed in the app.',
  SERVER_RESTARTED:
    'A request was in flight while the server restarted with new credentials; send it again.',
  MISSING_CREDENTIAL: 'The credentials lack a value an MCP server recipe needs.',
  INSUFFICIENT_SCOPE: 'The credentials were not granted a scope an MCP server or resource needs.',
  UNAUTHORIZED_LOOP:
    'A server kept answering 401 after a fresh authorization; Latchkey stopped instead of looping.',
  INVALID_CHALLENGE: 'A `WWW-Authenticate` header could not be parsed.',
  RESOURCE_MISMATCH:
    'Protected resource metadata names another resource than the MCP server (RFC 9728).',
  DPOP_UNSUPPORTED:
    'A provider requires DPoP (RFC 9449) and the authorization server does not offer it.',
  DPOP_REQUIRED:
    'A server accepts only DPoP-bound tokens (RFC 9449) and the login has none: the provider refuses DPoP, or its authorization server does not offer it.',
  PKCE_UNSUPPORTED:
    'The authorization server does not advertise PKCE with S256, so Latchkey will not use it.',
  REGISTRATION_FAILED:
    'Client registration (dynamic or by metadata document) failed, or no way to identify the client exists.',
  EXTRACTION_FAILED:
    'Browser sign-in ended without every value the provider needs; the message names what is missing.',
  INVALID_CREDENTIALS: 'The service rejected the credentials found after sign-in.',
  BROWSER_NOT_FOUND:
    'No installed Chrome, Chromium, Edge or Brave was found; the message lists where Latchkey looked.',
  BROWSER_LAUNCH_FAILED: 'The browser could not be started or connected to.',
  CLI_USAGE:
    'The `latchkey` command line is wrong: an unknown command, flag, provider or recipe; the message lists the known ones.',
  CONFIG_INVALID:
    "The `latchkey` command's config file cannot be read or is wrong; the message names the file, the line where it can, and what is wrong.",
} as const;

/** A stable error code: a key of {@link LATCHKEY_ERROR_CODES}, which says what each means. */
export type LatchkeyErrorCode = keyof typeof LATCHKEY_ERROR_CODES;

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
  return (
    typeof actual === 'string' &&
    Object.hasOwn(LATCHKEY_ERROR_CODES, actual) &&
    (code === undefined || actual === code)
  );
}
