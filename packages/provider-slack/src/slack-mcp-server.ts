import {
  type Credentials,
  defineServer,
  type Injection,
  LatchkeyError,
  type McpServerSpec,
  type Secret,
  serverCommand,
} from '@latchkey/core';
import { SLACK_MCP_SERVER_USER_SCOPES, userScope } from './scopes.js';
import { isBotToken, type ServerCommand } from './slack-server.js';

/** The npm version of `slack-mcp-server` the recipe was written for. */
export const SLACK_MCP_SERVER_VERSION = '1.3.0';

/** Options of {@link slackMcpServer}. */
export interface SlackMcpServerOptions extends ServerCommand {
  /**
   * The user scopes a user (`xoxp`) token must have; default
   * {@link SLACK_MCP_SERVER_USER_SCOPES}. Not checked for a browser session.
   */
  userScopes?: readonly string[];
  /** `SLACK_MCP_CUSTOM_TLS=1`: a browser-like TLS handshake, for some Enterprise Grid workspaces. */
  customTls?: boolean;
  /** `SLACK_MCP_GOVSLACK=true`: the workspace is on GovSlack (`slack-gov.com`). */
  govSlack?: boolean;
}

function userToken(credentials: Credentials): Secret | undefined {
  if (credentials.secrets.userToken) return credentials.secrets.userToken;
  return isBotToken(credentials) ? undefined : credentials.accessToken;
}

/**
 * `slack-mcp-server` (korotovsky; a Go binary shipped on npm), which takes, by
 * precedence, `SLACK_MCP_XOXP_TOKEN`, or `SLACK_MCP_XOXC_TOKEN` + `SLACK_MCP_XOXD_TOKEN`
 * with `SLACK_MCP_USER_AGENT`. With a browser session ({@link slackBrowserProvider}) it
 * gets the `xoxc` token, the `d` cookie and the browser's User-Agent (Slack may end a
 * session used from another one); with {@link slackProvider} it gets the user token,
 * which needs {@link SLACK_MCP_SERVER_USER_SCOPES}. It calls `auth.test` at start and
 * exits when that fails.
 *
 * @see https://github.com/korotovsky/slack-mcp-server
 */
export function slackMcpServer(options: SlackMcpServerOptions = {}): McpServerSpec {
  const required = options.userScopes ?? SLACK_MCP_SERVER_USER_SCOPES;
  const flags = {
    ...(options.customTls ? { SLACK_MCP_CUSTOM_TLS: '1' } : {}),
    ...(options.govSlack ? { SLACK_MCP_GOVSLACK: 'true' } : {}),
  };
  const launcher = serverCommand(options, {
    command: 'npx',
    args: ['-y', `slack-mcp-server@${SLACK_MCP_SERVER_VERSION}`],
  });
  return defineServer({
    id: 'slack-mcp-server',
    name: 'Slack (slack-mcp-server)',
    transport: {
      kind: 'stdio',
      command: launcher.command,
      args: [...launcher.args, '--transport', 'stdio'],
      env: flags,
    },
    credentials: ['accessToken'],
    refresh: 'restart',
    inject(credentials): Injection {
      const cookie = credentials.secrets.d;
      if (cookie) {
        const agent = credentials.metadata.userAgent;
        return {
          env: {
            SLACK_MCP_XOXC_TOKEN: credentials.accessToken,
            SLACK_MCP_XOXD_TOKEN: cookie,
            ...(typeof agent === 'string' && agent !== '' ? { SLACK_MCP_USER_AGENT: agent } : {}),
          },
        };
      }
      const token = userToken(credentials);
      if (!token) {
        throw new LatchkeyError(
          'MISSING_CREDENTIAL',
          `slack-mcp-server needs a user token or a browser session, but the Slack login for ${credentials.account} holds only a bot token. Sign in with slackProvider({ userScopes }) or slackBrowserProvider().`,
        );
      }
      const granted = new Set(credentials.scopes);
      const absent = required.filter((s) => !granted.has(userScope(s)));
      if (absent.length > 0) {
        throw new LatchkeyError(
          'INSUFFICIENT_SCOPE',
          `slack-mcp-server needs the user scope${absent.length > 1 ? 's' : ''} ${absent.join(', ')}, which the Slack login for ${credentials.account} was not granted. Sign in again with them in userScopes.`,
        );
      }
      return { env: { SLACK_MCP_XOXP_TOKEN: token } };
    },
  });
}
