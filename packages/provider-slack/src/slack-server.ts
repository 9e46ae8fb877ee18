import {
  type Credentials,
  defineServer,
  LatchkeyError,
  type McpServerSpec,
  type ServerCommandOptions,
  serverCommand,
} from '@latchkey/core';
import { SLACK_SERVER_BOT_SCOPES } from './scopes.js';

/** The npm version of `@modelcontextprotocol/server-slack` the recipe was written for. */
export const SLACK_SERVER_VERSION = '2025.4.25';

/**
 * How a Slack recipe starts its server: core's {@link ServerCommandOptions}. By default
 * `npx -y <package>@<version>`; a `command` of the host's own gets no arguments but its
 * `args` (the recipe's own follow them).
 */
export type ServerCommand = ServerCommandOptions;

/** Options of {@link slackServer}. */
export interface SlackServerOptions extends ServerCommand {
  /** Channels the server lists (`SLACK_CHANNEL_IDS`); default: the public channels. */
  channelIds?: readonly string[];
}

/** Whether the credentials' access token is a bot token (`xoxb-`, or `xoxe.xoxb-` with rotation). */
export function isBotToken(credentials: Credentials): boolean {
  const kind = credentials.metadata.tokenKind;
  if (kind !== undefined) return kind === 'bot';
  return /^(xoxe\.)?xoxb-/.test(credentials.accessToken.reveal());
}

/**
 * `@modelcontextprotocol/server-slack`: the bot token in `SLACK_BOT_TOKEN`, the team id
 * in `SLACK_TEAM_ID` (it exits without them), optional `SLACK_CHANNEL_IDS`. It needs
 * the credentials of {@link slackProvider} with the bot scopes
 * {@link SLACK_SERVER_BOT_SCOPES}. It reads its environment once: with token rotation
 * (12-hour bot tokens) Latchkey refreshes before expiry and restarts it; a bot token
 * without rotation never expires, so it never restarts.
 *
 * @see https://www.npmjs.com/package/@modelcontextprotocol/server-slack
 */
export function slackServer(options: SlackServerOptions = {}): McpServerSpec {
  const channels = options.channelIds ?? [];
  if (channels.some((c) => typeof c !== 'string' || !/^[A-Z0-9]+$/.test(c))) {
    throw new TypeError('slackServer() takes channel ids such as "C0123ABCD" in channelIds');
  }
  return defineServer({
    id: 'slack',
    name: 'Slack (server-slack)',
    transport: {
      kind: 'stdio',
      ...serverCommand(options, {
        command: 'npx',
        args: ['-y', `@modelcontextprotocol/server-slack@${SLACK_SERVER_VERSION}`],
      }),
    },
    provider: 'slack',
    credentials: ['accessToken', 'metadata.teamId'],
    scopes: SLACK_SERVER_BOT_SCOPES,
    refresh: 'restart',
    inject(credentials) {
      if (!isBotToken(credentials)) {
        throw new LatchkeyError(
          'MISSING_CREDENTIAL',
          `server-slack needs a bot token, but the Slack login for ${credentials.account} holds a user token. Sign in with slackProvider({ botScopes }).`,
        );
      }
      return {
        env: {
          SLACK_BOT_TOKEN: credentials.accessToken,
          SLACK_TEAM_ID: String(credentials.metadata.teamId),
          ...(channels.length > 0 ? { SLACK_CHANNEL_IDS: channels.join(',') } : {}),
        },
      };
    },
  });
}
