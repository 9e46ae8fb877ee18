/**
 * The exit codes of `latchkey`, as `docs/guides/cli.md` lists them. Stable: scripts and
 * hosts may rely on them.
 */
export const EXIT = {
  /** Done; or, for `run` and `connect`, the host closed stdin. */
  ok: 0,
  /** An error not covered below. */
  error: 1,
  /** The command line is wrong: an unknown command, flag, provider or recipe. */
  usage: 2,
  /** The config file cannot be read or is wrong. */
  config: 3,
  /** Signing in failed, or a login is needed and cannot be had here. */
  signIn: 4,
  /** The MCP server could not be started, exited during startup, or kept crashing. */
  server: 5,
  /** The remote MCP server could not be reached or refused the connection. */
  remote: 6,
  /** Ended by SIGINT (128 + 2). */
  interrupted: 130,
  /** Ended by SIGTERM (128 + 15). */
  terminated: 143,
} as const;

const SIGN_IN_CODES = new Set([
  'AUTH_TIMEOUT',
  'AUTH_CANCELLED',
  'AUTH_DENIED',
  'STATE_MISMATCH',
  'ISSUER_MISMATCH',
  'INVALID_GRANT',
  'REAUTH_REQUIRED',
  'LOGIN_REQUIRED',
  'ACCOUNT_AMBIGUOUS',
  'ACCOUNT_MISMATCH',
  'DEVICE_CODE_EXPIRED',
  'CALLBACK_LISTENER_FAILED',
  'CALLBACK_INVALID',
  'OPEN_URL_FAILED',
  'SIGN_IN_PAGE_ERROR',
  'AUTHORIZATION_REQUEST_REJECTED',
  'TOKEN_REQUEST_FAILED',
  'DISCOVERY_FAILED',
  'REGISTRATION_FAILED',
  'PROVIDER_CONFIG',
  'INSUFFICIENT_SCOPE',
  'EXTRACTION_FAILED',
  'INVALID_CREDENTIALS',
  'BROWSER_NOT_FOUND',
  'BROWSER_LAUNCH_FAILED',
]);

/** The exit code for an error with this Latchkey code. */
export function exitCodeFor(code: string | undefined): number {
  if (code === 'CLI_USAGE') return EXIT.usage;
  if (code === 'CONFIG_INVALID') return EXIT.config;
  if (
    code === 'SERVER_SPAWN_FAILED' ||
    code === 'SERVER_EXITED' ||
    code === 'MISSING_CREDENTIAL' ||
    code === 'SERVER_CONFIG'
  ) {
    return EXIT.server;
  }
  if (code === 'NETWORK_ERROR' || code === 'UNAUTHORIZED_LOOP') return EXIT.remote;
  if (code !== undefined && SIGN_IN_CODES.has(code)) return EXIT.signIn;
  return EXIT.error;
}
