import { timingSafeEqual } from 'node:crypto';
import { decodeJwt, type JwtClaims, type PublicJwk, verifyEs256Jwt } from './jwt.js';

/** A client the fake authorization server knows without registration. */
export interface FakeClient {
  readonly clientId: string;
  /** Its secret, for `client_secret_basic` and `client_secret_post`. */
  readonly clientSecret?: string;
  /** Its public key, for `private_key_jwt` (RFC 7523). */
  readonly publicJwk?: PublicJwk;
}

/** What a `private_key_jwt` client assertion carried, and whether its signature held. */
export interface ClientAssertionRecord {
  readonly header: Record<string, unknown>;
  readonly claims: JwtClaims;
  readonly signatureValid: boolean;
}

/** How a token request authenticated its client, and whether that succeeded. */
export interface ClientAuthResult {
  readonly method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  /** The client id the request claimed. */
  readonly claimedId: string;
  /** The client id, when authentication succeeded. */
  readonly clientId?: string;
  readonly assertion?: ClientAssertionRecord;
}

const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Authenticates the client of a token request the way RFC 6749 §2.3.1 and RFC 7523 §3
 * describe: HTTP Basic, secret in the form, a signed client assertion whose `iss` and
 * `sub` are the client id and whose `aud` holds the issuer, or none for public clients.
 */
export async function authenticateClient(input: {
  authorization: string | undefined;
  form: URLSearchParams;
  clients: ReadonlyMap<string, FakeClient>;
  issuer: string;
}): Promise<ClientAuthResult> {
  const { form, clients } = input;
  const basic = /^Basic\s+(\S+)$/i.exec(input.authorization ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const id = decodeURIComponent(decoded.slice(0, colon));
    const secret = decodeURIComponent(decoded.slice(colon + 1));
    const client = clients.get(id);
    const ok = client?.clientSecret !== undefined && sameSecret(client.clientSecret, secret);
    return { method: 'client_secret_basic', claimedId: id, ...(ok ? { clientId: id } : {}) };
  }
  const assertion = form.get('client_assertion');
  if (assertion !== null) {
    const { header, claims } = decodeJwt(assertion);
    const id = typeof claims.sub === 'string' ? claims.sub : '';
    const client = clients.get(id);
    let signatureValid = false;
    if (client?.publicJwk) {
      signatureValid = await verifyEs256Jwt(assertion, [client.publicJwk]).then(
        () => true,
        () => false,
      );
    }
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const ok =
      signatureValid &&
      form.get('client_assertion_type') === JWT_BEARER_ASSERTION &&
      claims.iss === id &&
      audience.includes(input.issuer) &&
      typeof claims.jti === 'string';
    return {
      method: 'private_key_jwt',
      claimedId: id,
      assertion: { header, claims, signatureValid },
      ...(ok ? { clientId: id } : {}),
    };
  }
  const id = form.get('client_id') ?? '';
  const client = clients.get(id);
  const secret = form.get('client_secret');
  if (secret !== null) {
    const ok = client?.clientSecret !== undefined && sameSecret(client.clientSecret, secret);
    return { method: 'client_secret_post', claimedId: id, ...(ok ? { clientId: id } : {}) };
  }
  const ok = client !== undefined && !client.clientSecret && !client.publicJwk;
  return { method: 'none', claimedId: id, ...(ok ? { clientId: id } : {}) };
}
