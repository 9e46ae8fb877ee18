import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { sleep } from '../../util/abort.js';
import { dpopOf } from './authorization-server.js';
import { toLatchkeyError, withErrorBody } from './errors.js';
import type { FlowContext, FlowResult } from './flow-context.js';
import { result } from './token-requests.js';

/**
 * The device authorization grant for hosts without a usable browser: the user
 * approves on another device with a short code, while Latchkey polls the token
 * endpoint at the interval the server asks for.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628 OAuth 2.0 Device Authorization Grant
 */
export async function runDeviceFlow(flow: FlowContext): Promise<FlowResult> {
  const { signal } = flow;
  const context = await flow.contextFor(undefined);
  const endpoint = context.as.device_authorization_endpoint;
  if (!endpoint) {
    throw new LatchkeyError(
      'PROVIDER_CONFIG',
      `Provider "${context.provider.id}" has no device authorization endpoint; use the loopback or paste flow.`,
    );
  }
  const params: Record<string, string> = {};
  if (flow.scopes.length > 0) params.scope = flow.scopes.join(context.settings.scopeSeparator);
  let device: oauth.DeviceAuthorizationResponse;
  try {
    const response = await oauth.deviceAuthorizationRequest(
      context.tokenAs,
      context.client,
      context.clientAuth,
      params,
      context.requestOptions(endpoint, signal),
    );
    device = await oauth.processDeviceAuthorizationResponse(
      context.tokenAs,
      context.client,
      response,
    );
  } catch (error) {
    throw toLatchkeyError(await withErrorBody(error), 'the device authorization request');
  }
  const expiresAt = Date.now() + device.expires_in * 1000;
  flow.emit({
    type: 'device_code_issued',
    verificationUri: device.verification_uri,
    ...(device.verification_uri_complete
      ? { verificationUriComplete: device.verification_uri_complete }
      : {}),
    userCode: device.user_code,
    expiresAt,
  });
  let interval = Math.max(1, device.interval ?? 5) * 1000;
  // A nonce answer (RFC 9449 §8) is retried at once with the new nonce, once in a row.
  let nonceRetry = false;
  // Bounded by the code's lifetime and by the flow's signal.
  while (Date.now() < expiresAt) {
    if (!nonceRetry) await sleep(interval, signal);
    const { options, extras } = context.tokenRequestOptions(signal);
    try {
      const response = await oauth.deviceCodeGrantRequest(
        context.tokenAs,
        context.client,
        context.clientAuth,
        device.device_code,
        options,
      );
      const body = await oauth.processDeviceCodeResponse(context.tokenAs, context.client, response);
      return { token: result(body, extras), context };
    } catch (error) {
      if (oauth.isDPoPNonceError(error)) {
        if (nonceRetry) {
          throw new LatchkeyError(
            'TOKEN_REQUEST_FAILED',
            'The authorization server asked for a new DPoP nonce again, right after handing one out, during the device code grant. Latchkey stopped instead of looping; the server is misconfigured.',
          );
        }
        nonceRetry = true;
        continue;
      }
      nonceRetry = false;
      if (error instanceof oauth.ResponseBodyError) {
        if (error.error === 'authorization_pending') continue;
        if (error.error === 'slow_down') {
          interval += 5000;
          continue;
        }
        if (error.error === 'expired_token') break;
      }
      throw toLatchkeyError(await withErrorBody(error), 'the device code grant', dpopOf(context));
    }
  }
  throw new LatchkeyError(
    'DEVICE_CODE_EXPIRED',
    'The device code expired before the sign-in was approved. Start again and approve it within the time shown.',
  );
}
