import { LatchkeyError, type Secret } from '@latchkey/core';

/** What Slack's `auth.test` says about a token. */
export interface AuthTestResult {
  /** The workspace (team) id, `T0123ABCD`. */
  teamId: string;
  /** The workspace name. */
  team: string;
  /** The user id; a bot token's own bot user. */
  userId: string;
  /** The user name. */
  user: string;
  /** The workspace URL (`https://acme.slack.com/`). */
  url: string;
  /** The Enterprise Grid organization, when there is one. */
  enterpriseId?: string;
}

/** How to call `auth.test`. */
export interface AuthTestRequest {
  /** The Web API base, ending with `/`. */
  api: URL;
  /** The token to check. */
  token: Secret;
  /** The `d` session cookie (decoded), sent along with an `xoxc` token. */
  cookie?: Secret;
  /** The browser's User-Agent, for a browser session. */
  userAgent?: string;
  fetch: typeof fetch;
  signal: AbortSignal;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Calls `auth.test` the way Slack's web client does: `POST`, the token as the form
 * field `token`, and, for a browser session, the `d` cookie and the browser's
 * User-Agent. Returns `false` when Slack rejects the token (`ok: false` on HTTP 200).
 *
 * @see https://api.slack.com/methods/auth.test
 */
export async function authTest(request: AuthTestRequest): Promise<AuthTestResult | false> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (request.cookie) headers.cookie = `d=${encodeURIComponent(request.cookie.reveal())}`;
  if (request.userAgent) headers['user-agent'] = request.userAgent;
  const response = await request.fetch(new URL('auth.test', request.api), {
    method: 'POST',
    headers,
    body: new URLSearchParams({ token: request.token.reveal() }).toString(),
    signal: request.signal,
  });
  let body: Record<string, unknown> | undefined;
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  if (
    body?.ok === false &&
    ['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive'].includes(
      text(body.error),
    )
  ) {
    return false;
  }
  if (body?.ok !== true || text(body.team_id) === '') {
    throw new LatchkeyError(
      'INVALID_RESPONSE',
      `Slack's auth.test did not name the account (HTTP ${response.status}${body?.error ? `, ${text(body.error)}` : ''}). Try again later.`,
    );
  }
  return {
    teamId: text(body.team_id),
    team: text(body.team),
    userId: text(body.user_id),
    user: text(body.user),
    url: text(body.url),
    ...(text(body.enterprise_id) ? { enterpriseId: text(body.enterprise_id) } : {}),
  };
}

/** The non-secret metadata Latchkey keeps from `auth.test`. */
export function authTestMetadata(result: AuthTestResult): Record<string, string> {
  return {
    teamId: result.teamId,
    teamName: result.team,
    user: result.user,
    userId: result.userId,
    url: result.url,
    ...(result.enterpriseId ? { enterpriseId: result.enterpriseId } : {}),
  };
}
