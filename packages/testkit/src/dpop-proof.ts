import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';

/**
 * DPoP proof JWTs (RFC 9449): reading, checking and, for tests, making them, with
 * node:crypto only.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */

/** The JWS algorithms the fixtures accept in DPoP proofs, in the order they advertise them. */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const;

/** One of {@link DPOP_ALGS}. */
export type DpopAlg = (typeof DPOP_ALGS)[number];

/** How far a proof's `iat` may be from the server's clock, in seconds. */
export const DPOP_IAT_WINDOW_SECONDS = 60;

/** A proof that does not pass; `code` is the OAuth error code to answer with. */
export class DpopProofError extends Error {
  readonly code = 'invalid_dpop_proof';
}

/** What a proof says, read without checking anything. */
export interface DecodedDpopProof {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** RFC 7638 SHA-256 thumbprint of the header's `jwk`, when it has one. */
  jkt?: string;
}

/** What a checked proof established. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint (base64url) of the proof's public key. */
  jkt: string;
  jti: string;
  iat: number;
  htm: string;
  htu: string;
  nonce?: string;
}

/** What the request a proof came with looks like. */
export interface DpopProofExpectations {
  /** The request's HTTP method. */
  method: string;
  /** The request's URL; its query and fragment are ignored. */
  url: string;
  /** The access token sent with the proof, whose hash `ath` must carry. */
  accessToken?: string;
  /** Accepted algorithms (default {@link DPOP_ALGS}). */
  algs?: readonly string[];
  /** The time to judge `iat` by, in seconds (default now). */
  now?: number;
}

/** The members of each key type that take part in its thumbprint, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/** Members that only a private key has; a proof's `jwk` must carry none of them. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The RFC 7638 SHA-256 thumbprint (base64url) of a public EC, OKP or RSA JWK. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)];
  if (!members) throw new DpopProofError(`unsupported key type ${String(jwk.kty)}`);
  const required: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string' || value === '') {
      throw new DpopProofError(`jwk is missing ${member}`);
    }
    required[member] = value;
  }
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

/** The `ath` of an access token: base64url of its SHA-256 hash. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function decodePart(part: string): Record<string, unknown> {
  if (!BASE64URL.test(part)) throw new DpopProofError('DPoP proof is not base64url');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new DpopProofError('DPoP proof is not JSON');
  }
  if (!isRecord(value)) throw new DpopProofError('DPoP proof part is not an object');
  return value;
}

/** Splits a compact JWS into its three parts, or throws. */
function partsOf(proof: string): [string, string, string] {
  const parts = proof.split('.');
  if (parts.length !== 3 || parts.some((part) => part === '')) {
    throw new DpopProofError('DPoP proof is not a compact JWS');
  }
  return parts as [string, string, string];
}

/** Reads a proof's header, claims and key thumbprint without verifying anything. */
export function decodeDpopProof(proof: string): DecodedDpopProof {
  const [header, claims] = partsOf(proof);
  const decoded: DecodedDpopProof = { header: decodePart(header), claims: decodePart(claims) };
  const { jwk } = decoded.header;
  if (isRecord(jwk)) {
    try {
      decoded.jkt = jwkThumbprint(jwk);
    } catch {
      // A key without the members of its type has no thumbprint.
    }
  }
  return decoded;
}

/** Checks that the key type and curve fit the algorithm. */
function keyFitsAlg(jwk: Record<string, unknown>, alg: string): boolean {
  switch (alg) {
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256';
    case 'EdDSA':
    case 'Ed25519':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
    case 'PS256':
    case 'RS256':
      return jwk.kty === 'RSA';
    default:
      return false;
  }
}

/** Imports the proof's public key, refusing private keys and keys that do not fit `alg`. */
function publicKeyOf(header: Record<string, unknown>, alg: string): KeyObject {
  const { jwk } = header;
  if (!isRecord(jwk)) throw new DpopProofError('DPoP proof header has no jwk');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
    throw new DpopProofError('DPoP proof jwk holds a private key');
  }
  if (!keyFitsAlg(jwk, alg)) throw new DpopProofError(`DPoP proof jwk does not fit ${alg}`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch {
    throw new DpopProofError('DPoP proof jwk is not a valid key');
  }
  const rsa = alg === 'PS256' || alg === 'RS256';
  if (rsa && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new DpopProofError('DPoP proof RSA key is shorter than 2048 bits');
  }
  return key;
}

/** Whether `signature` over `input` is valid for `key` under `alg`. */
function signatureValid(alg: string, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  switch (alg) {
    case 'ES256':
      return verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'EdDSA':
    case 'Ed25519':
      return verify(null, input, key, signature);
    case 'PS256':
      return verify(
        'sha256',
        input,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      );
    case 'RS256':
      return verify('sha256', input, key, signature);
    default:
      return false;
  }
}

