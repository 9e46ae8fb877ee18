/**
 * Signing in (`authenticate()`, sessions, stores), server recipes, and what a host or a
 * provider author needs. `launchServer()` is in the entry for the host's MCP SDK:
 * `@latchkey/core/sdk-v1` (`@modelcontextprotocol/sdk`) or `@latchkey/core/sdk-v2`
 * (`@modelcontextprotocol/client`). The step-by-step protocol pieces are in
 * `@latchkey/core/oauth`, the store contract suite in `@latchkey/core/testing`.
 *
 * @module @latchkey/core
 */

export { type AuthenticateOptions, authenticate } from './authenticate.js';
export type {
  BrowserLoginState,
  Credentials,
  EngineState,
  LinkedToken,
  McpEndpoints,
  McpLoginState,
  Metadata,
  OAuthLoginState,
} from './credentials.js';
export {
  isLatchkeyError,
  LATCHKEY_ERROR_CODES,
  LatchkeyError,
  type LatchkeyErrorCode,
  type LatchkeyErrorOptions,
} from './errors.js';
export type { EventListener, LatchkeyEvent } from './events.js';
export { type AuthorizedFetchOptions, authorizedFetch } from './launch/authorized-fetch.js';
export { type CredentialFetchOptions, credentialFetch } from './launch/credential-fetch.js';
export { defineServer } from './launch/define-server.js';
export type { ServerEvent } from './launch/events.js';
export type { LaunchHandle, LaunchOptions } from './launch/launch-server.js';
export { type RemoteServerOptions, remoteServer } from './launch/remote-server.js';
export {
  type ServerCommandOptions,
  serverCommand,
} from './launch/server-command.js';
export {
  type SpawnDescription,
  type SpawnDescriptionOptions,
  spawnDescription,
} from './launch/spawn-description.js';
export type { CrashRestartOptions } from './launch/supervisor.js';
export type {
  CredentialField,
  HttpTransportSpec,
  InjectContext,
  InjectedValue,
  InjectFunction,
  Injection,
  McpServerSpec,
  ProviderClient,
  RefreshPolicy,
  ServerDefinition,
  ServerTransportSpec,
  StdioTransportSpec,
} from './launch/types.js';
export {
  type OpenUrl,
  openSystemBrowser,
  type SignInPage,
  type SignInPageError,
} from './open-url.js';
export { Secret } from './secret.js';
export type { FreshOptions, LogoutResult, Session, SessionSummary } from './session.js';
export { type FileStore, type FileStoreOptions, fileStore } from './store/file-store.js';
export {
  type KeySource,
  type SafeStorage,
  safeStorageKey,
} from './store/key-source.js';
export { type KeychainKeyOptions, keychainKey } from './store/keychain-key.js';
export { memoryStore } from './store/memory-store.js';
export type { CredentialStore, JsonObject, JsonValue, LockOptions } from './store/types.js';
export { userStore } from './store/user-store.js';
export {
  accounts,
  forget,
  type StoredAccount,
  type StoredLoginOptions,
} from './stored-logins.js';
export type { BrowserStrategyDefinition } from './strategies/browser/definition.js';
export {
  type CookieRuleOptions,
  cookieRule,
  type ExpressionRuleOptions,
  type ExtractionRule,
  type ExtractionRules,
  expressionRule,
  extractWith,
  type LocalStorageJsonRuleOptions,
  type LocalStorageRuleOptions,
  localStorageJsonRule,
  localStorageRule,
  type RuleContext,
  type RuleOptions,
  type RuleValue,
} from './strategies/browser/rules.js';
export { type BrowserSignInOptions, signInWithBrowser } from './strategies/browser/sign-in.js';
export type {
  BrowserStrategy,
  BrowserValidateContext,
  BrowserValidator,
  ExtractContext,
  Extraction,
  Extractor,
  PartialExtraction,
} from './strategies/browser/types.js';
export type {
  BrowserActivity,
  BrowserCookie,
  BrowserDriver,
  BrowserOpenRequest,
  BrowserPage,
  BrowserWindow,
} from './strategies/browser-driver.js';
export type {
  AccountIdentity,
  IdentifyContext,
  ProviderOf,
  RedirectOptions,
  StrategyBase,
} from './strategies/common-types.js';
export { defineProvider, type ProviderDefinition } from './strategies/define-provider.js';
export type {
  BrowserEvent,
  EventBase,
  McpEvent,
  OAuthEvent,
  SignInEvent,
  SignInEventListener,
} from './strategies/events.js';
export type { McpStrategyDefinition } from './strategies/mcp/definition.js';
export type {
  ClientCredentials,
  CrossAppAccess,
  JwtBearerGrant,
  McpClientAuthMethod,
  McpStrategy,
  PreRegisteredClient,
} from './strategies/mcp/types.js';
export {
  type McpAuthProviderOptions,
  mcpAuthProvider,
} from './strategies/mcp-auth-provider.js';
export type { OAuthStrategyDefinition } from './strategies/oauth/definition.js';
export type { DpopPolicy } from './strategies/oauth/dpop.js';
export type {
  AuthorizationParamsContext,
  ClientAuthentication,
  LinkedTokenResponse,
  MappedTokenResponse,
  OAuthEndpoints,
  OAuthStrategy,
  TokenExchangeProxy,
} from './strategies/oauth/types.js';
export type { AuthProvider, AuthStrategy, StrategyKind } from './strategies/provider.js';
export type { PasteCallback, SignInFlow } from './strategies/types.js';
export { endpointProblem } from './util/url.js';
export {
  type FinishSignInOptions,
  finishSignIn,
  type StartedSignIn,
  type StartSignInOptions,
  startSignIn,
} from './web-sign-in.js';
