import { type AuthProvider, defineProvider, LatchkeyError, type Secret } from '@latchkey/core';
import { authTest } from './auth-test.js';
import { mapSlackTokenResponse } from './token-response.js';
import { badOption, slackUrls } from './urls.js';

/** The redirect port used when none is given: register `http://127.0.0.1:53682/slack/callback`. */
export const SLACK_REDIRECT_PORT = 53682;

/** The callback path of the fixed redirect URL. */
export const SLACK_REDIRECT_PATH = '/slack/callback';

/** Options of {@link slackProvider}. */
export interface SlackProviderOptions {
  /** The app's client id (Basic Information → App Credentials). */
  clientId: string;
  /** The app's client secret; required unless `pkce` or `tokenExchange` is set. */
  clientSecret?: string | Secret;
  /** A token-exchange proxy on the host's backend that adds the client secret. */
  tokenExchange?: string;
  /** Bot scopes (Slack's `scope` parameter); they give a bot token (`xoxb-`). */
  botScopes?: readonly string[];
  /** User scopes (Slack's `user_scope` parameter); they give a user token (`xoxp-`). */
  userScopes?: readonly string[];
  /** The app has PKCE turned on: a public client, without a secret and without bot scopes. */
  pkce?: boolean;
  /** The port of the registered redirect URL `http://127.0.0.1:<port>/slack/callback`. Default 53682. */
  redirectPort?: number;
  /** Slack's origin: `https://slack.com` (default), `https://slack-gov.com`, or a test server. */
  baseUrl?: string;
  /** The Web API base; default `<baseUrl>/api/`. */
  apiUrl?: string;
}

function checkScopes(field: string, value: readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) badOption(field, 'must be an array of scope names');
  value.forEach((scope, i) => {
    if (typeof scope !== 'string' || !/^[a-z0-9_.:-]+$/i.test(scope)) {
      badOption(`${field}[${i}]`, 'must be a Slack scope name such as "channels:read"');
    }
  });
  return value;
}

/**
 * Slack's OAuth v2 ("Sign in with Slack" for apps): bot scopes as `scope` and user
 * scopes as `user_scope`, comma-separated; the `oauth.v2.access` answer (bot token on
 * top, user token under `authed_user`, errors as `ok: false` on HTTP 200) rewritten by
 * {@link mapSlackTokenResponse}; token rotation refreshed with
 * `grant_type=refresh_token`; the account named by `auth.test` (the team id); and a
 * fixed loopback redirect, since Slack only accepts the exact registered URL.
 *
 * @see https://api.slack.com/authentication/oauth-v2
 * @see https://api.slack.com/authentication/rotation
 */
export function slackProvider(options: SlackProviderOptions): AuthProvider {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('slackProvider() takes an options object');
  }
  const { base, api } = slackUrls(options);
  const botScopes = checkScopes('botScopes', options.botScopes);
  const userScopes = checkScopes('userScopes', options.userScopes);
  const pkce = options.pkce === true;
  if (botScopes.length === 0 && userScopes.length === 0) {
    badOption('botScopes', 'and "userScopes" are both empty: ask for at least one scope');
  }
  if (pkce && botScopes.length > 0) {
    badOption(
      'botScopes',
      'cannot be used with pkce: Slack gives PKCE apps (desktop redirects) no bot scopes. Ask for userScopes only, or use a client secret or a token-exchange proxy to get a bot token',
    );
  }
  if (pkce && (options.clientSecret !== undefined || options.tokenExchange !== undefined)) {
    badOption('pkce', 'makes the app a public client: drop clientSecret and tokenExchange');
  }
  if (!pkce && options.clientSecret === undefined && options.tokenExchange === undefined) {
    badOption(
      'clientSecret',
      'is required: Slack apps without PKCE redeem codes with their secret. Pass clientSecret, a tokenExchange proxy that holds it, or pkce: true (user scopes only)',
    );
  }

  return defineProvider({
    id: 'slack',
    name: 'Slack',
    strategy: {
      kind: 'oauth',
      // Slack sends no `iss` (RFC 9207); the issuer only names the server.
      issuer: base.origin,
      endpoints: {
        authorization: new URL('/oauth/v2/authorize', base).href,
        token: new URL('oauth.v2.access', api).href,
      },
      clientId: options.clientId,
      ...(options.clientSecret !== undefined ? { clientSecret: options.clientSecret } : {}),
      ...(options.tokenExchange !== undefined ? { tokenExchange: options.tokenExchange } : {}),
      scopes: botScopes,
      scopeSeparator: ',',
      ...(userScopes.length > 0
        ? { authorizationParams: { user_scope: userScopes.join(',') } }
        : {}),
      mapTokenResponse: mapSlackTokenResponse,
      redirect: { port: options.redirectPort ?? SLACK_REDIRECT_PORT, path: SLACK_REDIRECT_PATH },
    },
    async identify({ accessToken, metadata, fetch, signal }) {
      const result = await authTest({ api, token: accessToken, fetch, signal });
      if (result === false) {
        throw new LatchkeyError(
          'INVALID_CREDENTIALS',
          'Slack rejected the token it just issued (auth.test). Sign in again.',
        );
      }
      const isUser = metadata.tokenKind === 'user';
      return {
        account: result.teamId,
        metadata: {
          teamId: result.teamId,
          teamName: result.team,
          url: result.url,
          ...(isUser ? { user: result.user, userId: result.userId } : { botUser: result.user }),
          ...(result.enterpriseId ? { enterpriseId: result.enterpriseId } : {}),
        },
      };
    },
    ...(pkce ? { reauthHint: 'Refresh tokens of Slack apps with PKCE expire after 30 days.' } : {}),
  });
}
