export { type AuthorizedFetchOptions, authorizedFetch } from './authorized-fetch.js';
export { type BearerChallenge, bearerChallenge } from './challenge.js';
export {
  authorizationServerMetadataUrls,
  type DiscoveryHttp,
  discoverAuthorizationServer,
  discoverLegacyAuthorizationServer,
  discoverProtectedResource,
  type ProtectedResourceMetadata,
  protectedResourceMetadataUrls,
} from './discovery.js';
export type { McpEvent } from './events.js';
export { type McpAuthProviderOptions, mcpAuthProvider } from './provider.js';
export { type RemoteServerOptions, remoteServer } from './remote-server.js';
export { canonicalResource, resourceCovers } from './resource.js';
export type {
  ClientCredentials,
  CrossAppAccess,
  McpClientAuthMethod,
  McpStrategy,
  PreRegisteredClient,
} from './types.js';
