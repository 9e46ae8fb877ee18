import { join } from 'node:path';
import { type Credentials, expiredTokens } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import { maskSecrets, Secret } from '../secret.js';
import type { AuthProvider } from '../strategies/provider.js';
import type {
  InjectContext,
  InjectedValue,
  Injection,
  McpServerSpec,
  ProviderClient,
} from './types.js';

/** An injection with every value revealed, ready to be written or sent. Internal. */
export interface ResolvedInjection {
  env: Record<string, string>;
  args: string[];
  files: Record<string, string>;
  headers: Record<string, string>;
  /** Every value to mask: the credentials' secrets and each injected `Secret`. */
  secrets: Secret[];
}

// `@` and `+` are allowed for servers that name a file after an account (`<email>.json`).
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._@+-]{0,127}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_NAME = /^[^=\0]+$/;

/** The name of the owner marker in a launch directory; recipes may not write it. */
export const OWNER_MARKER = '.latchkey-owner';

/** Every secret value of a credentials object. */
export function credentialSecrets(credentials: Credentials): Secret[] {
  return [
    credentials.accessToken,
    ...(credentials.refreshToken ? [credentials.refreshToken] : []),
    ...(credentials.idToken ? [credentials.idToken] : []),
    ...Object.values(credentials.secrets),
    ...Object.values(credentials.linkedTokens ?? {}).flatMap((t) =>
      t.refreshToken ? [t.refreshToken] : [],
    ),
  ];
}

/** The OAuth client of a provider, as recipes see it; `undefined` for providers without one. */
export function providerClient(provider: AuthProvider | undefined): ProviderClient | undefined {
  const strategy = provider?.strategy;
  if (strategy?.kind === 'oauth') {
    const auth = strategy.clientAuthentication;
    return Object.freeze({
      clientId: strategy.clientId,
      ...('clientSecret' in auth ? { clientSecret: auth.clientSecret } : {}),
    });
  }
  if (strategy?.kind === 'mcp' && strategy.client) {
    const { clientId, clientSecret } = strategy.client;
    return Object.freeze({ clientId, ...(clientSecret ? { clientSecret } : {}) });
  }
  return undefined;
}

/** The context `inject` gets; `dir` is undefined for servers without a launch directory. */
export function injectContext(
  serverId: string,
  dir: string | undefined,
  client: ProviderClient | undefined,
): InjectContext {
  const noDir = (): never => {
    throw new LatchkeyError(
      'SERVER_CONFIG',
      `The recipe "${serverId}" asked for a launch directory, but only stdio servers have one. Send credentials to an http server as headers.`,
    );
  };
  return Object.freeze({
    serverId,
    get dir() {
      return dir ?? noDir();
    },
    path: (name: string) => join(dir ?? noDir(), name),
    ...(client ? { client } : {}),
  });
}

function bad(serverId: string, field: string, problem: string): never {
  throw new LatchkeyError(
    'SERVER_CONFIG',
    `The recipe "${serverId}" returned an invalid ${field} from inject(): ${problem}.`,
  );
}

function reveal(
  serverId: string,
  field: string,
  input: Readonly<Record<string, InjectedValue>> | undefined,
  nameRule: RegExp,
  secrets: Secret[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (input === undefined) return out;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    bad(serverId, field, 'it must be an object');
  }
  for (const [name, value] of Object.entries(input)) {
    if (!nameRule.test(name) || (field === 'files' && name === OWNER_MARKER)) {
      bad(serverId, field, `"${name}" is not an allowed name`);
    }
    if (value instanceof Secret) {
      secrets.push(value);
      out[name] = value.reveal();
    } else if (typeof value === 'string') {
      out[name] = value;
    } else {
      bad(serverId, `${field}.${name}`, 'values must be strings or Secrets');
    }
  }
  return out;
}

/** Fields of {@link Credentials} a recipe can declare, beside `secrets.*` and `metadata.*`. */
const OPTIONAL_FIELDS = new Set(['refreshToken', 'idToken', 'expiresAt']);

/**
 * The credentials as `inject` sees them, noting every field it reads that the recipe
 * did not declare and the login does not have: such a read is what ends in a
 * `TypeError` or the string "undefined" in an environment variable.
 */
function watchedCredentials(
  spec: McpServerSpec,
  credentials: Credentials,
): { view: Credentials; absent: string[] } {
  const declared = new Set<string>(spec.credentials);
  const absent: string[] = [];
  const note = (field: string, value: unknown) => {
    if (value === undefined && !declared.has(field) && !absent.includes(field)) absent.push(field);
  };
  // Proxies over copies: the credentials are frozen, and a proxy of a frozen object must
  // return its own property values, not the watching proxies of its groups.
  const group = (name: 'secrets' | 'metadata') =>
    new Proxy(
      { ...credentials[name] },
      {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (typeof key === 'string') note(`${name}.${key}`, value);
          return value;
        },
      },
    );
  const secrets = group('secrets');
  const metadata = group('metadata');
  const view = new Proxy({ ...credentials } as Credentials, {
    get(target, key, receiver) {
      if (key === 'secrets') return secrets;
      if (key === 'metadata') return metadata;
      const value = Reflect.get(target, key, receiver);
      if (typeof key === 'string' && OPTIONAL_FIELDS.has(key)) note(key, value);
      return value;
    },
  });
  return { view, absent };
}

