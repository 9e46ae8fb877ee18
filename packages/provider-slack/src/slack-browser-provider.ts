import {
  type AuthProvider,
  cookieRule,
  defineProvider,
  type Extractor,
  extractWith,
  localStorageJsonRule,
} from '@latchkey/core';
import { authTest, authTestMetadata } from './auth-test.js';
import { badOption, slackUrls, urlOption } from './urls.js';

/** Where Slack's web client keeps its per-workspace config (and `xoxc` tokens). */
export const SLACK_LOCAL_CONFIG_KEY = 'localConfig_v2';

/** Options of {@link slackBrowserProvider}. */
export interface SlackBrowserProviderOptions {
  /**
   * The workspace to sign in to: its team id (`T0123ABCD`), picked among the workspaces
   * the browser is signed in to, or its name (`acme`, for `https://acme.slack.com`),
   * where the sign-in starts. Default: the workspace Slack opens after the sign-in.
   */
  workspace?: string;
  /** Slack's origin: `https://slack.com` (default), `https://slack-gov.com`, or a test server. */
  baseUrl?: string;
  /** The Web API base; default `<baseUrl>/api/`. */
  apiUrl?: string;
  /** The web client's origin (`https://app.slack.com`); the login is complete at `<appUrl>/client/<team>`. */
  appUrl?: string;
  /** The sign-in page; default `<baseUrl>/signin`, or the workspace's own page. */
  signInUrl?: string;
  /** The domain of the `d` cookie; default the host of `baseUrl` (`slack.com`). */
  cookieDomain?: string;
  /** How long the user has to log in. Default 5 minutes. */
  timeoutMs?: number;
}

const TEAM_ID = /^[TE][A-Z0-9]{2,}$/;
const IP = /^[\d.]+$|^\[/;

/**
 * Slack's web client as a browser session ("xoxc" token + "d" cookie), for users whose
 * workspace will not install an app. The sign-in starts at `slack.com/signin` (or the
 * workspace's page) and is complete once the window shows `app.slack.com/client/<team>`;
 * the team's `xoxc` token is read from `localStorage.localConfig_v2` and the HttpOnly
 * `d` cookie (`xoxd-`, URL-decoded) from `.slack.com`. `auth.test`, sent with the
 * cookie and the browser's User-Agent, checks the pair and names the team (the
 * account) and the user. Needs a `BrowserDriver` (`@latchkey/browser-extract`).
 */
export function slackBrowserProvider(options: SlackBrowserProviderOptions = {}): AuthProvider {
  const { base, api } = slackUrls(options);
  const isIp = IP.test(base.hostname);
  const app = urlOption('appUrl', options.appUrl, `${base.protocol}//app.${base.host}`);
  const workspace = options.workspace;
  if (workspace !== undefined && !/^[a-z0-9][a-z0-9-]*$/i.test(workspace)) {
    badOption('workspace', 'must be a team id (T0123ABCD) or a workspace name (acme)');
  }
  const team = workspace !== undefined && TEAM_ID.test(workspace) ? workspace : undefined;
  const named = workspace !== undefined && team === undefined && !isIp;
  const signIn = urlOption(
    'signInUrl',
    options.signInUrl,
    named
      ? `${base.protocol}//${workspace?.toLowerCase()}.${base.host}/`
      : new URL('/signin', base).href,
  );
  const cookieDomain = options.cookieDomain ?? base.hostname;
  const hosts = [base.host, ...(isIp ? [] : [`*.${base.host}`]), app.host, signIn.host];

  const rules = extractWith({
    accessToken: localStorageJsonRule({
      key: SLACK_LOCAL_CONFIG_KEY,
      path: 'teams.*.token',
      pattern: /^xoxc-/,
    }),
    secrets: {
      d: cookieRule({
        name: 'd',
        domain: cookieDomain,
        httpOnly: true,
        decode: true,
        pattern: /^xoxd-/,
      }),
    },
  });
  const clientPath = /^\/client\/([A-Z0-9]+)(?:\/|$)/;
  const extract: Extractor = (page, context) => {
    const url = new URL(page.url());
    const shown = url.origin === app.origin ? clientPath.exec(url.pathname)?.[1] : undefined;
    // Until the client shows a workspace, the login is not complete.
    if (shown === undefined) return undefined;
    return rules(page, { ...context, account: context.account ?? team ?? shown });
  };

  return defineProvider({
    id: 'slack-browser',
    name: 'Slack (browser session)',
    strategy: {
      kind: 'browser',
      startUrl: signIn.href,
      allowedHosts: [...new Set(hosts)],
      extract,
      async validate({ accessToken, secrets, userAgent, fetch, signal }) {
        const result = await authTest({
          api,
          token: accessToken,
          cookie: secrets.d,
          userAgent,
          fetch,
          signal,
        });
        return result && { account: result.teamId, metadata: authTestMetadata(result) };
      },
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    },
    reauthHint: 'A Slack browser session ends when the user signs out of Slack in that browser.',
  });
}
