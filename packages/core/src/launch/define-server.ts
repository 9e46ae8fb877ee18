import { LatchkeyError } from '../errors.js';
import { endpointProblem } from '../util/url.js';
import type {
  CredentialField,
  InjectFunction,
  McpServerSpec,
  RefreshPolicy,
  ServerDefinition,
  ServerTransportSpec,
} from './types.js';

const POLICIES: readonly RefreshPolicy[] = ['self', 'restart', 'per-request'];
const TOKEN_FIELDS = new Set([
  'accessToken',
  'refreshToken',
  'idToken',
  'expiresAt',
  'client.clientId',
  'client.clientSecret',
]);
const ENV_NAME = /^[^=\0]+$/;

function fail(field: string, problem: string): never {
  throw new LatchkeyError('SERVER_CONFIG', `Server recipe field "${field}" ${problem}.`);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function checkTransport(transport: unknown): ServerTransportSpec {
  if (typeof transport !== 'object' || transport === null) fail('transport', 'is required');
  const t = transport as Record<string, unknown>;
  if (t.kind === 'stdio') {
    if (typeof t.command !== 'string' || t.command.trim() === '') {
      fail('transport.command', 'must be a non-empty string');
    }
    if (t.args !== undefined && !isStringArray(t.args)) {
      fail('transport.args', 'must be an array of strings');
    }
    if (t.cwd !== undefined && (typeof t.cwd !== 'string' || t.cwd === '')) {
      fail('transport.cwd', 'must be a non-empty string');
    }
    const env = t.env;
    if (env !== undefined) {
      if (typeof env !== 'object' || env === null || Array.isArray(env)) {
        fail('transport.env', 'must be an object of strings');
      }
      for (const [key, value] of Object.entries(env)) {
        if (!ENV_NAME.test(key) || typeof value !== 'string') {
          fail(`transport.env.${key}`, 'must be a string, under a name without "="');
        }
      }
    }
    return Object.freeze({
      kind: 'stdio',
      command: t.command,
      args: Object.freeze([...((t.args as string[] | undefined) ?? [])]),
      ...(t.cwd !== undefined ? { cwd: t.cwd as string } : {}),
      env: Object.freeze({ ...((env as Record<string, string> | undefined) ?? {}) }),
    });
  }
  if (t.kind === 'http') {
    if (typeof t.url !== 'string') fail('transport.url', 'must be a URL string');
    const problem = endpointProblem(t.url);
    if (problem) fail('transport.url', problem);
    return Object.freeze({ kind: 'http', url: t.url });
  }
  return fail('transport.kind', `is ${JSON.stringify(t.kind)}; use "stdio" or "http"`);
}

function checkFields(value: unknown): readonly CredentialField[] {
  if (value === undefined) return Object.freeze([]);
  if (!isStringArray(value)) fail('credentials', 'must be an array of credential field names');
  for (const field of value) {
    const named = /^(secrets|metadata)\.(.+)$/.exec(field);
    if (!TOKEN_FIELDS.has(field) && !named) {
      fail(
        'credentials',
        `names "${field}"; use accessToken, refreshToken, idToken, expiresAt, secrets.<name>, metadata.<name>, client.clientId or client.clientSecret`,
      );
    }
  }
  return Object.freeze([...value] as CredentialField[]);
}

/**
 * Checks a server recipe and returns it as a frozen {@link McpServerSpec}, with defaults
 * filled in. Throws `LatchkeyError` `SERVER_CONFIG` naming the first bad field; throws
 * `TypeError` when the definition is not an object.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports MCP transports
 */
export function defineServer(definition: ServerDefinition): McpServerSpec {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError('defineServer() takes a server definition object');
  }
  const { id, name, provider, scopes, inject, refresh } = definition;
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    fail('id', 'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    fail('name', 'must be a non-empty string');
  }
  const transport = checkTransport(definition.transport);
  if (provider !== undefined && (typeof provider !== 'string' || provider === '')) {
    fail('provider', 'must be a provider id');
  }
  const credentials = checkFields(definition.credentials);
  if (scopes !== undefined && (!isStringArray(scopes) || scopes.some((s) => s === ''))) {
    fail('scopes', 'must be an array of non-empty strings');
  }
  if (inject !== undefined && typeof inject !== 'function') fail('inject', 'must be a function');
  if (refresh !== undefined && !POLICIES.includes(refresh)) {
    fail('refresh', `is ${JSON.stringify(refresh)}; use "self", "restart" or "per-request"`);
  }
  if (refresh === 'per-request' && transport.kind !== 'http') {
    fail('refresh', 'is "per-request", which needs the http transport (headers on each request)');
  }
  const policy: RefreshPolicy =
    refresh ??
    (inject === undefined ? 'self' : transport.kind === 'http' ? 'per-request' : 'restart');
  const none: InjectFunction = () => ({});
  return Object.freeze({
    id,
    name: name ?? id,
    transport,
    ...(provider !== undefined ? { provider } : {}),
    credentials,
    scopes: Object.freeze([...(scopes ?? [])]),
    inject: inject ?? none,
    refresh: policy,
  }) satisfies McpServerSpec;
}
