import {
  defineServer,
  type McpServerSpec,
  type ProviderClient,
  type ServerCommandOptions,
  serverCommand,
} from '@latchkey/core';
import { googleScope } from '../scopes.js';
import { authorizedUserFile, installedClientFile } from './token-files.js';

/** The npm package (and the version whose files the recipe was checked against) of {@link gmailServer}. */
export const GMAIL_PACKAGE = '@gongrzhe/server-gmail-autoauth-mcp@1.1.11';

/**
 * `@gongrzhe/server-gmail-autoauth-mcp`: reads the OAuth client file named by
 * `GMAIL_OAUTH_PATH` and a google-auth-library token file named by
 * `GMAIL_CREDENTIALS_PATH`, once, at start. It refreshes in memory but never writes the
 * result back, so Latchkey refreshes, rewrites both files and restarts it before the
 * token expires (`restart`), which also works for a login through a token-exchange
 * proxy (then the files hold no client secret and no refresh token, which the server
 * could not use). The client comes from the provider (`client.clientId`, and its
 * secret when it has one). Needs `gmail.modify` and `gmail.settings.basic`.
 *
 * @see https://github.com/GongRzhe/Gmail-MCP-Server
 */
export function gmailServer(options: ServerCommandOptions = {}): McpServerSpec {
  return defineServer({
    id: 'gmail',
    name: 'Gmail',
    transport: {
      kind: 'stdio',
      ...serverCommand(options, { command: 'npx', args: ['-y', GMAIL_PACKAGE] }),
    },
    provider: 'google',
    credentials: ['accessToken', 'expiresAt', 'client.clientId'],
    scopes: [googleScope('gmail.modify'), googleScope('gmail.settings.basic')],
    refresh: 'restart',
    inject: (credentials, context) => {
      // Declared in `credentials`, so launching checked that the provider has a client.
      const { clientId, clientSecret } = context.client as ProviderClient;
      return {
        files: {
          'gcp-oauth.keys.json': installedClientFile(clientId, clientSecret),
          'credentials.json': authorizedUserFile(credentials, clientSecret !== undefined),
        },
        env: {
          GMAIL_OAUTH_PATH: context.path('gcp-oauth.keys.json'),
          GMAIL_CREDENTIALS_PATH: context.path('credentials.json'),
        },
      };
    },
  });
}
