import type { JsonObject, LinkedTokenResponse, MappedTokenResponse } from '@latchkey/core';
import { userScope } from './scopes.js';

/**
 * Slack's `oauth.v2.access` error codes, as RFC 6749 §5.2 error codes. Slack answers
 * errors with HTTP 200 and `ok: false`; Latchkey raises `INVALID_GRANT` for
 * `invalid_grant` (the code or refresh token is spent: sign in again) and
 * `TOKEN_REQUEST_FAILED` for the others.
 */
export const SLACK_TOKEN_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  invalid_code: 'invalid_grant',
  code_already_used: 'invalid_grant',
  code_expired: 'invalid_grant',
  invalid_refresh_token: 'invalid_grant',
  invalid_code_verifier: 'invalid_grant',
  bad_client_secret: 'invalid_client',
  invalid_client_id: 'invalid_client',
  bad_redirect_uri: 'invalid_request',
  oauth_authorization_url_mismatch: 'invalid_request',
  invalid_grant_type: 'unsupported_grant_type',
  invalid_arguments: 'invalid_request',
  access_denied: 'access_denied',
  ratelimited: 'temporarily_unavailable',
  service_unavailable: 'temporarily_unavailable',
  request_timeout: 'temporarily_unavailable',
});

function object(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function scopes(value: unknown, user: boolean): string[] {
  return (str(value) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (user ? userScope(s) : s));
}

/**
 * Rewrites an `oauth.v2.access` answer (code exchange or token rotation refresh) into
 * RFC 6749's shape. The top-level token (the bot token, or the token just refreshed) is
 * the access token; without one, the user token under `authed_user` is. A user token
 * that comes with a bot token is the linked token `userToken` (the secret of that name),
 * with its own rotation refresh token and expiry, so Latchkey refreshes it as well
 * (Slack rotates it separately from the bot token). `scope` lists bot scopes as they are and user
 * scopes as `user:<scope>`, when the answer carries a user token; otherwise (a bot-only
 * install, a refresh) it is left out and the scopes asked for, or held, are kept.
 * `token_type` becomes `bearer` (Slack says `bot` or `user`, kept as the metadata
 * `tokenKind`).
 *
 * @see https://api.slack.com/methods/oauth.v2.access
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function mapSlackTokenResponse(body: JsonObject): MappedTokenResponse {
  if (body.ok !== true) {
    const slackError = str(body.error) ?? 'unknown_error';
    return {
      body: {
        error: SLACK_TOKEN_ERRORS[slackError] ?? 'invalid_request',
        error_description: `Slack answered "${slackError}"`,
      },
    };
  }
  const user = object(body.authed_user);
  const top = str(body.access_token);
  const primaryIsUser = top === undefined || body.token_type === 'user';
  const primary = top === undefined ? user : body;
  // Only an answer that carries the user token says which scopes both tokens have. A
  // refresh answer names the refreshed token's scopes alone, so the scopes are then
  // left out and Latchkey keeps those it had (or those it asked for).
  const granted = str(user?.access_token)
    ? [...scopes(top === undefined ? undefined : body.scope, false), ...scopes(user?.scope, true)]
    : undefined;

  const linkedTokens: Record<string, LinkedTokenResponse> = {};
  const metadata: Record<string, string | number | boolean> = {
    tokenKind: primaryIsUser ? 'user' : 'bot',
  };
  const secondUser = top !== undefined && !primaryIsUser ? str(user?.access_token) : undefined;
  if (secondUser) {
    const refresh = str(user?.refresh_token);
    linkedTokens.userToken = {
      access_token: secondUser,
      ...(refresh ? { refresh_token: refresh } : {}),
      ...(typeof user?.expires_in === 'number' ? { expires_in: user.expires_in } : {}),
    };
  }
  const team = object(body.team);
  const enterprise = object(body.enterprise);
  const set = (name: string, value: unknown) => {
    const v = str(value);
    if (v) metadata[name] = v;
  };
  set('teamId', team?.id ?? enterprise?.id);
  set('teamName', team?.name);
  set('enterpriseId', enterprise?.id);
  set('appId', body.app_id);
  set('botUserId', body.bot_user_id);
  set('userId', user?.id);

  const mapped: JsonObject = {
    access_token: str(primary?.access_token) ?? '',
    token_type: 'bearer',
  };
  if (granted) mapped.scope = granted.join(' ');
  const refresh = str(primary?.refresh_token);
  if (refresh) mapped.refresh_token = refresh;
  if (typeof primary?.expires_in === 'number') mapped.expires_in = primary.expires_in;
  return { body: mapped, metadata, ...(secondUser ? { linkedTokens } : {}) };
}
