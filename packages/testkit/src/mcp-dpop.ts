import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  DPOP_ALGS,
  DPOP_IAT_WINDOW_SECONDS,
  DpopProofError,
  type VerifiedDpopProof,
  verifyDpopProof,
} from './dpop-proof.js';

/**
 * The DPoP (RFC 9449) side of the MCP server fixture: proof checks with replay and nonce
 * memory, key binding of access tokens, and `DPoP` challenges.
 */

/** How the MCP server treats DPoP: `accept` takes both schemes, `require` refuses Bearer. */
export type McpDpopMode = 'accept' | 'require';

/** Why a request was refused: the OAuth error code, or `dpop_required` (no error code sent). */
export type DpopRefusalCode =
  | 'invalid_dpop_proof'
  | 'invalid_token'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'dpop_required';

/** A refusal the MCP server answers with a `DPoP` challenge; the message is its description. */
export class DpopRefusal extends Error {
  readonly status: 401 | 403;
  readonly code: DpopRefusalCode;

  constructor(status: 401 | 403, code: DpopRefusalCode, description: string) {
    super(description);
    this.status = status;
    this.code = code;
  }
}

/** The scheme and token of an `Authorization` header. */
export interface Credentials {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

/** Reads `Bearer <token>` or `DPoP <token>` (scheme case-insensitive); anything else is undefined. */
export function credentialsOf(header: string | undefined): Credentials | undefined {
  const match = /^(Bearer|DPoP)\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const scheme = match[1]?.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  return { scheme, token: match[2] as string };
}

/** The scheme of an `Authorization` header, when it is Bearer or DPoP. */
export function schemeOf(header: string | undefined): Credentials['scheme'] | undefined {
  const scheme = /^(\S+)/.exec(header ?? '')?.[1]?.toLowerCase();
  if (scheme === 'bearer') return 'Bearer';
  if (scheme === 'dpop') return 'DPoP';
  return undefined;
}

/** The key thumbprint an access token is bound to (`cnf.jkt`), as the verifier reported it. */
export function boundJkt(auth: AuthInfo): string | undefined {
  const cnf = auth.extra?.cnf;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const { jkt } = cnf as { jkt?: unknown };
  return typeof jkt === 'string' ? jkt : undefined;
}

/** What a `DPoP` challenge says. */
export interface DpopChallengeParts {
  code?: string;
  description?: string;
  scope?: readonly string[];
  resourceMetadata?: string;
}

/** A `WWW-Authenticate: DPoP …` value; parameters without a value are left out. */
export function dpopChallenge(parts: DpopChallengeParts): string {
  const params: [string, string | undefined][] = [
    ['error', parts.code],
    ['error_description', parts.description],
    ['scope', parts.scope?.length ? parts.scope.join(' ') : undefined],
    ['resource_metadata', parts.resourceMetadata],
    ['algs', DPOP_ALGS.join(' ')],
  ];
  const present = params.filter((entry): entry is [string, string] => entry[1] !== undefined);
  return `DPoP ${present.map(([name, value]) => `${name}="${value}"`).join(', ')}`;
}

/** The one `DPoP` header of a request; node joins repeated ones with commas, which no JWS holds. */
function proofOf(req: IncomingMessage): string {
  const value = req.headers.dpop;
  if (typeof value !== 'string' || value === '') {
    throw new DpopProofError('DPoP proof missing');
  }
  if (value.includes(',')) throw new DpopProofError('more than one DPoP proof');
  return value;
}

/**
 * Proof checking with the server's memory: every `jti` seen (for replay) and, when the
 * server issues nonces, the current nonce.
 */
export class DpopGate {
  readonly mode: McpDpopMode;
  readonly #seen = new Map<string, number>();
  #nonce: string | undefined;

  constructor(mode: McpDpopMode, nonces: boolean) {
    this.mode = mode;
    this.#nonce = nonces ? randomBytes(16).toString('base64url') : undefined;
  }

  /** The nonce proofs must carry, when the server issues nonces. */
  nonce(): string | undefined {
    return this.#nonce;
  }

  /** Replaces the nonce: proofs carrying the old one are answered `use_dpop_nonce`. */
  rotateNonce(): void {
    if (this.#nonce !== undefined) this.#nonce = randomBytes(16).toString('base64url');
  }

  /**
   * Checks the proof of a request made with `token`: the proof itself, then replay, then
   * the nonce. Throws a {@link DpopRefusal}.
   */
  check(req: IncomingMessage, url: string, token: string): VerifiedDpopProof {
    let proof: VerifiedDpopProof;
    try {
      proof = verifyDpopProof(proofOf(req), {
        method: req.method ?? 'GET',
        url,
        accessToken: token,
      });
    } catch (error) {
      if (error instanceof DpopProofError) throw refusal(401, error.code, error.message);
      throw error;
    }
    if (!this.#firstUse(proof.jti, proof.iat)) {
      throw refusal(401, 'invalid_dpop_proof', 'DPoP proof replayed');
    }
    if (this.#nonce !== undefined && proof.nonce !== this.#nonce) {
      throw refusal(401, 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof');
    }
    return proof;
  }

  /** Remembers `jti` until its proof is too old to pass anyway; false when it was seen. */
  #firstUse(jti: string, iat: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    for (const [seen, until] of this.#seen) {
      if (until < now) this.#seen.delete(seen);
    }
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, Math.max(now, iat) + DPOP_IAT_WINDOW_SECONDS);
    return true;
  }
}

