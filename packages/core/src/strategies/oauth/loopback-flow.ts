import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { raceAbort } from '../../util/abort.js';
import { createAuthorizationRequest, validateCallback } from './authorization-request.js';
import type { FlowContext, FlowResult } from './flow-context.js';
import { startLoopbackListener } from './loopback-listener.js';
import { exchangeAuthorizationCode } from './token-requests.js';

/**
 * The interactive flow: a loopback listener, the authorization URL opened in the
 * browser, the callback checked, and the code redeemed.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252 OAuth 2.0 for Native Apps
 */
export async function runLoopbackFlow(flow: FlowContext): Promise<FlowResult> {
  const { signal } = flow;
  const state = oauth.generateRandomState();
  const listener = await startLoopbackListener({
    port: flow.redirect.port,
    path: flow.redirect.path,
    state,
    onRejected: (reason) => flow.emit({ type: 'callback_rejected', reason }),
  });
  try {
    const context = await flow.contextFor(listener.redirectUri);
    const request = await createAuthorizationRequest(context, {
      redirectUri: listener.redirectUri,
      scopes: flow.scopes,
      params: flow.params,
      state,
    });
    flow.emit({ type: 'authorization_url_opened', url: request.url });
    // The browser may come back before openUrl returns (a host that follows the
    // redirect itself), so wait for both at once; a failure to open ends the flow.
    const opening = flow.openUrl(request.url);
    flow.emit({ type: 'waiting_for_callback', redirectUri: listener.redirectUri });
    const accepted = await raceAbort(
      Promise.race([listener.callback, opening.then(() => listener.callback)]),
      signal,
    );
    flow.emit({ type: 'callback_received' });
    try {
      const params = validateCallback(context, request, accepted.url);
      const token = await exchangeAuthorizationCode(context, request, params, signal);
      accepted.respond({ ok: true });
      return { token, context };
    } catch (error) {
      accepted.respond({
        ok: false,
        message:
          error instanceof LatchkeyError
            ? error.message
            : 'Sign-in could not be completed. Return to the application and try again.',
      });
      throw error;
    }
  } finally {
    await listener.close();
  }
}
