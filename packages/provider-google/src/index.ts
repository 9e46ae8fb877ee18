// @latchkey/provider-google: sign in with Google, the scope catalogue, and recipes for
// the Google MCP servers.

export type { ServerCommandOptions } from '@latchkey/core';
export { GOOGLE_ENDPOINTS, type GoogleEndpoints } from './endpoints.js';
export {
  GOOGLE_REAUTH_HINT,
  type GoogleProviderOptions,
  googleProvider,
} from './google-provider.js';
export { GDRIVE_PACKAGE, gdriveServer } from './recipes/gdrive-server.js';
export { GMAIL_PACKAGE, gmailServer } from './recipes/gmail-server.js';
export {
  WORKSPACE_TOOL_SCOPES,
  type WorkspaceServerOptions,
  type WorkspaceTool,
  workspaceServer,
} from './recipes/workspace-server.js';
export {
  GOOGLE_SCOPES,
  type GoogleProduct,
  type GoogleScope,
  type GoogleScopeInput,
  type GoogleScopeUrl,
  googleScope,
  IDENTITY_SCOPES,
} from './scopes.js';
