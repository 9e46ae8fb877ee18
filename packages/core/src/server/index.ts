// The launched-server part of @latchkey/core: recipes, launchServer, spawn descriptions.
export { type CredentialFetchOptions, credentialFetch } from './credential-fetch.js';
export { defineServer } from './define-server.js';
export {
  type LaunchedServer,
  type LaunchServerOptions,
  launchServer,
} from './launch-server.js';
export {
  type SpawnDescription,
  type SpawnDescriptionOptions,
  spawnDescription,
} from './spawn-description.js';
export type { CrashRestartOptions } from './supervisor.js';
export type {
  CredentialField,
  HttpTransportSpec,
  InjectContext,
  InjectedValue,
  InjectFunction,
  Injection,
  McpServerSpec,
  RefreshPolicy,
  ServerDefinition,
  ServerTransportSpec,
  StdioTransportSpec,
} from './types.js';