function refusal(status: 401 | 403, code: DpopRefusalCode, description: string): DpopRefusal {
  return new DpopRefusal(status, code, description);
}

/** The serialized value without its fragment and one trailing slash, as the SDK compares resources. */
function comparableResource(value: URL | string): string {
  const text = String(value);
  const hash = text.indexOf('#');
  return (hash === -1 ? text : text.slice(0, hash)).replace(/\/$/, '');
}

/**
 * The checks the SDK's bearer middleware makes of a verified token, for DPoP requests:
 * issued for this resource, holding the scopes, not expired.
 */
export function checkAuthInfo(auth: AuthInfo, scopes: readonly string[], resource: string): void {
  if (!auth.resource || comparableResource(auth.resource) !== comparableResource(resource)) {
    throw refusal(401, 'invalid_token', 'Token was not issued for this resource');
  }
  if (!scopes.every((scope) => auth.scopes.includes(scope))) {
    throw refusal(403, 'insufficient_scope', 'Insufficient scope');
  }
  if (typeof auth.expiresAt !== 'number' || Number.isNaN(auth.expiresAt)) {
    throw refusal(401, 'invalid_token', 'Token has no expiration time');
  }
  if (auth.expiresAt < Date.now() / 1000) {
    throw refusal(401, 'invalid_token', 'Token has expired');
  }
}

/** What checks access tokens (the SDK's `OAuthTokenVerifier`). */
export interface TokenVerifier {
  verifyAccessToken(token: string): Promise<AuthInfo>;
}

/**
 * How a request to a DPoP server goes on: refused with a `DPoP` challenge, authorized by
 * its DPoP proof, or handed to the SDK's bearer middleware with this verifier.
 */
export type DpopDecision =
  | { refused: DpopRefusal }
  | { auth: AuthInfo }
  | { verifier: TokenVerifier };

/** What {@link decideDpop} needs to know of the server and the request. */
export interface DpopRequestContext {
  /** The MCP endpoint URL: proofs' `htu` and tokens' resource. */
  url: string;
  /** The scopes this request needs. */
  scopes: readonly string[];
  verifier: TokenVerifier;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'Invalid token';
}

/** Authorizes a `DPoP` request: proof, token, key binding, then the SDK's token rules. */
async function authorizeDpop(
  gate: DpopGate,
  req: IncomingMessage,
  token: string,
  context: DpopRequestContext,
): Promise<AuthInfo> {
  const proof = gate.check(req, context.url, token);
  let auth: AuthInfo;
  try {
    auth = await context.verifier.verifyAccessToken(token);
  } catch (error) {
    throw refusal(401, 'invalid_token', messageOf(error));
  }
  const jkt = boundJkt(auth);
  if (!jkt) throw refusal(401, 'invalid_token', 'The token is not DPoP-bound');
  if (jkt !== proof.jkt) throw refusal(401, 'invalid_token', 'Invalid DPoP key binding');
  checkAuthInfo(auth, context.scopes, context.url);
  return auth;
}

/**
 * A verifier that answers for `token` with what checking it already gave, so a Bearer
 * token is verified once although it is looked at twice.
 */
function replaying(
  token: string,
  outcome: { auth: AuthInfo } | { error: unknown },
  verifier: TokenVerifier,
): TokenVerifier {
  return {
    verifyAccessToken: async (presented) => {
      if (presented !== token) return verifier.verifyAccessToken(presented);
      if ('auth' in outcome) return outcome.auth;
      throw outcome.error;
    },
  };
}

/**
 * Decides a request to a DPoP server. `DPoP` requests are checked here; `require`
 * refuses anything else; `accept` hands Bearer requests to the SDK's middleware, except
 * a DPoP-bound token sent as Bearer.
 */
export async function decideDpop(
  gate: DpopGate,
  req: IncomingMessage,
  context: DpopRequestContext,
): Promise<DpopDecision> {
  const credentials = credentialsOf(req.headers.authorization);
  try {
    if (credentials?.scheme === 'DPoP') {
      return { auth: await authorizeDpop(gate, req, credentials.token, context) };
    }
    if (gate.mode === 'require') {
      throw refusal(401, 'dpop_required', 'This resource requires DPoP-bound access tokens');
    }
    if (!credentials) return { verifier: context.verifier };
    const outcome = await context.verifier.verifyAccessToken(credentials.token).then(
      (auth) => ({ auth }),
      (error: unknown) => ({ error }),
    );
    if ('auth' in outcome && boundJkt(outcome.auth)) {
      throw refusal(401, 'invalid_token', 'A DPoP-bound token must be sent with the DPoP scheme');
    }
    return { verifier: replaying(credentials.token, outcome, context.verifier) };
  } catch (error) {
    if (error instanceof DpopRefusal) return { refused: error };
    throw error;
  }
}
