import * as oauth from 'oauth4webapi';
import type { Credentials } from '../../credentials.js';
import { LatchkeyError } from '../../errors.js';
import { Secret } from '../../secret.js';
import { fail } from '../definition-checks.js';

/**
 * Whether a provider's tokens are bound to a key with DPoP (RFC 9449): `auto` when the
 * authorization server advertises it, `require` always (a server that cannot is an
 * error), `refuse` never.
 */
export type DpopPolicy = 'auto' | 'require' | 'refuse';

const DPOP_POLICIES: readonly string[] = ['auto', 'require', 'refuse'];

/** Checks a `dpop` option; `field` names it in the error. */
export function checkDpopPolicy(field: string, value: unknown, fallback: DpopPolicy): DpopPolicy {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !DPOP_POLICIES.includes(value))
    fail(field, 'must be "auto", "require" or "refuse"');
  return value as DpopPolicy;
}

/** The JWS algorithms Latchkey signs DPoP proofs with, in order of preference. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'PS256', 'RS256'] as const;

type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** A login's DPoP key: the handle that signs proofs and keeps nonces, and the key as stored. */
export interface DpopBinding {
  /** oauth4webapi's proof signer, which also remembers each server's `DPoP-Nonce`. */
  readonly handle: oauth.DPoPHandle;
  /** The private key as a JWK (with `alg`), stored with the tokens. */
  readonly key: Secret;
}

/**
 * The algorithm a sign-in at `as` binds its tokens with, or `undefined` for bearer
 * tokens. `require` with a server that advertises no algorithm Latchkey signs with
 * raises `DPOP_UNSUPPORTED`.
 */
function dpopAlgorithmFor(
  policy: DpopPolicy,
  as: oauth.AuthorizationServer,
  providerName: string,
): DpopAlgorithm | undefined {
  if (policy === 'refuse') return undefined;
  const offered = as.dpop_signing_alg_values_supported;
  const algorithm = Array.isArray(offered)
    ? DPOP_ALGORITHMS.find((a) => offered.includes(a))
    : undefined;
  if (algorithm === undefined && policy === 'require') {
    throw new LatchkeyError(
      'DPOP_UNSUPPORTED',
      `${providerName} is set to require DPoP (dpop: 'require'), but the authorization server ${as.issuer} ${Array.isArray(offered) ? `offers only ${offered.join(', ') || 'no'} DPoP algorithms, none of ${DPOP_ALGORITHMS.join(', ')}` : 'does not advertise DPoP (dpop_signing_alg_values_supported)'}. Set dpop to 'auto' to accept bearer tokens from it.`,
    );
  }
  return algorithm;
}

/**
 * A new login's key pair, when `policy` and what the authorization server `as`
 * advertises call for one (see {@link dpopAlgorithmFor}); `undefined` for bearer tokens.
 */
export async function newDpopBinding(
  policy: DpopPolicy,
  as: oauth.AuthorizationServer,
  providerName: string,
): Promise<DpopBinding | undefined> {
  const algorithm = dpopAlgorithmFor(policy, as, providerName);
  if (algorithm === undefined) return undefined;
  const pair = await oauth.generateKeyPair(algorithm, { extractable: true });
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const key = new Secret(JSON.stringify({ ...jwk, alg: algorithm }));
  const binding = { handle: oauth.DPoP({}, pair), key };
  // Later reads of the stored login find this handle, with the nonces it collects.
  remember(key.reveal(), Promise.resolve(binding));
  return binding;
}

function importParams(jwk: JsonWebKey & { alg?: string }) {
  switch (jwk.alg) {
    case 'ES256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'EdDSA':
      return { name: 'Ed25519' };
    case 'PS256':
      return { name: 'RSA-PSS', hash: 'SHA-256' };
    case 'RS256':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    default:
      return undefined;
  }
}

function publicPart(jwk: JsonWebKey): JsonWebKey {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(
    Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined),
  ) as JsonWebKey;
}

/**
 * Keys imported in this process, by their stored form: every copy of a login (each read
 * from the store makes new objects) shares one handle, and with it the nonces servers
 * handed out. Bounded; the oldest is dropped first.
 */
const imported = new Map<string, Promise<DpopBinding>>();
const MAX_IMPORTED = 100;

function remember(stored: string, binding: Promise<DpopBinding>): void {
  imported.set(stored, binding);
  if (imported.size > MAX_IMPORTED) imported.delete(imported.keys().next().value as string);
}

async function importBinding(key: Secret): Promise<DpopBinding> {
  const jwk = JSON.parse(key.reveal()) as JsonWebKey & { alg?: string };
  const params = importParams(jwk);
  if (!params || typeof jwk.d !== 'string') throw new Error('not a DPoP private key');
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey('jwk', jwk, params, false, ['sign']),
    crypto.subtle.importKey('jwk', publicPart(jwk), params, true, ['verify']),
  ]);
  return { handle: oauth.DPoP({}, { privateKey, publicKey }), key };
}

/**
 * The DPoP key a stored login's tokens are bound to, or `undefined` for a bearer login.
 * One handle per stored key, so nonces a server hands out are reused across requests.
 * A DPoP login whose key is missing or unusable cannot be used or refreshed:
 * `REAUTH_REQUIRED`.
 */
export async function storedDpopBinding(
  credentials: Credentials,
  providerName: string,
): Promise<DpopBinding | undefined> {
  const key = credentials.dpopKey;
  if (key === undefined) {
    if (credentials.tokenType === 'dpop') {
      throw new LatchkeyError(
        'REAUTH_REQUIRED',
        `The stored ${providerName} login for ${credentials.account} is bound to a DPoP key that is not stored with it, so its tokens cannot be used or refreshed. Sign in again.`,
      );
    }
    return undefined;
  }
  try {
    return await bindingForKey(key);
  } catch {
    throw new LatchkeyError(
      'REAUTH_REQUIRED',
      `The DPoP key stored with the ${providerName} login for ${credentials.account} cannot be read, so its tokens cannot be used or refreshed. Sign in again.`,
    );
  }
}

/**
 * Runs a token request, and once more when the server answers `use_dpop_nonce` (the
 * nonce it sent is then in the proof). A second nonce error ends it: a server that asks
 * for a new nonce every time would loop.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8 Authorization Server-Provided Nonce
 */
export async function withDpopNonce<T>(
  binding: DpopBinding | undefined,
  what: string,
  request: () => Promise<T>,
): Promise<T> {
  if (!binding) return request();
  try {
    return await request();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
  }
  try {
    return await request();
  } catch (error) {
    if (oauth.isDPoPNonceError(error)) {
      throw new LatchkeyError(
        'TOKEN_REQUEST_FAILED',
        `The authorization server asked for a new DPoP nonce again, right after handing one out, during ${what}. Latchkey stopped instead of looping; the server is misconfigured.`,
      );
    }
    throw error;
  }
}

/**
 * The binding for a stored private key (JWK with `alg`), one handle per key in this
 * process. Rejects with a plain `Error` when the key cannot be imported.
 */
export async function bindingForKey(key: Secret): Promise<DpopBinding> {
  const stored = key.reveal();
  let binding = imported.get(stored);
  if (!binding) {
    binding = importBinding(key);
    remember(stored, binding);
  }
  try {
    return await binding;
  } catch (error) {
    imported.delete(stored);
    throw error;
  }
}
