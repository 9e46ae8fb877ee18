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
export type { Fault, FaultEndpoint, FaultKind } from './faults.js';
export { FORM_IDS } from './interaction-pages.js';
export type { InteractionMode } from './interactions.js';
export { issuedSecrets } from './issued-secrets.js';
export { API_SCOPES, DEVICE_CODE_GRANT, REGISTERED_REDIRECT_URI } from './provider-config.js';
export {
  type AuthorizationOutcome,
  type CompleteAuthorizationOptions,
  completeAuthorization,
} from './user-agent.js';
