import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import type { JsonObject } from '../../store/types.js';
import type { AccountIdentity, IdentifyContext } from '../common-types.js';
import type { OAuthContext } from './authorization-server.js';
import { withDpopNonce } from './dpop.js';
import { toLatchkeyError, withErrorBody } from './errors.js';

/** Calls the userinfo endpoint with an access token (OpenID Connect Core §5.3). */
export async function fetchUserinfo(
  context: OAuthContext,
  accessToken: string,
  signal?: AbortSignal,
): Promise<JsonObject> {
  const endpoint = context.as.userinfo_endpoint;
  if (!endpoint) {
    throw new LatchkeyError(
      'PROVIDER_CONFIG',
      `Provider "${context.provider.id}" has no userinfo endpoint.`,
    );
  }
  try {
    // A DPoP-bound token goes with a proof of its key (RFC 9449 §7).
    return await withDpopNonce(context.dpop, 'the userinfo request', async () => {
      const response = await oauth.userInfoRequest(context.as, context.client, accessToken, {
        ...context.requestOptions(endpoint, signal),
        ...(context.dpop ? { DPoP: context.dpop.handle } : {}),
      });
      const body = await oauth.processUserInfoResponse(
        context.as,
        context.client,
        oauth.skipSubjectCheck,
        response,
      );
      return JSON.parse(JSON.stringify(body)) as JsonObject;
    });
  } catch (error) {
    throw toLatchkeyError(await withErrorBody(error), 'the userinfo request');
  }
}

function nameFrom(
  claims: Readonly<Record<string, unknown>> | JsonObject | undefined,
): string | undefined {
  if (!claims) return undefined;
  for (const claim of ['email', 'preferred_username', 'sub']) {
    const value = claims[claim];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * Names the account: the provider's `identify` hook; else the ID Token's `email`; else
 * the userinfo endpoint's `email`, `preferred_username` or `sub`; else the ID Token's
 * `preferred_username` or `sub`; else `"default"`.
 */
export async function identifyAccount(
  context: OAuthContext,
  identify: IdentifyContext,
): Promise<AccountIdentity> {
  const hook = context.provider.identify;
  if (hook) {
    let identity: AccountIdentity;
    try {
      identity = await hook(identify);
    } catch (error) {
      throw error instanceof LatchkeyError
        ? error
        : new LatchkeyError(
            'INVALID_RESPONSE',
            `Provider "${context.provider.id}" could not name the signed-in account. Try again; if it persists, the provider's identify hook is failing.`,
            { cause: error instanceof Error ? new Error(error.message) : undefined },
          );
    }
    if (typeof identity?.account !== 'string' || identity.account === '') {
      throw new LatchkeyError(
        'PROVIDER_CONFIG',
        `Provider "${context.provider.id}": identify() must return an object with a non-empty "account" string.`,
      );
    }
    return identity;
  }
  const claims = identify.idTokenClaims;
  const email = typeof claims?.email === 'string' && claims.email !== '' ? claims.email : undefined;
  if (email) return { account: email };
  // An ID Token often carries only `sub`; userinfo usually knows the email.
  if (context.as.userinfo_endpoint) {
    const fromInfo = nameFrom(await identify.userinfo());
    if (fromInfo) return { account: fromInfo };
  }
  const fromToken = nameFrom(claims);
  if (fromToken) return { account: fromToken };
  return { account: 'default' };
}
