/**
 * The steps that `authenticate()` runs, one by one, for hosts that drive a sign-in
 * themselves (their own redirect handling, their own token storage): authorization
 * requests, callbacks, token requests, the loopback listener, and MCP discovery.
 *
 * @module @latchkey/core/oauth
 */

export { type BearerChallenge, bearerChallenge } from './strategies/mcp/challenge.js';
export {
  authorizationServerMetadataUrls,
  type DiscoveryHttp,
  discoverAuthorizationServer,
  discoverLegacyAuthorizationServer,
  discoverProtectedResource,
  type ProtectedResourceMetadata,
  protectedResourceMetadataUrls,
} from './strategies/mcp/discovery.js';
export { canonicalResource, resourceCovers } from './strategies/mcp/resource.js';
export {
  type AuthorizationRequest,
  type AuthorizationRequestOptions,
  createAuthorizationRequest,
  validateCallback,
} from './strategies/oauth/authorization-request.js';
export {
  type OAuthContext,
  resolveAuthorizationServer,
} from './strategies/oauth/authorization-server.js';
export {
  type AcceptedCallback,
  type LoopbackListener,
  type LoopbackListenerOptions,
  startLoopbackListener,
} from './strategies/oauth/loopback-listener.js';
export {
  credentialsForNewLogin,
  exchangeAuthorizationCode,
  refreshCredentials,
  revokeCredentials,
  type TokenResult,
} from './strategies/oauth/token-requests.js';
