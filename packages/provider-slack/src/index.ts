// @latchkey/provider-slack: Slack's OAuth and browser-session providers, and recipes for
// the Slack MCP servers.
export { type AuthTestRequest, type AuthTestResult, authTest } from './auth-test.js';
export {
  SLACK_MCP_SERVER_USER_SCOPES,
  SLACK_SERVER_BOT_SCOPES,
  USER_SCOPE_PREFIX,
  userScope,
} from './scopes.js';
export {
  SLACK_LOCAL_CONFIG_KEY,
  type SlackBrowserProviderOptions,
  slackBrowserProvider,
} from './slack-browser-provider.js';
export {
  SLACK_MCP_SERVER_VERSION,
  type SlackMcpServerOptions,
  slackMcpServer,
} from './slack-mcp-server.js';
export {
  SLACK_REDIRECT_PATH,
  SLACK_REDIRECT_PORT,
  type SlackProviderOptions,
  slackProvider,
} from './slack-provider.js';
export {
  isBotToken,
  type ServerCommand,
  SLACK_SERVER_VERSION,
  type SlackServerOptions,
  slackServer,
} from './slack-server.js';
export { mapSlackTokenResponse, SLACK_TOKEN_ERRORS } from './token-response.js';
export { SLACK_BASE_URL } from './urls.js';
