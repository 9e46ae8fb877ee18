export { type AuthenticateOptions, authenticate, type SignInFlow } from './authenticate.js';
export type { BrowserEvent } from './browser/events.js';
export * from './browser/index.js';
export type { Credentials, Metadata } from './credentials.js';
export {
  isLatchkeyError,
  LatchkeyError,
  type LatchkeyErrorCode,
  type LatchkeyErrorOptions,
} from './errors.js';
export type { EventBase, EventListener, LatchkeyEvent, OAuthEvent } from './events.js';
export * from './mcp/index.js';
export {
  type AuthorizationRequest,
  type AuthorizationRequestOptions,
  createAuthorizationRequest,
  validateCallback,
} from './oauth/authorization-request.js';
export {
  type ContextOptions,
  createOAuthContext,
  type FlowSettings,
  type OAuthContext,
  type RequestOptions,
  type ResolveOptions,
  resolveAuthorizationServer,
  type TokenResponseExtras,
} from './oauth/authorization-server.js';
export {
  type AcceptedCallback,
  type LoopbackListener,
  type LoopbackListenerOptions,
  startLoopbackListener,
} from './oauth/loopback-listener.js';
export type { PasteCallback } from './oauth/paste-flow.js';
export {
  credentialsForNewLogin,
  exchangeAuthorizationCode,
  refreshCredentials,
  revokeCredentials,
  type TokenResult,
} from './oauth/token-requests.js';
export { type OpenUrl, openSystemBrowser } from './open-url.js';
export {
  defineProvider,
  type OAuthStrategyDefinition,
  type ProviderDefinition,
} from './provider/define-provider.js';
export type {
  AccountIdentity,
  AuthorizationParamsContext,
  AuthProvider,
  AuthStrategy,
  ClientAuthentication,
  IdentifyContext,
  MappedTokenResponse,
  OAuthEndpoints,
  OAuthStrategy,
  RedirectOptions,
  StrategyKind,
  TokenExchangeProxy,
} from './provider/types.js';
export { Secret } from './secret.js';
export type { ServerEvent } from './server/events.js';
export * from './server/index.js';
export type { FreshOptions, LogoutResult, Session, SessionSummary } from './session.js';
export { type FileStore, type FileStoreOptions, fileStore } from './store/file-store.js';
export { memoryStore } from './store/memory-store.js';
export type { CredentialStore, JsonObject, JsonValue, LockOptions } from './store/types.js';
