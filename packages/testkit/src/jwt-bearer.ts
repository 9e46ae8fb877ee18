import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import { errors, type KoaContext } from 'oidc-provider';
import { generateEs256Key, type PublicJwk, signEs256Jwt, verifyEs256Jwt } from './jwt.js';

/** Grant type URN of the JWT bearer grant (RFC 7523 §2.1). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The identity provider of a workload, whose signed assertions a test server trusts. */
export interface WorkloadIdentity {
  /** The `iss` of its assertions. */
  readonly issuer: string;
  /** Its public signing key. */
  readonly publicJwk: PublicJwk;
  /**
   * Signs an assertion for `subject` with audience `audience` (the authorization
   * server's issuer), valid `ttlSeconds` (default 300), with a fresh `jti`.
   */
  assertion(options: { subject: string; audience: string; ttlSeconds?: number }): Promise<string>;
}

/** Makes a workload identity provider with an ES256 key of its own. */
export async function workloadIdentity(
  issuer = 'https://workload-idp.test',
): Promise<WorkloadIdentity> {
  const { privateKey, publicJwk } = await generateEs256Key(randomUUID());
  return {
    issuer,
    publicJwk,
    assertion: ({ subject, audience, ttlSeconds = 300 }) => {
      const now = Math.floor(Date.now() / 1000);
      return signEs256Jwt(
        {
          iss: issuer,
          sub: subject,
          aud: audience,
          iat: now,
          exp: now + ttlSeconds,
          jti: randomUUID(),
        },
        privateKey,
        { kid: publicJwk.kid, typ: 'JWT' },
      );
    },
  };
}

/** Options of the JWT bearer grant on a test authorization server. */
export interface JwtBearerOptions {
  /** The workload identity provider whose assertions are accepted. */
  readonly trust: Pick<WorkloadIdentity, 'issuer' | 'publicJwk'>;
}

/**
 * Teaches an oidc-provider instance the JWT bearer grant (RFC 7523 §2.1, §3): the
 * assertion must be signed by the trusted workload key, name the trusted issuer, have
 * the server's issuer as audience, be unexpired and carry a `jti` not seen before
 * (every token request needs a new assertion). Tokens are issued to the authenticated
 * client for the requested `resource`, as the client credentials grant issues them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3 JWT Format and Processing Requirements
 */
export function registerJwtBearerGrant(
  provider: Provider,
  options: JwtBearerOptions,
  resourceServerInfo: (ctx: KoaContext, resource: string) => Promise<Record<string, unknown>>,
): void {
  const seen = new Set<string>();
  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx: KoaContext) => {
      const params = (ctx.oidc?.params ?? {}) as Record<string, string | undefined>;
      const client = ctx.oidc?.client;
      if (!client) throw new errors.InvalidClient('client authentication is required');
      let claims: Record<string, unknown>;
      try {
        claims = await verifyEs256Jwt(params.assertion ?? '', [options.trust.publicJwk]);
      } catch {
        throw new errors.InvalidGrant(
          'the assertion is not signed by a trusted key, or it expired',
        );
      }
      const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== options.trust.issuer)
        throw new errors.InvalidGrant('untrusted assertion issuer');
      if (!audience.includes(provider.issuer))
        throw new errors.InvalidGrant('assertion audience mismatch');
      if (typeof claims.sub !== 'string' || claims.sub === '')
        throw new errors.InvalidGrant('assertion has no sub');
      if (typeof claims.jti !== 'string' || seen.has(claims.jti)) {
        throw new errors.InvalidGrant('the assertion was used before');
      }
      seen.add(claims.jti);
      const resource = params.resource;
      if (!resource) throw new errors.InvalidTarget('a resource is required');
      const info = await resourceServerInfo(ctx, resource);
      const offered = new Set(String(info.scope ?? '').split(' '));
      const scope = (params.scope ?? '')
        .split(' ')
        .filter((s) => offered.has(s))
        .join(' ');
      const token = new provider.ClientCredentials({ client, ...(scope ? { scope } : {}) });
      token.resourceServer = new provider.ResourceServer(resource, info);
      const value = await token.save();
      ctx.body = {
        access_token: value,
        token_type: 'Bearer',
        expires_in: token.expiration,
        ...(scope ? { scope } : {}),
      };
    },
    ['assertion', 'scope', 'resource'],
    ['resource'],
  );
}
