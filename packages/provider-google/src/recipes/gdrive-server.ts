import {
  defineServer,
  type McpServerSpec,
  type ServerCommandOptions,
  serverCommand,
} from '@latchkey/core';
import { googleScope } from '../scopes.js';
import { authorizedUserFile } from './token-files.js';

/** The npm package (and the version whose token file the recipe was checked against) of {@link gdriveServer}. */
export const GDRIVE_PACKAGE = '@modelcontextprotocol/server-gdrive@2025.1.14';

/**
 * `@modelcontextprotocol/server-gdrive`: reads a google-auth-library token file named by
 * `GDRIVE_CREDENTIALS_PATH` at start (and exits without it), and never refreshes it, for
 * it builds its OAuth client without a client id. So Latchkey writes the file, and
 * rewrites it and restarts the server before the token expires (`restart`). The file
 * holds no refresh token: the server could not use it. Needs `drive.readonly`.
 *
 * @see https://github.com/modelcontextprotocol/servers-archived/tree/main/src/gdrive
 */
export function gdriveServer(options: ServerCommandOptions = {}): McpServerSpec {
  return defineServer({
    id: 'gdrive',
    name: 'Google Drive',
    transport: {
      kind: 'stdio',
      ...serverCommand(options, { command: 'npx', args: ['-y', GDRIVE_PACKAGE] }),
    },
    provider: 'google',
    credentials: ['accessToken', 'expiresAt'],
    scopes: [googleScope('drive.readonly')],
    refresh: 'restart',
    inject: (credentials, context) => ({
      files: { 'gdrive-token.json': authorizedUserFile(credentials, false) },
      env: { GDRIVE_CREDENTIALS_PATH: context.path('gdrive-token.json') },
    }),
  });
}
