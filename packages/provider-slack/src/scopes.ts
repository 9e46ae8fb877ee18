/**
 * How Latchkey writes a Slack user scope in `Credentials.scopes`: `user:` and the
 * scope (`user:search:read`). Slack grants bot and user scopes separately, under the
 * same names, so bot scopes are kept as they are and user scopes carry this prefix.
 */
export const USER_SCOPE_PREFIX = 'user:';

/**
 * Writes a Slack user scope the way Latchkey keeps it in `Credentials.scopes`
 * (`userScope('search:read')` is `'user:search:read'`).
 */
export function userScope(scope: string): string {
  return `${USER_SCOPE_PREFIX}${scope}`;
}

/**
 * The bot scopes `@modelcontextprotocol/server-slack` needs for its eight tools.
 *
 * @see https://api.slack.com/scopes
 */
export const SLACK_SERVER_BOT_SCOPES: readonly string[] = Object.freeze([
  'channels:history',
  'channels:read',
  'chat:write',
  'reactions:write',
  'users:read',
  'users.profile:read',
]);

/**
 * The user scopes `slack-mcp-server` documents for a user (`xoxp`) token.
 *
 * @see https://api.slack.com/scopes
 */
export const SLACK_MCP_SERVER_USER_SCOPES: readonly string[] = Object.freeze([
  'channels:history',
  'channels:read',
  'groups:history',
  'groups:read',
  'im:history',
  'im:read',
  'im:write',
  'mpim:history',
  'mpim:read',
  'mpim:write',
  'users:read',
  'chat:write',
  'search:read',
  'usergroups:read',
  'usergroups:write',
]);