/** The URL a proof's `htu` is compared by: no query, no fragment, normalised by WHATWG URL. */
function comparableUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  url.search = '';
  url.hash = '';
  return url.href;
}

/** Checks the claims of a proof whose signature holds against the request it came with. */
function checkClaims(
  claims: Record<string, unknown>,
  expected: DpopProofExpectations,
): Omit<VerifiedDpopProof, 'jkt'> {
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti === '') throw new DpopProofError('DPoP proof has no jti');
  if (htm !== expected.method) throw new DpopProofError('DPoP proof htm mismatch');
  if (typeof htu !== 'string' || comparableUrl(htu) !== comparableUrl(expected.url)) {
    throw new DpopProofError('DPoP proof htu mismatch');
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw new DpopProofError('DPoP proof has no iat');
  }
  const now = expected.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - iat) > DPOP_IAT_WINDOW_SECONDS) {
    throw new DpopProofError('DPoP proof iat is not recent enough');
  }
  if (expected.accessToken !== undefined && ath !== accessTokenHash(expected.accessToken)) {
    throw new DpopProofError('DPoP proof ath mismatch');
  }
  if (nonce !== undefined && typeof nonce !== 'string') {
    throw new DpopProofError('DPoP proof nonce is not a string');
  }
  return { jti, htm, htu, iat, ...(nonce !== undefined ? { nonce } : {}) };
}

/**
 * Checks a DPoP proof against the request it came with: `typ`, algorithm, embedded
 * public key, signature, `htm`, `htu`, `iat` and `ath`. Replay (`jti`) and `nonce` are
 * the caller's to check, since they need the server's memory.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3 Checking DPoP Proofs
 */
export function verifyDpopProof(proof: string, expected: DpopProofExpectations): VerifiedDpopProof {
  const [headerPart, claimsPart, signaturePart] = partsOf(proof);
  const header = decodePart(headerPart);
  const claims = decodePart(claimsPart);
  if (header.typ !== 'dpop+jwt') throw new DpopProofError('DPoP proof typ is not dpop+jwt');
  const alg = String(header.alg);
  if (!(expected.algs ?? DPOP_ALGS).includes(alg)) {
    throw new DpopProofError(`DPoP proof alg ${alg} is not accepted`);
  }
  const key = publicKeyOf(header, alg);
  if (!BASE64URL.test(signaturePart)) throw new DpopProofError('DPoP proof is not base64url');
  const input = Buffer.from(`${headerPart}.${claimsPart}`);
  if (!signatureValid(alg, key, input, Buffer.from(signaturePart, 'base64url'))) {
    throw new DpopProofError('DPoP proof signature is invalid');
  }
  return {
    jkt: jwkThumbprint(header.jwk as Record<string, unknown>),
    ...checkClaims(claims, expected),
  };
}

/** A key pair a test signs DPoP proofs with. */
export interface DpopKey {
  alg: 'ES256' | 'EdDSA' | 'PS256' | 'RS256';
  privateKey: KeyObject;
  /** The public JWK put in every proof's header. */
  publicJwk: Record<string, unknown>;
  /** Its RFC 7638 SHA-256 thumbprint. */
  jkt: string;
}

/** Makes a key pair for {@link signDpopProof}. */
export function generateDpopKey(alg: DpopKey['alg'] = 'ES256'): DpopKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { alg, privateKey: pair.privateKey, publicJwk, jkt: jwkThumbprint(publicJwk) };
}

/** The claims of a proof made by {@link signDpopProof}. */
export interface DpopProofClaims {
  htm: string;
  htu: string;
  /** The access token the proof goes with; gives `ath` unless `ath` is set. */
  accessToken?: string;
  ath?: string;
  nonce?: string;
  /** Default now. */
  iat?: number;
  /** Default a random UUID. */
  jti?: string;
}

function signatureOf(key: DpopKey, input: Buffer): Buffer {
  switch (key.alg) {
    case 'ES256':
      return sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return sign(null, input, key.privateKey);
    case 'PS256':
      return sign('sha256', input, {
        key: key.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case 'RS256':
      return sign('sha256', input, key.privateKey);
  }
}

/**
 * Signs a DPoP proof with `key`, for tests that make requests by hand. `header` is
 * merged over `{ typ: 'dpop+jwt', alg, jwk }`, so a test can spoil any part of it.
 */
export function signDpopProof(
  key: DpopKey,
  claims: DpopProofClaims,
  header: Record<string, unknown> = {},
): string {
  const { accessToken, ath, ...rest } = claims;
  const payload = {
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...rest,
    ...(ath !== undefined
      ? { ath }
      : accessToken !== undefined
        ? { ath: accessTokenHash(accessToken) }
        : {}),
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header })}.${encode(payload)}`;
  return `${input}.${signatureOf(key, Buffer.from(input)).toString('base64url')}`;
}
