import * as oauth from 'oauth4webapi';
import type { OAuthContext } from '../oauth/authorization-server.js';
import { toLatchkeyError, withErrorBody } from '../oauth/errors.js';
import { type TokenResult, tokenRequest } from '../oauth/token-requests.js';

/**
 * The client credentials grant (RFC 6749 §4.4) for machine-to-machine use, with the
 * context's client authentication (`client_secret_basic`, `client_secret_post` or
 * `private_key_jwt`, RFC 7523) and `resource`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 Client Credentials Grant
 */
export async function runMachineGrant(
  context: OAuthContext,
  scopes: readonly string[],
  signal?: AbortSignal,
): Promise<TokenResult> {
  const params: Record<string, string> = { ...context.settings.tokenParams };
  if (scopes.length > 0) params.scope = scopes.join(' ');
  return tokenRequest(
    context,
    'the client credentials grant',
    signal,
    // The grant's own parameters carry `resource`; the options' copy would repeat it.
    ({ additionalParameters: _unused, ...rest }) =>
      oauth.clientCredentialsGrantRequest(
        context.tokenAs,
        context.client,
        context.clientAuth,
        params,
        rest,
      ),
    (response) => oauth.processClientCredentialsResponse(context.tokenAs, context.client, response),
  );
}

/** Where an enterprise identity provider exchanges the user's ID Token for an ID-JAG. */
export interface IdentityProviderExchange {
  /** The IdP's token endpoint (RFC 8693 token exchange). */
  readonly tokenEndpoint: string;
  /** The IdP's issuer; default: the token endpoint's origin. */
  readonly issuer?: string;
  /** The client id Latchkey uses at the IdP. */
  readonly clientId: string;
  /** The user's ID Token from the IdP (single sign-on). */
  readonly idToken: () => Promise<string>;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

/**
 * Cross-app access (enterprise-managed authorization): the user's ID Token is
 * exchanged at their identity provider for an identity assertion grant (ID-JAG) whose
 * audience is the MCP server's authorization server (RFC 8693), and the ID-JAG is then
 * redeemed there as a JWT bearer grant (RFC 7523 §2.1). No browser is involved.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693 OAuth 2.0 Token Exchange
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1 Using JWTs as Authorization Grants
 */
export async function runCrossAppAccess(
  context: OAuthContext,
  idp: IdentityProviderExchange,
  scopes: readonly string[],
  signal?: AbortSignal,
): Promise<TokenResult> {
  const resource = context.settings.tokenParams?.resource;
  const idpAs: oauth.AuthorizationServer = {
    issuer: idp.issuer ?? new URL(idp.tokenEndpoint).origin,
    token_endpoint: idp.tokenEndpoint,
  };
  const exchange: Record<string, string> = {
    subject_token: await idp.idToken(),
    subject_token_type: ID_TOKEN_TYPE,
    requested_token_type: ID_JAG_TYPE,
    audience: context.as.issuer,
    ...(resource ? { resource } : {}),
  };
  if (scopes.length > 0) exchange.scope = scopes.join(' ');
  let assertion: string;
  try {
    const response = await oauth.genericTokenEndpointRequest(
      idpAs,
      { client_id: idp.clientId },
      oauth.None(),
      TOKEN_EXCHANGE,
      exchange,
      context.requestOptions(idp.tokenEndpoint, signal),
    );
    // An ID-JAG is not an access token: its token_type is "N_A" (RFC 8693 §2.2.1).
    const body = await oauth.processGenericTokenEndpointResponse(
      idpAs,
      { client_id: idp.clientId },
      response,
      {
        recognizedTokenTypes: { n_a: () => {} },
      },
    );
    if (body.issued_token_type !== ID_JAG_TYPE) {
      throw new oauth.OperationProcessingError('the identity provider did not issue an ID-JAG');
    }
    assertion = body.access_token;
  } catch (error) {
    throw toLatchkeyError(
      await withErrorBody(error),
      'the token exchange at the identity provider',
    );
  }
  // The ID-JAG is redeemed once; a retry for a DPoP nonce sends the same one.
  return runJwtBearer(context, async () => assertion, scopes, signal);
}

/**
 * The JWT bearer grant (RFC 7523 §2.1): a signed assertion is redeemed for an access
 * token, with the context's client authentication, `scope` and `resource`. No user and
 * no redirect; every token request needs a new assertion.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1 Using JWTs as Authorization Grants
 */
export async function runJwtBearer(
  context: OAuthContext,
  assertion: () => Promise<string>,
  scopes: readonly string[],
  signal?: AbortSignal,
): Promise<TokenResult> {
  const resource = context.settings.tokenParams?.resource;
  return tokenRequest(
    context,
    'the JWT bearer grant',
    signal,
    async ({ additionalParameters: _unused, ...rest }) => {
      // Each attempt asks for its assertion: a server may have spent the last one.
      const grant: Record<string, string> = {
        assertion: await assertion(),
        ...(resource ? { resource } : {}),
      };
      if (scopes.length > 0) grant.scope = scopes.join(' ');
      return oauth.genericTokenEndpointRequest(
        context.tokenAs,
        context.client,
        context.clientAuth,
        JWT_BEARER,
        grant,
        rest,
      );
    },
    (response) =>
      oauth.processGenericTokenEndpointResponse(context.tokenAs, context.client, response),
  );
}
