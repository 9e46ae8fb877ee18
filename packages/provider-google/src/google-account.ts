import { type AccountIdentity, type IdentifyContext, LatchkeyError } from '@latchkey/core';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Names a Google account by the email the userinfo endpoint reports, checks that the
 * ID Token names the same user, and, with `hostedDomain`, that the account belongs to
 * that Workspace domain (its `hd` claim). Internal.
 *
 * @see https://developers.google.com/identity/openid-connect/openid-connect#obtainuserinfo
 */
export async function identifyGoogleAccount(
  { idTokenClaims, userinfo }: IdentifyContext,
  hostedDomain: string | undefined,
): Promise<AccountIdentity> {
  const info = await userinfo();
  const email = text(info.email);
  if (!email) {
    throw new LatchkeyError(
      'INVALID_RESPONSE',
      'Google did not tell the email address of the account. Sign in again and allow the app to see your email address.',
    );
  }
  if (idTokenClaims?.sub !== undefined && idTokenClaims.sub !== info.sub) {
    throw new LatchkeyError(
      'INVALID_RESPONSE',
      'Google named another account in the ID Token than at the userinfo endpoint, so the sign-in was not used. Sign in again.',
    );
  }
  // Google asks clients to check the `hd` claim: the `hd` parameter is only a hint.
  const hd = text(idTokenClaims?.hd) ?? text(info.hd);
  const wanted = hostedDomain?.toLowerCase();
  if (wanted && (wanted === '*' ? !hd : hd?.toLowerCase() !== wanted)) {
    throw new LatchkeyError(
      'ACCOUNT_MISMATCH',
      `You signed in to Google as ${email}, which is not an account of ${wanted === '*' ? 'a Google Workspace domain' : wanted}. Sign in again with ${wanted === '*' ? 'a Workspace account' : `an account of ${wanted}`}.`,
    );
  }
  const name = text(info.name);
  return {
    account: email,
    metadata: {
      email,
      ...(text(info.sub) ? { sub: info.sub as string } : {}),
      ...(name ? { name } : {}),
      ...(hd ? { hd } : {}),
    },
  };
}
