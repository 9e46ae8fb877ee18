/// <reference path="./oidc-provider.d.ts" />
export {
  type AuthServerOptions,
  startAuthServer,
  type TestAuthServer,
  type TestClients,
} from './auth-server.js';
export {
  type BrowserConsentOptions,
  type BrowserConsentOutcome,
  completeConsentInBrowser,
} from './browser-consent.js';
export {
  CHROMIUM_TEST_ARGS,
  chromiumExecutable,
  type LaunchChromiumOptions,
  type LaunchedChromium,
  launchChromium,
} from './chromium.js';
export { type RequestCounts, UNKNOWN_GRANT_TYPE } from './counts.js';
export {
  type CompleteDeviceAuthorizationOptions,
  completeDeviceAuthorization,
  type DeviceAuthorizationInput,
  type DeviceAuthorizationOutcome,
} from './device-flow.js';
export {
  accessTokenHash,
  type DecodedDpopProof,
  DPOP_ALGS,
  DPOP_IAT_WINDOW_SECONDS,
  type DpopAlg,
  type DpopKey,
  type DpopProofClaims,
  DpopProofError,
  type DpopProofExpectations,
  decodeDpopProof,
  generateDpopKey,
  jwkThumbprint,
  signDpopProof,
  type VerifiedDpopProof,
  verifyDpopProof,
} from './dpop-proof.js';
export type { AuthServerDpopOptions } from './dpop-provider.js';
export {
  type ClientAssertionRecord,
  createFakeAuthServer,
  type FakeAuthServer,
  type FakeAuthServerOptions,
  type FakeAuthServerRequest,
  type FakeClient,
  type RunningFakeAuthServer,
  startFakeAuthServer,
} from './fake-auth-server.js';
export type { Fault, FaultEndpoint, FaultKind } from './faults.js';
export { FORM_IDS } from './interaction-pages.js';
export type { InteractionMode } from './interactions.js';
export { issuedSecrets } from './issued-secrets.js';
export {
  decodeJwt,
  generateEs256Key,
  type JwtClaims,
  type PublicJwk,
  signEs256Jwt,
  verifyEs256Jwt,
} from './jwt.js';
export {
  JWT_BEARER_GRANT,
  type JwtBearerOptions,
  type WorkloadIdentity,
  workloadIdentity,
} from './jwt-bearer.js';
export {
  type AuthServerDpop,
  type AuthServerRequest,
  MCP_SCOPES,
  type McpAuthServer,
  type McpAuthServerOptions,
  RESOURCE_SERVER_AGENT,
  startMcpAuthServer,
} from './mcp-auth-server.js';
export type { DpopRefusalCode, McpDpopMode } from './mcp-dpop.js';
export {
  type McpServerOptions,
  type McpServerRequest,
  type ProtectedResourceMetadataOptions,
  startMcpServer,
  type TestMcpServer,
  type ToolScopes,
} from './mcp-server.js';
export { pageCatcher } from './page-catcher.js';
export { type StartPostgresOptions, startPostgres, type TestPostgres } from './postgres.js';
export { privateTmpdir } from './private-tmpdir.js';
export {
  childPids,
  descendantProcesses,
  leftoverProcesses,
  type ProcessInfo,
  packageBin,
  processesMentioning,
} from './processes.js';
export { API_SCOPES, DEVICE_CODE_GRANT, REGISTERED_REDIRECT_URI } from './provider-config.js';
export { tokenHash } from './token-hash.js';
export {
  type AuthorizationOutcome,
  type CompleteAuthorizationOptions,
  completeAuthorization,
  type ErrorPageReporter,
} from './user-agent.js';
