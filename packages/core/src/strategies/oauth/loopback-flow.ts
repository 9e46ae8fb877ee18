import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { type SignInPageHandle, signInPageHandle } from '../../open-url.js';
import { raceAbort } from '../../util/abort.js';
import { createAuthorizationRequest, validateCallback } from './authorization-request.js';
import type { FlowContext, FlowResult } from './flow-context.js';
import { startLoopbackListener } from './loopback-listener.js';
import { exchangeAuthorizationCode } from './token-requests.js';

/**
 * The interactive flow: a loopback listener, the authorization URL opened in the
 * browser, the callback checked, and the code redeemed. A host that sees the sign-in
 * page show an error instead of coming back ends it at once through the page it is given
 * (`SIGN_IN_PAGE_ERROR`), rather than leaving it to wait for the timeout.
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
  let page: SignInPageHandle | undefined;
  try {
    const context = await flow.contextFor(listener.redirectUri);
    const request = await createAuthorizationRequest(context, {
      redirectUri: listener.redirectUri,
      scopes: flow.scopes,
      params: flow.params,
      state,
      signal,
    });
    page = signInPageHandle(request.url, signal, listener.redirectUri);
    flow.emit({ type: 'authorization_url_opened', url: request.url });
    // The browser may come back before openUrl returns (a host that follows the
    // redirect itself), so wait for both at once; a failure to open, or an error page
    // the host reports, ends the flow.
    const opening = flow.openUrl(request.url, page.page);
    flow.emit({ type: 'waiting_for_callback', redirectUri: listener.redirectUri });
    const accepted = await raceAbort(
      Promise.race([listener.callback, opening.then(() => listener.callback), page.reported]),
      signal,
    );
    // From here on the flow has its own outcome; the callback page's status is not the host's to report.
    page.settle();
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
    page?.end();
    await listener.close();
  }
}
