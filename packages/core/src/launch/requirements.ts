import { type Credentials, missingScopes } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import type { CredentialField, McpServerSpec, ProviderClient } from './types.js';

function has(
  credentials: Credentials,
  client: ProviderClient | undefined,
  field: CredentialField,
): boolean {
  if (field === 'client.clientId') return client !== undefined;
  if (field === 'client.clientSecret') return client?.clientSecret !== undefined;
  if (field === 'accessToken') return credentials.accessToken !== undefined;
  if (field === 'refreshToken') return credentials.refreshToken !== undefined;
  if (field === 'idToken') return credentials.idToken !== undefined;
  if (field === 'expiresAt') return credentials.expiresAt !== undefined;
  const [group, ...rest] = field.split('.');
  const name = rest.join('.');
  if (group === 'secrets') return Object.hasOwn(credentials.secrets, name);
  return Object.hasOwn(credentials.metadata, name);
}

/**
 * Checks that credentials carry everything a recipe declares it needs: the provider,
 * each credential field, each scope. Throws `MISSING_CREDENTIAL` or `INSUFFICIENT_SCOPE`
 * naming what is missing, before anything is spawned. A DPoP-bound token can only be
 * used where Latchkey sends the requests itself (`latchkeySends`): a recipe that hands
 * the token to a server gets `MISSING_CREDENTIAL`.
 */
export function checkRequirements(
  spec: McpServerSpec,
  credentials: Credentials,
  context: {
    client?: ProviderClient | undefined;
    /** Whether Latchkey sends every request itself (an MCP login to its own server). */
    latchkeySends?: boolean;
    /** Whether the host passed no credentials at all. */
    none?: boolean;
    /** The provider's scope implications (`scopeImplies`). */
    implies?: Readonly<Record<string, readonly string[]>> | undefined;
  } = {},
): void {
  const { client, latchkeySends = false, none = false } = context;
  const server = `The MCP server "${spec.name}" (${spec.id})`;
  if (none) {
    const needs = [...(spec.provider ? [`a ${spec.provider} login`] : []), ...spec.credentials];
    if (needs.length > 0) {
      throw new LatchkeyError(
        'MISSING_CREDENTIAL',
        `${server} needs ${needs.map((n) => `"${n}"`).join(', ')}, and it was launched without credentials. Pass a session from authenticate() or a Credentials object.`,
      );
    }
    return;
  }
  if (credentials.tokenType === 'dpop' && !latchkeySends) {
    throw new LatchkeyError(
      'MISSING_CREDENTIAL',
      `${server} takes its token from Latchkey, but the login for ${credentials.account} at "${credentials.providerId}" holds a DPoP-bound token (RFC 9449), which is useless without its key, and the key never leaves Latchkey. Use a provider with dpop: 'refuse' for servers that are handed a token.`,
    );
  }
  if (spec.provider !== undefined && credentials.providerId !== spec.provider) {
    throw new LatchkeyError(
      'MISSING_CREDENTIAL',
      `${server} needs credentials from the provider "${spec.provider}", but these are from "${credentials.providerId}". Launch it with a ${spec.provider} login.`,
    );
  }
  const missing = spec.credentials.filter((field) => !has(credentials, client, field));
  const missingClient = missing.filter((field) => field.startsWith('client.'));
  if (missingClient.length > 0) {
    throw new LatchkeyError(
      'MISSING_CREDENTIAL',
      `${server} needs the OAuth client of its provider (${missingClient.map((f) => `"${f}"`).join(', ')}), ${client ? `and the provider "${credentials.providerId}" holds no client secret (a token-exchange proxy keeps it)` : 'which these credentials do not come with'}. Launch it with a session of a provider that holds the client, or pass the client option.`,
    );
  }
  if (missing.length > 0) {
    throw new LatchkeyError(
      'MISSING_CREDENTIAL',
      `${server} needs the credential field${missing.length > 1 ? 's' : ''} ${missing.map((f) => `"${f}"`).join(', ')}, which the login for ${credentials.account} at "${credentials.providerId}" does not have. Sign in with a provider or options that provide ${missing.length > 1 ? 'them' : 'it'}.`,
    );
  }
  const absent = missingScopes(credentials.scopes, spec.scopes, context.implies);
  if (absent.length > 0) {
    throw new LatchkeyError(
      'INSUFFICIENT_SCOPE',
      `${server} needs the scope${absent.length > 1 ? 's' : ''} ${absent.map((s) => `"${s}"`).join(', ')}, which the login for ${credentials.account} at "${credentials.providerId}" was not granted. Sign in again asking for ${absent.length > 1 ? 'them' : 'it'} (authenticate's \`scopes\` option).`,
    );
  }
}
