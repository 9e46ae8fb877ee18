import { randomBytes } from 'node:crypto';

/** DPoP (RFC 9449) on a test authorization server. */
export interface AuthServerDpopOptions {
  /** The token endpoint refuses proofs without a server nonce (`use_dpop_nonce`) (default false). */
  requireNonce?: boolean;
  /**
   * Every client must use DPoP: `dpop_bound_access_tokens` is forced on for every client,
   * dynamically registered ones included, so a token request without a proof is refused
   * (default false).
   */
  required?: boolean;
}

/**
 * A made-up client metadata name. Declaring one extra property is what makes oidc-provider
 * run `extraClientMetadata.validator` for every client, which is where DPoP is forced on.
 */
const FORCING_PROPERTY = 'latchkey_testkit_dpop';

/**
 * oidc-provider's `features.dPoP`. Without options DPoP is off (oidc-provider turns it on
 * by default), so the metadata does not advertise it and proofs are ignored. A nonce
 * secret is only set when nonces are required, so a server that does not require them
 * hands none out either.
 */
export function dpopFeature(options: AuthServerDpopOptions | undefined): Record<string, unknown> {
  if (!options) return { enabled: false };
  const requireNonce = options.requireNonce === true;
  return {
    enabled: true,
    ...(requireNonce ? { nonceSecret: randomBytes(32) } : {}),
    requireNonce: () => requireNonce,
    allowReplay: false,
  };
}

/**
 * oidc-provider's `extraClientMetadata` for `required`: the validator may change the
 * metadata it is given, and sets `dpop_bound_access_tokens` on every client, whatever
 * the client asked for.
 */
export function dpopRequiredMetadata(): Record<string, unknown> {
  return {
    properties: [FORCING_PROPERTY],
    validator: (
      _ctx: unknown,
      _key: string,
      _value: unknown,
      metadata: Record<string, unknown>,
    ) => {
      metadata.dpop_bound_access_tokens = true;
    },
  };
}
