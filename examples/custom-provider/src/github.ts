import { type AuthProvider, defineProvider, type JsonObject, LatchkeyError } from '@latchkey/core';

/** Options of {@link githubProvider}. */
export interface GitHubProviderOptions {
  /** The OAuth app's client id. */
  clientId: string;
  /** The OAuth app's client secret. GitHub requires it at the token endpoint. */
  clientSecret?: string;
  /** A token-exchange proxy that adds the secret, instead of shipping it. */
  tokenExchange?: string;
  /** Scopes, for example `['repo', 'read:org']`. */
  scopes?: string[];
}

/**
 * GitHub as a Latchkey provider: static endpoints (GitHub publishes no metadata), a
 * token response that reports errors with HTTP 200, and the account named by `/user`.
 */
export function githubProvider(options: GitHubProviderOptions): AuthProvider {
  return defineProvider({
    id: 'github',
    name: 'GitHub',
    strategy: {
      kind: 'oauth',
      issuer: 'https://github.com',
      endpoints: {
        authorization: 'https://github.com/login/oauth/authorize',
        token: 'https://github.com/login/oauth/access_token',
      },
      clientId: options.clientId,
      ...(options.clientSecret
        ? { clientSecret: options.clientSecret, clientAuthentication: 'client_secret_post' }
        : {}),
      ...(options.tokenExchange ? { tokenExchange: options.tokenExchange } : {}),
      scopes: options.scopes ?? ['read:user'],
      scopeSeparator: ' ',
      // GitHub answers token errors with HTTP 200 and an `error` field: make them errors.
      mapTokenResponse: (body: JsonObject) =>
        typeof body.error === 'string'
          ? { body: { error: body.error, error_description: String(body.error_description ?? '') } }
          : { body },
    },
    // GitHub has no userinfo endpoint; its REST API names the user.
    async identify({ accessToken, fetch, signal }) {
      const response = await fetch('https://api.github.com/user', {
        headers: {
          authorization: `Bearer ${accessToken.reveal()}`,
          accept: 'application/vnd.github+json',
        },
        signal,
      });
      if (!response.ok) {
        throw new LatchkeyError(
          'INVALID_RESPONSE',
          `GitHub did not name the account (HTTP ${response.status}). Try again.`,
        );
      }
      const user = (await response.json()) as { login: string; id: number; name?: string };
      return {
        account: user.login,
        metadata: { userId: user.id, ...(user.name ? { name: user.name } : {}) },
      };
    },
  });
}