/** `SERVER_CONFIG` for an inject that read fields the recipe did not declare and the login lacks. */
function undeclared(spec: McpServerSpec, absent: string[]): LatchkeyError {
  const fields = absent.map((f) => `"${f}"`).join(', ');
  return new LatchkeyError(
    'SERVER_CONFIG',
    `The recipe "${spec.id}" read ${fields} in inject(), which it does not declare in credentials and the login does not have. Declare ${absent.length > 1 ? 'them' : 'it'} in the recipe's credentials (a launch then fails with MISSING_CREDENTIAL first), or check for ${absent.length > 1 ? 'them' : 'it'} in inject().`,
  );
}

/**
 * Runs a recipe's `inject` and checks what it returns. An `inject` that throws gives
 * `SERVER_CONFIG`, with every credential value masked out of its message.
 */
export function resolveInjection(
  spec: McpServerSpec,
  credentials: Credentials,
  context: InjectContext,
): ResolvedInjection {
  const secrets = credentialSecrets(credentials);
  if (context.client?.clientSecret) secrets.push(context.client.clientSecret);
  let injection: Injection;
  const watched = watchedCredentials(spec, credentials);
  try {
    injection = spec.inject(watched.view, context);
  } catch (error) {
    if (error instanceof LatchkeyError) throw error;
    if (watched.absent.length > 0) throw undeclared(spec, watched.absent);
    const message = maskSecrets(error instanceof Error ? error.message : String(error), secrets);
    throw new LatchkeyError(
      'SERVER_CONFIG',
      `The recipe "${spec.id}" failed in inject(): ${message.slice(0, 300)}`,
    );
  }
  if (typeof injection !== 'object' || injection === null) {
    bad(spec.id, 'result', 'inject() must return an object');
  }
  const args = injection.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    bad(spec.id, 'args', 'it must be an array of strings (pass secrets through env or files)');
  }
  // Every user of the machine can read a process's arguments (ps, /proc/<pid>/cmdline).
  const exposed = args.findIndex((arg) =>
    secrets.some((s) => {
      const value = s.reveal();
      return value.length >= 8 && arg.includes(value);
    }),
  );
  if (exposed !== -1) {
    bad(
      spec.id,
      `args[${exposed}]`,
      'it carries a credential, which every user of this machine can read in the process list; pass it in env, or write it to a file (files, with context.path) and pass the path',
    );
  }
  // A value built from a missing field: the string "undefined" (or no value at all).
  const built = [...Object.values(injection.env ?? {}), ...Object.values(injection.headers ?? {})];
  if (
    watched.absent.length > 0 &&
    built.some((v) => v === undefined || (typeof v === 'string' && /\bundefined\b/.test(v)))
  ) {
    throw undeclared(spec, watched.absent);
  }
  const resolved: ResolvedInjection = {
    env: reveal(spec.id, 'env', injection.env, ENV_NAME, secrets),
    args: [...args],
    files: reveal(spec.id, 'files', injection.files, FILE_NAME, secrets),
    headers: reveal(spec.id, 'headers', injection.headers, HEADER_NAME, secrets),
    secrets,
  };
  if (spec.transport.kind === 'http' && Object.keys(resolved.files).length > 0) {
    bad(spec.id, 'files', 'http servers get no files; send credentials as headers');
  }
  refuseExpired(spec, credentials, resolved);
  return resolved;
}

/**
 * `REAUTH_REQUIRED` when the injection hands the server a token known to have expired:
 * the credentials come fresh from the session, so such a token is one no refresh renews.
 */
function refuseExpired(spec: McpServerSpec, c: Credentials, resolved: ResolvedInjection): void {
  const values = [
    ...Object.values(resolved.env),
    ...Object.values(resolved.files),
    ...Object.values(resolved.headers),
  ];
  for (const { field, token, expiresAt } of expiredTokens(c)) {
    const value = token?.reveal();
    if (value === undefined || value === '' || !values.some((v) => v.includes(value))) continue;
    throw new LatchkeyError(
      'REAUTH_REQUIRED',
      `The recipe "${spec.id}" would hand its server ${field} of the login for ${c.account} at ${c.providerId}, which expired at ${new Date(expiresAt).toISOString()} and could not be refreshed. Sign in again.`,
    );
  }
}
