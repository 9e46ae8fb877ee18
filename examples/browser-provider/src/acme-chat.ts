import {
  type AuthProvider,
  cookieRule,
  defineProvider,
  LatchkeyError,
  localStorageJsonRule,
} from '@latchkey/core';

/** Options of {@link acmeChatProvider}. */
export interface AcmeChatOptions {
  /** Where the web app runs. Default `https://chat.acme.example`. */
  baseUrl?: string;
}

/**
 * Acme Chat as a browser provider. Its web app keeps an API token per workspace in the
 * `acme.auth` localStorage entry, and the API accepts that token only together with the
 * HttpOnly `acme_session` cookie, sent from the same User-Agent. End users cannot
 * create an OAuth app there, so the provider reads both after a normal login.
 */
export function acmeChatProvider(options: AcmeChatOptions = {}): AuthProvider {
  const base = new URL(options.baseUrl ?? 'https://chat.acme.example');
  return defineProvider({
    id: 'acme-chat',
    name: 'Acme Chat',
    strategy: {
      kind: 'browser',
      startUrl: new URL('/login', base).href,
      // Top-level navigations anywhere else are blocked (and reported), never followed.
      allowedHosts: [base.host],
      extract: {
        // The primary secret: stored as the access token. `*` is the workspace id.
        accessToken: localStorageJsonRule({
          key: 'acme.auth',
          path: 'workspaces.*.apiToken',
          pattern: /^acme_/,
        }),
        // Its partner: the login waits until both are there.
        secrets: {
          session: cookieRule({ name: 'acme_session', domain: base.hostname, httpOnly: true }),
        },
        metadata: {
          workspaceName: localStorageJsonRule({ key: 'acme.auth', path: 'workspaces.*.name' }),
        },
      },
      // One API call checks the pair and names the account.
      async validate({ accessToken, secrets, userAgent, fetch, signal }) {
        const response = await fetch(new URL('/api/me', base), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${accessToken.reveal()}`,
            cookie: `acme_session=${secrets.session?.reveal()}`,
            'user-agent': userAgent,
          },
          signal,
        });
        if (response.status === 401) return false;
        if (!response.ok) {
          throw new LatchkeyError(
            'INVALID_RESPONSE',
            `Acme Chat did not name the account (HTTP ${response.status}). Try again.`,
          );
        }
        const me = (await response.json()) as { workspace: string; user: string };
        return { account: me.workspace, metadata: { user: me.user } };
      },
      timeoutMs: 5 * 60_000,
    },
  });
}
