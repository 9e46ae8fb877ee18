import { webcrypto } from 'node:crypto';

/** A JSON Web Key as published in a JWKS (RFC 7517). */
export type PublicJwk = webcrypto.JsonWebKey & { kid?: string; alg?: string; use?: string };

/** The claims of a verified JWT. */
export type JwtClaims = Record<string, unknown>;

const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ES256_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function decodePart(part: string | undefined): Record<string, unknown> {
  if (!part) throw new Error('malformed JWT');
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('malformed JWT');
  }
  return value as Record<string, unknown>;
}

/** Reads a JWT's header and claims without verifying anything. */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: JwtClaims } {
  const [header, claims] = token.split('.');
  return { header: decodePart(header), claims: decodePart(claims) };
}

/** An ES256 key pair with its public JWK, for a fake server that signs tokens. */
export async function generateEs256Key(kid: string): Promise<{
  privateKey: webcrypto.CryptoKey;
  publicJwk: PublicJwk;
}> {
  const pair = await webcrypto.subtle.generateKey(ES256, true, ['sign', 'verify']);
  const publicJwk = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
  return {
    privateKey: pair.privateKey,
    publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
  };
}

/** Signs `claims` as a compact ES256 JWS (RFC 7515) with `typ` in the header. */
export async function signEs256Jwt(
  claims: JwtClaims,
  key: webcrypto.CryptoKey,
  header: { kid?: string; typ?: string } = {},
): Promise<string> {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'ES256', ...header })}.${encode(claims)}`;
  const signature = await webcrypto.subtle.sign(ES256_SIGN, key, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/**
 * Verifies a compact ES256 JWS against the keys of a JWKS (the `kid` picks the key) and
 * returns its claims; throws when the signature, algorithm or `exp` is wrong. Audience
 * and issuer are the caller's to check.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2 Validating a JWT
 */
export async function verifyEs256Jwt(
  token: string,
  keys: readonly PublicJwk[],
): Promise<JwtClaims> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const { header, claims } = decodeJwt(token);
  if (header.alg !== 'ES256') throw new Error(`unexpected alg ${String(header.alg)}`);
  const jwk = keys.find(
    (k) => k.kty === 'EC' && (header.kid === undefined || k.kid === header.kid),
  );
  if (!jwk) throw new Error('no key for the JWT');
  const { kid: _kid, alg: _alg, use: _use, ...material } = jwk;
  const key = await webcrypto.subtle.importKey('jwk', material, ES256, false, ['verify']);
  const valid = await webcrypto.subtle.verify(
    ES256_SIGN,
    key,
    Buffer.from(parts[2] as string, 'base64url'),
    Buffer.from(`${parts[0]}.${parts[1]}`),
  );
  if (!valid) throw new Error('bad JWT signature');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
    throw new Error('JWT expired');
  }
  return claims;
}
